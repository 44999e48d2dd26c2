"""The SBI recipe end to end: `fakescan train MODEL REALS VAL --config sbi-efficientnet_b4` on real
crops alone (Shiohara & Yamasaki, CVPR 2022), small: EfficientNet-B0 at 64 px, 2 short epochs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakescan.checkpoints import read_checkpoint_meta
from fakescan.cli import app
from fakescan.data.datasets.index import read_crop_table, write_crop_table
from fakescan.data.extract import MESH_NAME
from tests.train.crops import SIZE


def real_only(crops_dir: Path, out: Path) -> Path:
    """The real crops of ``crops_dir`` (train and val splits) in a folder of their own, with their
    folders' face meshes."""
    records = [r for r in read_crop_table(crops_dir / "crops.csv") if r.label == 0 and r.split != "test"]
    for record in records:
        (out / record.crop).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(crops_dir / record.crop, out / record.crop)
        mesh = (crops_dir / record.crop).parent / MESH_NAME
        if mesh.is_file():
            shutil.copyfile(mesh, (out / record.crop).parent / MESH_NAME)
    write_crop_table(out / "crops.csv", records)
    return out


@pytest.mark.slow
def test_the_sbi_preset_trains_on_reals_alone(crops_dir: Path, tmp_path: Path) -> None:
    reals = real_only(crops_dir, tmp_path / "reals")
    run = tmp_path / "run"
    arguments = ["train", "efficientnet_b0", reals, reals, "--config", "sbi-efficientnet_b4", "--out", run,
                 "--epochs", 2, "--image_size", SIZE, "--batch_size", 8, "--max-steps-per-epoch", 2,
                 "--device", "cpu"]  # fmt: skip
    done = CliRunner().invoke(app, [str(a) for a in arguments])
    assert done.exit_code == 0, done.output
    assert "self-blended pseudo-fakes" in done.output and "best checkpoint" in done.output
    config = json.loads((run / "config.json").read_text())
    assert (config["model"], config["optim"]["optimizer"], config["optim"]["scheduler"]) == (
        "efficientnet_b0",
        "sam",
        "linear",
    )
    assert (config["data"]["pseudo_fakes"], config["data"]["sbi_mask"]) == ("sbi", "mesh")
    log = (run / "log.csv").read_text().splitlines()
    header, *rows = [line.split(",") for line in log]
    assert len(rows) == 2
    # Validation had no fakes: its reals got fixed self-blends, so the AUC exists. SGD's learning rate
    # is the preset's (both epochs fall before the linear decay's first step below 1; see test_sam).
    column = {name: n for n, name in enumerate(header)}
    assert all(0.0 <= float(row[column["val_auc"]]) <= 1.0 for row in rows)
    assert [float(row[column["lr"]]) for row in rows] == [1e-3, 1e-3]
    meta = read_checkpoint_meta(run / "best.json")
    assert meta.model == "efficientnet_b0" and meta.input_cfg.image_size == SIZE
    assert meta.input_cfg.mean == (0.485, 0.456, 0.406)  # no AdvProp file: ImageNet normalisation


def test_train_with_mesh_masks_from_the_command_line(
    crops_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`--pseudo-fakes sbi --sbi-mask mesh`: a short run on real crops alone, every self-blend through
    its crop's FaceMesh hull (no crop falls back)."""
    reals = real_only(crops_dir, tmp_path / "reals")
    run = tmp_path / "run"
    arguments = ["train", "cnn", reals, reals, "--pseudo-fakes", "sbi", "--sbi-mask", "mesh", "--out", run,
                 "--epochs", 1, "--image_size", 32, "--batch_size", 8, "--max-steps-per-epoch", 2,
                 "--device", "cpu"]  # fmt: skip
    with caplog.at_level("WARNING", logger="fakescan.synth.pseudo"):
        done = CliRunner().invoke(app, [str(a) for a in arguments])
    assert done.exit_code == 0, done.output
    assert json.loads((run / "config.json").read_text())["data"]["sbi_mask"] == "mesh"
    assert not [r for r in caplog.records if "has no face mesh" in r.getMessage()]
    bad = CliRunner().invoke(app, [str(a) for a in [*arguments[:6], "--sbi-mask", "hull", *arguments[8:]]])
    assert (
        bad.exit_code != 0 and "unknown sbi_mask 'hull' (choose auto, ellipse, landmarks, mesh)" in bad.output
    )


def test_the_default_self_blends_through_the_mesh_where_extract_kept_one_else_the_ellipse(
    crops_dir: Path, tmp_path: Path
) -> None:
    """No option: `fakescan train` adds self-blends (pseudo_fakes auto) through each crop's mesh hull
    (sbi_mask auto), so real crops alone train; a folder without meshes gets the ellipse, and dlib's
    model is never wanted."""
    from fakescan.models.output import InputConfig
    from fakescan.synth.pseudo import PseudoFakeDataset
    from fakescan.train.config import load_config
    from fakescan.train.engine import _loaders, load_training_data

    reals = real_only(crops_dir, tmp_path / "reals")
    run = tmp_path / "run"
    arguments = ["train", "cnn", reals, reals, "--out", run, "--epochs", 1, "--image_size", 32,
                 "--batch_size", 8, "--max-steps-per-epoch", 2, "--device", "cpu"]  # fmt: skip
    done = CliRunner().invoke(app, [str(a) for a in arguments])
    assert done.exit_code == 0, done.output
    assert "self-blended pseudo-fakes" in done.output
    data = json.loads((run / "config.json").read_text())["data"]
    assert (data["pseudo_fakes"], data["sbi_mask"]) == ("sbi", "auto")
    assert read_checkpoint_meta(run / "best.json").training_data.pseudo_fakes == "sbi"

    config = load_config(overrides={"model": "cnn", "data": {"image_size": 32, "batch_size": 8}})
    train, _ = _loaders(load_training_data(reals, reals), config, InputConfig(image_size=32))
    blends = train.dataset
    assert isinstance(blends, PseudoFakeDataset) and blends.landmarks is None and blends.mesh is not None
    first = len(blends.base)
    assert blends.blend(first).mask.any() and blends.mesh_fallbacks == 0  # through the mesh
    for mesh in reals.rglob(MESH_NAME):
        mesh.unlink()
    train, _ = _loaders(load_training_data(reals, reals), config, InputConfig(image_size=32))
    without = train.dataset
    assert without.mesh is None and without.landmarks is None and without.blend(first).mask.any()  # ellipse
