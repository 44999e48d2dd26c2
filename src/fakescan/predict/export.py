"""``fakescan export``: a checkpoint as an ONNX model, and running that model in ONNX Runtime.

:func:`export_onnx` writes two files::

    OUT.onnx   the model, input ``images`` (``B×3×S×S``, normalised as the checkpoint's
               ``input_cfg`` says; any batch size), output ``logits`` (``B×K``)
    OUT.json   the checkpoint's sidecar (model, ``input_cfg``, threshold, class names) plus an
               ``onnx`` entry with the exported file's SHA-256, opset and source checkpoint

It uses PyTorch's ``torch.export``-based exporter (``dynamo=True``, which needs ``onnxscript``),
then runs the new model in ONNX Runtime on a batch of another size and checks that its logits
match PyTorch's within ``atol``. A model with an operator the exporter cannot translate fails with
one line naming the operator: for instance the attention network, whose cross-modality fusion
blocks call ``scaled_dot_product_attention`` on 3-D tensors, which the exporter rejects (built with
``fusion_blocks=0`` it exports). ``cnn``, ``xception`` and ``mdcsd`` export.

:func:`load_onnx_scorer` is the ``--backend onnx`` side of ``fakescan predict``; it runs float32
models and the int8 ones of :func:`fakescan.predict.quantize.quantize_onnx` alike.

Needs the ``onnx`` extra: ``pip install 'fakescan[onnx]'`` (onnx, onnxscript, onnxruntime).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fakescan._atomic import atomic_write_bytes, atomic_write_text
from fakescan.checkpoints import CheckpointMeta, checkpoint_paths, read_checkpoint_meta
from fakescan.errors import CheckpointMismatchError, ConfigError, InputError
from fakescan.scoring import fake_probability

__all__ = ["DEFAULT_OPSET", "ExportResult", "OnnxScorer", "export_onnx", "load_onnx_scorer"]

DEFAULT_OPSET = 18
INPUT_NAME = "images"
OUTPUT_NAME = "logits"
_INSTALL_HINT = "install the onnx extra: pip install 'fakescan[onnx]'"


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_onnx` wrote and how closely the exported model matches PyTorch.

    Attributes:
        onnx_path: the model; ``meta_path``: its sidecar (the checkpoint's own when they coincide).
        max_abs_diff: largest ``|logit_onnx − logit_torch|`` on the check batch (``None``: not checked).
        opset: the ONNX opset version.
    """

    onnx_path: Path
    meta_path: Path
    max_abs_diff: float | None
    opset: int


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"ONNX support needs the {module!r} package: {_INSTALL_HINT}") from None


def _root_cause(error: BaseException) -> str:
    """One line: the operator the exporter choked on (when it says) and the innermost message."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 20:
        chain.append(current)
        current = current.__cause__ or current.__context__
    text = "\n".join(str(e) for e in chain)
    operator = re.search(r"target=(torch\.ops\.[\w.]+)", text) or re.search(r"operator ([\w:.]+)", text)
    innermost = next(
        (line.strip() for e in reversed(chain) for line in str(e).splitlines() if line.strip()),
        type(chain[-1]).__name__,
    )
    where = f"operator {operator.group(1)} " if operator else ""
    return f"{where}failed ({type(chain[-1]).__name__}: {innermost[:200]})"


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the exporter's progress prints, warnings and log lines (failures still raise)."""
    loggers = [
        logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _session(model_bytes_or_path: bytes | str) -> Any:
    ort = _require("onnxruntime")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes_or_path, sess_options=options, providers=["CPUExecutionProvider"])


def export_onnx(
    checkpoint: str | Path,
    out: str | Path,
    opset: int = DEFAULT_OPSET,
    verify: bool = True,
    atol: float = 1e-4,
) -> ExportResult:
    """Export the checkpoint's model to ``out`` (``.onnx``) with a dynamic batch size, plus its sidecar.

    Args:
        checkpoint: the checkpoint (stem, ``.safetensors`` or ``.json``, or a run folder: its ``best``).
        out: the ``.onnx`` file to write; the sidecar goes beside it as ``.json``.
        opset: ONNX opset version.
        verify: run the exported model in ONNX Runtime and compare its logits with PyTorch's.
        atol: largest accepted absolute logit difference.

    Raises:
        ConfigError: ``out`` does not end in ``.onnx``, a package is missing, the model has an
            operator the exporter cannot translate (one line naming it), or outputs differ.
        InputError, CheckpointMismatchError: as :func:`fakescan.checkpoints.load_checkpoint`.
    """
    from fakescan.checkpoints import load_checkpoint, resolve_checkpoint

    checkpoint = resolve_checkpoint(checkpoint)
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise ConfigError(f"--onnx: the output file must end in .onnx, got {out}")
    _require("onnx")
    _require("onnxscript")
    model, meta = load_checkpoint(checkpoint)
    size = meta.input_cfg.image_size if meta.input_cfg else 256
    generator = torch.Generator().manual_seed(0)
    sample = torch.rand(2, 3, size, size, generator=generator) * 2 - 1
    batch = torch.export.Dim("batch", min=1, max=4096)
    try:
        with _quiet_exporter():
            program = torch.onnx.export(
                model,
                (sample,),
                None,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: batch},),
                opset_version=opset,
                dynamo=True,
                verbose=False,
            )
            data = program.model_proto.SerializeToString()
    except Exception as error:  # the exporter raises many kinds; all mean "cannot export"
        raise ConfigError(f"cannot export model {meta.model!r} to ONNX: {_root_cause(error)}") from None

    max_diff: float | None = None
    if verify:
        check = torch.rand(3, 3, size, size, generator=generator) * 2 - 1
        with torch.inference_mode():
            expected = model(check).float().numpy()
        got = _session(data).run(None, {INPUT_NAME: check.numpy()})[0]
        max_diff = float(np.abs(got - expected).max())
        if not max_diff <= atol:
            raise ConfigError(
                f"the ONNX export of {meta.model!r} does not match PyTorch: "
                f"max |Δlogit| = {max_diff:.3g} > {atol:g}"
            )

    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, data)
    meta_path = out.with_suffix(".json")
    if meta_path.resolve() != checkpoint_paths(checkpoint)[1].resolve():
        sidecar = meta.to_json_dict()
        sidecar["onnx"] = {
            "file": out.name,
            "sha256": hashlib.sha256(data).hexdigest(),
            "opset": opset,
            "source_checkpoint": str(checkpoint_paths(checkpoint)[0]),
            "max_abs_diff": max_diff,
        }
        atomic_write_text(meta_path, json.dumps(sidecar, indent=2) + "\n")
    return ExportResult(onnx_path=out, meta_path=meta_path, max_abs_diff=max_diff, opset=opset)


@dataclass(frozen=True)
class OnnxScorer:
    """Score with an exported model in ONNX Runtime: ``B×3×S×S`` images → ``B`` fake probabilities.

    Attributes:
        session: the ONNX Runtime session; ``input_name``: its input.
        precision: ``"fp32"``, or ``"int8"`` for a model quantized by
            :func:`fakescan.predict.quantize.quantize_onnx` (as its sidecar says).
    """

    session: Any
    input_name: str = INPUT_NAME
    precision: str = "fp32"

    def logits(self, images: torch.Tensor) -> np.ndarray:
        """Raw logits ``B×K``."""
        array = np.ascontiguousarray(images.detach().cpu().numpy(), dtype=np.float32)
        return self.session.run(None, {self.input_name: array})[0]

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        return fake_probability(self.logits(images))


def load_onnx_scorer(path: str | Path) -> tuple[OnnxScorer, CheckpointMeta]:
    """Open ``MODEL.onnx`` in ONNX Runtime with its sidecar ``MODEL.json`` (whose ``onnx.precision``,
    ``fp32`` unless it says otherwise, marks an int8 model).

    Raises:
        ConfigError: not an ``.onnx`` path, or onnxruntime is missing.
        InputError: the model or its sidecar is missing.
        CheckpointMismatchError: a sidecar or model that is unreadable, changed since export
            (SHA-256), or built for another input size.
    """
    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise ConfigError(f"--backend onnx needs an exported .onnx model (fakescan export), got {path}")
    if not path.is_file():
        raise InputError(path, "ONNX model not found")
    meta_path = path.with_suffix(".json")
    meta = read_checkpoint_meta(meta_path)
    data = path.read_bytes()
    try:
        entry = json.loads(meta_path.read_text(encoding="utf-8")).get("onnx", {})
        recorded, precision = entry.get("sha256"), str(entry.get("precision", "fp32"))
    except (OSError, ValueError, AttributeError):
        recorded, precision = None, "fp32"
    if recorded and hashlib.sha256(data).hexdigest() != recorded:
        raise CheckpointMismatchError(
            f"{path}: SHA-256 does not match its sidecar {meta_path.name} (the file was changed or truncated)"
        )
    try:
        session = _session(data)
    except ConfigError:
        raise
    except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph/... types
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CheckpointMismatchError(f"{path}: not a readable ONNX model ({first[:200]})") from None
    shape = session.get_inputs()[0].shape
    size = meta.input_cfg.image_size if meta.input_cfg else None
    if size is not None and len(shape) == 4 and isinstance(shape[-1], int) and shape[-1] != size:
        raise CheckpointMismatchError(
            f"{path}: the model takes {shape[-1]} px inputs, its sidecar says {size} px"
        )
    return OnnxScorer(session, session.get_inputs()[0].name, precision), meta
