"""Tests of fakescan.data.images: every image layout becomes 8-bit RGB; writes are atomic."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from fakescan.data.images import read_image, to_rgb8, write_image
from fakescan.errors import InputError


def test_real_rgba_png_and_photo_read_as_rgb(samples: Path) -> None:
    alpha = read_image(samples / "images/image_with_alpha.png")
    assert alpha.shape == (1036, 1524, 3) and alpha.dtype == np.uint8
    photo = read_image(samples / "images/obama.jpg")
    bgr = cv2.imread(str(samples / "images/obama.jpg"))
    assert np.array_equal(photo, bgr[:, :, ::-1])


@pytest.mark.parametrize(
    ("pixels", "expected"),
    [
        (np.full((4, 5), 200, np.uint8), [200, 200, 200]),
        (np.full((4, 5, 1), 7, np.uint8), [7, 7, 7]),
        (np.full((4, 5), 65535, np.uint16), [255, 255, 255]),
        (np.dstack([np.full((4, 5), v, np.uint16) for v in (0, 32896, 65535)]), [0, 128, 255]),
        (np.dstack([np.full((4, 5), v, np.uint8) for v in (1, 2, 3, 4)]), [1, 2, 3]),
        (np.full((4, 5, 3), 0.5, np.float32), [128, 128, 128]),
    ],
)
def test_to_rgb8_handles_gray_alpha_and_16_bit(pixels: np.ndarray, expected: list[int]) -> None:
    out = to_rgb8(pixels)
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8
    assert out[0, 0].tolist() == expected


@pytest.mark.parametrize("flag", ["gray8", "gray16", "bgra", "bgr16"])
def test_read_image_of_every_file_layout(tmp_path: Path, samples: Path, flag: str) -> None:
    bgr = cv2.imread(str(samples / "images/single_face.jpg"))
    variants = {
        "gray8": cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY),
        "gray16": cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257,
        "bgra": cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),
        "bgr16": bgr.astype(np.uint16) * 257,
    }
    path = tmp_path / f"{flag}.png"
    cv2.imwrite(str(path), variants[flag])
    image = read_image(path)
    assert image.shape == (*bgr.shape[:2], 3) and image.dtype == np.uint8
    if flag in ("bgra", "bgr16"):
        assert np.array_equal(image, bgr[:, :, ::-1])


@pytest.mark.parametrize(
    ("content", "reason"), [(b"", "empty"), (b"\x89PNG\r\n\x1a\n broken", "not a decodable image")]
)
def test_unreadable_images_raise_named_errors(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(InputError, match=reason) as caught:
        read_image(path)
    assert caught.value.path == path


def test_write_image_round_trips_and_leaves_no_temporary(tmp_path: Path) -> None:
    image = np.random.default_rng(0).integers(0, 255, (32, 48, 3), dtype=np.uint8)
    write_image(tmp_path / "crop.png", image)
    assert np.array_equal(read_image(tmp_path / "crop.png"), image)
    write_image(tmp_path / "crop.jpg", image)
    assert read_image(tmp_path / "crop.jpg").shape == (32, 48, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crop.jpg", "crop.png"]
