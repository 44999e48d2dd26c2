"""Cutting a uniform square crop around a face box.

The usual preprocessing of FaceForensics++-style pipelines: a square centred on the face box, its
side ``margin`` times the box's longer side, resized to ``size × size``. At the image border the
square is either shifted (and if need be shrunk) to lie inside the image (``"clamp"``), or kept
centred on the face with the outside filled black (``"pad"``). Neither distorts the aspect ratio.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from fakescan.data.faces.base import Box

__all__ = ["BorderMode", "crop_face", "square_crop_box"]

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
