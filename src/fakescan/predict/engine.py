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

Every face or one face (``all_faces``): by default a photo has every face scored and a video one
person followed from frame to frame, as ``extract`` follows one. With every face, all the crops of
a file are still scored in the same batches (one forward pass per ``batch_size`` crops, not one per
face); a frame's probability is the highest over its faces, and the file's score the highest over
its people (Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR 2022: the
maximum over faces) — a photo's people are its faces, a video's people are followed through the
frames by box overlap (:func:`fakescan.data.faces.tracking.follow_people`) and each scored by
aggregating its own frames as above. A person seen in fewer than ``min_person_share`` of the frames
with a face is listed but does not decide the verdict (a face the detector found once or twice
among many frames is more often a false hit than a forged person).

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

Every result says how it was made (:meth:`PredictReport.to_dict`): the fakescan version, the
checkpoint's path and SHA-256 and what it was trained on, the settings and a UTC time stamp.

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
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import torch

from fakescan._atomic import atomic_write_text, make_output_dir
from fakescan.checkpoints import CheckpointMeta, TrainingProvenance, checkpoint_paths, resolve_checkpoint
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
from fakescan.data.faces.tracking import follow_people
from fakescan.data.transforms import EvalTransform
from fakescan.errors import ConfigError, DecodeError, InputError
from fakescan.evaluate.metrics import AGGREGATIONS, Aggregation, video_scores
from fakescan.models.output import InputConfig
from fakescan.predict.results import DIGITS, FaceScore, FrameScore, PersonScore, Prediction, Verdict
from fakescan.scoring import fake_probability, resolve_device

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
    "make_report",
    "merge_documents",
    "predict_item",
    "prediction_rows",
    "run_prediction",
    "run_settings",
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
PROVENANCE_FIELDS: tuple[str, ...] = (
    "model",
    "checkpoint",
    "checkpoint_sha256",
    "detector",
    "frames",
    "crop_size",
    "backend",
    "precision",
    "fakescan_version",
    "created_utc",
)
"""The CSV columns after :data:`CSV_FIELDS`: how every row was made (the same in every row)."""


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
        path: the file the model was read from (the ``.safetensors`` or ``.onnx``), when known;
            ``sha256``: its SHA-256 (checked against the sidecar on load).
    """

    meta: CheckpointMeta
    scorer: Scorer
    backend: Backend = "torch"
    model: nn.Module | None = None
    path: Path | None = None
    sha256: str = ""

    @property
    def precision(self) -> str:
        """``"fp32"`` or ``"bf16"`` (the torch backend's autocast)."""
        return str(getattr(self.scorer, "precision", "fp32"))

    @property
    def training_data(self) -> TrainingProvenance | None:
        """What the model was trained on (``None`` for checkpoints that do not record it)."""
        return self.meta.training_data

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
    device: str = "auto",
    channels_last: bool = True,
    precision: Precision | None = None,
) -> Predictor:
    """Load a checkpoint (``torch``) or an exported ``.onnx`` model and its sidecar (``onnx``).

    ``path`` may be a training run folder: its ``best`` checkpoint is used
    (:func:`fakescan.checkpoints.resolve_checkpoint`). ``device`` (torch backend): ``"auto"`` (CUDA
    when there is one, else the CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
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
    path = resolve_checkpoint(path)
    if backend == "onnx":
        from fakescan.predict.export import load_onnx_scorer

        scorer, meta = load_onnx_scorer(path)
        if precision is not None and precision != scorer.precision:
            hint = f": {_INT8_HINT}" if precision == "int8" else ""
            held = {"fp32": "a float32", "int8": "an int8"}.get(scorer.precision, scorer.precision)
            raise ConfigError(f"--precision {precision}: {path} is {held} model{hint}")
        return Predictor(meta=meta, scorer=scorer, backend="onnx", path=Path(path), sha256=_sha256(path))
    from fakescan.checkpoints import load_checkpoint

    try:
        target = resolve_device(device)  # "auto": CUDA when there is one, as in training and testing
    except RuntimeError as error:
        raise ConfigError(f"--device: {error}") from None
    model, meta = load_checkpoint(path, device=target)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return Predictor(
        meta=meta,
        scorer=TorchScorer(model, target, channels_last, precision or "fp32"),
        backend="torch",
        model=model,
        path=checkpoint_paths(path)[0],
        sha256=meta.weights_sha256 or _sha256(checkpoint_paths(path)[0]),  # verified on load when recorded
    )


def _sha256(path: str | Path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class PredictConfig:
    """Settings of a prediction run.

    Attributes:
        extract: frame sampling, detector, margin, border and crop size, as for ``fakescan extract``
            (use the ``size`` the training crops were extracted at; the crops are then resized to the
            model's input size); its ``all_faces`` must be off (``all_faces`` below decides).
        batch_size: crops per forward pass (the frames of one file are batched together, and
            with every face, all the faces of its frames).
        aggregate: how frame probabilities make a file's score (and, with every face, a video
            person's score): ``"mean"`` or ``"confident"``.
        all_faces: score every face (``True``) or one face per frame, the followed person
            (``False``); ``None`` (default): every face in images, one followed person in videos.
            A photo costs one model call per face, so it gets every face; a video would cost that
            for each of its frames, and its training crops, as ``extract`` cuts them, follow one person.
        min_person_share: with every face in a video, a person counts in the file's verdict when
            seen in at least this share of the frames with a face (the person seen most always counts).
    """

    extract: ExtractConfig = field(default_factory=ExtractConfig)
    batch_size: int = 32
    aggregate: Aggregation = "mean"
    all_faces: bool | None = None
    min_person_share: float = 0.25

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.aggregate not in AGGREGATIONS:
            raise ConfigError(f"--aggregate must be one of {', '.join(AGGREGATIONS)}, got {self.aggregate!r}")
        if self.extract.all_faces:
            raise ConfigError(
                "set PredictConfig.all_faces, not extract.all_faces (prediction follows people)"
            )
        if not 0.0 <= self.min_person_share <= 1.0:
            raise ConfigError(f"min_person_share must be in [0, 1], got {self.min_person_share}")

    def every_face(self, kind: str) -> bool:
        """Whether a file of this ``kind`` (``"image"``, ``"video"``, ...) gets every face scored.

        >>> PredictConfig().every_face("image"), PredictConfig().every_face("video")
        (True, False)
        >>> PredictConfig(all_faces=False).every_face("image")
        False
        """
        return kind == "image" if self.all_faces is None else self.all_faces


def _version() -> str:
    from fakescan import __version__

    return __version__


def _utc_now() -> str:
    """The current UTC time, ISO 8601 to the second: ``2026-12-02T07:40:00Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class PredictReport:
    """The outcome of a run: one :class:`Prediction` per input file (missing files first, then the rest
    in input order, folders expanded in sorted order).

    Attributes:
        predictions: the results; ``ignored``: non-media files skipped inside folders.
        model, backend, threshold, aggregate: how they were made; ``seconds``: wall time.
        checkpoint, checkpoint_sha256: the model file (``.safetensors`` or ``.onnx``) and its SHA-256.
        training_data: what the model was trained on, when its sidecar says.
        settings: the run's settings (:func:`run_settings`).
        fakescan_version: the version that predicted; ``created_utc``: when the run ended (ISO 8601).
    """

    predictions: tuple[Prediction, ...]
    model: str
    backend: str
    threshold: float
    aggregate: str
    ignored: int = 0
    seconds: float = 0.0
    checkpoint: str = ""
    checkpoint_sha256: str = ""
    training_data: TrainingProvenance | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    fakescan_version: str = field(default_factory=_version)
    created_utc: str = field(default_factory=_utc_now)

    @property
    def processed(self) -> int:
        """Files that could be read."""
        return sum(p.processed for p in self.predictions)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document written by ``--json`` (and answered by ``fakescan serve``)."""
        return {
            "model": self.model,
            "backend": self.backend,
            "threshold": round(self.threshold, DIGITS),
            "aggregate": self.aggregate,
            "seconds": round(self.seconds, 3),
            "fakescan_version": self.fakescan_version,
            "created_utc": self.created_utc,
            "checkpoint": {
                "path": self.checkpoint,
                "sha256": self.checkpoint_sha256,
                "training_data": None if self.training_data is None else asdict(self.training_data),
            },
            "settings": dict(self.settings),
            "results": [p.to_dict() for p in self.predictions],
        }

    def provenance_row(self) -> dict[str, Any]:
        """The :data:`PROVENANCE_FIELDS` of every CSV row."""
        return {
            "model": self.model,
            "checkpoint": self.checkpoint,
            "checkpoint_sha256": self.checkpoint_sha256,
            "detector": self.settings.get("detector", ""),
            "frames": self.settings.get("frames", ""),
            "crop_size": self.settings.get("crop_size", ""),
            "backend": self.backend,
            "precision": self.settings.get("precision", ""),
            "fakescan_version": self.fakescan_version,
            "created_utc": self.created_utc,
        }


def run_settings(config: PredictConfig, predictor: Predictor) -> dict[str, Any]:
    """The settings a run's results depend on, as JSON values (``settings`` of the JSON document)."""
    extract = config.extract
    return {
        "frames": extract.frames,
        "detector": extract.detector,
        "detect_size": extract.detect_max_side,
        "crop_size": extract.size,
        "margin": extract.margin,
        "border": extract.border,
        "aggregate": config.aggregate,
        "batch_size": config.batch_size,
        "backend": predictor.backend,
        "precision": predictor.precision,
    }


def make_report(
    predictions: Sequence[Prediction],
    predictor: Predictor,
    config: PredictConfig,
    seconds: float,
    ignored: int = 0,
    checkpoint: str | None = None,
) -> PredictReport:
    """The report of ``predictions`` made by ``predictor`` with ``config``, with its provenance.

    ``checkpoint`` replaces the model file's path in the document (``fakescan serve`` names the
    file only).
    """
    return PredictReport(
        predictions=tuple(predictions),
        model=predictor.meta.model,
        backend=predictor.backend,
        threshold=predictor.threshold,
        aggregate=config.aggregate,
        ignored=ignored,
        seconds=seconds,
        checkpoint=checkpoint if checkpoint is not None else str(predictor.path or ""),
        checkpoint_sha256=predictor.sha256,
        training_data=predictor.training_data,
        settings=run_settings(config, predictor),
    )


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
    all_faces = config.every_face(item.kind)
    extract_config = replace(config.extract, all_faces=True) if all_faces else config.extract
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
    # Every face of every frame in one list, so that batches are full whatever the faces per frame.
    probs = iter(_score_crops([c.crop for f in with_face for c in f.faces], predictor, config.batch_size))
    if all_faces:
        people = follow_people([[c.detection for c in f.faces] for f in with_face])
    else:  # the followed face is one person, as extract follows it (even where it jumps to another)
        people = [[0] * len(f.faces) for f in with_face]
    scored = {
        f.index: tuple(
            FaceScore(
                face_index=c.face_index,
                person=person,
                box=tuple(round(v, 1) for v in c.detection.box),  # type: ignore[arg-type]
                detection_score=round(float(c.detection.score), 4),
                probability=float(next(probs)),
            )
            for c, person in zip(f.faces, numbers, strict=True)
        )
        for f, numbers in zip(with_face, people, strict=True)
    }
    records = []
    for f in frames:
        faces = scored.get(f.index, ())
        top = max(faces, key=lambda face: face.probability) if faces else None  # the first of equals
        records.append(
            FrameScore(
                index=f.index,
                timestamp=round(f.timestamp, 4),
                box=None if top is None else top.box,
                detection_score=None if top is None else top.detection_score,
                probability=None if top is None else top.probability,
                faces=faces,
            )
        )
    if keep_frames is not None:
        keep_frames.extend(frames)
    faces_found = sum(f.detections for f in frames)
    common: dict[str, Any] = dict(
        threshold=threshold,
        frames_read=len(frames),
        frames_used=len(with_face),
        faces_found=faces_found,
        frames=tuple(records),
        all_faces=all_faces,
    )
    if not with_face:
        note = "no face found in any searched frame" + (f"; {reason}" if reason else "")
        return Prediction(item.path, item.kind, item.key, "no_face", reason=note, **common)
    persons = _score_people(records, item.key, threshold, config)
    score = max(p.score for p in persons if p.counted)
    verdict: Verdict = "fake" if score >= threshold else "real"
    return Prediction(
        item.path, item.kind, item.key, verdict, score=score, reason=reason, people=persons, **common
    )


def _score_people(
    records: Sequence[FrameScore], key: str, threshold: float, config: PredictConfig
) -> tuple[PersonScore, ...]:
    """Each person's score (its frames' probabilities aggregated as a file's are) and whether it counts."""
    seen: dict[int, list[tuple[int, FaceScore]]] = {}
    for record in records:
        for face in record.faces:
            seen.setdefault(face.person, []).append((record.index, face))
    frames_with_face = sum(bool(r.faces) for r in records)
    most = max(len(faces) for faces in seen.values())
    persons = []
    for number in sorted(seen):
        faces = seen[number]
        probs = np.array([face.probability for _, face in faces])
        score = float(
            video_scores([key] * len(probs), np.zeros(len(probs)), probs, how=config.aggregate).scores[0]
        )
        persons.append(
            PersonScore(
                person=number,
                verdict="fake" if score >= threshold else "real",
                score=score,
                frames=tuple(index for index, _ in faces),
                box=max(faces, key=lambda pair: pair[1].probability)[1].box,
                counted=len(faces) == most or len(faces) >= config.min_person_share * frames_with_face,
            )
        )
    return tuple(persons)


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
        crops_dir: if given, also write the face crops as ``crops_dir/<key>/<frame>.png`` (with
            every face, face k ≥ 1 of a frame as ``<frame>_<k>.png``).
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
            written_crops = _write_crops(Path(crops_dir) / item.key, frames)
            prediction = replace(
                prediction,
                frames=tuple(
                    replace(f, crop=written_crops.get((f.index, _scored_face(f)))) for f in prediction.frames
                ),
            )
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
                reference=predictor.meta.real_log_spectrum,
                extract=config.extract,
            )
            prediction = replace(prediction, explanations=written)
        results.append(prediction)
        if on_result:
            on_result(prediction, total)
    return make_report(results, predictor, config, time.perf_counter() - started, ignored)


def _scored_face(frame: FrameScore) -> int:
    """The face index whose probability is the frame's (0 when the frame lists no faces)."""
    if not frame.faces:
        return 0
    return max(frame.faces, key=lambda face: face.probability).face_index


def _write_crops(folder: Path, frames: Iterable[FrameFaces]) -> dict[tuple[int, int], str]:
    """``<frame>.png`` for face 0 (the followed or the largest), ``<frame>_<k>.png`` for face k ≥ 1;
    the paths written, by ``(frame index, face index)``."""
    from fakescan.data.images import write_image

    make_output_dir(folder)
    written: dict[int, str] = {}
    for frame in frames:
        for face in frame.faces:
            name = f"{frame.index}_{face.face_index}.png" if face.face_index else f"{frame.index}.png"
            path = folder / name
            write_image(path, face.crop)
            written[(frame.index, face.face_index)] = str(path)
    return written


# --------------------------------------------------------------------------------------------------
# Output files


def prediction_rows(
    predictions: Iterable[Prediction], provenance: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """One flat row per file with the :data:`CSV_FIELDS` (the ``--csv`` table), followed by
    ``provenance`` (:meth:`PredictReport.provenance_row`) when given."""
    rows = []
    for p in predictions:
        row = {name: getattr(p, name) for name in CSV_FIELDS}
        row["path"] = str(p.path)
        row["score"] = "" if p.score is None else round(p.score, DIGITS)
        row["threshold"] = round(p.threshold, DIGITS)
        rows.append({**row, **(provenance or {})})
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
        The run's document: ``model``, ``backend``, ``threshold``, ``aggregate``, ``settings``,
        ``checkpoint`` and ``fakescan_version`` as in the first shard, ``created_utc`` the latest
        shard's, ``seconds`` the sum of the shards' run times, ``results`` the shards' results
        sorted by path.

    Raises:
        InputError: a document is not a ``predict --json`` document, disagrees with the first on
            the model, backend, threshold, aggregation, settings or checkpoint SHA-256, or lists a
            file another shard lists too.
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
        for key, mine, theirs in (
            *((key, doc[key], first[key]) for key in shared),
            ("settings", doc.get("settings"), first.get("settings")),
            ("checkpoint SHA-256", _sha_of(doc), _sha_of(first)),
        ):
            if mine != theirs:
                raise InputError(Path(name), f"its {key} {mine!r} differs from {first_name}'s {theirs!r}")
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
    merged: dict[str, Any] = {**{key: first[key] for key in shared}, "seconds": round(seconds, 3)}
    stamps = [str(doc["created_utc"]) for _, doc in documents if doc.get("created_utc")]
    for key in ("fakescan_version", "checkpoint", "settings"):
        if key in first:
            merged[key] = first[key]
    if stamps:
        merged["created_utc"] = max(stamps)
    merged["results"] = sorted(results, key=lambda r: r["path"])
    return merged


def _sha_of(document: dict[str, Any]) -> Any:
    checkpoint = document.get("checkpoint")
    return checkpoint.get("sha256") if isinstance(checkpoint, dict) else None


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
    """Write one CSV row per file (:data:`CSV_FIELDS`, then :data:`PROVENANCE_FIELDS`) to a file
    (atomically) or to stdout (``"-"``)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[*CSV_FIELDS, *PROVENANCE_FIELDS], lineterminator="\n")
    writer.writeheader()
    writer.writerows(prediction_rows(report.predictions, report.provenance_row()))
    _emit(target, buffer.getvalue())
