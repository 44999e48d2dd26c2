"""The face-detector interface and the pure geometry of choosing faces.

A detector maps one RGB frame to a list of :class:`Detection`. Everything after that (which face to
keep, following one person through a video) is pure code here, independent of the backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

__all__ = [
    "Box",
    "Detection",
    "FaceDetector",
    "box_area",
    "box_iou",
    "downscale_for_detection",
    "pick_face",
    "scale_detection",
]

Box = tuple[float, float, float, float]
"""A box as ``(x1, y1, x2, y2)`` in pixels, x to the right and y down, ``x2 > x1`` and ``y2 > y1``."""


@dataclass(frozen=True, slots=True)
class Detection:
    """One face found in one image.

    Attributes:
        box: face box ``(x1, y1, x2, y2)`` in pixels of the image that was searched.
        score: the detector's confidence; its scale depends on the backend (higher is surer).
        landmarks: five ``(x, y)`` points — left eye, right eye, nose tip, left and right mouth
            corner — when the backend gives them, else ``None``. Backends name their points in
            ``landmark_names``; the first two are always the eyes, left and right as seen in the image.
        mesh: a dense ``N×3`` float32 landmark mesh ``(x, y, z)`` in the same pixels (FaceMesh's 468
            points with the BlazeFace backends), else ``None``.
    """

    box: Box
    score: float
    landmarks: tuple[tuple[float, float], ...] | None = None
    mesh: np.ndarray | None = field(default=None, compare=False, repr=False)


class FaceDetector(ABC):
    """A face detector backend.

    Subclasses set ``name`` and implement :meth:`detect`. They load any model in ``__init__`` and
    never download anything.
    """

    name: ClassVar[str]
    landmark_names: ClassVar[tuple[str, ...]] = ()
    """Names of the points in :attr:`Detection.landmarks`, empty for a backend without landmarks."""

    @abstractmethod
    def detect(self, image: np.ndarray) -> list[Detection]:
        """Find the faces in ``image``, an ``H×W×3`` uint8 RGB array.

        Returns the detections in any order; an empty list when there is no face.
        """


def box_area(box: Box) -> float:
    """Area of a box, zero for a degenerate one.

    >>> box_area((0, 0, 4, 3))
    12.0
    """
    return float(max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]))


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes, in ``[0, 1]``.

    >>> box_iou((0, 0, 2, 2), (1, 0, 3, 2))
    0.3333333333333333
    """
    inter = box_area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0


def scale_detection(det: Detection, factor: float) -> Detection:
    """Map a detection found on an image resized by ``factor`` back to the original image."""
    inv = 1.0 / factor
    box = (det.box[0] * inv, det.box[1] * inv, det.box[2] * inv, det.box[3] * inv)
    marks = None if det.landmarks is None else tuple((x * inv, y * inv) for x, y in det.landmarks)
    mesh = None if det.mesh is None else (det.mesh * np.float32(inv)).astype(np.float32)
    return Detection(box=box, score=det.score, landmarks=marks, mesh=mesh)


def pick_face(
    detections: Sequence[Detection], previous: Box | None = None, min_iou: float = 0.1
) -> Detection | None:
    """Choose the one face to keep in a frame.

    With no ``previous`` box this is the largest face. With one, it is the face that overlaps the
    previous pick most (IoU at least ``min_iou``), so that a video keeps following the same person
    when another, larger face comes into view; when no face overlaps, the largest is taken.

    >>> small, big = Detection((0, 0, 10, 10), 1.0), Detection((50, 50, 90, 90), 1.0)
    >>> pick_face([small, big]) is big
    True
    >>> pick_face([small, big], previous=(1, 1, 11, 11)) is small
    True
    """
    if not detections:
        return None
    if previous is not None:
        overlap = [(box_iou(d.box, previous), d) for d in detections]
        best_iou, best = max(overlap, key=lambda pair: pair[0])
        if best_iou >= min_iou:
            return best
    return max(detections, key=lambda d: box_area(d.box))


def downscale_for_detection(image: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """Shrink ``image`` so that its longer side is at most ``max_side``; return it and the factor.

    Detectors get slower with the pixel count while faces in video stay large, so frames are
    searched at a bounded size and the boxes mapped back with :func:`scale_detection`.
    """
    longest = max(image.shape[:2])
    if max_side is None or longest <= max_side:
        return image, 1.0
    import cv2

    factor = max_side / longest
    size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), factor
