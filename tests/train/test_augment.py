"""``--augment`` / ``data.augment``: the option reaches the run, and ``robust`` trains on the
perturbations of ``fakescan robustness``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fakescan.cli import app
from fakescan.data.loading import sample_rng
from fakescan.data.perturb import RobustAugment
from fakescan.errors import ConfigError
from fakescan.models.output import InputConfig
from fakescan.train.config import load_config
from fakescan.train.engine import train_transform
from tests.train.crops import SIZE


def test_augment_values_and_the_older_booleans() -> None:
    assert load_config().data.augment == "default"
    assert load_config(overrides={"data": {"augment": "robust"}}).data.augment == "robust"
    assert load_config(overrides={"data": {"augment": False}}).data.augment == "none"
    assert load_config("celebdf-attention_net").data.augment == "default"  # the preset says `true`
    with pytest.raises(ConfigError, match="unknown augment 'sepia'"):
        load_config(overrides={"data": {"augment": "sepia"}})


def test_robust_transform_degrades_and_default_one_does_not(samples: Path) -> None:
    from fakescan.data.images import read_image

    face = np.ascontiguousarray(
        read_image(samples / "images/single_face.jpg")[: SIZE * 4 : 4, : SIZE * 4 : 4]
    )
    robust = train_transform(
        load_config(overrides={"data": {"augment": "robust"}}), InputConfig(image_size=SIZE)
    )
    plain = train_transform(
        load_config(overrides={"data": {"augment": "none"}}), InputConfig(image_size=SIZE)
    )
    assert (
        isinstance(robust.degrade, RobustAugment) and robust.augment.jpeg_p == 0 and robust.augment.flip_p > 0
    )
    assert plain.degrade is None
    clean = plain(face, sample_rng(0, 0, "a.png")).image
    degraded = [robust(face, sample_rng(0, epoch, "a.png")).image for epoch in range(8)]
    assert sum(not bool((d == clean).all()) and not bool((d == clean.flip(-1)).all()) for d in degraded) >= 4


def test_cli_augment_option_reaches_the_run(crops_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "train", "cnn", str(crops_dir), str(crops_dir), "--out", str(run), "--epochs", "1",
            "--image_size", str(SIZE), "--max-steps-per-epoch", "1", "--augment", "robust", "--device", "cpu",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "with robust augmentation" in result.output
    assert json.loads((run / "config.json").read_text())["data"]["augment"] == "robust"
    bad = CliRunner().invoke(
        app, ["train", "cnn", str(crops_dir), str(crops_dir), "--out", str(run), "--augment", "x"]
    )
    assert bad.exit_code == 2 and "unknown augment" in bad.output
