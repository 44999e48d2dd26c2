"""Tests of fakescan.data.faces.crop: square, enlarged, border-safe crops."""

from __future__ import annotations

import numpy as np
import pytest

from fakescan.data.faces.crop import crop_face, square_crop_box


def test_crop_is_square_centred_and_enlarged() -> None:
    x1, y1, x2, y2 = square_crop_box((100, 50, 140, 110), 1.3, 640, 360)
    assert x2 - x1 == y2 - y1 == round(60 * 1.3)
    assert (x1 + x2) / 2 == pytest.approx(120, abs=1) and (y1 + y2) / 2 == pytest.approx(80, abs=1)


@pytest.mark.parametrize(
    "box", [(0, 0, 50, 50), (600, 320, 640, 360), (-20, 100, 30, 160), (300, 10, 380, 358)]
)
def test_clamped_crop_stays_inside_the_image(box) -> None:
    x1, y1, x2, y2 = square_crop_box(box, 1.5, 640, 360, border="clamp")
    assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 360 and x2 - x1 == y2 - y1


def test_crop_larger_than_image_shrinks_when_clamped() -> None:
    # shrunk to the image height, still centred on the face horizontally
    assert square_crop_box((0, 0, 100, 100), 3.0, 120, 80) == (10, 0, 90, 80)


def test_padded_crop_keeps_the_face_centred_with_black_outside() -> None:
    image = np.full((100, 100, 3), 200, np.uint8)
    crop = crop_face(image, (0, 0, 40, 40), size=80, margin=2.0, border="pad")
    assert crop.shape == (80, 80, 3)
    assert crop[:15, :15].max() == 0  # top-left quarter lies outside the image
    assert crop[60:, 60:].min() == 200


def test_crop_resamples_content_not_just_shape() -> None:
    image = np.zeros((200, 200, 3), np.uint8)
    image[50:150, 50:150] = (255, 0, 0)
    crop = crop_face(image, (50, 50, 150, 150), size=64, margin=1.0)
    assert crop.shape == (64, 64, 3) and (crop[..., 0] > 250).all() and crop[..., 1].max() == 0


def test_invalid_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="margin"):
        square_crop_box((0, 0, 1, 1), 0, 10, 10)
    with pytest.raises(ValueError, match="border"):
        square_crop_box((0, 0, 1, 1), 1.0, 10, 10, border="wrap")  # type: ignore[arg-type]
