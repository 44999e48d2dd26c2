"""The perturbations of fakescan.data.perturb on real face pixels: each level does what it says.

Crops come from the real sample media: a photo (single images) and the first frames of a sample video
(clips, for H.264, whose inter-frame coding needs motion).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fakescan.data.images import read_image
from fakescan.data.loading import sample_rng
from fakescan.data.perturb import (
    PERTURBATIONS,
    RobustAugment,
    block_occlusion,
    color_contrast,
    color_noise,
    color_saturation,
    decode_clip,
    encode_h264,
    gaussian_blur_kernel,
    get_perturbation,
    h264_reencode,
    h264_still,
    pixelate,
    rescale,
)
from fakescan.data.transforms import AugmentConfig, TrainTransform, jpeg_recompress
from fakescan.errors import ConfigError
from fakescan.models.output import InputConfig

SIZE = 128


@pytest.fixture(scope="module")
def face(samples: Path) -> np.ndarray:
    """A 128 px square crop of the real single-face photo."""
    image = read_image(samples / "images/single_face.jpg")
    side = min(image.shape[:2])
    return cv2.resize(image[:side, :side], (SIZE, SIZE), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def clip(samples: Path) -> list[np.ndarray]:
    """12 consecutive frames of a real sample video, the centre square at 128 px."""
    import av

    frames = []
    with av.open(str(samples / "videos/WolfgangLanger_Pexels.mp4")) as container:
        for frame in container.decode(video=0):
            image = frame.to_ndarray(format="rgb24")
            height, width = image.shape[:2]
            side = min(height, width)
            top, left = (height - side) // 2, (width - side) // 2
            square = image[top : top + side, left : left + side]
            frames.append(cv2.resize(square, (SIZE, SIZE), interpolation=cv2.INTER_AREA))
            if len(frames) == 12:
                break
    return frames


def decreasing(values: list[float]) -> bool:
    return all(a > b for a, b in itertools.pairwise(values))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def high_frequency_energy(image: np.ndarray) -> float:
    """Mean squared Laplacian of the luma: the energy of fine detail."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(np.mean(cv2.Laplacian(gray, cv2.CV_64F) ** 2))


def chroma_spread(image: np.ndarray) -> float:
    ycc = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb).astype(np.float64)
    return float(np.abs(ycc[..., 1:] - 128).mean())


def test_the_ladder_has_the_deeperforensics_values() -> None:
    expected = {
        "saturation": (0.4, 0.3, 0.2, 0.1, 0.0),
        "contrast": (0.85, 0.725, 0.6, 0.475, 0.35),
        "occlusion": (16, 32, 48, 64, 80),
        "noise": (0.001, 0.002, 0.005, 0.01, 0.05),
        "blur": (7, 9, 13, 17, 21),
        "pixelation": (2, 3, 4, 5, 6),
        "h264": (30, 32, 35, 38, 40),
        "jpeg": (90, 70, 50, 30),
        "resize": (0.5, 0.25),
    }
    assert {name: p.values for name, p in PERTURBATIONS.items()} == expected
    assert [name for name, p in PERTURBATIONS.items() if p.per_video] == ["h264"]
    with pytest.raises(ConfigError, match="choose from"):
        get_perturbation("sharpen")
    with pytest.raises(ConfigError, match=r"levels 1\.\.4"):
        get_perturbation("jpeg").value(5)


def test_every_level_keeps_shape_and_type_and_never_touches_its_input(
    face: np.ndarray, clip: list[np.ndarray]
) -> None:
    before, clip_before = face.copy(), [frame.copy() for frame in clip]
    for perturbation in PERTURBATIONS.values():
        for level in perturbation.levels:
            if perturbation.per_video:
                outs = perturbation.apply_clip(clip[:4], level)
                assert len(outs) == 4
            else:
                outs = [perturbation.apply(face, level, np.random.default_rng(level))]
            for out in outs:
                assert out.shape == face.shape and out.dtype == np.uint8, (perturbation.name, level)
                assert not np.array_equal(out, face), (perturbation.name, level)
    assert np.array_equal(face, before)
    assert all(np.array_equal(a, b) for a, b in zip(clip, clip_before, strict=True))


def test_lower_jpeg_quality_lowers_psnr(face: np.ndarray) -> None:
    qualities = get_perturbation("jpeg").values
    values = [psnr(face, jpeg_recompress(face, int(q))) for q in qualities]
    assert decreasing(values), values
    assert values[0] > 35 and values[-1] < values[0] - 5, values


def test_larger_blur_kernels_remove_more_high_frequency_energy(face: np.ndarray) -> None:
    energies = [
        high_frequency_energy(gaussian_blur_kernel(face, int(k))) for k in PERTURBATIONS["blur"].values
    ]
    assert high_frequency_energy(face) > energies[0]
    assert decreasing(energies), energies
    with pytest.raises(ValueError, match="odd"):
        gaussian_blur_kernel(face, 8)


def test_saturation_scales_chroma_and_zero_is_gray(face: np.ndarray) -> None:
    spreads = [chroma_spread(color_saturation(face, f)) for f in PERTURBATIONS["saturation"].values]
    assert chroma_spread(face) > spreads[0] and decreasing(spreads)
    gray = color_saturation(face, 0.0).astype(int)
    assert (gray.max(axis=2) - gray.min(axis=2)).max() <= 1  # R = G = B
    luma = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY).astype(int)
    assert np.abs(gray[..., 0] - luma).mean() < 1.5  # the brightness is kept
    assert np.array_equal(color_saturation(face, 1.0), face) or psnr(face, color_saturation(face, 1.0)) > 45


def test_contrast_scales_the_intensities(face: np.ndarray) -> None:
    for factor in PERTURBATIONS["contrast"].values:
        out = color_contrast(face, factor).astype(float)
        assert out.mean() == pytest.approx(face.mean() * factor, abs=0.6)
        assert out.std() == pytest.approx(face.std() * factor, abs=0.6)


def test_occlusion_grows_with_the_level_and_follows_its_generator(face: np.ndarray) -> None:
    def grey_pixels(image: np.ndarray) -> int:
        return int(((image == 128).all(axis=2) & ~(face == 128).all(axis=2)).sum())

    counts = [grey_pixels(block_occlusion(face, b, np.random.default_rng(0))) for b in (16, 48, 80)]
    assert 0 < counts[0] < counts[1] < counts[2] <= 40 * 64  # 80 per 256 px → 40 blocks on 128 px
    a = block_occlusion(face, 32, np.random.default_rng(5))
    assert np.array_equal(a, block_occlusion(face, 32, np.random.default_rng(5)))
    assert not np.array_equal(a, block_occlusion(face, 32, np.random.default_rng(6)))
    changed = (a != face).any(axis=2)
    assert ((a == 128).all(axis=2) | ~changed).all()  # only grey blocks, the rest untouched
    big = cv2.resize(face, (256, 256))
    blocks = block_occlusion(big, 16, np.random.default_rng(1))
    assert 0 < int((blocks != big).any(axis=2).sum()) <= 16 * 64  # 16 blocks per 256 px


def test_noise_is_seeded_and_has_the_stated_variance(face: np.ndarray) -> None:
    a = color_noise(face, 0.002, np.random.default_rng(3))
    assert np.array_equal(a, color_noise(face, 0.002, np.random.default_rng(3)))
    assert not np.array_equal(a, color_noise(face, 0.002, np.random.default_rng(4)))
    # On mid-grey (no clipping) the Y' component's noise has the requested variance.
    grey = np.full((SIZE, SIZE, 3), 128, np.uint8)
    for variance in (0.001, 0.005, 0.01):
        noisy = color_noise(grey, variance, np.random.default_rng(0))
        luma = cv2.cvtColor(noisy, cv2.COLOR_RGB2YCrCb)[..., 0].astype(float) / 255
        assert luma.var() == pytest.approx(variance, rel=0.25)
    errors = [
        psnr(face, color_noise(face, v, np.random.default_rng(0))) for v in PERTURBATIONS["noise"].values
    ]
    assert decreasing(errors), errors


def test_pixelation_makes_blocks_and_resize_does_not(face: np.ndarray) -> None:
    for factor in (2, 4):
        blocks = pixelate(face, factor).reshape(SIZE // factor, factor, SIZE // factor, factor, 3)
        assert (blocks == blocks[:, :1, :, :1]).all()  # constant within each factor × factor block
    values = [psnr(face, pixelate(face, int(f))) for f in PERTURBATIONS["pixelation"].values]
    assert decreasing(values), values
    smooth = rescale(face, 0.5)
    assert psnr(face, smooth) > psnr(face, rescale(face, 0.25))
    assert not (smooth.reshape(64, 2, 64, 2, 3) == smooth.reshape(64, 2, 64, 2, 3)[:, :1, :, :1]).all()
    assert high_frequency_energy(smooth) < high_frequency_energy(pixelate(face, 2))  # no block edges


def test_h264_crf_40_is_smaller_and_blurrier_than_crf_30(clip: list[np.ndarray]) -> None:
    low, high = encode_h264(clip, 30), encode_h264(clip, 40)
    assert len(high) < 0.8 * len(low)
    assert encode_h264(clip, 30) == low  # deterministic
    at_30, at_40 = decode_clip(low), decode_clip(high)
    assert len(at_30) == len(at_40) == len(clip)
    hf = [np.mean([high_frequency_energy(f) for f in frames]) for frames in (clip, at_30, at_40)]
    assert hf[0] > hf[1] > hf[2], hf
    quality = [np.mean([psnr(a, b) for a, b in zip(clip, frames, strict=True)]) for frames in (at_30, at_40)]
    assert 25 < quality[1] < quality[0], quality
    sizes = [len(encode_h264(clip, crf)) for crf in PERTURBATIONS["h264"].values]
    assert decreasing(sizes), sizes


def test_h264_handles_odd_sizes_and_refuses_mixed_ones(clip: list[np.ndarray]) -> None:
    odd = [frame[:101, :99] for frame in clip[:3]]
    out = h264_reencode(odd, 32)
    assert [f.shape for f in out] == [(101, 99, 3)] * 3
    assert psnr(odd[0], out[0]) > 25
    assert h264_still(clip[0], 35).shape == clip[0].shape
    with pytest.raises(ValueError, match="one shape"):
        encode_h264([clip[0], clip[1][:64]], 30)


def test_robust_augment_is_seeded_and_each_step_changes_pixels(face: np.ndarray) -> None:
    augment = RobustAugment()
    a = augment(face, np.random.default_rng(1))
    assert np.array_equal(a, augment(face, np.random.default_rng(1)))
    outs = [augment(face, np.random.default_rng(seed)) for seed in range(20)]
    assert len({out.tobytes() for out in outs}) > 15
    never = RobustAugment(
        saturation_p=0, contrast_p=0, occlusion_p=0, downscale_p=0, blur_p=0, noise_p=0, jpeg_p=0, h264_p=0
    )
    assert np.array_equal(never(face, np.random.default_rng(0)), face)
    for step in (
        "saturation_p",
        "contrast_p",
        "occlusion_p",
        "downscale_p",
        "blur_p",
        "noise_p",
        "jpeg_p",
        "h264_p",
    ):
        only = RobustAugment(
            **{**{name: 0.0 for name in never.__dataclass_fields__ if name.endswith("_p")}, step: 1.0}
        )
        assert not np.array_equal(only(face, np.random.default_rng(0)), face), step
    with pytest.raises(ConfigError, match="jpeg_quality"):
        RobustAugment(jpeg_quality=(40, 120))
    with pytest.raises(ConfigError, match="probability"):
        RobustAugment(blur_p=1.5)


def test_train_transform_degrades_per_seed_epoch_and_crop(face: np.ndarray) -> None:
    transform = TrainTransform(InputConfig(image_size=SIZE), AugmentConfig.none(), degrade=RobustAugment())
    first = transform(face, sample_rng(0, 0, "v/1.png")).image
    assert torch.equal(first, transform(face, sample_rng(0, 0, "v/1.png")).image)
    others = [transform(face, sample_rng(0, epoch, "v/1.png")).image for epoch in range(1, 6)]
    assert any(not torch.equal(first, other) for other in others)
