"""Cross-stitch unit: Misra, Shrivastava, Gupta and Hebert, "Cross-stitch Networks for Multi-task
Learning", CVPR 2016, arXiv 1604.03539 (section 3.1, equation 1).

Two streams of the same shape exchange information through a learned ``2×2`` linear combination::

    a' = α_aa · a + α_ab · b
    b' = α_ba · a + α_bb · b

MD-CSDNetwork (FG 2021) stitches its spatial stream ``a`` and its frequency stream ``b`` this way.
Both cross terms are applied on every call (the public code of MD-CSD skipped them, so its streams
never mixed) and both receive gradients.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["ALPHA_NAME", "CrossStitch", "cross_stitch_parameters"]

ALPHA_NAME = "cross_stitch_alpha"
"""Name of each cross-stitch unit's α; full names end with it (``stitches.block2.cross_stitch_alpha``)."""


class CrossStitch(nn.Module):
    """Mix two equally shaped activations ``a`` (spatial) and ``b`` (frequency) with learned α.

    Args:
        channels: ``None`` for one scalar α per pair (a ``2×2`` parameter); ``C`` for one α per channel
            (a ``2×2×C`` parameter), channels on dimension 1 of the inputs.
        init: initial ``((α_aa, α_ab), (α_ba, α_bb))``; Misra et al. and MD-CSD start at
            ``((0.9, 0.1), (0.1, 0.9))``. ``((1, 0), (0, 1))`` keeps the streams apart,
            ``((0, 1), (1, 0))`` swaps them.

    The parameter is ``cross_stitch_alpha`` (:data:`ALPHA_NAME`), so an optimiser can single it out
    (the MD-CSD reference trains it at 5× the base learning rate); see :func:`cross_stitch_parameters`.

    Shapes: ``a`` and ``b`` are ``B×C×…`` (usually ``B×C×H×W``), and so are both outputs.

    >>> unit = CrossStitch(init=((0.0, 1.0), (1.0, 0.0)))
    >>> a, b = torch.zeros(1, 2, 3, 3), torch.ones(1, 2, 3, 3)
    >>> [t.mean().item() for t in unit(a, b)]
    [1.0, 0.0]
    """

    def __init__(
        self,
        channels: int | None = None,
        init: Sequence[Sequence[float]] = ((0.9, 0.1), (0.1, 0.9)),
    ) -> None:
        super().__init__()
        alpha = torch.tensor([[float(v) for v in row] for row in init], dtype=torch.float32)
        if alpha.shape != (2, 2):
            raise ValueError(f"cross-stitch init must be 2×2, got shape {tuple(alpha.shape)}")
        if channels is not None:
            if channels < 1:
                raise ValueError(f"channels must be positive, got {channels}")
            alpha = alpha[:, :, None].repeat(1, 1, channels)
        self.channels = channels
        self.cross_stitch_alpha = nn.Parameter(alpha)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a', b')`` per the module docstring."""
        if a.shape != b.shape:
            raise ValueError(f"cross-stitch inputs differ in shape: {tuple(a.shape)} and {tuple(b.shape)}")
        alpha = self.cross_stitch_alpha
        if self.channels is not None:
            if a.dim() < 2 or a.shape[1] != self.channels:
                raise ValueError(f"expected {self.channels} channels on dim 1, got shape {tuple(a.shape)}")
            alpha = alpha.reshape(2, 2, self.channels, *([1] * (a.dim() - 2)))
        alpha = alpha.to(a.dtype)
        mixed_a = alpha[0, 0] * a + alpha[0, 1] * b
        mixed_b = alpha[1, 0] * a + alpha[1, 1] * b
        return mixed_a, mixed_b

    def extra_repr(self) -> str:
        return "scalar" if self.channels is None else f"per_channel={self.channels}"


def cross_stitch_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The α parameter of every :class:`CrossStitch` inside ``model``, in module order."""
    return [m.cross_stitch_alpha for m in model.modules() if isinstance(m, CrossStitch)]
