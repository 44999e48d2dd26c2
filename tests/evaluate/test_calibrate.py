"""``fakescan calibrate``: the threshold and validation metrics of any checkpoint, set on real crops."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from fakescan.checkpoints import (
    CheckpointMeta,
    checkpoint_paths,
    load_checkpoint,
    read_checkpoint_meta,
    save_checkpoint,
)
from fakescan.cli import app
from fakescan.errors import ConfigError
from fakescan.evaluate.calibrate import calibrate_checkpoint
from fakescan.evaluate.metrics import calibrate_threshold
from fakescan.models import create
from tests.predict import make_checkpoint


def _val_scores(checkpoint: Path, crops_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    from fakescan.data.loading import CropFolderDataset
    from fakescan.evaluate.runner import eval_dataset_options, load_test_sets, score_dataset

    (crop_set,), _, _ = load_test_sets(checkpoint, [crops_dir], "val")
    model, meta = load_checkpoint(checkpoint)
    dataset = CropFolderDataset(crop_set.records, crops_dir, **eval_dataset_options(meta, meta.input_cfg))
    predictions = score_dataset(model, dataset, "cpu")
    return predictions.labels, predictions.scores


def test_calibrating_a_trained_checkpoint_rewrites_only_its_sidecar(crops_dir: Path, tmp_path: Path) -> None:
    stem = make_checkpoint(tmp_path, "cnn", image_size=64, seed=3)
    weights, sidecar = checkpoint_paths(stem)
    before = hashlib.sha256(weights.read_bytes()).hexdigest()
    result = calibrate_checkpoint(stem, [crops_dir], rule="youden", device="cpu")
    labels, scores = _val_scores(stem, crops_dir)
    assert result.threshold == pytest.approx(calibrate_threshold(labels, scores, "youden"))
    assert result.previous_threshold == 0.5 and result.crops == len(labels) == 24
    meta = read_checkpoint_meta(stem)
    assert meta.threshold == pytest.approx(result.threshold)
    assert meta.val_metrics["auc"] == pytest.approx(result.frame.auc)
    assert meta.calibration["rule"] == "youden" and meta.calibration["split"] == "val"
    assert meta.calibration["crops"] == 24 and meta.calibration["previous_threshold"] == 0.5
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == before == meta.weights_sha256
    load_checkpoint(stem)  # the hash still holds
    assert not list(tmp_path.glob("*.fakescan-tmp"))
    assert json.loads(sidecar.read_text())["threshold"] == pytest.approx(result.threshold)


def test_the_cli_calibrates_a_run_folder_and_keeps_the_import_record(crops_dir: Path, tmp_path: Path) -> None:
    torch.manual_seed(1)
    save_checkpoint(
        tmp_path / "run" / "best",
        create("cnn", num_classes=2, image_size=64),  # two classes, as the imported families
        CheckpointMeta(
            model="cnn",
            model_kwargs={"num_classes": 2, "image_size": 64},
            source={"family": "sbi", "file": "x"},
        ),
    )
    run = tmp_path / "run"
    done = CliRunner().invoke(app, ["calibrate", str(run), str(crops_dir), "--device", "cpu"])
    assert done.exit_code == 0, done.output
    labels, scores = _val_scores(run, crops_dir)
    meta = read_checkpoint_meta(run)
    assert meta.threshold == pytest.approx(calibrate_threshold(labels, scores, "eer"))
    assert "threshold 0.5000 -> " in done.output
    assert meta.source == {"family": "sbi", "file": "x"}


def test_validation_data_of_one_class_cannot_calibrate(crops_dir: Path, tmp_path: Path) -> None:
    stem = make_checkpoint(tmp_path, "cnn", image_size=64)
    real_only = tmp_path / "real-only"
    real_only.mkdir()
    lines = (crops_dir / "crops.csv").read_text().splitlines()
    (real_only / "crops.csv").write_text(
        "\n".join([lines[0], *(x for x in lines[1:] if ",real," in x)]) + "\n"
    )
    for line in lines[1:]:
        crop = line.split(",")[0]
        (real_only / crop).parent.mkdir(parents=True, exist_ok=True)
        if not (real_only / crop).exists():
            (real_only / crop).symlink_to(crops_dir / crop)
    with pytest.raises(ConfigError, match="needs both real and fake"):
        calibrate_checkpoint(stem, [real_only], device="cpu")
    assert read_checkpoint_meta(stem).threshold == 0.5
    done = CliRunner().invoke(app, ["calibrate", str(stem), str(crops_dir), "--rule", "median"])
    assert done.exit_code == 2 and "unknown threshold rule 'median'" in done.output
