"""Tests of fakescan.data.faces.base: box arithmetic and following one person through a video."""

from __future__ import annotations

import numpy as np
import pytest

from fakescan.data.faces.base import (
    Detection,
    box_iou,
    downscale_for_detection,
    pick_face,
    scale_detection,
)


def test_iou_of_identical_disjoint_and_nested_boxes() -> None:
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    assert box_iou((0, 0, 10, 10), (0, 0, 5, 10)) == pytest.approx(0.5)


def test_pick_follows_the_same_person_when_a_larger_face_appears() -> None:
    person = Detection((100, 100, 160, 160), 1.0)
    stranger = Detection((300, 50, 450, 200), 1.0)
    first = pick_face([person])
    assert first is person
    assert pick_face([stranger, Detection((104, 102, 166, 163), 0.9)], previous=first.box).box[0] == 104
    assert pick_face([stranger, person]) is stranger  # with no history, the largest face wins
    assert pick_face([stranger], previous=person.box) is stranger  # the followed face is gone
    assert pick_face([], previous=person.box) is None


def test_downscale_and_map_back() -> None:
    image = np.zeros((720, 1280, 3), np.uint8)
    small, factor = downscale_for_detection(image, 640)
    assert small.shape == (360, 640, 3) and factor == 0.5
    back = scale_detection(Detection((10, 20, 30, 40), 0.5, ((1, 2),) * 5), factor)
    assert back.box == (20, 40, 60, 80) and back.landmarks == ((2, 4),) * 5
    assert downscale_for_detection(image, None)[1] == 1.0
