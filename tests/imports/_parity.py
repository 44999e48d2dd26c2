"""Parity of ``fakescan import`` with a reference implementation, without the reference in CI.

A family's fixture ``tests/fixtures/imports/<family>.json`` is written once, outside CI, by
``tests/fixtures/imports/make_<family>.py``, which runs the REFERENCE code (fetched from its
repository, never copied into fakescan) and stores:

- ``keys``: ``[name, shape, dtype]`` of the reference model's ``state_dict()``, in its order;
- ``seed`` (and optional ``gain``): the weights (:func:`seeded_state` draws the same tensors on any
  machine);
- ``crops``: real face crops of the sample images (``image``: path under the samples folder,
  ``box``: ``[x0, y0, x1, y1]`` pixels), cut and resized to ``size`` by :func:`sample_crops`, with
  ``crops_sha256`` of the uint8 pixels (so a decoder that differs is reported as such);
- ``logits``: the reference's logits on those crops after ITS OWN normalisation.

In CI, :func:`check_parity` writes the seeded reference-layout file, imports it with
``fakescan import``, scores the same crops through fakescan's own preprocessing (the imported
sidecar's ``input_cfg``, :class:`~fakescan.data.transforms.EvalTransform`) and model, and compares.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "imports"
TOLERANCE = 1e-4
"""Max absolute logit difference allowed between fakescan and the reference."""

_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "int64": torch.int64}


def key_list(state: dict[str, torch.Tensor]) -> list[list[Any]]:
    """``[name, shape, dtype]`` per entry of a state_dict (what a fixture stores)."""
    return [[name, list(t.shape), str(t.dtype).removeprefix("torch.")] for name, t in state.items()]


def _draw(
    name: str, shape: Sequence[int], dtype: torch.dtype, generator: torch.Generator, gain: float = 1.0
) -> torch.Tensor:
    """One tensor of a plausible scale, so that a deep network's logits stay finite and moderate:
    matrices and kernels ``N(0, gain/fan_in)``, norm scales and running variances ``U(0.5, 1.5)``,
    other vectors ``N(0, 0.01)``, integer counters 0."""
    if not dtype.is_floating_point:  # num_batches_tracked and other counters
        return torch.zeros(shape, dtype=dtype)
    leaf = name.rsplit(".", 1)[-1]
    if leaf == "running_var":
        value = 0.5 + torch.rand(shape, generator=generator, dtype=torch.float64)
    elif len(shape) <= 1 and leaf in ("weight", "gamma", "scale"):  # norm layers' scale
        value = 0.5 + torch.rand(shape, generator=generator, dtype=torch.float64)
    elif len(shape) <= 1:  # biases, running means, norm shifts
        value = 0.1 * torch.randn(shape, generator=generator, dtype=torch.float64)
    else:  # matrices and kernels: N(0, 1/fan_in)
        fan_in = math.prod(shape[1:]) or 1
        value = torch.randn(shape, generator=generator, dtype=torch.float64) * math.sqrt(gain / fan_in)
    return value.to(dtype)


def seeded_state(keys: Sequence[Sequence[Any]], seed: int, gain: float = 1.0) -> dict[str, torch.Tensor]:
    """The state_dict of ``keys`` (``[name, shape, dtype]``) with weights drawn from ``seed``: each
    tensor from its own CPU generator seeded by ``seed`` and its index, so identical on any machine.

    ``gain`` scales the variance of matrices and kernels: with batch norm running statistics that
    are drawn, not measured, a deep network's activations shrink or grow layer by layer, so each
    fixture picks the gain at which its logits stay moderate AND depend on the input (EfficientNet-B4:
    1.75; at 1.0 every crop gets the same logits to 4 decimals, which would test nothing)."""
    state = {}
    for index, (name, shape, dtype) in enumerate(keys):
        generator = torch.Generator().manual_seed(seed * 1_000_003 + index)
        state[name] = _draw(name, tuple(shape), _DTYPES[dtype], generator, gain)
    return state


def write_reference_checkpoint(
    path: Path, keys: Sequence[Sequence[Any]], seed: int, wrap: str | None = None, gain: float = 1.0
) -> Path:
    """Save :func:`seeded_state` as a ``torch.save`` file (inside ``{wrap: state}`` if given, as
    e.g. SBI's ``{"model": ...}``) and return ``path``."""
    state: Any = seeded_state(keys, seed, gain)
    torch.save({wrap: state} if wrap else state, path)
    return path


def sample_crops(samples: Path, crops: Sequence[dict[str, Any]], size: int) -> np.ndarray:
    """``N×size×size×3`` uint8 RGB: each ``box`` of each sample ``image`` (decoded by fakescan),
    clipped to the image, resized with OpenCV's area interpolation."""
    import cv2

    from fakescan.data.images import decode_image

    out = []
    for crop in crops:
        path = samples / crop["image"]
        image = decode_image(path.read_bytes(), path)
        x0, y0, x1, y1 = (int(v) for v in crop["box"])
        height, width = image.shape[:2]
        patch = image[max(0, y0) : min(height, y1), max(0, x0) : min(width, x1)]
        out.append(cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA))
    return np.stack(out)


def crops_digest(pixels: np.ndarray) -> str:
    """SHA-256 of uint8 crops."""
    return hashlib.sha256(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()).hexdigest()


def load_fixture(family: str) -> dict[str, Any]:
    """The fixture of ``family`` (``tests/fixtures/imports/<family>.json``)."""
    return json.loads((FIXTURES / f"{family}.json").read_text(encoding="utf-8"))


def write_fixture(family: str, document: dict[str, Any]) -> Path:
    """Write a fixture (for the ``make_<family>.py`` scripts)."""
    path = FIXTURES / f"{family}.json"
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return path


def fakescan_logits(checkpoint: Path, pixels: np.ndarray) -> np.ndarray:
    """Logits of a fakescan checkpoint on uint8 crops, through its sidecar's preprocessing."""
    from fakescan.checkpoints import load_checkpoint
    from fakescan.data.transforms import EvalTransform

    model, meta = load_checkpoint(checkpoint)
    transform = EvalTransform(meta.input_cfg, grayscale=meta.grayscale)
    batch = torch.stack([transform(p).image for p in pixels])
    with torch.inference_mode():
        return model(batch).double().numpy()


def check_parity(family: str, samples: Path, tmp_path: Path) -> float:
    """Import the seeded reference-layout checkpoint of ``family`` and compare fakescan's logits on
    the fixture's crops with the reference's; returns the max abs difference (asserted ≤ TOLERANCE).

    The fixture's optional ``gain`` is :func:`seeded_state`'s; its optional ``wrap`` (e.g.
    ``"model"``) saves the state inside ``{wrap: state}``, as the published file does; ``file_name``
    names the file written (its suffix picks the reader).
    """
    from fakescan.imports import import_checkpoint

    fixture = load_fixture(family)
    pixels = sample_crops(samples, fixture["crops"], fixture["size"])
    assert crops_digest(pixels) == fixture["crops_sha256"], "the sample crops decode differently here"
    source = write_reference_checkpoint(
        tmp_path / fixture.get("file_name", "reference.pth"),
        fixture["keys"],
        fixture["seed"],
        fixture.get("wrap"),
        fixture.get("gain", 1.0),
    )
    checkpoint = import_checkpoint(family, source, tmp_path / "imported")
    got = fakescan_logits(checkpoint, pixels)
    want = np.asarray(fixture["logits"], dtype=np.float64)
    assert got.shape == want.shape
    diff = float(np.abs(got - want).max())
    assert diff <= TOLERANCE, f"{family}: max |logit difference| {diff:.2e} > {TOLERANCE}"
    return diff
