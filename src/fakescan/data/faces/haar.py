"""OpenCV's Haar-cascade frontal face detector (Viola & Jones, CVPR 2001).

A fallback backend with no dependency beyond OpenCV. It needs ``opencv-python(-headless)`` 4.x:
OpenCV 5 no longer ships the cascade files. It is about as fast as HOG on video frames but gave
false faces on several of the sample portraits, so it is not the default.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from fakescan.data.faces.base import Detection, FaceDetector, downscale_for_detection, scale_detection
from fakescan.errors import DetectorError

__all__ = ["HaarDetector"]


class HaarDetector(FaceDetector):
    """OpenCV's ``haarcascade_frontalface_default`` cascade.

    Args:
        max_side: frames are searched at most this large (longer side, pixels).
        min_neighbors: overlapping hits needed to accept a face; higher gives fewer false faces.
        min_size: smallest face searched for, in pixels of the searched frame.
        cascade: path of another cascade XML file to use instead of OpenCV's bundled one.
    """

    name: ClassVar[str] = "haar"

    def __init__(
        self,
        max_side: int | None = 480,
        min_neighbors: int = 5,
        min_size: int = 30,
        cascade: str | Path | None = None,
    ) -> None:
        import cv2

        if cascade is None:
            data = getattr(cv2, "data", None)
            if data is None:
                raise DetectorError(
                    "the 'haar' detector needs OpenCV 4.x cascades; OpenCV "
                    f"{cv2.__version__} has none: pip install 'opencv-python-headless<5'"
                )
            cascade = Path(data.haarcascades) / "haarcascade_frontalface_default.xml"
        self._classifier = cv2.CascadeClassifier(str(cascade))
        if self._classifier.empty():
            raise DetectorError(f"{cascade}: not a loadable Haar cascade file")
        self.max_side = max_side
        self.min_neighbors = min_neighbors
        self.min_size = min_size

    def detect(self, image: np.ndarray) -> list[Detection]:
        import cv2

        small, factor = downscale_for_detection(image, self.max_side)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        boxes, _, weights = self._classifier.detectMultiScale3(
            gray,
            scaleFactor=1.1,
            minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size),
            outputRejectLevels=True,
        )
        found = [
            Detection(box=(float(x), float(y), float(x + w), float(y + h)), score=float(s))
            for (x, y, w, h), s in zip(
                np.asarray(boxes).reshape(-1, 4), np.asarray(weights).reshape(-1), strict=True
            )
        ]
        return [scale_detection(d, factor) for d in found] if factor != 1.0 else found
