"""fakescan.data.faces.landmarks: dlib's 68 points on real sample face crops, fetched from the registry."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest

from fakescan.data.faces import create_detector
from fakescan.data.faces.crop import crop_face
from fakescan.data.faces.landmarks import LANDMARK_MODEL, CropLandmarks, landmark_model_path
from fakescan.data.images import read_image
from fakescan.errors import DetectorError


def face_crop(samples: Path, name: str, size: int) -> np.ndarray:
    image = read_image(samples / "images" / f"{name}.jpg")
    found = create_detector("hog").detect(image)
    assert len(found) == 1
    return crop_face(image, found[0].box, size=size, margin=1.3)


def test_the_model_file_is_the_recorded_one() -> None:
    path = landmark_model_path()
    (digest,) = [d for _, d in LANDMARK_MODEL.files.values()]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert landmark_model_path() == path  # cached: no second download


@pytest.mark.parametrize("size", [96, 256])
@pytest.mark.parametrize("name", ["obama", "biden", "single_face"])
def test_68_points_in_their_places_on_real_crops(
    samples: Path, landmarks: CropLandmarks, name: str, size: int
) -> None:
    crop = face_crop(samples, name, size)
    points = landmarks(crop)
    assert points is not None and points.shape == (68, 2) and points.dtype == np.float32
    assert (points >= 0).all() and (points < size).all()
    jaw, brows, nose, eyes, mouth = points[:17], points[17:27], points[27:36], points[36:48], points[48:]
    assert brows[:, 1].mean() < eyes[:, 1].mean() < nose[:, 1].max() < mouth[:, 1].mean() < jaw[:, 1].max()
    left_eye, right_eye = eyes[:6].mean(axis=0), eyes[6:].mean(axis=0)
    assert left_eye[0] < nose[:, 0].mean() < right_eye[0]  # image left to right
    # the face fills the middle of a 1.3× crop: the points span most of it, centred
    assert 0.45 * size < np.ptp(points[:, 0]) < size
    assert abs(points[:, 0].mean() - size / 2) < 0.15 * size


def test_no_face_gives_none_and_the_object_travels_to_workers(
    samples: Path, landmarks: CropLandmarks
) -> None:
    mountain = read_image(samples / "negatives" / "mountain.jpg")
    assert landmarks(crop_face(mountain, (0, 0, 200, 200), size=128, margin=1.0)) is None
    copy = pickle.loads(pickle.dumps(landmarks))
    crop = face_crop(samples, "obama", 128)
    np.testing.assert_array_equal(copy(crop), landmarks(crop))


def test_a_bad_model_file_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "predictor.dat"
    bad.write_bytes(b"not a model")
    with pytest.raises(DetectorError, match=r"predictor\.dat: not a dlib shape predictor"):
        CropLandmarks(bad)(np.zeros((64, 64, 3), np.uint8))
