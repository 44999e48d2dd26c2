"""Face detection backends and a registry that builds them by name.

=============  ===========================================================  ==================
name           backend                                                      needs
=============  ===========================================================  ==================
``hog``        dlib HOG + linear SVM (default)                              ``dlib-bin``
``haar``       OpenCV Haar cascade                                          OpenCV 4.x
``retinaface`` RetinaFace, mobilenet0.25 or resnet50 (5 landmarks)          a local weights file
=============  ===========================================================  ==================

Backends are imported only when built, so listing them costs nothing.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from fakescan.data.faces.base import Box, Detection, FaceDetector, box_iou, pick_face
from fakescan.errors import DetectorError

__all__ = [
    "DETECTORS",
    "Box",
    "Detection",
    "FaceDetector",
    "box_iou",
    "create_detector",
    "pick_face",
]

DETECTORS: dict[str, str] = {
    "hog": "fakescan.data.faces.dlib_hog:HogDetector",
    "haar": "fakescan.data.faces.haar:HaarDetector",
    "retinaface": "fakescan.data.faces.retinaface:RetinaFaceDetector",
}
"""Registered backends: name → ``module:Class``."""

_NEED_WEIGHTS = frozenset({"retinaface"})


def create_detector(name: str, weights: str | Path | None = None, **options: Any) -> FaceDetector:
    """Build the detector backend ``name``.

    ``weights`` is the local weights file for backends that need one (``retinaface``); other
    keyword options go to the backend's constructor.

    Raises:
        DetectorError: unknown name, missing weights, or a backend that cannot be built.
    """
    if name not in DETECTORS:
        raise DetectorError(f"unknown face detector {name!r}; choose one of: {', '.join(sorted(DETECTORS))}")
    if name in _NEED_WEIGHTS and weights is None:
        raise DetectorError(f"the {name!r} detector needs a local weights file: pass --detector-weights PATH")
    module_name, class_name = DETECTORS[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if weights is not None:
        if name not in _NEED_WEIGHTS:
            raise DetectorError(f"the {name!r} detector takes no weights file (got {weights})")
        return cls(weights, **options)
    return cls(**options)
