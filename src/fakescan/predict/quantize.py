"""int8 ONNX models: static quantization of an exported model, calibrated on validation crops.

:func:`quantize_onnx` turns ``MODEL.onnx`` (written by :func:`fakescan.predict.export.export_onnx`)
into ``MODEL.int8.onnx`` with ONNX Runtime's static quantization
(``onnxruntime.quantization.quantize_static``; QDQ format, the convolutions only, int8 weights per
output channel, uint8 activations, ranges by min/max calibration). The activation ranges come from real face
crops: the validation split of a crops folder (``crops.csv``, as ``fakescan train`` takes for
``VAL_DATA``), or every image under a folder of crops (``fakescan extract`` output), each resized
and normalised as the model's sidecar says, fed in batches through a ``CalibrationDataReader``.
Never calibrate on test crops: the ranges would be fitted to the data that measures the model.

Beside the model goes its sidecar ``MODEL.int8.json``: the fp32 model's sidecar with an ``onnx``
entry that says ``"precision": "int8"``, the SHA-256 of the int8 file, the calibration folder and
crop count, and the largest probability difference from the fp32 model on the calibration crops.
Both files are written atomically. ``fakescan predict --backend onnx --model MODEL.int8.onnx`` runs
it (``--precision int8`` may be given; it must agree with the file).

Reference: B. Jacob et al., "Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference", CVPR 2018 (the affine uint8/int8 scheme ONNX Runtime implements).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fakescan._atomic import atomic_write_bytes, atomic_write_text
from fakescan.checkpoints import read_checkpoint_meta
from fakescan.errors import ConfigError, InputError
from fakescan.scoring import fake_probability

__all__ = [
    "DEFAULT_CALIBRATION_CROPS",
    "QUANTIZED_OPS",
    "QuantizeResult",
    "calibration_crops",
    "int8_path",
    "quantize_onnx",
]

DEFAULT_CALIBRATION_CROPS = 256
"""At most this many crops calibrate the activation ranges (evenly spaced over the folder)."""
QUANTIZED_OPS: tuple[str, ...] = ("Conv",)
"""The operators run in int8. The pooling and the linear head stay float32: quantizing them too
made a trained ``cnn``'s logits move 14× more (max |Δlogit| 0.031 against 0.0021, logits spread
over 0.09, on the sample crops), and the convolutions hold nearly all the work."""
_BATCH = 16
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


@dataclass(frozen=True)
class QuantizeResult:
    """What :func:`quantize_onnx` wrote.

    Attributes:
        onnx_path: the int8 model; ``meta_path``: its sidecar.
        crops: how many crops calibrated it.
        max_prob_diff: largest ``|p_int8 − p_fp32|`` over those crops.
    """

    onnx_path: Path
    meta_path: Path
    crops: int
    max_prob_diff: float


def int8_path(onnx_path: str | Path) -> Path:
    """Where the int8 model of ``onnx_path`` goes.

    >>> int8_path("runs/x/model.onnx").as_posix()
    'runs/x/model.int8.onnx'
    """
    path = Path(onnx_path)
    return path.with_name(f"{path.stem}.int8.onnx")


def calibration_crops(folder: str | Path, limit: int = DEFAULT_CALIBRATION_CROPS) -> list[Path]:
    """The crop images of ``folder`` to calibrate on: its ``val`` split when it has a ``crops.csv``,
    else every image under it; at most ``limit``, evenly spaced, in a fixed order.

    Raises:
        InputError: ``folder`` is not a folder, or has no crop to calibrate on.
    """
    from fakescan.data.datasets.index import read_crop_table

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "calibration data must be a folder of validation crops")
    table = folder / "crops.csv"
    if table.is_file():
        records = read_crop_table(table)
        paths = [folder / r.crop for r in records if r.split == "val"]
        if not paths:
            splits = ", ".join(sorted({r.split for r in records})) or "none"
            raise InputError(table, f"no crops of the val split to calibrate on (splits here: {splits})")
    else:
        paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file())
        if not paths:
            raise InputError(folder, "no crops.csv and no face crop images to calibrate on")
    if len(paths) > limit:
        paths = [paths[i] for i in np.linspace(0, len(paths) - 1, limit).round().astype(int)]
    return paths


def _batches(paths: Sequence[Path], meta: Any) -> list[np.ndarray]:
    """The crops as ``B×3×S×S`` float32 arrays, preprocessed as for prediction."""
    from fakescan.data.images import read_image
    from fakescan.data.transforms import EvalTransform
    from fakescan.models.output import InputConfig

    transform = EvalTransform(meta.input_cfg or InputConfig(), grayscale=meta.grayscale)
    images = [transform(read_image(path)).image for path in paths]
    chunks = [images[i : i + _BATCH] for i in range(0, len(images), _BATCH)]
    return [torch.stack(chunk).numpy().astype(np.float32) for chunk in chunks]


def _reader(batches: Sequence[np.ndarray], input_name: str) -> Any:
    from onnxruntime.quantization import CalibrationDataReader

    class _Crops(CalibrationDataReader):  # the base class is onnxruntime's, so it is made here
        def __init__(self) -> None:
            self._items: Iterator[np.ndarray] = iter(batches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._items, None)
            return None if batch is None else {input_name: batch}

    return _Crops()


def quantize_onnx(
    onnx_path: str | Path,
    calibration: str | Path,
    out: str | Path | None = None,
    max_crops: int = DEFAULT_CALIBRATION_CROPS,
) -> QuantizeResult:
    """Quantize the exported float32 model ``onnx_path`` to int8, calibrated on ``calibration``.

    Args:
        onnx_path: a float32 ``.onnx`` model with its sidecar (``fakescan export``).
        calibration: validation crops (:func:`calibration_crops`).
        out: the int8 model to write (default :func:`int8_path`); its sidecar goes beside it.
        max_crops: at most this many crops calibrate.

    Raises:
        ConfigError: onnxruntime is missing, ``out`` does not end in ``.onnx``, ``onnx_path`` is
            already int8, or quantization fails.
        InputError: a missing model, sidecar or calibration folder, or no crop to calibrate on.
        CheckpointMismatchError: an unreadable or changed model or sidecar.
    """
    from fakescan.predict.export import _require, _session, load_onnx_scorer

    _require("onnxruntime")
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    onnx_path = Path(onnx_path)
    out = int8_path(onnx_path) if out is None else Path(out)
    if out.suffix.lower() != ".onnx":
        raise ConfigError(f"the int8 model file must end in .onnx, got {out}")
    scorer, meta = load_onnx_scorer(onnx_path)
    if scorer.precision != "fp32":
        raise ConfigError(f"{onnx_path} is already an {scorer.precision} model; quantize the float32 export")
    if max_crops < 1:
        raise ConfigError(f"max_crops must be at least 1, got {max_crops}")
    paths = calibration_crops(calibration, max_crops)
    batches = _batches(paths, meta)

    with tempfile.TemporaryDirectory(prefix="fakescan-int8-") as tmp:
        prepared, quantized = Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
        try:
            quant_pre_process(str(onnx_path), str(prepared))
            quantize_static(
                str(prepared),
                str(quantized),
                _reader(batches, scorer.input_name),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=list(QUANTIZED_OPS),
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
            )
        except Exception as error:  # onnxruntime raises many kinds; all mean "cannot quantize"
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ConfigError(f"cannot quantize {onnx_path} to int8: {first[:200]}") from None
        data = quantized.read_bytes()

    session = _session(data)
    fp32 = np.concatenate([scorer(torch.from_numpy(b)) for b in batches])
    int8 = np.concatenate([fake_probability(session.run(None, {scorer.input_name: b})[0]) for b in batches])
    max_diff = float(np.abs(int8 - fp32).max())

    sidecar = json.loads(onnx_path.with_suffix(".json").read_text(encoding="utf-8"))
    sidecar["onnx"] = {
        **sidecar.get("onnx", {}),
        "file": out.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "precision": "int8",
        "source_onnx": str(onnx_path),
        "quantization": {
            "method": "quantize_static: QDQ, Conv only, int8 weights per channel, uint8 activations, min/max",
            "calibration": str(calibration),
            "crops": len(paths),
            "max_prob_diff_vs_fp32": max_diff,
        },
    }
    sidecar["onnx"].pop("max_abs_diff", None)  # that number was the fp32 export's
    out.parent.mkdir(parents=True, exist_ok=True)
    meta_path = out.with_suffix(".json")
    atomic_write_bytes(out, data)
    atomic_write_text(meta_path, json.dumps(sidecar, indent=2) + "\n")
    read_checkpoint_meta(meta_path)  # the sidecar stays a valid checkpoint sidecar
    return QuantizeResult(onnx_path=out, meta_path=meta_path, crops=len(paths), max_prob_diff=max_diff)
