"""Model tests; :data:`TEST_OPTIONS` makes each registered model small enough to build in a test."""

from __future__ import annotations

from typing import Any

TINY_CLIP: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "patch_size": 16,
    "image_size": 48,
}
"""A CLIP vision tower for tests (Effort's backbone is ViT-L/14: 300M parameters, minutes to split by
SVD on a CPU): 2 layers of width 32, patches of 16 px."""

TEST_OPTIONS: dict[str, dict[str, Any]] = {"effort": {"vision_config": TINY_CLIP}}
"""Extra :func:`fakescan.models.create` options that registry-driven tests pass per model."""

FROZEN_BY_DESIGN: dict[str, tuple[str, ...]] = {"effort": ("U_residual", "S_residual", "V_residual")}
"""Models that train only part of themselves: the parameter names (last component) that train,
besides the head; every other model trains every parameter."""


def trains(model_name: str, parameter_name: str) -> bool:
    """Whether ``parameter_name`` of a ``model_name`` model is meant to receive gradients."""
    if model_name not in FROZEN_BY_DESIGN:
        return True
    leaf = parameter_name.rsplit(".", 1)[-1]
    return parameter_name.startswith("head.") or leaf in FROZEN_BY_DESIGN[model_name]
