"""The small CNN baseline of the MD-CSDNetwork reference code (the ``cnn`` model choice, FG 2021).

Four ``3×3`` convolutions of widths 3, 8, 16 and 32 with 2×2 average pooling after the second and
third, flattened into one dense layer::

    conv 3 → conv 8 → avgpool/2 → conv 16 → avgpool/2 → conv 32 → flatten → dropout → linear

Each convolution is conv → BN → ReLU here; the reference (Keras ``build_shallow_cnn``) has plain
conv + ReLU with biases and no dropout (``batch_norm=False, drop_rate=0`` reproduces that exactly).
Because the head flattens a ``32×⌊S/4⌋×⌊S/4⌋`` map, its size depends on ``image_size``, and the
model refuses inputs of another size rather than silently misreading them.

Parameter count (batch norm on, 1 logit): 38,944 at 128 px (32,769 of them in the dense layer),
137,248 at 256 px, 181,408 at 299 px; with 5 classes at 128 px, 170,020. The reference layout
(``batch_norm=False``) has 38,885 at 128 px.

Weights: none; this baseline trains from scratch.
"""

from __future__ import annotations

import torch
from torch import nn

from fakescan.errors import ConfigError
from fakescan.models._registry import register_model
from fakescan.models.output import DetectorOutput, InputConfig

__all__ = ["SmallCNN", "cnn"]

# (out channels, average-pool 2×2 after it) for each conv → BN → ReLU stage, as in the reference.
_STAGES: tuple[tuple[int, bool], ...] = ((3, False), (8, True), (16, True), (32, False))


class SmallCNN(nn.Module):
    """The shallow CNN baseline.

    Args:
        num_classes: 1 (a real/fake logit) or K classes.
        image_size: the square input side; fixes the size of the dense layer.
        in_chans: input channels (3 for RGB; 1 for a grayscale image or spectrum fed by the caller).
        drop_rate: dropout before the dense layer.
        batch_norm: conv → BN → ReLU (``True``) or the reference's conv (with bias) → ReLU.

    Shapes: input ``B×in_chans×S×S`` with ``S = image_size``; features ``B×32×⌊S/4⌋×⌊S/4⌋``;
    logits ``B×num_classes``.
    """

    def __init__(
        self,
        num_classes: int = 1,
        image_size: int = 128,
        in_chans: int = 3,
        drop_rate: float = 0.5,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        if image_size < 4:
            raise ConfigError(f"the cnn model needs image_size >= 4, got {image_size}")
        self.input_cfg = InputConfig(image_size=image_size)
        self.image_size = image_size
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        layers: list[nn.Module] = []
        chans, side = in_chans, image_size
        for width, pool in _STAGES:
            layers.append(nn.Conv2d(chans, width, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU())
            if pool:
                layers.append(nn.AvgPool2d(2))
                side //= 2
            chans = width
        self.features = nn.Sequential(*layers)
        self.feature_shape = (chans, side, side)
        self.num_features = chans * side * side
        self.head_drop = nn.Dropout(drop_rate)
        self.fc: nn.Module = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last conv stage's ``B×32×⌊S/4⌋×⌊S/4⌋`` map.

        Raises:
            ConfigError: ``x`` is not ``in_chans×image_size×image_size`` per sample.
        """
        expected = (self.in_chans, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ConfigError(
                f"the cnn model was built for inputs B×{'×'.join(map(str, expected))}, got "
                f"{'×'.join(map(str, x.shape))}; build it with image_size={x.shape[-1]} to use that size"
            )
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Flatten, dropout and the dense layer (``pre_logits``: stop before it)."""
        x = self.head_drop(x.flatten(1))
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor, return_aux: bool = False) -> torch.Tensor | DetectorOutput:
        """Logits ``B×num_classes``; with ``return_aux``, a :class:`DetectorOutput` that also holds
        the last feature map as ``aux["features"]``."""
        features = self.forward_features(x)
        logits = self.forward_head(features)
        return DetectorOutput(logits, {"features": features}) if return_aux else logits

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the dense layer with a fresh one of ``num_classes`` outputs (0: none)."""
        self.num_classes = num_classes
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()


@register_model
def cnn(
    num_classes: int = 1,
    image_size: int = 128,
    in_chans: int = 3,
    drop_rate: float = 0.5,
    batch_norm: bool = True,
) -> SmallCNN:
    """The MD-CSD reference's shallow CNN baseline (trained from scratch)."""
    return SmallCNN(
        num_classes=num_classes,
        image_size=image_size,
        in_chans=in_chans,
        drop_rate=drop_rate,
        batch_norm=batch_norm,
    )
