"""Cutting a uniform square crop around a face box.

The usual preprocessing of FaceForensics++-style pipelines: a square centred on the face box, its
side ``margin`` times the box's longer side, resized to ``size × size``. At the image border the
square is either shifted (and if need be shrunk) to lie inside the image (``"clamp"``), or kept
centred on the face with the outside filled black (``"pad"``). Neither distorts the aspect ratio.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from fakescan.data.faces.base import Box

__all__ = [
    "BorderMode",
    "align_face",
    "aligned_crop_matrix",
    "crop_face",
    "crop_matrix",
    "eye_angle",
    "square_crop_box",
    "square_crop_matrix",
]

BorderMode = Literal["clamp", "pad"]


def square_crop_box(
    box: Box, margin: float, image_width: int, image_height: int, border: BorderMode = "clamp"
) -> tuple[int, int, int, int]:
    """Integer square ``(x1, y1, x2, y2)`` around ``box`` enlarged by ``margin``.

    With ``border="clamp"`` the result lies inside the image (shifted, or shrunk to the image's
    shorter side when larger); with ``"pad"`` it may reach outside.

    >>> square_crop_box((40, 40, 60, 80), 1.5, 200, 200)
    (20, 30, 80, 90)
    >>> square_crop_box((0, 0, 20, 20), 2.0, 100, 100)
    (0, 0, 40, 40)
    >>> square_crop_box((0, 0, 20, 20), 2.0, 100, 100, border="pad")
    (-10, -10, 30, 30)
    """
    if margin <= 0:
        raise ValueError(f"margin must be positive, got {margin}")
    cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    side = max(1, round(max(box[2] - box[0], box[3] - box[1]) * margin))
    if border == "clamp":
        side = min(side, image_width, image_height)
    x1, y1 = round(cx - side / 2.0), round(cy - side / 2.0)
    if border == "clamp":
        x1 = min(max(x1, 0), image_width - side)
        y1 = min(max(y1, 0), image_height - side)
    elif border != "pad":
        raise ValueError(f"border must be 'clamp' or 'pad', got {border!r}")
    return x1, y1, x1 + side, y1 + side


def crop_face(
    image: np.ndarray, box: Box, size: int = 256, margin: float = 1.3, border: BorderMode = "clamp"
) -> np.ndarray:
    """A ``size × size × 3`` crop of ``image`` (``H×W×3`` uint8) around the face ``box``.

    >>> crop_face(np.zeros((100, 100, 3), np.uint8), (10, 10, 50, 50), size=64).shape
    (64, 64, 3)
    """
    import cv2

    height, width = image.shape[:2]
    x1, y1, x2, y2 = square_crop_box(box, margin, width, height, border)
    inner = image[max(y1, 0) : min(y2, height), max(x1, 0) : min(x2, width)]
    if (x1, y1, x2, y2) != (max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)):
        inner = cv2.copyMakeBorder(
            inner,
            top=max(0, -y1),
            bottom=max(0, y2 - height),
            left=max(0, -x1),
            right=max(0, x2 - width),
            borderType=cv2.BORDER_CONSTANT,
            value=(0, 0, 0),
        )
    side = inner.shape[0]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.resize(inner, (size, size), interpolation=interpolation)


def square_crop_matrix(square: tuple[int, int, int, int], size: int) -> np.ndarray:
    """The 2×3 affine map from frame pixels to the ``size × size`` crop :func:`crop_face` cuts from
    the integer ``square`` (:func:`square_crop_box`; padding outside the frame changes no position).

    Pixel centres as OpenCV places them (``cv2.resize`` and ``cv2.warpAffine`` alike): crop pixel
    ``i`` samples frame ``x1 + (i + 0.5) · side / size − 0.5``, so the square's outer edges
    ``x1 − 0.5`` and ``x2 − 0.5`` land on the crop's, ``−0.5`` and ``size − 0.5``.

    >>> m = square_crop_matrix((10, 20, 50, 60), 80)
    >>> (m @ [9.5, 19.5, 1.0]).tolist(), (m @ [49.5, 59.5, 1.0]).tolist()
    ([-0.5, -0.5], [79.5, 79.5])
    """
    x1, y1, x2, _ = square
    scale = size / (x2 - x1)
    return np.array(
        [[scale, 0.0, (0.5 - x1) * scale - 0.5], [0.0, scale, (0.5 - y1) * scale - 0.5]], np.float64
    )


def crop_matrix(
    box: Box,
    image_width: int,
    image_height: int,
    size: int,
    margin: float,
    border: BorderMode = "clamp",
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None,
) -> np.ndarray:
    """The 2×3 frame-to-crop affine map of the crop around ``box``: :func:`align_face`'s
    (:func:`aligned_crop_matrix`) when ``eyes`` (image-left, image-right) are given, else
    :func:`crop_face`'s (:func:`square_crop_matrix` of :func:`square_crop_box`).

    Points of the frame (landmarks, a face mesh) times this matrix are points of the crop.

    >>> crop_matrix((40, 40, 60, 80), 200, 200, 60, 1.5).tolist()
    [[1.0, 0.0, -20.0], [0.0, 1.0, -30.0]]
    """
    if eyes is not None:
        return aligned_crop_matrix(box, eye_angle(*eyes), size, margin)
    return square_crop_matrix(square_crop_box(box, margin, image_width, image_height, border), size)


def eye_angle(left_eye: tuple[float, float], right_eye: tuple[float, float]) -> float:
    """Angle in degrees of the line from the image-left eye to the image-right eye (0 = level).

    Positive when the right eye lies lower in the image (y grows downwards).

    >>> eye_angle((0, 0), (10, 0)), round(eye_angle((0, 0), (10, 10)), 6)
    (0.0, 45.0)
    """
    return math.degrees(math.atan2(right_eye[1] - left_eye[1], right_eye[0] - left_eye[0]))


def aligned_crop_matrix(box: Box, angle: float, size: int, margin: float) -> np.ndarray:
    """The 2×3 affine map from frame pixels to an aligned ``size × size`` crop.

    The crop is the square of side ``margin`` × the box's longer side, centred on the box, turned
    by ``angle`` degrees (:func:`eye_angle`) so that the eyes come out level, as in the alignment
    step of DeepfakeBench's preprocessing (Yan et al., NeurIPS 2023 Datasets & Benchmarks).

    >>> aligned_crop_matrix((0, 0, 10, 10), 0.0, 20, 1.0).round(6).tolist()
    [[2.0, 0.0, 0.0], [-0.0, 2.0, 0.0]]
    >>> m = aligned_crop_matrix((0, 0, 10, 10), 90.0, 20, 1.0)
    >>> (m @ [10.0, 5.0, 1.0]).round(6).tolist()  # the box's right edge comes out at the top
    [10.0, 0.0]
    """
    cx, cy = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    side = max(box[2] - box[0], box[3] - box[1]) * margin
    scale = size / max(side, 1e-6)
    theta = math.radians(angle)
    cos, sin = math.cos(theta) * scale, math.sin(theta) * scale
    # rotate by -angle about the centre, scale, then move the centre to the crop's centre
    return np.array(
        [
            [cos, sin, size / 2.0 - cos * cx - sin * cy],
            [-sin, cos, size / 2.0 + sin * cx - cos * cy],
        ]
    )


def align_face(
    image: np.ndarray,
    box: Box,
    left_eye: tuple[float, float],
    right_eye: tuple[float, float],
    size: int = 256,
    margin: float = 1.3,
) -> np.ndarray:
    """A ``size × size × 3`` crop around ``box`` turned so that the two eyes are level.

    The square is centred on the face (outside the frame is black, as with ``border="pad"``).
    """
    import cv2

    matrix = aligned_crop_matrix(box, eye_angle(left_eye, right_eye), size, margin)
    return cv2.warpAffine(
        image,
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0),
    )
