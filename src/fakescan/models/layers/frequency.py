"""Frequency-domain layers of M2TR (Wang et al., "M2TR: Multi-modal Multi-scale Transformers for Deepfake
Detection", ICMR 2022, arXiv 2104.09770), as the attention network uses them.

- :class:`SpectralFilter` — a learnable global filter: 2-D real FFT over the spatial dims, an element-wise
  product with a learned complex weight, inverse FFT (M2TR's frequency filter, itself the global filter of
  GFNet, Rao et al., NeurIPS 2021).
- :class:`FrequencyStream` — that filter plus a small ``1×1``–GELU–``1×1`` feed-forward with a residual.
- :class:`CrossModalityFusion` — M2TR's cross-modality fusion (CMF) block: queries from the RGB stream,
  keys and values from the frequency stream, scaled dot-product attention over all spatial positions.

The filter weight is a parameter drawn once, in ``__init__``; forward never draws random numbers, so
eval-mode outputs are deterministic and the weight learns (the public seed code redraws it every call).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CrossModalityFusion", "FrequencyStream", "SpectralFilter"]


class SpectralFilter(nn.Module):
    """Multiply a feature map's 2-D spectrum by a learned complex filter, one per channel.

    ``y = irfft2(rfft2(x) ⊙ W)`` over the spatial dims with orthonormal scaling, so the filter has one
    complex weight per (row frequency, column frequency, channel). The FFT runs in float32 whatever the
    input dtype (half-precision FFTs need power-of-two sizes and lose accuracy).

    Args:
        channels: ``C`` of the input.
        height, width: spatial size of the input; fixed, because the filter has one weight per frequency.
        init_std: standard deviation of the initial weights (real and imaginary parts).

    Shapes: ``B×C×height×width`` in and out. The weight is stored as a real tensor of shape
    ``height×(width//2+1)×C×2`` (real, imaginary).

    >>> layer = SpectralFilter(4, 8, 8)
    >>> tuple(layer.weight.shape), tuple(layer(torch.zeros(2, 4, 8, 8)).shape)
    ((8, 5, 4, 2), (2, 4, 8, 8))
    """

    def __init__(self, channels: int, height: int, width: int, init_std: float = 0.02) -> None:
        super().__init__()
        self.channels, self.height, self.width = channels, height, width
        self.weight = nn.Parameter(torch.randn(height, width // 2 + 1, channels, 2) * init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, channels, height, width = x.shape
        if (channels, height, width) != (self.channels, self.height, self.width):
            raise ValueError(
                f"SpectralFilter was built for {self.channels}×{self.height}×{self.width} maps but got "
                f"{channels}×{height}×{width}: build the model for the image size it is fed"
            )
        spectrum = torch.fft.rfft2(x.float(), dim=(-2, -1), norm="ortho")  # B×C×H×(W//2+1)
        # contiguous(): model.to(memory_format=channels_last) restrides this 4-D parameter too.
        kernel = torch.view_as_complex(self.weight.float().contiguous()).permute(2, 0, 1)  # C×H×(W//2+1)
        out = torch.fft.irfft2(spectrum * kernel, s=(height, width), dim=(-2, -1), norm="ortho")
        return out.to(x.dtype)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, size=({self.height}, {self.width})"


class FrequencyStream(nn.Module):
    """The spectrum stream: ``f = filter(BN(x))``, then ``f + FFN(BN(f))`` with a ``1×1``–GELU–``1×1`` FFN.

    Both norms are BatchNorm2d (pre-norm), which fits the convolutional trunk and needs no permutes.
    The filter has no skip around it: its output is the frequency "modality" that the CMF blocks attend
    to, not a correction of the RGB features.

    Args:
        channels: ``C`` of the input.
        height, width: spatial size of the input (see :class:`SpectralFilter`).
        hidden: width of the feed-forward (default ``channels``, as in M2TR's ``FeedForward2D``).

    Shapes: ``B×C×height×width`` in and out.
    """

    def __init__(self, channels: int, height: int, width: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or channels
        self.norm1 = nn.BatchNorm2d(channels)
        self.filter = SpectralFilter(channels, height, width)
        self.norm2 = nn.BatchNorm2d(channels)
        self.ffn = nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.GELU(), nn.Conv2d(hidden, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        freq = self.filter(self.norm1(x))
        return freq + self.ffn(self.norm2(freq))


class CrossModalityFusion(nn.Module):
    """M2TR's cross-modality fusion block: the RGB stream queries the frequency stream.

    ``q = conv1x1(rgb)``, ``k = conv1x1(freq)``, ``v = conv1x1(freq)``, flattened over the ``N = H·W``
    positions; ``z = softmax(q·kᵀ/√C)·v`` (each query attends over all ``N`` keys), reshaped to ``C×H×W``;
    ``out = rgb + LeakyReLU₀.₂(BN(conv(z)))``.

    Args:
        channels: ``C`` of both streams.
        kernel_size: of the output conv. The default 1 follows M2TR's reference code; the seed text
            describes a ``3×3`` conv (pass 3), which costs 9× the parameters in that conv.

    Shapes: ``rgb`` and ``freq`` both ``B×C×H×W``; output ``B×C×H×W``. Attention memory is ``B×N×N``
    (361×361 per image at a 19×19 map).
    """

    def __init__(self, channels: int, kernel_size: int = 1) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd to keep the map size, got {kernel_size}")
        self.kernel_size = kernel_size
        self.query = nn.Conv2d(channels, channels, 1)
        self.key = nn.Conv2d(channels, channels, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.proj = nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(channels),
            nn.LeakyReLU(0.2),
        )

    def forward(self, rgb: torch.Tensor, freq: torch.Tensor) -> torch.Tensor:
        if rgb.shape != freq.shape:
            raise ValueError(f"rgb {tuple(rgb.shape)} and freq {tuple(freq.shape)} must have one shape")
        batch, channels, height, width = rgb.shape
        # B×C×H×W → B×N×C, one token per position; the default scale of sdpa is 1/√C.
        q = self.query(rgb).flatten(start_dim=2).transpose(1, 2)
        k = self.key(freq).flatten(start_dim=2).transpose(1, 2)
        v = self.value(freq).flatten(start_dim=2).transpose(1, 2)
        z = F.scaled_dot_product_attention(q, k, v)  # B×N×C
        z = z.transpose(1, 2).reshape(batch, channels, height, width)
        return rgb + self.proj(z)
