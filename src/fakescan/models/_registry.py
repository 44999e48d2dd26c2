"""The model registry: builders registered by name, modules imported only when asked for.

A model file decorates one small builder function per variant with :func:`register_model`. The
table :data:`MODEL_MODULES` says which module holds which name, so :func:`create` imports only the
family it builds, and :func:`list_models` needs no import at all.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from fakescan.errors import ConfigError

__all__ = ["MODEL_MODULES", "create", "list_models", "register_model"]

MODEL_MODULES: dict[str, str] = {
    "cnn": "fakescan.models.cnn",
    "xception": "fakescan.models.xception",
    "attention_net": "fakescan.models.attention_net",
    "mdcsd": "fakescan.models.mdcsd",
    "effort": "fakescan.models.effort",
    **{f"efficientnet_b{i}": "fakescan.models.efficientnet" for i in range(5)},
}
"""Registered model names → the module that registers each."""

_DEPRECATED: dict[str, str] = {"recce": "attention_net", "md_csd": "mdcsd"}
_BUILDERS: dict[str, Callable[..., nn.Module]] = {}

Builder = TypeVar("Builder", bound=Callable[..., nn.Module])


def register_model(builder: Builder) -> Builder:
    """Register ``builder`` under its function name (a repeated name warns and replaces)."""
    name = builder.__name__
    if name in _BUILDERS and _BUILDERS[name] is not builder:
        warnings.warn(f"model {name!r} registered twice; the later one wins", stacklevel=2)
    _BUILDERS[name] = builder
    return builder


def list_models() -> list[str]:
    """Names :func:`create` accepts."""
    return sorted(MODEL_MODULES)


def create(name: str, num_classes: int = 1, image_size: int | None = None, **options: Any) -> nn.Module:
    """Build the model ``name``.

    Args:
        name: one of :func:`list_models`.
        num_classes: 1 for a real/fake logit, K for K classes.
        image_size: input side in pixels, passed to models whose layers depend on it.
        options: the builder's other keyword arguments (e.g. ``pretrained``, ``drop_rate``).

    Raises:
        ConfigError: an unknown name, or an option the model does not take.
    """
    if name in _DEPRECATED:
        warnings.warn(f"model name {name!r} is now {_DEPRECATED[name]!r}", DeprecationWarning, stacklevel=2)
        name = _DEPRECATED[name]
    if name not in MODEL_MODULES:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(list_models())}")
    importlib.import_module(MODEL_MODULES[name])
    builder = _BUILDERS[name]
    accepted = inspect.signature(builder).parameters
    if image_size is not None and "image_size" in accepted:
        options["image_size"] = image_size
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(f"model {name!r} takes no option {unknown[0]!r}; it takes: {', '.join(accepted)}")
    return builder(num_classes=num_classes, **options)
