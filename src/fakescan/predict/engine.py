"""``fakescan predict``: a verdict per image or video from a trained checkpoint, nothing written by default.

The pipeline per input file is the one ``fakescan extract`` uses — the same frame sampling, face
detector, followed face, margin, border and crop size (:func:`fakescan.data.extract.iter_frame_faces`)
— and then the one training and ``fakescan test`` use: each crop resized to the checkpoint's input
size and normalised with its ``InputConfig`` (:class:`~fakescan.data.transforms.EvalTransform`).
So a face goes through the same resize chain as the training crops did (cut at the extraction size,
256 px by default, then resized), not a shorter one whose pixels, and spectra, differ.
The crops of a file are scored in batches of ``batch_size``; each frame gets a fake probability,
and the file's score aggregates them (:func:`fakescan.evaluate.metrics.video_scores`):

- ``mean`` (default): the mean of the frame probabilities;
- ``confident``: the mean over the half of the frames whose probability is farthest from 0.5.

The verdict compares the score with the checkpoint's validation-calibrated threshold
(``fake`` iff ``score >= threshold``). A file in which no face was found gets the verdict
``no_face`` and no score; a file that cannot be read gets ``error`` with a one-line reason.

Backends: ``torch`` (the checkpoint, eval mode, ``torch.inference_mode``, channels-last memory
format by default) or ``onnx`` (a model written by :func:`fakescan.predict.export.export_onnx`, run
in ONNX Runtime). Both give the same probabilities within 1e-4. The torch backend can run the
model's forward pass under ``torch.autocast`` in bfloat16 (``precision="bf16"``); probabilities then
move by up to about 1e-2 (see docs/predict.md). The ONNX backend also runs int8 models, quantized
from an export and calibrated on validation crops (:func:`fakescan.predict.quantize.quantize_onnx`,
``precision="int8"``).

For job arrays, ``shard=(i, n)`` predicts only the files ``extract --shard i/n`` would take
(:func:`fakescan.data.extract.select_shard`); :func:`shard_path` names each shard's output and
:func:`merge_documents` joins the shards' ``--json`` documents into one.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import torch

from fakescan._atomic import atomic_write_text, make_output_dir
from fakescan.checkpoints import CheckpointMeta
from fakescan.data.extract import (
    ExtractConfig,
    FrameFaces,
    MediaItem,
    build_detector,
    collect_inputs,
    iter_frame_faces,
    select_shard,
)
from fakescan.data.faces import FaceDetector
from fakescan.data.transforms import EvalTransform
from fakescan.errors import ConfigError, DecodeError, InputError
from fakescan.evaluate.metrics import AGGREGATIONS, Aggregation, video_scores
from fakescan.models.output import InputConfig
from fakescan.predict.results import FrameScore, Prediction, Verdict
from fakescan.scoring import fake_probability

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "BACKENDS",
    "PRECISIONS",
    "Backend",
    "PredictConfig",
    "PredictReport",
    "Predictor",
    "Scorer",
    "TorchScorer",
    "check_precision",
    "load_predictor",
    "merge_documents",
    "predict_item",
    "prediction_rows",
    "run_prediction",
    "shard_path",
    "write_csv",
    "write_json",
]

Backend = Literal["torch", "onnx"]
BACKENDS: tuple[str, ...] = ("torch", "onnx")
Precision = Literal["fp32", "bf16", "int8"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "int8")
_INT8_HINT = (
    "write one with `fakescan export CHECKPOINT --onnx MODEL.onnx --int8-calibration VAL_CROPS`,"
    " then predict --backend onnx --model MODEL.int8.onnx"
)
CSV_FIELDS: tuple[str, ...] = (
    "path",
    "kind",
    "verdict",
    "score",
    "threshold",
    "frames_used",
    "faces_found",
    "frames_read",
    "reason",
)


# --------------------------------------------------------------------------------------------------
# Scores


class Scorer(Protocol):
    """A model ready for inference: ``B×3×S×S`` normalised float32 images → ``B`` fake probabilities."""

    def __call__(self, images: torch.Tensor) -> np.ndarray: ...


@dataclass(frozen=True)
class TorchScorer:
    """Score with a PyTorch model in eval mode under ``torch.inference_mode``.

    Attributes:
        model: the detector (already in eval mode, on ``device``).
        device: where the batches go.
        channels_last: feed channels-last input (the model's weights should be converted too).
        precision: ``"fp32"``, or ``"bf16"`` to run the forward pass under ``torch.autocast`` in
            bfloat16 (on the CPU or CUDA; the logits come back as float32).
    """

    model: nn.Module
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    channels_last: bool = True
    precision: Precision = "fp32"

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Raw logits ``B×K`` on the CPU."""
        bf16 = self.precision == "bf16"
        with torch.inference_mode(), torch.autocast(self.device.type, torch.bfloat16, enabled=bf16):
            x = images.to(self.device, non_blocking=True)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            return self.model(x).float().cpu()

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        return fake_probability(self.logits(images).numpy())


@dataclass(frozen=True)
class Predictor:
    """A loaded model and what is needed to use it.

    Attributes:
        meta: the checkpoint's sidecar (model name, ``input_cfg``, threshold, class names).
        scorer: images → fake probabilities.
        backend: ``"torch"`` or ``"onnx"``.
        model: the PyTorch model (``None`` with the ONNX backend); explanations need it.
    """

    meta: CheckpointMeta
    scorer: Scorer
    backend: Backend = "torch"
    model: nn.Module | None = None

    @property
    def input_cfg(self) -> InputConfig:
        """The preprocessing the model expects."""
        return self.meta.input_cfg or InputConfig()

    @property
    def transform(self) -> EvalTransform:
        """Crop → model input, as in validation (grayscale when the model was trained on it)."""
        return EvalTransform(self.input_cfg, grayscale=self.meta.grayscale)

    @property
    def threshold(self) -> float:
        """The validation-calibrated decision threshold (fake iff score ≥ threshold)."""
        return float(self.meta.threshold)


def check_precision(backend: str, precision: str | None) -> None:
    """Raise :class:`ConfigError` (one line) for a precision the backend cannot run.

    >>> check_precision("onnx", "int8"), check_precision("torch", "bf16"), check_precision("torch", None)
    (None, None, None)
    """
    if precision is None:
        return
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if backend == "onnx" and precision == "bf16":
        raise ConfigError("--precision bf16 needs the torch backend; the ONNX backend runs float32 or int8")
    if backend != "onnx" and precision == "int8":
        raise ConfigError(f"--precision int8 runs an int8 ONNX model with --backend onnx: {_INT8_HINT}")


def load_predictor(
    path: str | Path,
    backend: Backend = "torch",
    device: str = "cpu",
    channels_last: bool = True,
    precision: Precision | None = None,
) -> Predictor:
    """Load a checkpoint (``torch``) or an exported ``.onnx`` model and its sidecar (``onnx``).

    ``precision``: ``None`` (default) is float32 for a checkpoint and the model's own for an
    ``.onnx`` file; ``"bf16"`` (torch backend only) runs the forward pass under bfloat16 autocast;
    ``"int8"`` (ONNX backend only) asks for an int8 model and refuses a float32 one.

    Raises:
        ConfigError: an unknown backend, device or precision, bf16 with the ONNX backend, int8 with
            the torch backend, or a precision the ``.onnx`` file does not hold.
        InputError: a file is missing.
        CheckpointMismatchError: a truncated, corrupt or mismatched checkpoint or sidecar.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    check_precision(backend, precision)
    if backend == "onnx":
        from fakescan.predict.export import load_onnx_scorer

        scorer, meta = load_onnx_scorer(path)
        if precision is not None and precision != scorer.precision:
            hint = f": {_INT8_HINT}" if precision == "int8" else ""
            held = {"fp32": "a float32", "int8": "an int8"}.get(scorer.precision, scorer.precision)
            raise ConfigError(f"--precision {precision}: {path} is {held} model{hint}")
        return Predictor(meta=meta, scorer=scorer, backend="onnx")
    from fakescan.checkpoints import load_checkpoint

    try:
        target = torch.device(device)
    except RuntimeError as error:
        raise ConfigError(f"--device: {error}") from None
    if target.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: CUDA is not available here")
    model, meta = load_checkpoint(path, device=target)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return Predictor(
        meta=meta,
        scorer=TorchScorer(model, target, channels_last, precision or "fp32"),
        backend="torch",
        model=model,
    )


# --------------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class PredictConfig:
    """Settings of a prediction run.

    Attributes:
        extract: frame sampling, detector, margin, border and crop size, as for ``fakescan extract``
            (use the ``size`` the training crops were extracted at; the crops are then resized to the
            model's input size); ``all_faces`` must be off.
        batch_size: crops per forward pass (the frames of one file are batched together).
        aggregate: how frame probabilities make a file's score: ``"mean"`` or ``"confident"``.
    """

    extract: ExtractConfig = field(default_factory=ExtractConfig)
    batch_size: int = 32
    aggregate: Aggregation = "mean"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.aggregate not in AGGREGATIONS:
            raise ConfigError(f"--aggregate must be one of {', '.join(AGGREGATIONS)}, got {self.aggregate!r}")
        if self.extract.all_faces:
            raise ConfigError("prediction follows one face per file; all_faces is not supported")


@dataclass(frozen=True)
class PredictReport:
    """The outcome of a run: one :class:`Prediction` per input file (missing files first, then the rest
    in input order, folders expanded in sorted order).

    Attributes:
        predictions: the results; ``ignored``: non-media files skipped inside folders.
        model, backend, threshold, aggregate: how they were made; ``seconds``: wall time.
    """

    predictions: tuple[Prediction, ...]
    model: str
    backend: str
    threshold: float
    aggregate: str
    ignored: int = 0
    seconds: float = 0.0

    @property
    def processed(self) -> int:
        """Files that could be read."""
        return sum(p.processed for p in self.predictions)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document written by ``--json``."""
        return {
            "model": self.model,
            "backend": self.backend,
            "threshold": self.threshold,
            "aggregate": self.aggregate,
            "seconds": round(self.seconds, 3),
            "results": [p.to_dict() for p in self.predictions],
        }


# --------------------------------------------------------------------------------------------------
# One file


_NO_IMAGE = np.zeros((0, 0, 3), np.uint8)


def _failed(item: MediaItem, reason: str, threshold: float, frames_read: int = 0) -> Prediction:
    return Prediction(
        item.path, item.kind, item.key, "error", threshold=threshold, frames_read=frames_read, reason=reason
    )


def _score_crops(crops: Sequence[np.ndarray], predictor: Predictor, batch_size: int) -> np.ndarray:
    """Fake probability of each crop, in order, batches of ``batch_size``."""
    out: list[np.ndarray] = []
    for start in range(0, len(crops), batch_size):
        transform = predictor.transform
        batch = torch.stack([transform(c).image for c in crops[start : start + batch_size]])
        out.append(np.asarray(predictor.scorer(batch), dtype=np.float64).reshape(-1))
    return np.concatenate(out) if out else np.zeros(0)


def predict_item(
    item: MediaItem,
    predictor: Predictor,
    config: PredictConfig,
    detector: FaceDetector,
    keep_frames: list[FrameFaces] | None = None,
) -> Prediction:
    """Predict one file. Bad input never raises: it gives the verdict ``error`` with a reason.

    Args:
        item: the file (see :func:`fakescan.data.extract.collect_inputs`).
        predictor: the loaded model.
        config: sampling, batching and aggregation.
        detector: the face detector.
        keep_frames: if a list is given, the searched frames (with their crops) are appended to
            it, for explanations.
    """
    extract_config = config.extract
    threshold = predictor.threshold
    frames: list[FrameFaces] = []
    reason = ""
    try:
        for frame in iter_frame_faces(item, extract_config, detector):
            # Whole frames are kept only for explanations; scoring needs the crops alone.
            frames.append(frame if keep_frames is not None else replace(frame, image=_NO_IMAGE))
        if not frames:
            raise DecodeError(item.path, "no frame could be decoded")
        if len(frames) < frames[-1].sampled:
            dropped, sampled = frames[-1].sampled - len(frames), frames[-1].sampled
            reason = (
                f"{dropped} of {sampled} sampled frames could not be decoded (truncated or damaged video)"
            )
    except DecodeError as error:
        if not frames:
            return _failed(item, error.reason, threshold)
        reason = f"stopped early: {error.reason}"
    except InputError as error:
        return _failed(item, error.reason, threshold)
    except Exception as error:  # a fault of ours or of a library: one line, and go on with the next file
        first = f"{type(error).__name__}: {error}".splitlines()[0]
        return _failed(item, f"internal error ({first})", threshold, len(frames))

    with_face = [f for f in frames if f.faces]
    probs = _score_crops([f.faces[0].crop for f in with_face], predictor, config.batch_size)
    by_index = {f.index: float(p) for f, p in zip(with_face, probs, strict=True)}
    records = []
    for f in frames:
        face = f.faces[0].detection if f.faces else None
        records.append(
            FrameScore(
                index=f.index,
                timestamp=round(f.timestamp, 4),
                box=None if face is None else tuple(round(v, 1) for v in face.box),  # type: ignore[arg-type]
                detection_score=None if face is None else round(float(face.score), 4),
                probability=by_index.get(f.index),
            )
        )
    if keep_frames is not None:
        keep_frames.extend(frames)
    faces_found = sum(f.detections for f in frames)
    common = dict(
        threshold=threshold,
        frames_read=len(frames),
        frames_used=len(with_face),
        faces_found=faces_found,
        frames=tuple(records),
    )
    if not with_face:
        note = "no face found in any searched frame" + (f"; {reason}" if reason else "")
        return Prediction(item.path, item.kind, item.key, "no_face", reason=note, **common)  # type: ignore[arg-type]
    score = float(
        video_scores([item.key] * len(probs), np.zeros(len(probs)), probs, how=config.aggregate).scores[0]
    )
    verdict: Verdict = "fake" if score >= threshold else "real"
    return Prediction(item.path, item.kind, item.key, verdict, score=score, reason=reason, **common)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# A run


def run_prediction(
    inputs: Sequence[str | Path],
    predictor: Predictor,
    config: PredictConfig | None = None,
    explain_dir: str | Path | None = None,
    crops_dir: str | Path | None = None,
    on_result: Callable[[Prediction, int], None] | None = None,
    shard: tuple[int, int] | None = None,
) -> PredictReport:
    """Predict every video and image in ``inputs`` (files and folders, searched recursively).

    Args:
        inputs: files and folders.
        predictor: from :func:`load_predictor`.
        config: sampling, batching and aggregation.
        explain_dir: if given, write explanations per input into ``explain_dir/<key>/``
            (:func:`fakescan.predict.explain.explain_prediction`; needs the torch backend).
        crops_dir: if given, also write the face crops as ``crops_dir/<key>/<frame>.png``.
        on_result: called with each prediction and the number of files, as they finish.
        shard: ``(i, n)`` to predict only the i-th of n disjoint parts of the files, chosen as
            ``extract --shard`` chooses them; a missing input is reported by the one shard its
            name hashes to, so merged shards list every input once.

    Raises:
        DetectorError: the face detector cannot be built.
        ConfigError: ``explain_dir`` with the ONNX backend.
    """
    config = config or PredictConfig()
    if explain_dir is not None and predictor.model is None:
        raise ConfigError("--explain needs the PyTorch model: use --backend torch with the checkpoint")
    started = time.perf_counter()
    items, missing, ignored = collect_inputs(inputs)
    if shard is not None:
        items = select_shard(items, *shard)
        kept = {id(item) for item in select_shard([m.item for m in missing], *shard)}
        missing = [m for m in missing if id(m.item) in kept]
    detector = build_detector(config.extract)
    total = len(items) + len(missing)
    threshold = predictor.threshold
    results: list[Prediction] = []
    for result in missing:
        prediction = _failed(result.item, result.reason, threshold)
        results.append(prediction)
        if on_result:
            on_result(prediction, total)
    for item in items:
        frames: list[FrameFaces] | None = [] if (explain_dir or crops_dir) else None
        prediction = predict_item(item, predictor, config, detector, keep_frames=frames)
        if frames and crops_dir is not None:
            _write_crops(Path(crops_dir) / item.key, frames)
        if frames and explain_dir is not None and prediction.verdict != "error":
            from fakescan.predict.explain import explain_prediction

            assert predictor.model is not None
            written = explain_prediction(
                Path(explain_dir) / item.key,
                prediction,
                frames,
                predictor.model,
                predictor.input_cfg,
                grayscale=predictor.meta.grayscale,
            )
            prediction = replace(prediction, explanations=written)
        results.append(prediction)
        if on_result:
            on_result(prediction, total)
    return PredictReport(
        predictions=tuple(results),
        model=predictor.meta.model,
        backend=predictor.backend,
        threshold=threshold,
        aggregate=config.aggregate,
        ignored=ignored,
        seconds=time.perf_counter() - started,
    )


def _write_crops(folder: Path, frames: Iterable[FrameFaces]) -> None:
    from fakescan.data.images import write_image

    make_output_dir(folder)
    for frame in frames:
        for face in frame.faces:
            write_image(folder / f"{frame.index}.png", face.crop)


# --------------------------------------------------------------------------------------------------
# Output files


def prediction_rows(predictions: Iterable[Prediction]) -> list[dict[str, Any]]:
    """One flat row per file with the :data:`CSV_FIELDS` (the ``--csv`` table)."""
    rows = []
    for p in predictions:
        row = {name: getattr(p, name) for name in CSV_FIELDS}
        row["path"] = str(p.path)
        row["score"] = "" if p.score is None else round(p.score, 6)
        rows.append(row)
    return rows


def shard_path(target: str | Path, shard: tuple[int, int] | None) -> str:
    """The output file of shard ``(i, n)``: ``out.json`` → ``out.shard-i-of-n.json``; ``-`` stays ``-``.

    >>> shard_path("runs/out.json", (0, 4))
    'runs/out.shard-0-of-4.json'
    >>> shard_path("out.csv", None), shard_path("-", (1, 2))
    ('out.csv', '-')
    """
    if shard is None or str(target) == "-":
        return str(target)
    path = Path(target)
    return str(path.with_name(f"{path.stem}.shard-{shard[0]}-of-{shard[1]}{path.suffix}"))


def merge_documents(documents: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Join the ``--json`` documents of the shards of one run into one document of the same schema.

    Args:
        documents: ``(name, document)`` pairs; the name (a file) is used in error messages.

    Returns:
        The run's document: ``model``, ``backend``, ``threshold`` and ``aggregate`` as in every shard,
        ``seconds`` the sum of the shards' run times, ``results`` the shards'
        results sorted by path.

    Raises:
        InputError: a document is not a ``predict --json`` document, disagrees with the first on
            the model, backend, threshold or aggregation, or lists a file another shard lists too.
    """
    if not documents:
        raise ConfigError("--merge needs at least one shard file")
    shared = ("model", "backend", "threshold", "aggregate")
    first_name, first = documents[0]
    results: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    seconds = 0.0
    for name, doc in documents:
        if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
            raise InputError(Path(name), "not a `fakescan predict --json` document (no results list)")
        missing = [key for key in shared if key not in doc]
        if missing:
            raise InputError(Path(name), f"not a `fakescan predict --json` document (no {missing[0]})")
        for key in shared:
            if doc[key] != first[key]:
                raise InputError(
                    Path(name), f"its {key} {doc[key]!r} differs from {first_name}'s {first[key]!r}"
                )
        for result in doc["results"]:
            if not isinstance(result, dict) or not isinstance(result.get("path"), str):
                raise InputError(
                    Path(name), "a result without a path (not a `fakescan predict --json` document)"
                )
            path = result["path"]
            if path in seen:
                raise InputError(Path(name), f"{path} is also in {seen[path]} (overlapping shards)")
            seen[path] = name
            results.append(result)
        seconds += float(doc.get("seconds", 0.0))
    return {
        **{key: first[key] for key in shared},
        "seconds": round(seconds, 3),
        "results": sorted(results, key=lambda r: r["path"]),
    }


def _emit(target: str | Path, text: str) -> None:
    if str(target) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        make_output_dir(Path(target).parent)
        atomic_write_text(target, text)


def write_json(target: str | Path, report: PredictReport | dict[str, Any]) -> None:
    """Write the report (or a merged document) as JSON to a file (atomically) or to stdout (``"-"``)."""
    document = report if isinstance(report, dict) else report.to_dict()
    _emit(target, json.dumps(document, indent=2) + "\n")


def write_csv(target: str | Path, report: PredictReport) -> None:
    """Write one CSV row per file (:data:`CSV_FIELDS`) to a file (atomically) or to stdout (``"-"``)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_FIELDS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(prediction_rows(report.predictions))
    _emit(target, buffer.getvalue())
