"""Tests of fakescan.ops.spectrum: the DCT, spectrum images and their streaming statistics."""

from __future__ import annotations

import math

import pytest
import torch

from fakescan.errors import ConfigError
from fakescan.ops import SpectrumStats, dct2, dct_matrix, luminance, spectrum, spectrum_stats


def direct_dct2(x: torch.Tensor) -> torch.Tensor:
    """The orthonormal 2-D DCT-II written out as its O(N²M²) double sum."""
    rows, cols = x.shape
    out = torch.zeros(rows, cols, dtype=torch.float64)
    for k in range(rows):
        for m in range(cols):
            total = 0.0
            for i in range(rows):
                for j in range(cols):
                    total += (
                        x[i, j].item()
                        * math.cos(math.pi * (2 * i + 1) * k / (2 * rows))
                        * math.cos(math.pi * (2 * j + 1) * m / (2 * cols))
                    )
            ck = math.sqrt((1 if k == 0 else 2) / rows)
            cm = math.sqrt((1 if m == 0 else 2) / cols)
            out[k, m] = ck * cm * total
    return out


@pytest.mark.parametrize("shape", [(8, 8), (6, 5)])
def test_dct2_matches_the_direct_formula(shape: tuple[int, int]) -> None:
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.allclose(dct2(x), direct_dct2(x), atol=1e-12)
    assert torch.allclose(dct2(x.float()), direct_dct2(x).float(), atol=1e-5)


def test_dct2_is_orthonormal_and_batched() -> None:
    x = torch.randn(2, 3, 16, 12, dtype=torch.float64)
    y = dct2(x)
    assert y.shape == x.shape
    assert torch.allclose((y**2).sum(), (x**2).sum())  # Parseval
    inverse = dct_matrix(16, torch.float64).T @ y @ dct_matrix(12, torch.float64)
    assert torch.allclose(inverse, x)
    assert torch.allclose(y[1, 2], dct2(x[1, 2]))
    assert dct2(torch.ones(4, 4, dtype=torch.uint8)).dtype == torch.float32


def test_constant_image_puts_all_dct_energy_at_dc() -> None:
    x = torch.full((1, 1, 8, 8), 0.7, dtype=torch.float64)
    y = dct2(x)
    assert y[0, 0, 0, 0].item() == pytest.approx(0.7 * 8)
    y[0, 0, 0, 0] = 0
    assert y.abs().max().item() < 1e-12


@pytest.mark.parametrize("side", [8, 7])
def test_fft_spectrum_has_dc_at_the_centre(side: int) -> None:
    images = torch.full((1, 3, side, side), 0.5)
    raw = spectrum(images, kind="fft", scale="raw")
    assert raw.shape == (1, 1, side, side)
    flat_index = int(raw.flatten().argmax())
    assert divmod(flat_index, side) == (side // 2, side // 2)
    assert raw[0, 0, side // 2, side // 2].item() == pytest.approx(0.5 * side)
    raw[0, 0, side // 2, side // 2] = 0
    assert raw.abs().max().item() < 1e-5
    dct = spectrum(images, kind="dct", scale="raw")
    assert int(dct.flatten().argmax()) == 0


def test_gray_and_color_modes() -> None:
    images = torch.rand(2, 3, 16, 16)
    gray = spectrum(images, mode="gray")
    color = spectrum(images, mode="color")
    assert gray.shape == (2, 1, 16, 16) and color.shape == (2, 3, 16, 16)
    assert torch.allclose(gray, torch.log(dct2(luminance(images)).abs() + 1e-6))
    assert torch.allclose(
        color[:, 1:2], spectrum(images[:, 1:2].expand(-1, 3, -1, -1), mode="gray"), atol=1e-5
    )
    assert torch.allclose(luminance(torch.ones(1, 3, 2, 2)), torch.ones(1, 1, 2, 2))
    assert spectrum(torch.rand(3, 8, 8), mode="color").shape == (3, 8, 8)


@pytest.mark.parametrize("kind", ["dct", "fft"])
def test_log_scale_is_log_of_raw(kind: str) -> None:
    images = torch.rand(2, 3, 12, 12, dtype=torch.float64)
    raw = spectrum(images, kind=kind, scale="raw")
    log = spectrum(images, kind=kind, scale="log", eps=1e-3)
    assert (raw >= 0).all()
    assert torch.allclose(log, torch.log(raw + 1e-3))
    assert log.dtype == torch.float64


def test_half_precision_input_is_computed_in_float32_with_gradients() -> None:
    out = spectrum(torch.rand(1, 3, 8, 8).half())
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    images = torch.rand(1, 3, 8, 8, requires_grad=True)
    spectrum(images, kind="fft").sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kind": "wavelet"}, "unknown spectrum kind 'wavelet'"),
        ({"scale": "sqrt"}, "unknown spectrum scale 'sqrt'"),
        ({"mode": "rgb"}, "unknown spectrum mode 'rgb'"),
    ],
)
def test_unknown_options_are_config_errors(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        spectrum(torch.rand(1, 3, 4, 4), **options)


def test_non_rgb_input_is_refused() -> None:
    with pytest.raises(ValueError, match="RGB"):
        spectrum(torch.rand(1, 1, 4, 4))


def test_streamed_stats_equal_stats_of_the_concatenation() -> None:
    generator = torch.Generator().manual_seed(1)
    first = torch.randn(3, 3, 8, 8, generator=generator) * 2 + 5
    second = torch.randn(5, 3, 8, 8, generator=generator) - 1
    streamed = spectrum_stats(iter([first, second]))  # a one-pass iterator is enough
    whole = torch.cat([first, second]).double()
    assert streamed.count == 8 * 64
    assert streamed.channels == 3
    assert torch.allclose(
        torch.tensor(streamed.mean, dtype=torch.float64), whole.mean(dim=(0, 2, 3)), atol=1e-12
    )
    assert torch.allclose(
        torch.tensor(streamed.std, dtype=torch.float64), whole.std(dim=(0, 2, 3), unbiased=False), atol=1e-12
    )
    at_once = spectrum_stats([whole])
    assert at_once.count == streamed.count
    assert all(math.isclose(a, b, rel_tol=1e-12) for a, b in zip(streamed.mean, at_once.mean, strict=True))
    assert all(math.isclose(a, b, rel_tol=1e-12) for a, b in zip(streamed.std, at_once.std, strict=True))


def test_stats_errors() -> None:
    with pytest.raises(ValueError, match="at least one"):
        spectrum_stats([])
    with pytest.raises(ValueError, match="channels"):
        spectrum_stats([torch.zeros(1, 1, 2, 2), torch.zeros(1, 3, 2, 2)])
    with pytest.raises(ValueError, match="same"):
        SpectrumStats(mean=(0.0,), std=(1.0, 1.0))
