"""Tests of fakescan.evaluate.runner (``fakescan test``) on a small crops folder of real faces."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from fakescan.data.datasets.index import CropRecord, write_crop_table
from fakescan.data.images import read_image, write_image
from fakescan.evaluate.runner import run_test
from tests.fakes import resynthesise_face
from tests.predict import make_checkpoint


def _two_datasets_with_the_same_ids(samples: Path, out: Path) -> Path:
    """Crops of two data sets in one folder whose videos have the same relative ids (``v0``, ``v1``):
    the reals of ``setA`` and the fakes of ``setB``."""
    rng = np.random.default_rng(0)
    records = []
    for v, name in enumerate(("obama.jpg", "biden.jpg")):
        face = cv2.resize(read_image(samples / "images" / name), (64, 64), interpolation=cv2.INTER_AREA)
        for frame in range(3):
            for dataset, label, method in (("setA", 0, "real"), ("setB", 1, "Resynth")):
                image = face if label == 0 else resynthesise_face(face, rng)
                crop = f"{dataset}/v{v}/{frame}.png"
                (out / crop).parent.mkdir(parents=True, exist_ok=True)
                write_image(out / crop, np.ascontiguousarray(np.roll(image, frame, axis=1)))
                records.append(CropRecord(crop, f"v{v}", frame, label, method, "test", dataset))
    write_crop_table(out / "crops.csv", records)
    return out


def test_videos_of_two_datasets_with_the_same_ids_stay_apart(samples: Path, tmp_path: Path) -> None:
    crops = _two_datasets_with_the_same_ids(samples, tmp_path / "crops")
    checkpoint = make_checkpoint(tmp_path, image_size=64)
    report = run_test(checkpoint, [crops], tmp_path / "out", force=True, device="cpu")
    result = report.results[0]
    assert result.crops == 12
    assert result.videos == 4  # setA/v0, setA/v1, setB/v0, setB/v1 (not two merged ones)
    with (result.out_dir / "videos.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["video_id"] for row in rows) == ["setA/v0", "setA/v1", "setB/v0", "setB/v1"]
    assert {row["video_id"]: int(row["label"]) for row in rows}["setB/v1"] == 1
    assert set(result.per_method) >= {"Resynth"}
