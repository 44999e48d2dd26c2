"""Loading local ImageNet weights strictly: build first, load second; errors name the file and the first
bad key. (``fakescan.models.xception.load_pretrained`` runs the same checks on its own.)"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from fakescan.errors import CheckpointMismatchError

__all__ = ["load_matching"]


def load_matching(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    path: str | Path,
    head_prefix: str,
    family: str,
    strict_head: bool = False,
) -> None:
    """Load ``state`` (read from ``path``) into ``model``, every trunk key present with its shape.

    The classifier (keys starting with ``head_prefix``) is taken only when its shape fits, else the
    model keeps its own (``strict_head=True`` demands it too). A missing batch-norm
    ``num_batches_tracked`` counter (files written before PyTorch 0.4.1 have none) starts at 0, as
    PyTorch's own batch norm loads such files.

    Raises:
        CheckpointMismatchError: naming ``path`` and the first missing, unexpected or misshapen key
            (in the model's key order); ``family`` (``"an Xception"``) says what was expected.
    """
    state = dict(state)
    own = model.state_dict()
    if not strict_head:
        for key in [k for k in state if k.startswith(head_prefix)]:
            if key not in own or own[key].shape != state[key].shape:
                del state[key]
        for key in [k for k in own if k.startswith(head_prefix) and k not in state]:
            state[key] = own[key]
    for key in [k for k in own if k.endswith(".num_batches_tracked") and k not in state]:
        state[key] = torch.zeros_like(own[key])
    order = {key: n for n, key in enumerate(own)}
    for key in sorted(set(own) | set(state), key=lambda k: (order.get(k, len(order)), k)):
        if key not in state:
            raise CheckpointMismatchError(f"{path}: missing key {key!r} (not {family} state_dict?)")
        if key not in own:
            raise CheckpointMismatchError(f"{path}: unexpected key {key!r} (not {family} state_dict?)")
        if own[key].shape != state[key].shape:
            got, need = tuple(state[key].shape), tuple(own[key].shape)
            raise CheckpointMismatchError(f"{path}: key {key!r} has shape {got}, the model needs {need}")
    model.load_state_dict(state, strict=True)
