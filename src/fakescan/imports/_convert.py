"""Reading a published checkpoint safely, and writing it as a fakescan checkpoint."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from fakescan.checkpoints import BEST_NAME, CheckpointMeta, save_checkpoint
from fakescan.errors import CheckpointMismatchError, InputError
from fakescan.imports._base import ImportFamily

__all__ = ["TORCH_SUFFIXES", "import_checkpoint", "load_reference_file"]

TORCH_SUFFIXES: tuple[str, ...] = (".pth", ".pt", ".ckpt", ".tar", ".bin")
"""Suffixes read with ``torch.load(weights_only=True)`` (SBI publishes ``FFraw.tar``); ``.safetensors``
is read with safetensors; anything else is refused."""

_WRAPPERS: tuple[str, ...] = ("state_dict", "model", "model_state_dict", "net")


def _unwrap(state: Any) -> Any:
    """The state_dict inside a training checkpoint (``{"model": ...}``, ``{"state_dict": ...}``)."""
    for _ in range(3):  # e.g. {"state_dict": {"model": {...}}}
        if not isinstance(state, Mapping):
            return state
        inner = next((state[k] for k in _WRAPPERS if isinstance(state.get(k), Mapping)), None)
        if inner is None:
            return state
        state = inner
    return state


def load_reference_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read the state_dict of a published checkpoint, never unpickling code.

    ``.pth/.pt/.ckpt/.tar/.bin`` go through ``torch.load(weights_only=True)``, ``.safetensors``
    through safetensors. A training checkpoint's wrapper (``{"model": ...}``, ``{"state_dict": ...}``,
    with any optimiser state beside it) is unwrapped, and a ``module.`` prefix on every key
    (DataParallel) is removed.

    Raises:
        InputError: the file does not exist.
        CheckpointMismatchError: another suffix, a file that needs code to unpickle, an unreadable
            file, or one that holds something other than a state_dict of tensors; one line naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        elif suffix in TORCH_SUFFIXES:
            state = torch.load(path, map_location="cpu", weights_only=True)
        else:
            raise CheckpointMismatchError(
                f"{path}: not a weights file (expected {', '.join(TORCH_SUFFIXES)} or .safetensors)"
            )
    except CheckpointMismatchError:
        raise
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        text = str(error)
        if "Unsupported global" in text:
            name = text.split("Unsupported global:", 1)[1].split()[1] if "GLOBAL" in text else "an object"
            raise CheckpointMismatchError(
                f"{path}: holds pickled Python objects ({name.rstrip('.,')}), not only tensors; fakescan "
                "never unpickles code (save the state_dict alone, or as .safetensors)"
            ) from None
        if "Weights only load failed" in text:
            raise CheckpointMismatchError(
                f"{path}: not a readable weights file (not a PyTorch file)"
            ) from None
        first = (text.strip().splitlines() or [type(error).__name__])[0]
        raise CheckpointMismatchError(f"{path}: not a readable weights file ({first})") from None
    state = _unwrap(state)
    if not isinstance(state, Mapping) or not state:
        raise CheckpointMismatchError(f"{path}: holds no state_dict (a mapping of names to tensors)")
    bad = next(
        (k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)), None
    )
    if bad is not None:
        raise CheckpointMismatchError(f"{path}: entry {bad!r} is not a tensor; not a state_dict")
    if all(key.startswith("module.") for key in state):
        state = {key.removeprefix("module."): value for key, value in state.items()}
    return dict(state)


def _check_fits(model: torch.nn.Module, state: Mapping[str, torch.Tensor], family: ImportFamily) -> None:
    """One line naming the first key (in the reference's names) that is missing, extra or misshapen."""
    own = model.state_dict()
    for key in own:
        if key not in state:
            raise CheckpointMismatchError(
                f"missing key {family.reference_key(key)!r}: not a {family.name} checkpoint?"
            )
        if tuple(state[key].shape) != tuple(own[key].shape):
            got, need = tuple(state[key].shape), tuple(own[key].shape)
            raise CheckpointMismatchError(
                f"key {family.reference_key(key)!r} has shape {got}, {family.name} needs {need}"
            )
    extra = next((key for key in state if key not in own), None)
    if extra is not None:
        raise CheckpointMismatchError(
            f"unexpected key {family.reference_key(extra)!r}: not a {family.name} checkpoint?"
        )


def import_checkpoint(family: str | ImportFamily, file: str | Path, out_dir: str | Path) -> Path:
    """Convert the published checkpoint ``file`` of ``family`` into ``OUT_DIR/best`` (a fakescan
    checkpoint: ``best.safetensors`` + ``best.json``) and return the ``.safetensors`` path.

    The sidecar records the family's preprocessing (``input_cfg``); how the reference cut faces
    (``face_crop``, with ``size`` the model's input side: the references resize each face from the
    frame straight to it, so ``predict`` cuts at that size unless ``--crop-size`` says otherwise);
    the threshold 0.5 on the published probability (``fakescan calibrate`` changes it); and
    ``source``: the family, the file's name and SHA-256, the licence as published and the reference
    files followed. Nothing is written unless the whole file converts.

    Raises:
        ConfigError: an unknown family.
        InputError: ``file`` does not exist.
        CheckpointMismatchError: a file that is not a plain state_dict, or one of another layout:
            one line naming the file and the first missing, extra or misshapen key.
        OutputError: ``out_dir`` cannot be made.
    """
    from fakescan._atomic import make_output_dir
    from fakescan.imports import get_family
    from fakescan.models import create

    fam = get_family(family) if isinstance(family, str) else family
    file = Path(file)
    reference = load_reference_file(file)
    try:
        state = fam.convert(reference)
        model_kwargs = dict(fam.model_kwargs)
        input_cfg = fam.input_cfg()
        if fam.infer_model_kwargs is not None:
            inferred = dict(fam.infer_model_kwargs(state))
            model_kwargs.update(inferred)
            if "image_size" in inferred:  # the file's own input side
                input_cfg = dataclasses.replace(input_cfg, image_size=int(inferred["image_size"]))
        model = create(fam.model, **model_kwargs)
        _check_fits(model, state, fam)
    except CheckpointMismatchError as error:
        raise CheckpointMismatchError(f"{file}: {error}") from None
    model.load_state_dict(state, strict=True)
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    meta = CheckpointMeta(
        model=fam.model,
        model_kwargs=model_kwargs,
        input_cfg=input_cfg,
        class_names=("real", "fake"),
        threshold=0.5,
        face_crop={**fam.face_crop.to_json_dict(), "size": fam.image_size},  # cut at the input size
        source=fam.source_record(file.name, digest),
    )
    out = make_output_dir(out_dir)
    save_checkpoint(out / BEST_NAME, model, meta)
    return out / f"{BEST_NAME}.safetensors"
