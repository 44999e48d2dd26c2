"""An imported checkpoint through ``fakescan predict --explain``: a verdict, a heat map and a timeline,
with its licence printed and its face crop applied."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from typer.testing import CliRunner

from fakescan.cli import app
from fakescan.imports import import_checkpoint
from tests.imports._parity import load_fixture, write_reference_checkpoint


@pytest.mark.slow
def test_predict_explains_an_imported_checkpoint(samples: Path, tmp_path: Path) -> None:
    fixture = load_fixture("deepfakebench-xception")
    source = write_reference_checkpoint(tmp_path / "xception_best.pth", fixture["keys"], fixture["seed"])
    run = import_checkpoint("deepfakebench-xception", source, tmp_path / "run").parent
    video = samples / "videos/single_face.mp4"
    explain = tmp_path / "explain"
    done = CliRunner().invoke(
        app,
        [
            "predict",
            str(video),
            "--model",
            str(run),
            "--frames",
            "2",
            "--explain",
            str(explain),
            "--save-crops",
            str(tmp_path / "crops"),
            "--json",
            "-",
        ],
    )
    assert done.exit_code == 0, done.output
    assert "licence: deepfakebench-xception weights (xception_best.pth): CC BY-NC 4.0" in done.output
    document = json.loads(done.stdout[done.stdout.index("{") :])
    (result,) = document["results"]
    assert result["verdict"] in ("fake", "real") and 0.0 <= result["score"] <= 1.0
    assert result["frames_used"] == 2
    folder = explain / Path(result["explanations"][0]).parent.name
    crop = cv2.imread(result["frames"][0]["crop"])
    assert crop.shape == (256, 256, 3)  # cut at the family's 256 px (face_crop size), not resized
    heat, timeline = cv2.imread(str(folder / "gradcam.png")), cv2.imread(str(folder / "timeline.png"))
    assert heat is not None and heat.shape[1] > 256  # the crop and its Grad-CAM maps side by side
    assert timeline is not None and timeline.shape[1] > 300
