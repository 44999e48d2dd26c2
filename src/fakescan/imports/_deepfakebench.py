"""What every DeepfakeBench family shares (Yan et al., NeurIPS 2023 Datasets and Benchmarks,
github:SCLBD/DeepfakeBench): its licence, the 256 px input normalised to [-1, 1]
(``training/config/detector/*.yaml``), the 2-class softmax with index 1 = fake
(``training/detectors/*_detector.py``), the dlib crops of ``preprocessing/preprocess.py`` and the
video score of ``training/metrics/utils.py``."""

from __future__ import annotations

from typing import Any

from fakescan.imports._base import FaceCrop

__all__ = ["DEEPFAKEBENCH_COMMON"]

DEEPFAKEBENCH_COMMON: dict[str, Any] = dict(
    licence=(
        "CC BY-NC 4.0 (Creative Commons Attribution-NonCommercial 4.0 International), "
        "DeepfakeBench, Copyright (c) 2023 CUHK(SZ): non-commercial use only, with attribution"
    ),
    licence_url="https://github.com/SCLBD/DeepfakeBench/blob/main/LICENSE",
    reference="github:SCLBD/DeepfakeBench",
    image_size=256,
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    output="softmax",
    fake_index=1,
    face_crop=FaceCrop(
        detector="dlib",
        margin=1.3,
        faces="one",
        note=(
            "dlib frontal-face detector and 81-point landmarks; face aligned and cut at scale 1.3, "
            "resized to 256x256 (preprocessing/preprocess.py); fakescan: --align with a landmark detector"
        ),
    ),
    video_score="mean of the frame probabilities (32 frames per video)",
)
"""The :class:`~fakescan.imports._base.ImportFamily` arguments that the DeepfakeBench families share."""
