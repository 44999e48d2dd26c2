"""Typed records that models hand to the rest of fakescan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

__all__ = ["DetectorOutput", "InputConfig"]


@dataclass(frozen=True)
class DetectorOutput:
    """What a detector's ``forward(x, return_aux=True)`` returns.

    Attributes:
        logits: ``B×1`` (real/fake; positive = fake) or ``B×K`` (class 0 = real).
        aux: named intermediate tensors for losses and explanations, e.g. ``"reconstruction"``
            (``B×3×H×W``) or ``"embedding"``; which keys exist depends on the model.
    """

    logits: torch.Tensor
    aux: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class InputConfig:
    """The preprocessing a model expects, declared by the model and applied by the data side.

    Attributes:
        image_size: input side in pixels (square crops).
        mean, std: per-channel normalisation of RGB values in ``[0, 1]``.
        kind: ``"rgb"`` images; models that build their frequency input themselves still take RGB.
    """

    image_size: int = 256
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    kind: Literal["rgb"] = "rgb"
