"""Tests of fakescan.data.transforms on real face pixels: determinism, shapes, ranges, spectra."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fakescan.data.images import read_image
from fakescan.data.transforms import (
    AugmentConfig,
    EvalTransform,
    SpectrumOptions,
    SpectrumTransform,
    TrainTransform,
    augment_image,
    compute_spectrum_stats,
    decode_image,
    gaussian_blur,
    gaussian_noise,
    hflip,
    jpeg_recompress,
    normalize_spectrum,
    resize,
    spectrum_image,
    to_tensor,
)
from fakescan.errors import ConfigError, InputError
from fakescan.models.output import InputConfig
from fakescan.ops.spectrum import spectrum, spectrum_stats


@pytest.fixture(scope="module")
def face(samples: Path) -> np.ndarray:
    """A 96 px square crop of the real single-face photo."""
    image = read_image(samples / "images/single_face.jpg")
    side = min(image.shape[:2])
    return cv2.resize(image[:side, :side], (96, 96), interpolation=cv2.INTER_AREA)


def test_flip_twice_is_identity_and_flip_mirrors(face: np.ndarray) -> None:
    assert np.array_equal(hflip(hflip(face)), face)
    assert np.array_equal(hflip(face)[:, 0], face[:, -1])
    assert not np.array_equal(hflip(face), face)


def test_jpeg_and_blur_change_pixels_but_keep_shape(face: np.ndarray) -> None:
    for out in (jpeg_recompress(face, 30), gaussian_blur(face, 1.5)):
        assert out.shape == face.shape and out.dtype == np.uint8
        difference = np.abs(out.astype(int) - face.astype(int))
        assert difference.mean() > 0.5  # visibly changed
        assert difference.mean() < 20  # still the same face
    assert (
        np.abs(jpeg_recompress(face, 30).astype(int) - face).mean()
        > np.abs(jpeg_recompress(face, 95).astype(int) - face).mean()
    )  # lower quality, more damage


def test_noise_follows_its_generator(face: np.ndarray) -> None:
    a = gaussian_noise(face, 5.0, np.random.default_rng(3))
    b = gaussian_noise(face, 5.0, np.random.default_rng(3))
    c = gaussian_noise(face, 5.0, np.random.default_rng(4))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert 3.0 < np.std(a.astype(float) - face) < 6.0


def test_inputs_are_never_modified(face: np.ndarray) -> None:
    before = face.copy()
    rng = np.random.default_rng(0)
    always = AugmentConfig(flip_p=1.0, jpeg_p=1.0, blur_p=1.0, noise_p=1.0)
    augment_image(face, always, rng)
    TrainTransform(InputConfig(image_size=64), always)(face, rng)
    assert np.array_equal(face, before)


def test_resize_and_tensor_shapes_and_range(face: np.ndarray) -> None:
    assert resize(face, 96) is face
    assert resize(face, 40).shape == (40, 40, 3) and resize(face, 128).shape == (128, 128, 3)
    cfg = InputConfig(image_size=64, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    tensor = to_tensor(face, cfg)
    assert tensor.shape == (3, 96, 96) and tensor.dtype == torch.float32
    expected = (
        torch.from_numpy(face).permute(2, 0, 1).float() / 255 - torch.tensor(cfg.mean)[:, None, None]
    ) / (torch.tensor(cfg.std)[:, None, None])
    assert torch.allclose(tensor, expected, atol=1e-5)
    unit = to_tensor(face, InputConfig())
    assert unit.min() >= -1.0 and unit.max() <= 1.0


def test_train_transform_is_deterministic_under_a_seed(face: np.ndarray) -> None:
    transform = TrainTransform(
        InputConfig(image_size=64),
        AugmentConfig(flip_p=0.5, jpeg_p=0.5, blur_p=0.5, noise_p=0.5),
        SpectrumTransform(SpectrumOptions()),
    )
    first = [transform(face, np.random.default_rng(seed)) for seed in range(8)]
    again = [transform(face, np.random.default_rng(seed)) for seed in range(8)]
    for a, b in zip(first, again, strict=True):
        assert torch.equal(a.image, b.image)
        assert a.spectrum is not None and b.spectrum is not None and torch.equal(a.spectrum, b.spectrum)
    assert {a.image.shape for a in first} == {torch.Size([3, 64, 64])}
    assert len({a.image.sum().item() for a in first}) > 4  # different seeds, different augmentations


def test_eval_transform_ignores_randomness(face: np.ndarray) -> None:
    transform = EvalTransform(InputConfig(image_size=48))
    a = transform(face, np.random.default_rng(1))
    b = transform(face, None)
    assert torch.equal(a.image, b.image) and a.spectrum is None and a.image.shape == (3, 48, 48)
    none = TrainTransform(InputConfig(image_size=48), AugmentConfig.none())(face, np.random.default_rng(9))
    assert torch.equal(none.image, a.image)


@pytest.mark.parametrize(
    "options",
    [
        SpectrumOptions("dct", "log", "gray"),
        SpectrumOptions("dct", "raw", "color"),
        SpectrumOptions("fft", "log", "color"),
        SpectrumOptions("fft", "raw", "gray"),
    ],
)
def test_spectrum_matches_the_ops_spectrum(face: np.ndarray, options: SpectrumOptions) -> None:
    spec = spectrum_image(face, options)
    pixels = torch.from_numpy(face).permute(2, 0, 1).float() / 255
    expected = spectrum(pixels, kind=options.kind, scale=options.scale, mode=options.mode)
    assert spec.shape == (options.channels, 96, 96) and spec.dtype == torch.float32
    assert torch.allclose(spec, expected, atol=1e-5)


def test_spectrum_transform_normalises_with_train_statistics(face: np.ndarray) -> None:
    options = SpectrumOptions("dct", "log", "color")
    train = [face, hflip(face), jpeg_recompress(face, 50)]
    stats = compute_spectrum_stats(train, options)
    assert stats == spectrum_stats(spectrum_image(image, options) for image in train)
    normalised = torch.stack([SpectrumTransform(options, stats)(image) for image in train])
    assert torch.allclose(normalised.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(normalised.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-4)
    assert torch.equal(normalize_spectrum(spectrum_image(face, options), stats), normalised[0])
    with pytest.raises(ConfigError, match="channel"):
        SpectrumTransform(SpectrumOptions(mode="gray"), stats)


def test_bad_options_and_bytes_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="probability"):
        AugmentConfig(flip_p=1.5)
    with pytest.raises(ConfigError, match="jpeg_quality"):
        AugmentConfig(jpeg_quality=(90, 10))
    with pytest.raises(ConfigError, match="spectrum kind"):
        SpectrumOptions(kind="wavelet")  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"crop\.png: not a decodable image"):
        decode_image(b"not an image", "crop.png")


def test_sbi_whole_image_augmentation_shifts_colour_of_the_whole_image(face: np.ndarray) -> None:
    """SBI's colour steps (RGB shift, brightness/contrast) move every pixel of a channel by the same
    shift, stay in range and follow their generator; the preset's probabilities are SBI's."""
    colour_only = replace(AugmentConfig.none(), rgb_shift_p=1.0)
    shifted = augment_image(face, colour_only, np.random.default_rng(3))
    again = augment_image(face, colour_only, np.random.default_rng(3))
    assert (shifted == again).all() and shifted.dtype == np.uint8
    inside = (face > 30) & (face < 225)  # no clipping here: the shift is one constant per channel
    offsets = [
        np.unique(shifted[..., c].astype(int)[inside[..., c]] - face[..., c][inside[..., c]])
        for c in range(3)
    ]
    assert all(len(o) == 1 and abs(int(o[0])) <= 20 for o in offsets)
    assert any(int(o[0]) != 0 for o in offsets)

    contrast = replace(AugmentConfig.none(), brightness_contrast_p=1.0)
    changed = augment_image(face, contrast, np.random.default_rng(5)).astype(float)
    # x·(1 + c) + 255·b: a straight line through the pixels, with |c|, |b| <= 0.3
    mask = (changed > 0) & (changed < 255)
    slope, _ = np.polyfit(face[mask].astype(float), changed[mask], 1)
    assert 0.7 - 1e-3 <= slope <= 1.3 + 1e-3 and abs(slope - 1.0) > 1e-3

    sbi = AugmentConfig.sbi()
    assert (sbi.rgb_shift_p, sbi.brightness_contrast_p, sbi.jpeg_p, sbi.jpeg_quality) == (
        0.3,
        0.3,
        0.5,
        (40, 100),
    )
