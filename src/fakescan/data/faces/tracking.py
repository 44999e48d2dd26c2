"""Following faces between detections: search every k-th frame, interpolate the frames between.

Dense extraction (``--every-frame``, ``--stride``) of a talking head spends most of its time in the
detector, while a face moves little from one frame to the next. With ``--detect-every K`` the
detector runs on every K-th frame of the sample only; a face found in two consecutive searched
frames (matched by box overlap, IoU at least ``min_iou``) is placed in each frame between them by
linear interpolation of its box, key points and mesh, which also smooths their frame-to-frame
jitter. A face without a match in the next searched frame is not carried over; after the last
searched frame the last detections are held.

:func:`follow_people` links the faces of a whole sequence of frames into people (tracks), so that
``predict`` can score each person of a video on its own: the same greedy overlap matching, each
person's last seen box matched with the faces of the next frame.

Pure functions: no detector, no frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fakescan.data.faces.base import Detection, box_iou

__all__ = ["follow_people", "interpolate_detection", "match_detections", "tween_detections"]


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


def follow_people(frames: Sequence[Sequence[Detection]], min_iou: float = 0.1) -> list[list[int]]:
    """Give every face of a sequence of frames a person number: the same number for the same person.

    Frame by frame, the faces are matched (:func:`match_detections`, best overlap first, IoU at least
    ``min_iou``; the same 0.1 :func:`~fakescan.data.faces.pick_face` follows one face with) with the
    box each person had when last seen — in the frame before, or earlier when the detector missed
    them since. A face without a match is a new person. People are numbered from 0 in the order they
    first appear (within a frame, in the order of its faces).

    Sparse samples of fast motion can break a person in two (no overlap between samples), and a new
    face where someone else was last seen continues that person; both are the limits of following by
    overlap alone.

    Returns:
        for each frame, the person number of each of its faces, in order.

    >>> a, b = Detection((0, 0, 10, 10), 1.0), Detection((50, 0, 60, 10), 1.0)
    >>> follow_people([[a, b], [], [Detection((52, 0, 62, 10), 1.0)], [Detection((1, 0, 11, 10), 1.0)]])
    [[0, 1], [], [1], [0]]
    """
    last: list[Detection] = []  # each person's last seen face
    people: list[list[int]] = []
    for faces in frames:
        owner = {id(last[p]): p for p in range(len(last))}
        matched = {id(face): owner[id(seen)] for seen, face in match_detections(last, faces, min_iou)}
        numbers = []
        for face in faces:
            number = matched.get(id(face))
            if number is None:
                number = len(last)
                last.append(face)
            numbers.append(number)
        for face, number in zip(faces, numbers, strict=True):
            last[number] = face
        people.append(numbers)
    return people
