"""BlazeFace, MediaPipe's sub-millisecond face detector, with six key points per face.

Bazarevsky, Kartynnik, Vakunov, Raveendran and Grundmann, "BlazeFace: Sub-millisecond Neural Face
Detection on Mobile GPUs", CVPR Workshop on Computer Vision for AR/VR 2019 (arXiv:1907.05047), and
the MediaPipe Face Detection model card (short range: faces within about 2 m, 128×128 input; full
range: faces up to about 5 m, 192×192 input).

The networks are MediaPipe's TensorFlow Lite files (:mod:`fakescan.data.faces.models`); what is
ours is everything around them, written from the paper and the model card:

* the frame is letterboxed to the square input (aspect kept, padded black) and scaled to [-1, 1];
* :func:`anchor_centers` lays out the SSD anchors (§2 of the paper: the 16×16 and 8×8 grids of the
  128 px model with 2 and 6 anchors per cell, 896 in all; one 48×48 grid with one anchor per cell,
  2304, for the 192 px full-range model). The anchors have unit size: the network regresses the box
  centre offset, width and height in input pixels (:func:`decode_boxes`);
* :func:`weighted_nms` is the paper's "blending" suppression (§2.3): overlapping detections are not
  dropped but averaged, weighted by score, which steadies the boxes from frame to frame.

Key points (:data:`KEYPOINT_NAMES`) are in image orientation: point 0 is the eye on the image's left
(the person's right eye), as in the other backends' landmark convention.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from fakescan.data.faces.base import Detection, FaceDetector

__all__ = [
    "KEYPOINT_NAMES",
    "VARIANTS",
    "BlazeFaceDetector",
    "BlazeFaceVariant",
    "anchor_centers",
    "decode_boxes",
    "letterbox",
    "weighted_nms",
]

KEYPOINT_NAMES: tuple[str, ...] = (
    "left_eye",
    "right_eye",
    "nose_tip",
    "mouth_center",
    "left_ear",
    "right_ear",
)
"""BlazeFace's six key points, left and right as seen in the image."""


@dataclass(frozen=True)
class BlazeFaceVariant:
    """What differs between the short- and full-range models.

    Attributes:
        model: file name in :data:`fakescan.data.faces.models.FACE_MODELS`.
        input_size: side of the square input, pixels.
        grids: ``(stride, anchors per cell)`` of each feature map, in the network's output order.
        score_threshold: minimum face probability: 0.5 (MediaPipe's default) for the short-range
            model; 0.6 for the full-range one, which at 0.5 took the letters of a cartoon title for
            faces (FaceMesh agreeing) on the sample media, where no true face scored under 0.63.
            That value was chosen on the same samples that docs/detectors.md reports on.
    """

    model: str
    input_size: int
    grids: tuple[tuple[int, int], ...]
    score_threshold: float = 0.5


VARIANTS: dict[str, BlazeFaceVariant] = {
    "short": BlazeFaceVariant("face_detection_short_range.tflite", 128, ((8, 2), (16, 6))),
    "full": BlazeFaceVariant("face_detection_full_range.tflite", 192, ((4, 1),), score_threshold=0.6),
}


def anchor_centers(input_size: int, grids: Sequence[tuple[int, int]]) -> np.ndarray:
    """``N×2`` anchor centres ``(x, y)`` in units of the input side, row by row, cell by cell.

    Each grid of stride ``s`` has ``ceil(input_size / s)`` cells a side; each cell repeats its
    centre once per anchor.

    >>> anchor_centers(128, ((8, 2), (16, 6))).shape
    (896, 2)
    >>> anchor_centers(16, ((8, 1),)).tolist()
    [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]
    """
    parts = []
    for stride, per_cell in grids:
        cells = math.ceil(input_size / stride)
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        centres = (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) / cells
        parts.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(parts).astype(np.float32)


def decode_boxes(raw: np.ndarray, anchors: np.ndarray, input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Decode the regressor output ``N×(4 + 2K)`` into boxes and key points, in units of the input side.

    ``raw`` holds per anchor the box centre offset ``(dx, dy)``, its size ``(w, h)`` and ``K``
    key-point offsets, all in input pixels and relative to the anchor centre.

    Returns:
        ``(boxes N×4 as x1, y1, x2, y2; keypoints N×K×2)``.

    >>> raw = np.array([[0, 0, 64, 32, 16, 0]], np.float32)
    >>> boxes, points = decode_boxes(raw, np.array([[0.5, 0.5]]), 128)
    >>> boxes.tolist(), points.tolist()
    ([[0.25, 0.375, 0.75, 0.625]], [[[0.625, 0.5]]])
    """
    scaled = raw.astype(np.float32) / input_size
    centre = scaled[:, :2] + anchors
    half = scaled[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    points = scaled[:, 4:].reshape(len(raw), -1, 2) + anchors[:, None, :]
    return boxes, points


def _iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    inter_w = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    inter_h = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = inter_w * inter_h
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


def weighted_nms(
    boxes: np.ndarray, points: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.3
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """BlazeFace's blending suppression (§2.3): merge each cluster of overlapping detections.

    Repeatedly take the highest-scoring detection left, gather every remaining detection whose IoU
    with it exceeds ``iou_threshold`` (itself included), and output the score-weighted mean of
    their boxes and key points, with the top score. The cluster is then removed.

    Returns:
        ``(box 4, keypoints K×2, score)`` per face, best first.

    >>> b = np.array([[0, 0, 2, 2], [0, 0, 2, 4], [5, 5, 6, 6]], np.float32)
    >>> merged = weighted_nms(b, np.zeros((3, 1, 2)), np.array([0.75, 0.25, 0.5]))
    >>> [(m[0].tolist(), m[2]) for m in merged]
    [([0.0, 0.0, 2.0, 2.5], 0.75), ([5.0, 5.0, 6.0, 6.0], 0.5)]
    """
    order = np.argsort(-scores, kind="stable")
    remaining = order
    faces = []
    while len(remaining):
        top = remaining[0]
        overlap = _iou_one_to_many(boxes[top], boxes[remaining])
        members = remaining[overlap > iou_threshold]
        members = members if len(members) else remaining[:1]
        weights = scores[members][:, None]
        total = float(weights.sum())
        box = (boxes[members] * weights).sum(axis=0) / total
        marks = (points[members] * weights[:, :, None]).sum(axis=0) / total
        faces.append((box, marks, float(scores[top])))
        remaining = remaining[(overlap <= iou_threshold) & (remaining != top)]
    return faces


def letterbox(image: np.ndarray, side: int) -> tuple[np.ndarray, float, float, float]:
    """Fit ``image`` into a ``side × side`` square, aspect kept, padded black, centred.

    Returns ``(square, scale, pad_x, pad_y)``: an image point ``(x, y)`` lands at
    ``(x * scale + pad_x, y * scale + pad_y)`` in the square.

    >>> square, scale, px, py = letterbox(np.zeros((50, 100, 3), np.uint8), 128)
    >>> square.shape, scale, px, py
    ((128, 128, 3), 1.28, 0.0, 32.0)
    """
    import cv2

    height, width = image.shape[:2]
    scale = side / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = cv2.resize(
        image, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    )
    pad_x, pad_y = (side - new_w) // 2, (side - new_h) // 2
    square = np.zeros((side, side, 3), np.uint8)
    square[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    return square, scale, float(pad_x), float(pad_y)


class BlazeFaceDetector(FaceDetector):
    """MediaPipe's BlazeFace, short range (``blazeface``) or full range (``blazeface-full``).

    Args:
        variant: ``"short"`` (faces filling a good part of the frame) or ``"full"`` (small, far faces).
        max_side: accepted for the common detector interface; the network always sees its own input
            size, so the frame is not searched at a larger scale.
        score_threshold: minimum face probability; ``None`` = the variant's (:data:`VARIANTS`).
        iou_threshold: overlap above which detections are blended into one face.
        model_path: a local copy of the ``.tflite`` file instead of the fetched one.
        threads: interpreter threads.
        mesh: also run FaceMesh on each face (:mod:`fakescan.data.faces.facemesh`): its 468 points
            go to :attr:`Detection.mesh`, and a face whose mesh presence score is under
            ``presence_threshold`` is dropped as a false face.
        presence_threshold: see ``mesh``.
    """

    name: ClassVar[str] = "blazeface"
    landmark_names: ClassVar[tuple[str, ...]] = KEYPOINT_NAMES

    def __init__(
        self,
        variant: str = "short",
        max_side: int | None = None,
        score_threshold: float | None = None,
        iou_threshold: float = 0.3,
        model_path: str | None = None,
        threads: int = 1,
        mesh: bool = True,
        presence_threshold: float = 0.5,
    ) -> None:
        from pathlib import Path

        from fakescan.data.faces.models import face_model_path, load_interpreter

        self.variant = VARIANTS[variant]
        self.max_side = max_side
        self.score_threshold = self.variant.score_threshold if score_threshold is None else score_threshold
        self.iou_threshold = iou_threshold
        path = Path(model_path) if model_path is not None else face_model_path(self.variant.model)
        self._interpreter = load_interpreter(path, threads)
        details = self._interpreter.get_output_details()
        # regressors (…×16) and classificators (…×1), told apart by their last dimension
        by_width = {int(d["shape"][-1]): d["index"] for d in details}
        self._boxes_out, self._scores_out = max(by_width.items())[1], min(by_width.items())[1]
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._anchors = anchor_centers(self.variant.input_size, self.variant.grids)
        self.presence_threshold = presence_threshold
        self._mesh = None
        if mesh:
            from fakescan.data.faces.facemesh import FaceMesh

            self._mesh = FaceMesh(threads=threads)

    def detect(self, image: np.ndarray) -> list[Detection]:
        side = self.variant.input_size
        square, scale, pad_x, pad_y = letterbox(image, side)
        tensor = (square.astype(np.float32) / 127.5 - 1.0)[None]
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._boxes_out)[0]
        logits = self._interpreter.get_tensor(self._scores_out)[0, :, 0]
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100.0, 100.0)))
        keep = scores >= self.score_threshold
        if not keep.any():
            return []
        boxes, points = decode_boxes(raw[keep], self._anchors[keep], side)
        found = []
        height, width = image.shape[:2]
        for box, marks, score in weighted_nms(boxes, points, scores[keep], self.iou_threshold):
            x1, y1, x2, y2 = ((box * side - (pad_x, pad_y, pad_x, pad_y)) / scale).tolist()
            if x2 - x1 < 2 or y2 - y1 < 2 or x2 < 0 or y2 < 0 or x1 > width or y1 > height:
                continue
            landmarks = tuple(
                (float((x * side - pad_x) / scale), float((y * side - pad_y) / scale)) for x, y in marks
            )
            face = Detection(box=(x1, y1, x2, y2), score=score, landmarks=landmarks)
            if self._mesh is not None:
                result = self._mesh(image, face.box, landmarks[0], landmarks[1])
                if result.presence < self.presence_threshold:
                    continue
                face = Detection(face.box, face.score, face.landmarks, mesh=result.points)
            found.append(face)
        return found


class BlazeFaceFullDetector(BlazeFaceDetector):
    """BlazeFace full range (192 px input): small and distant faces, with a short-range fallback.

    The full-range model misses faces that fill most of the frame (close-ups: on the 192 px videos
    of ``fakescan synth`` it found the face in 5 of 32 frames of one clip, the short-range model in
    all 32), so a frame where it finds nothing is searched again with the short-range model, as
    HOG retries a frame upsampled; only frames without a full-range face pay for the second pass.

    Args:
        fallback: search frames without a full-range face with the short-range model.
        options: as for :class:`BlazeFaceDetector` (``variant`` excepted).
    """

    name: ClassVar[str] = "blazeface-full"

    def __init__(self, fallback: bool = True, **options: object) -> None:
        super().__init__(variant="full", **options)  # type: ignore[arg-type]
        self._fallback: BlazeFaceDetector | None = None
        if fallback:
            short_options = {k: v for k, v in options.items() if k != "score_threshold"}
            self._fallback = BlazeFaceDetector(variant="short", mesh=False, **short_options)  # type: ignore[arg-type]
            self._fallback._mesh = self._mesh  # one FaceMesh serves both

    def detect(self, image: np.ndarray) -> list[Detection]:
        found = super().detect(image)
        if found or self._fallback is None:
            return found
        return self._fallback.detect(image)
