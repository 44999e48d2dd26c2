"""Self-Blended Images: pseudo-fakes made from one real face.

Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR 2022
(https://arxiv.org/abs/2204.08376). A copy of a real face is altered — colour, sharpness, a
slight rescale and shift — and blended back into the original through a soft, randomly deformed
mask of the face region. The result carries the traces common to face forgeries (a blending
boundary, a colour and frequency mismatch between inner face and surroundings, a small landmark
misalignment) without any identity change, so a detector trained on real faces plus these learns
forgery cues that generalise across manipulation methods.

Our version (paper Sec. 3): the *target* is always the untouched image and the *source* is the
altered copy, so pixels where the mask is 0 are exactly those of the input. The source–target
augmentation draws a colour jitter (per-channel shift, hue, saturation, brightness and contrast)
and a sharpness jitter (Gaussian blur, unsharp masking, or a down-up resampling); the source–target
generator rescales and shifts the copy by a few percent about the face centre; the mask generator
is :func:`fakescan.synth.masks.face_mask`; the blend ratio is drawn from
:attr:`SBIConfig.blend_ratios`. The random ranges are ours.

:func:`self_blend` is a pure function of the image and the generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fakescan.data.faces.base import Box
from fakescan.synth.masks import central_face_box, face_mask

__all__ = ["SBIConfig", "SBIResult", "self_blend"]


@dataclass(frozen=True)
class SBIConfig:
    """Random ranges of :func:`self_blend`; each pair is the ``(low, high)`` of a uniform draw.

    Attributes:
        channel_shift: added to each RGB channel, in intensity levels.
        hue_shift: hue rotation in degrees.
        saturation: saturation factor.
        brightness: added to all channels, in intensity levels.
        contrast: factor about the image mean.
        blur_sigma: Gaussian blur of the source, in pixels (one of three sharpness changes).
        sharpen: amount of unsharp masking (another of the three).
        resample: down-then-up resampling factor (the third).
        scale: rescaling of the source about the face centre.
        shift: translation of the source, as a fraction of the face box side.
        blend_ratios: the blend ratio is drawn from these, equally likely (so repeating 1.0 makes
            full-strength blends more frequent, as in the paper).
        deform_mask: deform the mask at random (off gives the plain hull or ellipse, blurred).
    """

    channel_shift: tuple[float, float] = (-20.0, 20.0)
    hue_shift: tuple[float, float] = (-8.0, 8.0)
    saturation: tuple[float, float] = (0.8, 1.2)
    brightness: tuple[float, float] = (-20.0, 20.0)
    contrast: tuple[float, float] = (0.85, 1.15)
    blur_sigma: tuple[float, float] = (0.6, 1.6)
    sharpen: tuple[float, float] = (0.4, 1.2)
    resample: tuple[float, float] = (0.35, 0.75)
    scale: tuple[float, float] = (0.95, 1.05)
    shift: tuple[float, float] = (-0.03, 0.03)
    blend_ratios: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)
    deform_mask: bool = True


@dataclass(frozen=True)
class SBIResult:
    """A self-blended pseudo-fake.

    Attributes:
        image: ``H×W×3`` uint8 RGB, the blended image (same shape as the input).
        mask: ``H×W`` float32 in ``[0, 1]``, the alpha with which the altered copy was blended in
            (blend ratio included): 0 where the image is untouched.
    """

    image: np.ndarray
    mask: np.ndarray


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _jitter_colour(image: np.ndarray, rng: np.random.Generator, config: SBIConfig) -> np.ndarray:
    """Colour-jittered copy of ``image`` (float32, 0–255 scale, unclipped)."""
    import cv2

    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + _uniform(rng, config.hue_shift) * 256.0 / 360.0) % 256.0
    hsv[..., 1] = hsv[..., 1] * _uniform(rng, config.saturation)
    rgb = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB_FULL).astype(np.float32)
    rgb += rng.uniform(*config.channel_shift, size=3).astype(np.float32)
    mean = rgb.mean()
    rgb = (rgb - mean) * _uniform(rng, config.contrast) + mean + _uniform(rng, config.brightness)
    return rgb


def _jitter_sharpness(image: np.ndarray, rng: np.random.Generator, config: SBIConfig) -> np.ndarray:
    """Blurred, sharpened or resampled copy of a float32 image."""
    import cv2

    height, width = image.shape[:2]
    kind = int(rng.integers(3))
    if kind == 0:
        sigma = _uniform(rng, config.blur_sigma)
        return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma)
    if kind == 1:
        soft = cv2.GaussianBlur(image, (0, 0), sigmaX=1.0)
        return image + _uniform(rng, config.sharpen) * (image - soft)
    factor = _uniform(rng, config.resample)
    small = cv2.resize(
        image, (max(1, round(width * factor)), max(1, round(height * factor))), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def _jitter_geometry(image: np.ndarray, face: Box, rng: np.random.Generator, config: SBIConfig) -> np.ndarray:
    """Copy of ``image`` rescaled about the face centre and shifted by a few percent of the face."""
    import cv2

    height, width = image.shape[:2]
    side = max(face[2] - face[0], face[3] - face[1])
    cx, cy = (face[0] + face[2]) / 2.0, (face[1] + face[3]) / 2.0
    scale = _uniform(rng, config.scale)
    tx, ty = (_uniform(rng, config.shift) * side for _ in range(2))
    matrix = np.array(
        [[scale, 0.0, (1.0 - scale) * cx + tx], [0.0, scale, (1.0 - scale) * cy + ty]], np.float32
    )
    return cv2.warpAffine(
        image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def self_blend(
    image: np.ndarray,
    rng: np.random.Generator,
    landmarks: np.ndarray | None = None,
    box: Box | None = None,
    config: SBIConfig = SBIConfig(),
) -> SBIResult:
    """Make a Self-Blended Image (Shiohara & Yamasaki, CVPR 2022) from one real face crop.

    Args:
        image: ``H×W×3`` uint8 RGB face crop.
        rng: the only source of randomness; the same generator state gives the same result.
        landmarks: ``N×2`` ``(x, y)`` face landmarks (N ≥ 3) in the crop's pixels; their convex
            hull is the blended region. Optional.
        box: the face box ``(x1, y1, x2, y2)`` in the crop; without landmarks, the region is an
            ellipse inscribed in it. Without either, the face is taken to fill the centre of the
            crop as a 1.3× crop around a detector box would (:func:`~fakescan.synth.masks.central_face_box`).
        config: the random ranges.

    Returns:
        the blended image and its blend mask; outside the mask's support the image is unchanged.

    >>> face = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    >>> fake = self_blend(face, np.random.default_rng(1))
    >>> fake.image.shape, fake.image.dtype, fake.mask.shape
    ((64, 64, 3), dtype('uint8'), (64, 64))
    >>> bool((fake.image[fake.mask == 0] == face[fake.mask == 0]).all())
    True
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be an H×W×3 uint8 array, got {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    if landmarks is not None:
        points = np.asarray(landmarks, np.float32).reshape(-1, 2)
        face: Box = (
            float(points[:, 0].min()), float(points[:, 1].min()),
            float(points[:, 0].max()), float(points[:, 1].max()),
        )  # fmt: skip
    else:
        face = box if box is not None else central_face_box(height, width)

    source = _jitter_colour(image, rng, config)
    source = _jitter_sharpness(source, rng, config)
    source = _jitter_geometry(source, face, rng, config)
    mask = face_mask((height, width), rng, landmarks=landmarks, box=face, deform=config.deform_mask)
    mask = mask * float(rng.choice(np.asarray(config.blend_ratios, np.float32)))

    alpha = mask[..., None]
    target = image.astype(np.float32)
    blended = alpha * np.clip(source, 0.0, 255.0) + (1.0 - alpha) * target
    out = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    out[mask == 0] = image[mask == 0]
    return SBIResult(image=out, mask=mask.astype(np.float32))
