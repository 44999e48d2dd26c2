"""``fakescan robustness`` on a detector trained on real faces: the grid, the files, the clean row
equal to ``fakescan test``, a corrupt crop skipped and counted, seeded perturbations.

The crops (``crops_dir``, ``tests/conftest.py``) are real and manipulated faces of the sample media;
the validation split holds people unseen in training, with a 9-frame clip for H.264.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fakescan.cli import app
from fakescan.data.datasets.index import read_crop_table
from fakescan.data.perturb import get_perturbation
from fakescan.data.transforms import EvalTransform
from fakescan.errors import ConfigError
from fakescan.evaluate.robustness import CSV_COLUMNS, PerturbedCropDataset, robustness_grid
from fakescan.models.output import InputConfig
from fakescan.train.config import load_config
from fakescan.train.engine import fit, load_training_data
from tests.train.crops import SIZE


@pytest.fixture(scope="module")
def checkpoint(crops_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small CNN trained for a few epochs on the training people."""
    config = load_config(
        overrides={
            "model": "cnn",
            "epochs": 4,
            "early_stopping": 0,
            "device": "cpu",
            "optim": {"lr": 3e-3, "scheduler": "none"},
            "data": {"image_size": SIZE, "batch_size": 16, "workers": 0},
        }
    )
    run = tmp_path_factory.mktemp("robust-run")
    fit(config, load_training_data(crops_dir, crops_dir), run)
    return run / "best"


def test_the_grid_follows_the_options() -> None:
    full = robustness_grid()
    assert len(full) == 7 * 5 + 4 + 2
    assert [(p.name, level) for p, level in robustness_grid(None, [5])] == [
        (name, 5) for name in ("saturation", "contrast", "occlusion", "noise", "blur", "pixelation", "h264")
    ]
    with pytest.raises(ConfigError, match=r"resize has levels 1\.\.2"):
        robustness_grid(["resize"], [3])
    with pytest.raises(ConfigError, match="unknown perturbation"):
        robustness_grid(["sepia"])
    with pytest.raises(ConfigError, match="numbered from 1"):
        robustness_grid(None, [0])


def test_perturbed_pixels_are_fixed_by_seed_whatever_the_reading_order(crops_dir: Path) -> None:
    records = [r for r in read_crop_table(crops_dir / "crops.csv") if r.split == "val"]
    transform = EvalTransform(InputConfig(image_size=SIZE))

    def read(name: str, level: int, seed: int, order: list[int]) -> dict[int, np.ndarray]:
        dataset = PerturbedCropDataset(
            records, crops_dir, get_perturbation(name), level, seed=seed, transform=transform, clip_cache=1
        )
        return {index: dataset.pixels(index) for index in order}

    forward, backward = list(range(len(records))), list(reversed(range(len(records))))
    for name in ("noise", "h264"):
        a, b = read(name, 2, 0, forward), read(name, 2, 0, backward)
        assert all(np.array_equal(a[i], b[i]) for i in forward), name
    other_seed = read("noise", 2, 1, forward)
    assert not all(np.array_equal(other_seed[i], a_i) for i, a_i in read("noise", 2, 0, forward).items())
    # H.264 codes a video's crops as one clip: a crop's pixels depend on its neighbours.
    clip = [i for i, r in enumerate(records) if r.video_id == "real/face_noface/clip0"]
    assert len(clip) == 9
    alone = PerturbedCropDataset(
        [records[clip[4]]], crops_dir, get_perturbation("h264"), 5, transform=transform
    ).pixels(0)
    assert not np.array_equal(alone, read("h264", 5, 0, clip)[clip[4]])


@pytest.mark.slow
def test_cli_robustness_writes_the_report_and_its_clean_row_is_fakescan_test(
    crops_dir: Path, checkpoint: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    tested = runner.invoke(
        app, ["test", str(checkpoint), str(crops_dir), "--split", "val", "--out", str(tmp_path / "t")]
    )
    assert tested.exit_code == 0, tested.output
    metrics = json.loads((tmp_path / "t" / crops_dir.name / "metrics.json").read_text())

    out = tmp_path / "r"
    args = ["robustness", str(checkpoint), str(crops_dir), "--split", "val", "--out", str(out)]
    result = runner.invoke(
        app, [*args, "--perturbations", "jpeg,blur,h264", "--levels", "1,4", "--batch-size", "7"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "robustness.json").read_text())
    clean = report["test_sets"][crops_dir.name]["clean"]
    assert clean["frame"]["auc"] == pytest.approx(metrics["frame"]["auc"], abs=1e-9)
    assert clean["video"]["auc"] == pytest.approx(metrics["video"]["auc"], abs=1e-9)
    assert clean["frame"]["ap"] == pytest.approx(metrics["frame"]["ap"], abs=1e-9)
    assert clean["frame"]["auc"] > 0.6  # above chance on the held-out people after 4 epochs

    with open(out / "robustness.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["perturbation"], r["level"], r["value"]) for r in rows] == [
        ("clean", "0", ""),
        ("jpeg", "1", "90"),
        ("jpeg", "4", "30"),
        ("blur", "1", "7"),
        ("blur", "4", "17"),
        ("h264", "1", "30"),
        ("h264", "4", "38"),
    ]
    assert {r["crops"] for r in rows} == {"24"} and {r["videos"] for r in rows} == {"8"}
    for row in rows[1:]:
        drop = float(rows[0]["frame_auc"]) - float(row["frame_auc"])
        assert float(row["frame_auc_drop"]) == pytest.approx(drop)
        assert float(row["frame_auc_relative_drop"]) == pytest.approx(drop / float(rows[0]["frame_auc"]))
    assert len({r["frame_auc"] for r in rows[1:]}) > 1  # the perturbations change the scores
    summary = (out / "summary.md").read_text()
    assert "| blur | 4 | kernel = 17 |" in summary and "robustness.png" in summary
    assert (out / "robustness.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # A corrupt crop is skipped and counted; the run goes on.
    broken = tmp_path / "broken"
    shutil.copytree(crops_dir, broken)
    victim = next(r for r in read_crop_table(broken / "crops.csv") if r.split == "val")
    (broken / victim.crop).write_bytes(b"not a png")
    again = runner.invoke(
        app,
        [
            "robustness",
            str(checkpoint),
            str(broken),
            "--split",
            "val",
            "--out",
            str(tmp_path / "b"),
            "--perturbations",
            "noise",
            "--levels",
            "3",
        ],
    )
    assert again.exit_code == 0, again.output
    assert "1 unreadable crop(s) skipped" in again.output and victim.crop in again.output
    broken_report = json.loads((tmp_path / "b" / "robustness.json").read_text())["test_sets"]["broken"]
    assert broken_report["skipped"] == 1 and broken_report["crops"] == 23
    assert broken_report["skipped_crops"][0]["crop"] == victim.crop

    # Bad options and an unwritable output give one line and exit code 1.
    bad = runner.invoke(app, [*args, "--levels", "x"])
    assert bad.exit_code == 1 and "--levels" in bad.output
    (tmp_path / "file").write_text("")
    unwritable = runner.invoke(
        app, [*args[:-1], str(tmp_path / "file" / "r"), "--perturbations", "jpeg", "--levels", "1"]
    )
    assert unwritable.exit_code == 1 and "cannot write" in unwritable.output
