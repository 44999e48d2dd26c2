"""Frequency-domain views of face images: the 2-D DCT, spectrum images, and their statistics.

MD-CSDNetwork (FG 2021) feeds its frequency branch a *spectrum image* of the face: the log-scaled
magnitude of the 2-D DCT-II (or of the 2-D FFT), of the luminance or of each colour channel,
normalised with per-channel statistics of the training set. These functions compute it in plain
torch, on any device, with gradients, for a batch at a time:

- :func:`dct2` — the orthonormal 2-D DCT-II over the last two dimensions (``scipy.fft.dctn(x,
  type=2, norm="ortho")``), as two products with a cached DCT basis;
- :func:`spectrum` — RGB images → ``log(eps + |DCT|)`` (or ``|FFT|``, raw or log), gray or colour;
- :func:`spectrum_stats` → :class:`SpectrumStats` — per-channel mean and std in one streaming pass;
- :func:`log_spectrum_grid` and :func:`mean_log_spectrum` → :class:`LogSpectrum` — the centred
  ``log |FFT|`` of the luminance averaged onto a small grid, and its mean over many faces (the
  reference a checkpoint keeps of its real training faces, which explanations compare a face with).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from fakescan.errors import ConfigError

__all__ = [
    "LOG_SPECTRUM_GRID",
    "LogSpectrum",
    "SpectrumStats",
    "dct2",
    "dct_matrix",
    "log_spectrum_grid",
    "luminance",
    "mean_log_spectrum",
    "spectrum",
    "spectrum_stats",
]

SpectrumKind = Literal["dct", "fft"]
SpectrumScale = Literal["log", "raw"]
SpectrumMode = Literal["gray", "color"]

SPECTRUM_KINDS: tuple[str, ...] = ("dct", "fft")
SPECTRUM_SCALES: tuple[str, ...] = ("log", "raw")
SPECTRUM_MODES: tuple[str, ...] = ("gray", "color")

BT601_WEIGHTS: tuple[float, float, float] = (0.299, 0.587, 0.114)
"""ITU-R BT.601 luma weights of R, G and B (what PIL's ``convert("L")`` uses)."""


def dct_matrix(
    n: int, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> torch.Tensor:
    """The ``n×n`` orthonormal DCT-II basis ``C`` (rows are frequencies): ``C @ v`` is the DCT of ``v``.

    ``C[k, i] = c_k · cos(π (2i + 1) k / 2n)`` with ``c_0 = √(1/n)`` and ``c_k = √(2/n)``; ``C`` is
    orthogonal, so ``C.T`` is the inverse transform (DCT-III). Built in float64, then cast; cached per
    ``(n, dtype, device)``. The returned tensor is shared: do not modify it in place.

    >>> c = dct_matrix(4, torch.float64)
    >>> torch.allclose(c @ c.T, torch.eye(4, dtype=torch.float64))
    True
    """
    if n < 1:
        raise ValueError(f"a DCT needs at least one sample, got n={n}")
    return _dct_matrix(n, dtype, torch.device("cpu") if device is None else torch.device(device))


@functools.lru_cache(maxsize=32)
def _dct_matrix(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    with torch.inference_mode(False):  # a cached inference tensor could not be saved for backward later
        return _build_dct_matrix(n).to(dtype=dtype, device=device)


def _build_dct_matrix(n: int) -> torch.Tensor:
    freq = torch.arange(n, dtype=torch.float64)[:, None]
    pos = torch.arange(n, dtype=torch.float64)[None, :]
    basis = torch.cos(math.pi * (2 * pos + 1) * freq / (2 * n)) * math.sqrt(2.0 / n)
    basis[0] /= math.sqrt(2.0)
    return basis


def dct2(x: torch.Tensor) -> torch.Tensor:
    """Orthonormal 2-D DCT-II of ``x`` over its last two dimensions (any leading dimensions).

    Output ``[..., k, l]`` holds the coefficient of vertical frequency ``k`` and horizontal frequency
    ``l``; ``[..., 0, 0]`` is the DC term, ``mean(x) · √(H·W)``. Energy is preserved (Parseval).
    Integer input is converted to float32; float input keeps its dtype.

    >>> round(dct2(torch.ones(4, 4))[0, 0].item(), 4)
    4.0
    """
    if x.dim() < 2:
        raise ValueError(f"dct2 needs a tensor with at least 2 dimensions, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        x = x.float()
    rows = dct_matrix(x.shape[-2], x.dtype, x.device)
    cols = dct_matrix(x.shape[-1], x.dtype, x.device)
    return rows @ x @ cols.T


def luminance(images: torch.Tensor) -> torch.Tensor:
    """ITU-R BT.601 luma of RGB ``images`` (``...×3×H×W``) → ``...×1×H×W``, in the input's range."""
    _check_rgb(images)
    weights = torch.tensor(BT601_WEIGHTS, dtype=images.dtype, device=images.device)
    return (images * weights[:, None, None]).sum(dim=-3, keepdim=True)


def spectrum(
    images: torch.Tensor,
    kind: SpectrumKind = "dct",
    scale: SpectrumScale = "log",
    mode: SpectrumMode = "gray",
    eps: float = 1e-6,
) -> torch.Tensor:
    """Spectrum images of RGB ``images``: ``...×3×H×W`` → ``...×1×H×W`` (gray) or ``...×3×H×W`` (color).

    Args:
        images: RGB, channel-first, any leading dimensions (usually ``B×3×H×W``). Any value range
            works: the transforms are linear, so scaling the pixels by ``s`` scales every magnitude by
            ``s`` (and shifts a log spectrum by ``log s`` where magnitudes are well above ``eps``).
            fakescan feeds values in ``[0, 1]``; statistics for normalisation (:func:`spectrum_stats`)
            must be computed on the same range and the same settings as the model uses.
        kind: ``"dct"`` — orthonormal 2-D DCT-II (:func:`dct2`), DC term at ``[0, 0]``; ``"fft"`` —
            2-D FFT (``norm="ortho"``), ``fftshift``-ed so the DC term sits at ``[H // 2, W // 2]``
            and low frequencies in the centre.
        scale: ``"log"`` → ``log(eps + |coefficient|)``; ``"raw"`` → ``|coefficient|``.
        mode: ``"gray"`` — one spectrum of the BT.601 luminance; ``"color"`` — one per RGB channel.
        eps: floor inside the logarithm.

    Returns:
        A real tensor; float32 for integer or half-precision input (autocast is switched off inside),
        float64 for float64 input. Differentiable with respect to ``images``.

    Raises:
        ConfigError: an unknown ``kind``, ``scale`` or ``mode``.
        ValueError: ``images`` is not ``...×3×H×W``.

    >>> spectrum(torch.rand(2, 3, 16, 16)).shape
    torch.Size([2, 1, 16, 16])
    >>> spectrum(torch.rand(3, 8, 8), kind="fft", scale="raw", mode="color").shape
    torch.Size([3, 8, 8])
    """
    _check_choice("spectrum kind", kind, SPECTRUM_KINDS)
    _check_choice("spectrum scale", scale, SPECTRUM_SCALES)
    _check_choice("spectrum mode", mode, SPECTRUM_MODES)
    _check_rgb(images)
    if not images.is_floating_point() or images.dtype in (torch.float16, torch.bfloat16):
        images = images.float()
    with torch.autocast(device_type=images.device.type, enabled=False):
        planes = luminance(images) if mode == "gray" else images
        if kind == "dct":
            magnitude = dct2(planes).abs()
        else:
            coefficients = torch.fft.fft2(planes, norm="ortho")
            magnitude = torch.fft.fftshift(coefficients.abs(), dim=(-2, -1))
        return torch.log(magnitude + eps) if scale == "log" else magnitude


@dataclass(frozen=True)
class SpectrumStats:
    """Per-channel statistics of spectrum images, for normalising them as ``(s - mean) / std``.

    Attributes:
        mean: one value per channel (1 for gray spectra, 3 for colour).
        std: population standard deviation per channel, same length as ``mean``.
        count: values seen per channel.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    count: int = 0

    def __post_init__(self) -> None:
        if len(self.mean) != len(self.std) or not self.mean:
            raise ValueError(f"mean and std need the same, non-zero length: {self.mean}, {self.std}")

    @property
    def channels(self) -> int:
        return len(self.mean)


def spectrum_stats(batches: Iterable[torch.Tensor]) -> SpectrumStats:
    """Per-channel mean and std of spectrum images, in one streaming pass.

    Compute these on the **training split only** (validation and test data must not shape the
    normalisation), with exactly the spectrum settings (kind, scale, mode, input range) the model
    uses; MD-CSD's ``compute_spectrum`` gives those spectra. Each batch is ``...×C×H×W`` (channels
    third from last); per-batch moments are accumulated in float64 and merged with Chan et al.'s
    parallel update, so the result equals the statistics of all batches concatenated.

    Raises:
        ValueError: no batch, or batches with different channel counts.

    >>> a, b = torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4)
    >>> spectrum_stats([a, b])
    SpectrumStats(mean=(0.5,), std=(0.5,), count=64)
    """
    count = 0
    mean: torch.Tensor | None = None
    m2: torch.Tensor | None = None
    for batch in batches:
        if batch.dim() < 3:
            raise ValueError(f"spectrum batches must be ...×C×H×W, got shape {tuple(batch.shape)}")
        values = batch.detach().to(dtype=torch.float64, device="cpu").movedim(-3, 0).flatten(1)
        n = values.shape[1]
        if n == 0:
            continue
        batch_mean = values.mean(dim=1)
        batch_m2 = ((values - batch_mean[:, None]) ** 2).sum(dim=1)
        if mean is None or m2 is None:
            count, mean, m2 = n, batch_mean, batch_m2
            continue
        if batch_mean.shape != mean.shape:
            raise ValueError(f"a batch has {batch_mean.numel()} channels, earlier ones {mean.numel()}")
        total = count + n
        delta = batch_mean - mean
        mean = mean + delta * (n / total)
        m2 = m2 + batch_m2 + delta**2 * (count * n / total)
        count = total
    if mean is None or m2 is None:
        raise ValueError("spectrum_stats needs at least one non-empty batch")
    std = torch.sqrt(m2 / count)
    return SpectrumStats(mean=tuple(mean.tolist()), std=tuple(std.tolist()), count=count)


LOG_SPECTRUM_GRID = 64
"""Side of the grid a reference log-spectrum is kept on (64×64 values: about 30 KB of JSON)."""


def log_spectrum_grid(images: torch.Tensor, size: int = LOG_SPECTRUM_GRID) -> torch.Tensor:
    """Centred ``log(eps + |FFT|)`` of the luminance of ``images`` (``B×3×H×W`` in ``[0, 1]``),
    averaged onto a ``size×size`` grid: ``B×size×size`` float32.

    The 2-D FFT is orthonormal and ``fftshift``-ed (:func:`spectrum`, ``kind="fft"``), so the DC
    term sits at the centre and the grid's axes run from −0.5 to 0.5 cycles per pixel whatever
    ``H×W`` is; each grid cell is the mean of the log magnitudes that fall in it (adaptive average
    pooling), which also smooths the speckle of a single face's spectrum.

    >>> log_spectrum_grid(torch.rand(2, 3, 128, 128)).shape
    torch.Size([2, 64, 64])
    """
    logs = spectrum(images.float(), kind="fft", scale="log", mode="gray")[:, 0]
    return torch.nn.functional.adaptive_avg_pool2d(logs[:, None], size)[:, 0].float()


@dataclass(frozen=True)
class LogSpectrum:
    """A mean log-spectrum on a small grid (:func:`log_spectrum_grid`), e.g. of a training set's real faces.

    Attributes:
        values: ``size`` rows of ``size`` values, DC at ``[size // 2][size // 2]``.
        count: how many images were averaged.
        image_size: the side of the images the spectra were taken of (the model's input size).
    """

    values: tuple[tuple[float, ...], ...]
    count: int = 0
    image_size: int = 0

    def __post_init__(self) -> None:
        if not self.values or any(len(row) != len(self.values) for row in self.values):
            raise ValueError(f"a log-spectrum needs a square, non-empty grid, got {len(self.values)} rows")

    def array(self) -> np.ndarray:
        """The grid as a ``size×size`` float32 array."""
        return np.asarray(self.values, dtype=np.float32)

    @classmethod
    def from_array(cls, grid: np.ndarray, count: int, image_size: int, decimals: int = 3) -> LogSpectrum:
        """From a ``size×size`` array, rounded to ``decimals`` (the sidecar keeps it as JSON).

        >>> LogSpectrum.from_array(np.full((2, 2), 1.23456), 5, 64).values
        ((1.235, 1.235), (1.235, 1.235))
        """
        rows = np.round(np.asarray(grid, dtype=np.float64), decimals).tolist()
        return cls(
            values=tuple(tuple(float(v) for v in row) for row in rows), count=count, image_size=image_size
        )


def mean_log_spectrum(batches: Iterable[torch.Tensor], size: int = LOG_SPECTRUM_GRID) -> LogSpectrum:
    """The mean of :func:`log_spectrum_grid` over every image of ``batches`` (each ``B×3×H×W``, ``[0, 1]``).

    Raises:
        ValueError: no image.

    >>> mean_log_spectrum([torch.zeros(2, 3, 8, 8)], size=4).count
    2
    """
    total: torch.Tensor | None = None
    count, image_size = 0, 0
    for batch in batches:
        if batch.shape[0] == 0:
            continue
        grids = log_spectrum_grid(batch.detach().cpu(), size).to(torch.float64)
        total = grids.sum(dim=0) if total is None else total + grids.sum(dim=0)
        count += batch.shape[0]
        image_size = int(batch.shape[-1])
    if total is None:
        raise ValueError("mean_log_spectrum needs at least one image")
    return LogSpectrum.from_array((total / count).numpy(), count=count, image_size=image_size)


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"unknown {what} {value!r}; choose one of: {', '.join(choices)}")


def _check_rgb(images: torch.Tensor) -> None:
    if images.dim() < 3 or images.shape[-3] != 3:
        raise ValueError(f"expected RGB images shaped ...×3×H×W, got shape {tuple(images.shape)}")
