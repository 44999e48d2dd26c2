"""dlib's HOG + linear-SVM frontal face detector (Dalal & Triggs, CVPR 2005; dlib, King 2009).

The default backend of ``fakescan extract`` until BlazeFace (``blazeface-full``) replaced it: it
installs from the package registry as ``dlib-bin`` with its model compiled into the library, so it
works offline with nothing to download; building it costs 0.5–1.6 s per process. On the
sample videos of the test suite it finds the face in every sampled frame at about 13 ms per 640×360
frame on one core (searched at 480 px), and unlike OpenCV's Haar cascade it gave no false faces on
the sample portraits (see docs/detectors.md).

HOG finds faces down to about 80 px at its native scale. A frame searched without result is searched
again upsampled ×2, which finds faces down to about 40 px at four times the cost; frames with a
large face, the usual case, pay only the first pass.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from fakescan.data.faces.base import Detection, FaceDetector, downscale_for_detection, scale_detection
from fakescan.errors import DetectorError

__all__ = ["HogDetector"]


class HogDetector(FaceDetector):
    """dlib's frontal-face HOG detector.

    Args:
        max_side: frames are searched at most this large (longer side, pixels); ``None`` = as given.
        upsample: how many ×2 upsamplings to try, one after another, when nothing is found.
        score_threshold: minimum SVM margin (dlib's ``adjust_threshold``); lower finds more faces.
    """

    name: ClassVar[str] = "hog"

    def __init__(self, max_side: int | None = 480, upsample: int = 1, score_threshold: float = 0.0) -> None:
        try:
            import dlib
        except ImportError as error:
            raise DetectorError(
                "the 'hog' detector needs dlib: pip install dlib-bin (or choose --detector haar)"
            ) from error
        self._detector = dlib.get_frontal_face_detector()
        self.max_side = max_side
        self.upsample = upsample
        self.score_threshold = score_threshold

    def detect(self, image: np.ndarray) -> list[Detection]:
        small, factor = downscale_for_detection(image, self.max_side)
        for times in range(self.upsample + 1):
            rects, scores, _ = self._detector.run(small, times, self.score_threshold)
            if rects:
                break
        found = [
            Detection(
                box=(float(r.left()), float(r.top()), float(r.right()), float(r.bottom())), score=float(s)
            )
            for r, s in zip(rects, scores, strict=True)
        ]
        return [scale_detection(d, factor) for d in found] if factor != 1.0 else found
