"""fakescan.evaluate.runner: ``faces="max"`` scores a frame by its most suspicious face (as SBI evaluates)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fakescan.data.datasets.index import CropRecord, write_crop_table
from fakescan.data.faces import create_detector
from fakescan.data.faces.crop import crop_face
from fakescan.data.images import read_image, write_image
from fakescan.errors import ConfigError
from fakescan.evaluate.report import read_scores_csv
from fakescan.evaluate.runner import run_test
from tests.predict import make_checkpoint


def test_faces_max_keeps_the_top_face_of_each_frame(samples: Path, tmp_path: Path) -> None:
    """Every face of the group photo is a crop of frame 0 of one "video"; two single-face photos
    are frames of another. With ``max`` each frame is one row scored by its highest face."""
    detector = create_detector("hog")
    crops, records = tmp_path / "crops", []
    for folder in ("group", "pair"):
        (crops / folder).mkdir(parents=True)
    group = read_image(samples / "images" / "multi_face.jpg")
    faces = detector.detect(group)
    assert len(faces) >= 2
    for number, face in enumerate(faces):
        write_image(crops / f"group/0_{number}.png", crop_face(group, face.box, size=64, margin=1.3))
        records.append(CropRecord(f"group/0_{number}.png", "group", 0, 1, "M", "test", "t"))
    for frame, name in enumerate(("obama", "biden")):
        image = read_image(samples / "images" / f"{name}.jpg")
        write_image(crops / f"pair/{frame}.png", crop_face(image, detector.detect(image)[0].box, size=64))
        records.append(CropRecord(f"pair/{frame}.png", "pair", frame, 0, "real", "test", "t"))
    write_crop_table(crops / "crops.csv", records)
    checkpoint = make_checkpoint(tmp_path, "cnn", image_size=64)

    run_test(checkpoint, [crops], tmp_path / "all", device="cpu")
    run_test(checkpoint, [crops], tmp_path / "max", device="cpu", faces="max")
    every = read_scores_csv(tmp_path / "all/crops/frames.csv")
    top = read_scores_csv(tmp_path / "max/crops/frames.csv")
    assert len(every) == len(records) and len(top) == 3
    group_rows = every.video_ids == "t/group"  # ids are dataset/video_id
    assert top.scores[top.video_ids == "t/group"].tolist() == [every.scores[group_rows].max()]
    pair = top.video_ids == "t/pair"
    assert sorted(top.scores[pair].tolist()) == sorted(every.scores[~group_rows].tolist())
    metrics = json.loads((tmp_path / "max/crops/metrics.json").read_text())
    assert metrics["faces"] == "max" and metrics["frame"]["n"] == 3
    videos = {row["video_id"]: row for row in _video_rows(tmp_path / "max/crops/videos.csv")}
    assert float(videos["t/pair"]["score"]) == pytest.approx(np.mean(every.scores[~group_rows]))
    with pytest.raises(ConfigError, match="faces"):
        run_test(checkpoint, [crops], tmp_path / "bad", device="cpu", faces="mean")


def _video_rows(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))
