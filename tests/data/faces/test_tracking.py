"""Interpolating faces between searched frames, alone and inside extraction of a real video."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fakescan.data.extract import ExtractConfig, MediaItem, iter_frame_faces
from fakescan.data.faces import Detection, FaceDetector, box_iou, create_detector
from fakescan.data.faces.tracking import match_detections, tween_detections


def test_matching_pairs_each_face_with_its_own_and_drops_the_unmatched() -> None:
    left, right = Detection((0, 0, 10, 10), 0.9), Detection((40, 0, 50, 10), 0.9)
    moved = [Detection((42, 0, 52, 10), 0.8), Detection((1, 0, 11, 10), 0.7), Detection((90, 90, 99, 99), 1)]
    pairs = match_detections([left, right], moved)
    assert {(p.box, q.box) for p, q in pairs} == {(left.box, moved[1].box), (right.box, moved[0].box)}


def test_tween_interpolates_box_landmarks_and_mesh() -> None:
    mesh = np.zeros((468, 3), np.float32)
    a = Detection((0, 0, 10, 10), 0.9, ((2, 3), (8, 3)), mesh=mesh)
    b = Detection((2, 0, 12, 10), 0.8, ((4, 3), (10, 3)), mesh=mesh + 4)
    (mid,) = tween_detections([a], [b], 10, 14, 11)
    assert mid.box == (0.5, 0.0, 10.5, 10.0) and mid.landmarks == ((2.5, 3.0), (8.5, 3.0))
    assert mid.mesh is not None and float(mid.mesh.mean()) == 1.0 and mid.score == 0.8


class Counting(FaceDetector):
    name = "counting"

    def __init__(self, inner: FaceDetector) -> None:
        self.inner, self.calls = inner, 0

    def detect(self, image: np.ndarray) -> list[Detection]:
        self.calls += 1
        return self.inner.detect(image)


def test_detecting_every_fifth_frame_follows_the_face_of_a_real_video(samples: Path) -> None:
    item = MediaItem(samples / "videos/single_face.mp4", "video", "single_face")
    inner = create_detector("blazeface")
    dense, sparse = Counting(inner), Counting(inner)
    every = list(iter_frame_faces(item, ExtractConfig(stride=1, end_frame=41), dense))
    tracked = list(iter_frame_faces(item, ExtractConfig(stride=1, end_frame=41, detect_every=5), sparse))
    assert [f.index for f in tracked] == [f.index for f in every] == list(range(41))
    assert dense.calls == 41 and sparse.calls == 9
    assert all(f.faces for f in tracked)
    overlaps = [
        box_iou(a.faces[0].detection.box, b.faces[0].detection.box)
        for a, b in zip(every, tracked, strict=True)
    ]
    assert min(overlaps) > 0.8
    assert all(f.faces[0].crop.shape == (256, 256, 3) for f in tracked)
