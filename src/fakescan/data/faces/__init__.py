"""Face detection backends and a registry that builds them by name.

=============  ===========================================================  ==================
name           backend                                                      needs
=============  ===========================================================  ==================
``hog``        dlib HOG + linear SVM                                        ``dlib-bin``
``haar``       OpenCV Haar cascade                                          OpenCV 4.x
``retinaface`` RetinaFace, mobilenet0.25 or resnet50 (5 landmarks)          a local weights file
``blazeface``  MediaPipe BlazeFace short range (6 key points)                ``ai-edge-litert``
``blazeface-   MediaPipe BlazeFace full range (default; 6 key points)        ``ai-edge-litert``
full``
=============  ===========================================================  ==================

Backends are imported only when built, so listing them costs nothing. :func:`shared_detector`
builds a backend once per process and hands the same object to every later caller with the same
settings (dlib's HOG model alone takes 0.5–1.6 s to build on a 2-core machine).
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path
from typing import Any

from fakescan.data.faces.base import Box, Detection, FaceDetector, box_iou, pick_face
from fakescan.errors import DetectorError

__all__ = [
    "DEFAULT_DETECTOR",
    "DETECTORS",
    "Box",
    "Detection",
    "FaceDetector",
    "box_iou",
    "create_detector",
    "pick_face",
    "shared_detector",
]

DETECTORS: dict[str, str] = {
    "hog": "fakescan.data.faces.dlib_hog:HogDetector",
    "haar": "fakescan.data.faces.haar:HaarDetector",
    "retinaface": "fakescan.data.faces.retinaface:RetinaFaceDetector",
    "blazeface": "fakescan.data.faces.blazeface:BlazeFaceDetector",
    "blazeface-full": "fakescan.data.faces.blazeface:BlazeFaceFullDetector",
}
"""Registered backends: name → ``module:Class``."""

DEFAULT_DETECTOR = "blazeface-full"
"""The detector of ``fakescan extract``, ``predict`` and ``serve`` unless told otherwise (chosen by
the measured table in docs/detectors.md)."""

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


@functools.lru_cache(maxsize=8)
def _cached(name: str, weights: str | None, options: tuple[tuple[str, Any], ...]) -> FaceDetector:
    return create_detector(name, weights, **dict(options))


def shared_detector(name: str, weights: str | Path | None = None, **options: Any) -> FaceDetector:
    """The detector :func:`create_detector` builds, built once per process for each set of arguments.

    Detectors keep no state between calls of ``detect``, so one object serves every caller of a
    process (each worker process builds its own). Options must be hashable.

    Raises:
        DetectorError: as :func:`create_detector`; a failed build is not cached.
    """
    return _cached(name, None if weights is None else str(weights), tuple(sorted(options.items())))
