"""A crop folder of real and manipulated faces, split by person, for the training tests.

Real crops come from the real sample media through ``fakescan extract`` (videos cut into clips of
consecutive samples, each clip a "video"; every face of the still images a video of its own). Each
real video gets a manipulated twin (:func:`tests.fakes.resynthesise_face`) in the same split.
Training uses the people of the sample videos and one group photo; validation holds out other
people entirely.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fakescan.data.datasets.index import CropRecord, write_crop_table
from fakescan.data.extract import ExtractConfig, run_extraction
from fakescan.data.images import read_image, write_image
from tests.fakes import resynthesise_face

SIZE = 64
CLIP = 6  # sampled frames per clip "video"
TRAIN_SOURCES = {"WolfgangLanger_Pexels", "single_face", "multi_face"}
TEST_SOURCES = {"einstein", "breakingbad"}


def _split_of(source: str) -> str:
    if source in TRAIN_SOURCES:
        return "train"
    return "test" if source in TEST_SOURCES else "val"


def build_crops_dir(samples: Path, out: Path) -> Path:
    """Write the crops and ``crops.csv`` into ``out``; return it."""
    inputs = [
        samples / "videos/WolfgangLanger_Pexels.mp4",
        samples / "videos/single_face.mp4",
        samples / "videos/face_noface.mov",
        *(
            samples / f"images/{name}"
            for name in ("multi_face.jpg", "obama.jpg", "biden.jpg", "einstein.jpg")
        ),
        samples / "images/breakingbad.jpg",
    ]
    report = run_extraction(inputs, out / "x", ExtractConfig(frames=24, size=SIZE, all_faces=True))
    rng = np.random.default_rng(0)
    records: list[CropRecord] = []
    for row in report.rows:
        if row.crop is None:
            continue
        source = Path(row.source).stem
        video = row.source.endswith((".mp4", ".mov"))
        face = int(row.face_index or 0)
        if video and face > 0:
            continue
        clip = f"{source}/clip{int(row.frame_index) // (CLIP * 10)}" if video else f"{source}/face{face}"
        split = _split_of(source)
        real_crop = f"x/{row.crop}"
        fake_crop = f"fake/{row.crop}"
        (out / fake_crop).parent.mkdir(parents=True, exist_ok=True)
        write_image(out / fake_crop, resynthesise_face(read_image(out / real_crop), rng))
        frame = int(row.frame_index or 0)
        records.append(CropRecord(real_crop, f"real/{clip}", frame, 0, "real", split, "samples"))
        records.append(CropRecord(fake_crop, f"fake/{clip}", frame, 1, "Resynth", split, "samples"))
    write_crop_table(out / "crops.csv", records)
    return out
