"""Reading weights files and loading them strictly, shared by the model families that take local
ImageNet weights (build first, load second; errors name the file and the first bad key)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from fakescan.errors import CheckpointMismatchError

__all__ = ["load_matching", "load_state_file"]


def load_state_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state_dict from ``.safetensors`` or a PyTorch file, never unpickling arbitrary objects.

    A checkpoint that wraps its weights (``{"state_dict": ...}`` or ``{"model": ...}``) is unwrapped.

    Raises:
        CheckpointMismatchError: the file is missing or holds no state_dict.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointMismatchError(f"{path}: weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: object = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CheckpointMismatchError(f"{path}: not a loadable weights file ({first})") from error
    for key in ("state_dict", "model"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointMismatchError(f"{path}: holds no state_dict of tensors")
    return dict(state)


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
    model keeps its own (``strict_head=True`` demands it too).

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
