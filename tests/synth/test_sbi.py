"""Tests of fakescan.synth.sbi (Self-Blended Images) and the masks it blends through."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fakescan.synth.masks import deform_mask, ellipse_mask, face_mask, hull_mask, soften_mask
from fakescan.synth.sbi import SBIConfig, self_blend


@pytest.fixture(scope="module")
def face(samples: Path) -> np.ndarray:
    """A real 1.3× face crop (256 px) of a sample photo."""
    from fakescan.data.faces import create_detector
    from fakescan.data.faces.crop import crop_face
    from fakescan.data.images import read_image

    image = read_image(samples / "images" / "obama.jpg")
    found = create_detector("hog").detect(image)
    assert len(found) == 1
    return crop_face(image, found[0].box, size=256, margin=1.3)


def test_shape_and_dtype_are_preserved(face: np.ndarray) -> None:
    fake = self_blend(face, np.random.default_rng(0))
    assert fake.image.shape == face.shape and fake.image.dtype == np.uint8
    assert fake.mask.shape == face.shape[:2] and fake.mask.dtype == np.float32


@pytest.mark.parametrize("seed", range(6))
def test_changes_stay_inside_the_mask(face: np.ndarray, seed: int) -> None:
    fake = self_blend(face, np.random.default_rng(seed))
    changed = (fake.image != face).any(axis=2)
    assert changed.any()
    assert not changed[fake.mask == 0].any()
    # The mask covers the face, in the middle of the crop, and leaves the corners alone.
    height, width = fake.mask.shape
    assert fake.mask[height // 2, width // 2] > 0
    assert (fake.mask[:16, :16] == 0).all() and (fake.mask[-16:, -16:] == 0).all()


def test_masks_are_soft_and_differ_between_seeds(face: np.ndarray) -> None:
    masks = [self_blend(face, np.random.default_rng(seed)).mask for seed in range(4)]
    for mask in masks:
        assert mask.min() >= 0.0 and mask.max() <= 1.0
        assert ((mask > 0) & (mask < mask.max())).sum() > 100  # a wide soft edge, not a step
    supports = [mask > 0 for mask in masks]
    assert all((supports[0] != other).any() for other in supports[1:])


def test_the_same_seed_gives_the_same_fake(face: np.ndarray) -> None:
    one = self_blend(face, np.random.default_rng(42))
    two = self_blend(face, np.random.default_rng(42))
    np.testing.assert_array_equal(one.image, two.image)
    np.testing.assert_array_equal(one.mask, two.mask)
    assert not np.array_equal(one.image, self_blend(face, np.random.default_rng(43)).image)


def test_full_strength_blend_reaches_one_inside() -> None:
    image = np.full((96, 96, 3), 128, np.uint8)
    fake = self_blend(image, np.random.default_rng(3), config=SBIConfig(blend_ratios=(1.0,)))
    assert fake.mask.max() == pytest.approx(1.0)


def test_landmarks_give_a_mask_around_their_hull() -> None:
    image = np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    points = np.array([(30, 70), (64, 30), (98, 70), (64, 110)], np.float32)
    fake = self_blend(image, np.random.default_rng(1), landmarks=points, config=SBIConfig(deform_mask=False))
    assert fake.mask[70, 64] > 0
    assert (fake.mask[:10] == 0).all() and (fake.mask[:, :10] == 0).all()
    assert not (fake.image != image).any(axis=2)[fake.mask == 0].any()


def test_a_box_places_the_mask_on_that_face() -> None:
    image = np.full((200, 200, 3), 90, np.uint8)
    box = (120.0, 20.0, 180.0, 80.0)
    mask = self_blend(image, np.random.default_rng(5), box=box).mask
    ys, xs = np.nonzero(mask)
    assert 120 <= xs.mean() <= 180 and 20 <= ys.mean() <= 80
    assert (mask[120:, :100] == 0).all()


def test_rejects_images_that_are_not_rgb_uint8() -> None:
    with pytest.raises(ValueError, match="uint8"):
        self_blend(np.zeros((32, 32), np.uint8), np.random.default_rng(0))
    with pytest.raises(ValueError, match="uint8"):
        self_blend(np.zeros((32, 32, 3), np.float32), np.random.default_rng(0))


def test_mask_building_blocks() -> None:
    rng = np.random.default_rng(0)
    ellipse = ellipse_mask((64, 64), (16, 16, 48, 48))
    assert set(np.unique(ellipse)) == {0.0, 1.0}
    assert ellipse[32, 32] == 1 and ellipse[17, 17] == 0  # a corner of the box is outside the ellipse
    deformed = deform_mask(ellipse, rng)
    assert set(np.unique(deformed)) <= {0.0, 1.0} and deformed.any()
    assert not np.array_equal(deformed, ellipse)
    soft = soften_mask(deformed, rng)
    assert soft.max() == 1.0 and ((soft > 0) & (soft < 1)).any()
    assert not soften_mask(np.zeros((8, 8), np.float32), rng).any()
    with pytest.raises(ValueError, match="3 points"):
        hull_mask((8, 8), [(1, 1), (2, 2)])
    again = face_mask((64, 64), np.random.default_rng(9))
    np.testing.assert_array_equal(again, face_mask((64, 64), np.random.default_rng(9)))


@pytest.fixture(scope="module")
def face_points(face: np.ndarray, landmarks) -> np.ndarray:
    points = landmarks(face)
    assert points is not None
    return points


def test_landmark_masks_lie_in_the_face_hull(face: np.ndarray, face_points: np.ndarray) -> None:
    """The paper's mask (Sec. 3.2): the landmarks' hull, deformed and blurred. Deformation and growth
    move the boundary by at most 15% of the region's size (affine 5%, elastic 6%, growth 4%), so
    the half-alpha region stays inside the hull dilated by 20% and covers the hull eroded by 20%."""
    import cv2

    hull = hull_mask(face.shape[:2], face_points)
    radius = round(0.2 * np.sqrt(hull.sum()))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    grown, shrunk = cv2.dilate(hull, kernel), cv2.erode(hull, kernel)
    for seed in range(8):
        mask = face_mask(face.shape[:2], np.random.default_rng(seed), landmarks=face_points)
        half = mask >= 0.5
        assert not (half & (grown == 0)).any()
        assert half[shrunk == 1].all()
        assert (mask * hull).sum() / mask.sum() > 0.75


def test_landmark_deformation_is_seeded(face: np.ndarray, face_points: np.ndarray) -> None:
    def deformed(seed: int) -> np.ndarray:
        return deform_mask(hull_mask(face.shape[:2], face_points), np.random.default_rng(seed))

    np.testing.assert_array_equal(deformed(4), deformed(4))
    assert (deformed(4) != deformed(5)).sum() > 50
    assert (deformed(4) != hull_mask(face.shape[:2], face_points)).any()


def test_augmentation_alters_the_source_only(face: np.ndarray, face_points: np.ndarray) -> None:
    """The target is the untouched face: outside the mask every pixel is the input's, inside the
    blended pixels differ from it (the altered source shows through)."""
    for seed in range(4):
        fake = self_blend(face, np.random.default_rng(seed), landmarks=face_points)
        outside = fake.mask == 0
        assert outside.any() and np.array_equal(fake.image[outside], face[outside])
        inside = fake.mask >= 0.9 * fake.mask.max()  # the blend ratio scales the whole mask
        diff = np.abs(fake.image[inside].astype(int) - face[inside].astype(int)).mean()
        assert diff > 1.0
