"""Image transforms for training and evaluation: pure functions, randomness from an explicit generator.

Every transform takes an ``H×W×3`` uint8 RGB array (what :func:`fakescan.data.images.read_image`
and :func:`decode_image` return) and gives a new one, never changing its input; the random ones
take a :class:`numpy.random.Generator`, so a sample's augmentation is fixed by the seed that made
the generator, whatever process or worker runs it. The last steps turn the image into model input:

- :func:`to_tensor` — a ``3×H×W`` float32 tensor normalised with the model's
  :class:`~fakescan.models.output.InputConfig` mean and std (``(x / 255 - mean) / std``);
- :func:`spectrum_image` / :class:`SpectrumTransform` — the MD-CSD frequency input of the face
  (``|DCT|`` or ``|FFT|``, raw or log, gray or per channel; :func:`fakescan.ops.spectrum`), computed on
  the ``[0, 1]`` image and standardised with statistics of the training split
  (:func:`compute_spectrum_stats`).

:class:`TrainTransform` (resize → flip → JPEG → blur → noise → tensor) and :class:`EvalTransform`
(resize → tensor) compose them from a model's ``InputConfig``; both return :class:`Views`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from fakescan.data.images import decode_image
from fakescan.errors import ConfigError
from fakescan.models.output import InputConfig
from fakescan.ops.spectrum import (
    SPECTRUM_KINDS,
    SPECTRUM_MODES,
    SPECTRUM_SCALES,
    SpectrumKind,
    SpectrumMode,
    SpectrumScale,
    SpectrumStats,
    spectrum,
    spectrum_stats,
)

__all__ = [
    "AugmentConfig",
    "Degradation",
    "EvalTransform",
    "SpectrumOptions",
    "SpectrumTransform",
    "TrainTransform",
    "Transform",
    "Views",
    "augment_image",
    "compute_spectrum_stats",
    "decode_image",
    "gaussian_blur",
    "gaussian_noise",
    "hflip",
    "jpeg_recompress",
    "normalize_spectrum",
    "resize",
    "spectrum_image",
    "to_grayscale",
    "to_tensor",
]


# -- decoding ------------------------------------------------------------------------------------


# -- pixel transforms (uint8 RGB in, uint8 RGB out) ----------------------------------------------


def hflip(image: np.ndarray) -> np.ndarray:
    """Mirror ``image`` left to right (a contiguous copy).

    >>> hflip(np.arange(6, dtype=np.uint8).reshape(1, 2, 3))[0].tolist()
    [[3, 4, 5], [0, 1, 2]]
    """
    return np.ascontiguousarray(image[:, ::-1])


def jpeg_recompress(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode ``image`` as JPEG at ``quality`` (1–100) and decode it again: compression artefacts.

    >>> jpeg_recompress(np.zeros((8, 8, 3), np.uint8), 50).shape
    (8, 8, 3)
    """
    import cv2

    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, got {quality}")
    ok, encoded = cv2.imencode(
        ".jpg", np.ascontiguousarray(image[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise ValueError(f"OpenCV could not JPEG-encode an image of shape {image.shape}")
    return np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1])


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Blur ``image`` with a Gaussian of standard deviation ``sigma`` pixels (kernel ≈ 6σ + 1 wide).

    >>> gaussian_blur(np.full((5, 5, 3), 9, np.uint8), 1.0)[2, 2].tolist()
    [9, 9, 9]
    """
    import cv2

    if sigma <= 0:
        raise ValueError(f"blur sigma must be positive, got {sigma}")
    return cv2.GaussianBlur(image, (0, 0), sigmaX=float(sigma), borderType=cv2.BORDER_REFLECT_101)


def gaussian_noise(image: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise of ``std`` grey levels (0–255 scale), rounded and clipped to uint8.

    >>> rng = np.random.default_rng(0)
    >>> gaussian_noise(np.zeros((2, 2, 3), np.uint8), 0.0, rng).max()
    np.uint8(0)
    """
    if std < 0:
        raise ValueError(f"noise std must be non-negative, got {std}")
    noise = rng.normal(0.0, std, size=image.shape).astype(np.float32)
    return np.clip(np.rint(image.astype(np.float32) + noise), 0, 255).astype(np.uint8)


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """Luma of an RGB image (ITU-R BT.601 weights), repeated in 3 channels so every model takes it.

    >>> to_grayscale(np.full((2, 2, 3), (255, 0, 0), np.uint8))[0, 0].tolist()
    [76, 76, 76]
    """
    import cv2

    gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    return np.repeat(gray[:, :, None], 3, axis=2)


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Resize ``image`` to ``size × size`` (area averaging when shrinking, bilinear when enlarging).

    The input is returned unchanged (not copied) when it already has that size.

    >>> resize(np.zeros((10, 20, 3), np.uint8), 4).shape
    (4, 4, 3)
    """
    import cv2

    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    height, width = image.shape[:2]
    if height == size and width == size:
        return image
    shrinking = size < height or size < width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interpolation)


def to_tensor(image: np.ndarray, input_cfg: InputConfig) -> torch.Tensor:
    """``H×W×3`` uint8 RGB → ``3×H×W`` float32, ``(image / 255 - mean) / std`` per channel.

    >>> to_tensor(np.full((1, 1, 3), 255, np.uint8), InputConfig()).flatten().tolist()
    [1.0, 1.0, 1.0]
    """
    _check_image(image)
    # In numpy, one thread: torch's intra-op threads cost ~50× more than the arithmetic on one crop
    # when the cores are busy (the loader calls this once per crop).
    mean = np.asarray(input_cfg.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(input_cfg.std, dtype=np.float32)[:, None, None]
    pixels = image.transpose(2, 0, 1).astype(np.float32)
    return torch.from_numpy(pixels * (np.float32(1.0) / (np.float32(255.0) * std)) - mean / std)


# -- spectra -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpectrumOptions:
    """Which spectrum image to compute (see :func:`fakescan.ops.spectrum`).

    Attributes:
        kind: ``"dct"`` (orthonormal 2-D DCT-II) or ``"fft"`` (2-D FFT, DC term centred).
        scale: ``"log"`` (``log(eps + |c|)``) or ``"raw"`` (``|c|``) magnitudes.
        mode: ``"gray"`` (one spectrum of the luminance) or ``"color"`` (one per RGB channel).
    """

    kind: SpectrumKind = "dct"
    scale: SpectrumScale = "log"
    mode: SpectrumMode = "gray"

    def __post_init__(self) -> None:
        for what, value, choices in (
            ("spectrum kind", self.kind, SPECTRUM_KINDS),
            ("spectrum scale", self.scale, SPECTRUM_SCALES),
            ("spectrum mode", self.mode, SPECTRUM_MODES),
        ):
            if value not in choices:
                raise ConfigError(f"unknown {what} {value!r}; choose one of: {', '.join(choices)}")

    @property
    def channels(self) -> int:
        """1 for gray spectra, 3 for colour."""
        return 1 if self.mode == "gray" else 3


def spectrum_image(image: np.ndarray, options: SpectrumOptions) -> torch.Tensor:
    """The un-normalised spectrum (``C×H×W`` float32) of ``image`` (``H×W×3`` uint8) taken in ``[0, 1]``.

    The same values as :func:`fakescan.ops.spectrum` of the ``[0, 1]`` image, which is also what
    :meth:`fakescan.models.mdcsd.MDCSDNet.compute_spectrum` computes from its input.

    >>> spectrum_image(np.zeros((4, 6, 3), np.uint8), SpectrumOptions(mode="color")).shape
    torch.Size([3, 4, 6])
    """
    _check_image(image)
    pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)
    return spectrum(pixels, kind=options.kind, scale=options.scale, mode=options.mode)


def normalize_spectrum(spec: torch.Tensor, stats: SpectrumStats) -> torch.Tensor:
    """Standardise a ``C×H×W`` (or ``B×C×H×W``) spectrum per channel: ``(spec - mean) / std``.

    Raises:
        ConfigError: ``stats`` has another channel count than ``spec``, or a std that is not positive.

    >>> normalize_spectrum(torch.full((1, 2, 2), 3.0), SpectrumStats((1.0,), (2.0,))).flatten().tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    if spec.dim() < 3 or spec.shape[-3] != stats.channels:
        raise ConfigError(
            f"spectrum stats have {stats.channels} channel(s), the spectrum is shaped {tuple(spec.shape)}"
        )
    if not all(s > 0 for s in stats.std):
        raise ConfigError(f"spectrum stats need positive std values, got {stats.std}")
    mean = torch.tensor(stats.mean, dtype=torch.float32)[:, None, None]
    std = torch.tensor(stats.std, dtype=torch.float32)[:, None, None]
    return (spec.float() - mean) / std


def compute_spectrum_stats(
    images: Iterable[np.ndarray], options: SpectrumOptions, size: int | None = None
) -> SpectrumStats:
    """Per-channel statistics of the spectra of ``images``, for :class:`SpectrumTransform`.

    Feed it the crops of the **training split only**, at the size the model sees them (``size``
    resizes each crop first, as the transforms do); validation and test data must not shape the
    normalisation. One streaming pass (:func:`fakescan.ops.spectrum_stats`).

    Raises:
        ValueError: ``images`` is empty.
    """
    return spectrum_stats(
        spectrum_image(image if size is None else resize(image, size), options) for image in images
    )


@dataclass(frozen=True)
class SpectrumTransform:
    """Spectrum of a (resized, augmented) uint8 image, standardised with training-split statistics.

    Attributes:
        options: which spectrum (kind, scale, mode).
        stats: per-channel mean/std from :func:`compute_spectrum_stats` on the training split, or
            None for the un-normalised spectrum.
    """

    options: SpectrumOptions = field(default_factory=SpectrumOptions)
    stats: SpectrumStats | None = None

    def __post_init__(self) -> None:
        if self.stats is not None and self.stats.channels != self.options.channels:
            raise ConfigError(
                f"spectrum stats have {self.stats.channels} channel(s); a {self.options.mode!r} spectrum "
                f"has {self.options.channels}"
            )

    def __call__(self, image: np.ndarray) -> torch.Tensor:
        """``H×W×3`` uint8 → ``C×H×W`` float32."""
        spec = spectrum_image(image, self.options)
        return spec if self.stats is None else normalize_spectrum(spec, self.stats)


# -- composition ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Views:
    """What a transform makes of one face crop.

    Attributes:
        image: ``3×H×W`` float32, normalised with the model's ``InputConfig``.
        spectrum: ``C×H×W`` float32 spectrum image of the same pixels, or None when not asked for.
    """

    image: torch.Tensor
    spectrum: torch.Tensor | None = None


class Transform(Protocol):
    """A transform of a decoded crop into model input; randomness only from ``rng``."""

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> Views: ...


class Degradation(Protocol):
    """A random uint8 RGB → uint8 RGB image degradation; randomness only from ``rng``
    (e.g. :class:`fakescan.data.perturb.RobustAugment`)."""

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray: ...


def _jitter_colour(image: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """The colour steps of :class:`AugmentConfig`: a per-channel shift, then brightness and contrast."""
    shift, change = rng.random(2)
    if shift >= config.rgb_shift_p and change >= config.brightness_contrast_p:
        return image
    pixels = image.astype(np.float32)
    if shift < config.rgb_shift_p:
        pixels = pixels + rng.uniform(-config.rgb_shift, config.rgb_shift, size=3).astype(np.float32)
    if change < config.brightness_contrast_p:
        brightness, contrast = rng.uniform(-config.brightness_contrast, config.brightness_contrast, size=2)
        pixels = pixels * (1.0 + float(contrast)) + float(brightness) * 255.0
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class AugmentConfig:
    """Training augmentations, each applied with its probability, in this order.

    Attributes:
        flip_p: probability of a horizontal flip.
        jpeg_p: probability of a JPEG re-compression, quality drawn uniformly from ``jpeg_quality``
            (inclusive integers).
        blur_p: probability of a Gaussian blur, sigma (pixels) drawn uniformly from ``blur_sigma``.
        noise_p: probability of additive Gaussian noise, std (grey levels, 0–255) drawn uniformly
            from ``noise_std``.
        rgb_shift_p: probability of a per-channel shift, each channel's offset (grey levels) drawn
            uniformly from ``[-rgb_shift, rgb_shift]``.
        brightness_contrast_p: probability of a brightness and contrast change: ``x · (1 + c) + b · 255``
            with ``b`` and ``c`` drawn uniformly from ``[-brightness_contrast, brightness_contrast]``.

    The colour steps (off by default) come first, then flip, JPEG, blur and noise;
    :meth:`sbi` is the whole-image augmentation of Self-Blended Images (Shiohara & Yamasaki, CVPR
    2022, §4.1: colour shifts and JPEG on top of the self-blend, applied to reals and blends alike).
    """

    flip_p: float = 0.5
    jpeg_p: float = 0.3
    jpeg_quality: tuple[int, int] = (60, 95)
    blur_p: float = 0.1
    blur_sigma: tuple[float, float] = (0.2, 1.5)
    noise_p: float = 0.1
    noise_std: tuple[float, float] = (2.0, 8.0)
    rgb_shift_p: float = 0.0
    rgb_shift: float = 20.0
    brightness_contrast_p: float = 0.0
    brightness_contrast: float = 0.3

    def __post_init__(self) -> None:
        if not 0.0 <= self.rgb_shift <= 255.0 or not 0.0 <= self.brightness_contrast < 1.0:
            raise ConfigError(
                "rgb_shift must be in [0, 255] grey levels and brightness_contrast in [0, 1), got "
                f"{self.rgb_shift} and {self.brightness_contrast}"
            )
        for name in ("flip_p", "jpeg_p", "blur_p", "noise_p", "rgb_shift_p", "brightness_contrast_p"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"augmentation {name} must be a probability in [0, 1], got {value}")
        low, high = self.jpeg_quality
        if not 1 <= low <= high <= 100:
            raise ConfigError(f"jpeg_quality must be an ordered range within 1..100, got {self.jpeg_quality}")
        for name in ("blur_sigma", "noise_std"):
            low, high = getattr(self, name)
            if not 0.0 <= low <= high or (name == "blur_sigma" and low <= 0.0):
                raise ConfigError(f"{name} must be an ordered range of positive values, got {(low, high)}")

    @classmethod
    def none(cls) -> AugmentConfig:
        """No augmentation at all (every probability 0)."""
        return cls(flip_p=0.0, jpeg_p=0.0, blur_p=0.0, noise_p=0.0)

    @classmethod
    def sbi(cls) -> AugmentConfig:
        """SBI's whole-image augmentation (the reference's training transforms): RGB shift ±20
        (p 0.3), brightness and contrast ±0.3 (p 0.3), JPEG at quality 40–100 (p 0.5), and a flip.
        The reference's hue/saturation/value shift of ±0.3 units is left out: on 8-bit images it
        changes almost no pixel."""
        return cls(
            flip_p=0.5,
            jpeg_p=0.5,
            jpeg_quality=(40, 100),
            blur_p=0.0,
            noise_p=0.0,
            rgb_shift_p=0.3,
            brightness_contrast_p=0.3,
        )


def augment_image(image: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Apply the augmentations of ``config`` to ``image``; the same ``rng`` state gives the same result.

    Four uniform draws decide the four steps, always made in the same order, so the parameters a
    step draws never shift the decisions of the next ones.

    >>> image = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    >>> a = augment_image(image, AugmentConfig(), np.random.default_rng(7))
    >>> b = augment_image(image, AugmentConfig(), np.random.default_rng(7))
    >>> bool((a == b).all())
    True
    """
    if config.rgb_shift_p > 0.0 or config.brightness_contrast_p > 0.0:  # drawn only when on, so
        image = _jitter_colour(image, config, rng)  # the other steps' draws stay as they were
    flip, jpeg, blur, noise = rng.random(4)
    if flip < config.flip_p:
        image = hflip(image)
    if jpeg < config.jpeg_p:
        image = jpeg_recompress(image, int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1)))
    if blur < config.blur_p:
        image = gaussian_blur(image, float(rng.uniform(*config.blur_sigma)))
    if noise < config.noise_p:
        image = gaussian_noise(image, float(rng.uniform(*config.noise_std)), rng)
    return image


@dataclass(frozen=True)
class TrainTransform:
    """Resize to ``input_cfg.image_size`` → :func:`augment_image` → ``degrade`` → :class:`Views`.

    Attributes:
        input_cfg: the model's preprocessing (``model.input_cfg``).
        augment: the augmentations and their probabilities.
        degrade: a further random degradation after them (``--augment robust``:
            :class:`fakescan.data.perturb.RobustAugment`), drawing from the same generator, or None.
        spectrum: also compute the spectrum of the augmented pixels, or None.
        grayscale: make the (augmented) pixels gray, repeated in 3 channels (:func:`to_grayscale`).

    >>> transform = TrainTransform(InputConfig(image_size=8))
    >>> views = transform(np.zeros((16, 16, 3), np.uint8), np.random.default_rng(0))
    >>> views.image.shape, views.spectrum
    (torch.Size([3, 8, 8]), None)
    """

    input_cfg: InputConfig = field(default_factory=InputConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    spectrum: SpectrumTransform | None = None
    grayscale: bool = False
    degrade: Degradation | None = None

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> Views:
        pixels = augment_image(resize(image, self.input_cfg.image_size), self.augment, rng)
        if self.degrade is not None:
            pixels = self.degrade(pixels, rng)
        return _views(to_grayscale(pixels) if self.grayscale else pixels, self.input_cfg, self.spectrum)


@dataclass(frozen=True)
class EvalTransform:
    """Resize to ``input_cfg.image_size`` → :class:`Views`; deterministic (``rng`` is not used).

    Attributes:
        input_cfg: the model's preprocessing (``model.input_cfg``).
        spectrum: also compute the spectrum, or None.
        grayscale: make the pixels gray, repeated in 3 channels (:func:`to_grayscale`).
    """

    input_cfg: InputConfig = field(default_factory=InputConfig)
    spectrum: SpectrumTransform | None = None
    grayscale: bool = False

    def __call__(self, image: np.ndarray, rng: np.random.Generator | None = None) -> Views:
        pixels = resize(image, self.input_cfg.image_size)
        return _views(to_grayscale(pixels) if self.grayscale else pixels, self.input_cfg, self.spectrum)


def _views(image: np.ndarray, input_cfg: InputConfig, spectrum_transform: SpectrumTransform | None) -> Views:
    spec = None if spectrum_transform is None else spectrum_transform(image)
    return Views(image=to_tensor(image, input_cfg), spectrum=spec)


def _check_image(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 uint8 RGB image, got {image.dtype} of shape {image.shape}")
