"""BlazeFace and FaceMesh on the real sample media, and the pure parts of their decoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fakescan.data.faces import create_detector
from fakescan.data.faces.base import box_iou
from fakescan.data.faces.blazeface import VARIANTS, anchor_centers, decode_boxes, letterbox, weighted_nms
from fakescan.data.faces.crop import align_face, eye_angle
from fakescan.data.faces.facemesh import MESH_POINTS
from fakescan.data.images import read_image

# FaceMesh points around the eyes (the person's right eye appears on the image's left)
LEFT_EYE_MESH, RIGHT_EYE_MESH = (33, 133), (362, 263)


@pytest.fixture(scope="module")
def blazeface():
    return create_detector("blazeface")


@pytest.fixture(scope="module")
def blazeface_full():
    return create_detector("blazeface-full")


def test_anchor_layouts_match_the_network_outputs() -> None:
    assert len(anchor_centers(128, VARIANTS["short"].grids)) == 896
    assert len(anchor_centers(192, VARIANTS["full"].grids)) == 2304
    centres = anchor_centers(128, VARIANTS["short"].grids)
    assert centres.min() > 0 and centres.max() < 1


def test_weighted_nms_blends_one_face_from_overlapping_boxes_and_keeps_separate_faces() -> None:
    rng = np.random.default_rng(0)
    base = np.array([[0.2, 0.2, 0.4, 0.4], [0.6, 0.6, 0.9, 0.9]], np.float32)
    boxes = np.concatenate([base[0] + rng.normal(0, 0.005, (6, 4)), base[1] + rng.normal(0, 0.005, (4, 4))])
    scores = rng.uniform(0.5, 1.0, 10)
    faces = weighted_nms(boxes.astype(np.float32), np.zeros((10, 6, 2), np.float32), scores)
    assert len(faces) == 2
    assert faces[0][2] == pytest.approx(scores.max())
    for box, _, _ in faces:
        assert min(np.abs(box - b).max() for b in base) < 0.01


def test_decode_then_letterbox_maps_a_box_back_to_the_frame() -> None:
    square, scale, pad_x, pad_y = letterbox(np.zeros((360, 640, 3), np.uint8), 128)
    assert square.shape == (128, 128, 3) and scale == 0.2 and (pad_x, pad_y) == (0.0, 28.0)
    boxes, _ = decode_boxes(np.array([[0, 0, 32, 32]], np.float32), np.array([[0.5, 0.5]], np.float32), 128)
    frame_box = (boxes[0] * 128 - (pad_x, pad_y, pad_x, pad_y)) / scale
    assert frame_box.tolist() == pytest.approx([240.0, 100.0, 400.0, 260.0])


@pytest.mark.parametrize("name", ["blazeface", "blazeface-full"])
def test_blazeface_boxes_the_portrait_like_hog_with_eyes_inside_the_box(samples: Path, name: str) -> None:
    image = read_image(samples / "images/obama.jpg")
    (reference,) = create_detector("hog").detect(image)
    (det,) = create_detector(name).detect(image)
    assert box_iou(det.box, reference.box) > 0.5
    assert det.landmarks is not None and len(det.landmarks) == 6
    (lx, ly), (rx, ry) = det.landmarks[:2]
    x1, y1, x2, y2 = det.box
    assert x1 < lx < rx < x2 and y1 < ly < (y1 + y2) / 2 and y1 < ry < (y1 + y2) / 2
    nose_y, mouth_y = det.landmarks[2][1], det.landmarks[3][1]
    assert max(ly, ry) < nose_y < mouth_y < y2


def test_facemesh_agrees_with_the_detector_eyes_and_follows_the_box(samples: Path, blazeface) -> None:
    image = read_image(samples / "images/single_face.jpg")
    (det,) = blazeface.detect(image)
    assert det.mesh is not None and det.mesh.shape == (MESH_POINTS, 3) and det.mesh.dtype == np.float32
    side = det.box[2] - det.box[0]
    for eye, indices in zip(det.landmarks[:2], (LEFT_EYE_MESH, RIGHT_EYE_MESH), strict=True):
        centre = det.mesh[list(indices), :2].mean(axis=0)
        assert np.hypot(*(centre - eye)) < 0.08 * side
    x1, _, x2, _ = det.box
    inside = (det.mesh[:, 0] > x1 - 0.2 * side) & (det.mesh[:, 0] < x2 + 0.2 * side)
    assert inside.mean() > 0.95


def test_full_range_finds_the_small_faces_of_a_group_photo(samples: Path, blazeface, blazeface_full) -> None:
    group = read_image(samples / "images/multi_face.jpg")  # 5 people, faces about 110 px in 1000
    assert len(blazeface_full.detect(group)) == 5
    assert len(blazeface.detect(group)) < 5  # the short-range model is for near faces


def test_mesh_presence_turns_away_false_faces_on_the_cartoon(samples: Path) -> None:
    from fakescan.data.video import even_frame_indices, probe_video, read_frames

    table = probe_video(samples / "negatives/no_face.mp4")
    frames = [f.image for f in read_frames(table, even_frame_indices(table.num_frames, 32))]
    bare = create_detector("blazeface", mesh=False)
    checked = create_detector("blazeface")
    assert sum(bool(bare.detect(f)) for f in frames) >= 1  # the bare detector is fooled by title letters
    assert sum(bool(checked.detect(f)) for f in frames) == 0


def test_align_levels_the_eyes_of_tilted_faces(samples: Path, blazeface) -> None:
    image = read_image(samples / "images/breakingbad.jpg")  # two heads tilted by about 9° and 24°
    faces = blazeface.detect(image)
    assert sorted(round(abs(eye_angle(*d.landmarks[:2]))) for d in faces) == [9, 24]
    for face in faces:
        before = abs(eye_angle(*face.landmarks[:2]))
        crop = align_face(image, face.box, *face.landmarks[:2], size=256, margin=2.0)
        (again,) = blazeface.detect(crop)  # the eyes found anew in the aligned crop
        assert abs(eye_angle(*again.landmarks[:2])) < 0.25 * before
