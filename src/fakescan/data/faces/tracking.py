"""Following faces between detections: search every k-th frame, interpolate the frames between.

Dense extraction (``--every-frame``, ``--stride``) of a talking head spends most of its time in the
detector, while a face moves little from one frame to the next. With ``--detect-every K`` the
detector runs on every K-th frame of the sample only; a face found in two consecutive searched
frames (matched by box overlap, IoU at least ``min_iou``) is placed in each frame between them by
linear interpolation of its box, key points and mesh, which also smooths their frame-to-frame
jitter. A face without a match in the next searched frame is not carried over; after the last
searched frame the last detections are held.

Pure functions: no detector, no frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fakescan.data.faces.base import Detection, box_iou

__all__ = ["interpolate_detection", "match_detections", "tween_detections"]


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


def interpolate_detection(a: Detection, b: Detection, t: float) -> Detection:
    """The detection a fraction ``t`` in ``[0, 1]`` of the way from ``a`` to ``b``.

    Box, key points (when both have as many) and mesh are interpolated linearly; the score is the
    lower of the two.

    >>> d = interpolate_detection(Detection((0, 0, 10, 10), 0.9), Detection((10, 0, 20, 10), 0.8), 0.5)
    >>> d.box, d.score
    ((5.0, 0.0, 15.0, 10.0), 0.8)
    """
    box = tuple(_lerp(p, q, t) for p, q in zip(a.box, b.box, strict=True))
    marks = None
    if a.landmarks is not None and b.landmarks is not None and len(a.landmarks) == len(b.landmarks):
        marks = tuple(
            (_lerp(p[0], q[0], t), _lerp(p[1], q[1], t))
            for p, q in zip(a.landmarks, b.landmarks, strict=True)
        )
    mesh = None
    if a.mesh is not None and b.mesh is not None and a.mesh.shape == b.mesh.shape:
        mesh = (a.mesh + (b.mesh - a.mesh) * np.float32(t)).astype(np.float32)
    return Detection(box=box, score=min(a.score, b.score), landmarks=marks, mesh=mesh)  # type: ignore[arg-type]


def match_detections(
    first: Sequence[Detection], second: Sequence[Detection], min_iou: float = 0.3
) -> list[tuple[Detection, Detection]]:
    """Pair faces of two searched frames greedily by box overlap, best overlap first.

    >>> a, b = Detection((0, 0, 10, 10), 1.0), Detection((50, 0, 60, 10), 1.0)
    >>> pairs = match_detections([a, b], [Detection((51, 0, 61, 10), 1.0)])
    >>> [(p.box, q.box) for p, q in pairs]
    [((50, 0, 60, 10), (51, 0, 61, 10))]
    """
    candidates = sorted(
        ((box_iou(p.box, q.box), i, j) for i, p in enumerate(first) for j, q in enumerate(second)),
        reverse=True,
    )
    used_first: set[int] = set()
    used_second: set[int] = set()
    pairs = []
    for overlap, i, j in candidates:
        if overlap < min_iou:
            break
        if i in used_first or j in used_second:
            continue
        used_first.add(i)
        used_second.add(j)
        pairs.append((first[i], second[j]))
    return pairs


def tween_detections(
    first: Sequence[Detection],
    second: Sequence[Detection],
    first_index: int,
    second_index: int,
    index: int,
    min_iou: float = 0.3,
) -> list[Detection]:
    """The faces in frame ``index``, between searched frames ``first_index`` < ``index`` < ``second_index``.

    >>> a, b = [Detection((0, 0, 10, 10), 1.0)], [Detection((4, 0, 14, 10), 1.0)]
    >>> [d.box for d in tween_detections(a, b, 0, 4, 1)]
    [(1.0, 0.0, 11.0, 10.0)]
    >>> tween_detections(a, [], 0, 4, 1)
    []
    """
    t = (index - first_index) / (second_index - first_index)
    return [interpolate_detection(p, q, t) for p, q in match_detections(first, second, min_iou)]
