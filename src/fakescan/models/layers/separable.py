"""Depthwise-separable convolution and the Xception residual block (Chollet, CVPR 2017, arXiv 1610.02357).

Parameter names follow the widely used PyTorch port of the ImageNet Xception weights (the
``legacy_xception`` / "pretrainedmodels" layout): a separable conv holds ``conv1`` (depthwise) and
``pointwise``; a block holds ``rep`` (its layers in order), and ``skip`` + ``skipbn`` when it changes
shape. Loading those weights therefore needs no renaming.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SeparableConv2d", "XceptionBlock"]


class SeparableConv2d(nn.Module):
    """A per-channel (depthwise) ``k×k`` convolution followed by a ``1×1`` pointwise one, no bias."""

    def __init__(
        self, in_chs: int, out_chs: int, kernel_size: int = 3, stride: int = 1, padding: int = 1
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chs, in_chs, kernel_size, stride, padding, groups=in_chs, bias=False)
        self.pointwise = nn.Conv2d(in_chs, out_chs, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.conv1(x))


class XceptionBlock(nn.Module):
    """``reps`` × (ReLU → separable conv → BN), an optional strided max-pool, plus a shortcut.

    Args:
        in_chs, out_chs: channels in and out.
        reps: number of separable convolutions.
        stride: 2 adds a ``3×3`` max-pool of stride 2 and a strided ``1×1`` shortcut conv.
        start_with_relu: begin with a ReLU (all blocks but the first one after the stem).
        grow_first: change the channel count in the first conv (else in the last, as in block12).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        reps: int,
        stride: int = 1,
        start_with_relu: bool = True,
        grow_first: bool = True,
    ) -> None:
        super().__init__()
        if out_chs != in_chs or stride != 1:
            self.skip: nn.Module | None = nn.Conv2d(in_chs, out_chs, 1, stride=stride, bias=False)
            self.skipbn: nn.Module | None = nn.BatchNorm2d(out_chs)
        else:
            self.skip = self.skipbn = None
        widths = [out_chs] * reps if grow_first else [in_chs] * (reps - 1) + [out_chs]
        layers: list[nn.Module] = []
        chs = in_chs
        for width in widths:
            layers += [nn.ReLU(), SeparableConv2d(chs, width), nn.BatchNorm2d(width)]
            chs = width
        if not start_with_relu:
            layers = layers[1:]
        if stride != 1:
            layers.append(nn.MaxPool2d(3, stride, 1))
        self.rep = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.skip is None else self.skipbn(self.skip(x))
        return self.rep(x) + shortcut
