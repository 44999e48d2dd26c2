"""Checkpoints that rebuild their model, and training state for ``--resume``.

A **checkpoint** is two files side by side::

    NAME.safetensors   the model's state_dict (safetensors: no pickle, nothing executes on load)
    NAME.json          the sidecar: how to rebuild and use the model (:class:`CheckpointMeta`)

The sidecar holds the registry name and constructor arguments, the input preprocessing
(:class:`~fakescan.models.output.InputConfig`), class names, optional spectrum statistics, the
fingerprint and list file of the training videos, the validation-calibrated decision threshold,
validation metrics, epoch/step, the fakescan version and the SHA-256 of the weights file.
:func:`load_checkpoint` rebuilds the model with :func:`fakescan.models.create` and loads the weights
strictly; anything that does not fit raises :class:`~fakescan.errors.CheckpointMismatchError` with
one line naming the file and the problem.

**Training state** (optimiser, scheduler, RNGs, early stopping, optional model weights) uses the
same pair of files: tensors in ``NAME.safetensors``, everything else in ``NAME.json``, where a
tensor's place in the state tree holds ``{"__tensor__": key}``.

Both writers write the weights first and the JSON last, each through a temporary name renamed into
place, so a crash never leaves a JSON next to a partial weights file; a JSON left next to newer
weights (a crash between the two renames) is caught by the hash check.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fakescan._atomic import atomic_write_bytes, atomic_write_text
from fakescan.errors import CheckpointMismatchError, ConfigError, InputError
from fakescan.models.output import InputConfig
from fakescan.ops.spectrum import LogSpectrum, SpectrumStats

__all__ = [
    "BEST_NAME",
    "CHECKPOINT_FORMAT",
    "TRAINING_STATE_FORMAT",
    "CheckpointMeta",
    "TrainingProvenance",
    "TrainingState",
    "capture_rng_state",
    "checkpoint_paths",
    "crop_size_for",
    "detector_for",
    "load_checkpoint",
    "load_training_state",
    "margin_for",
    "read_checkpoint_meta",
    "resolve_checkpoint",
    "restore_rng_state",
    "save_checkpoint",
    "save_training_state",
    "update_checkpoint_meta",
]

CHECKPOINT_FORMAT = "fakescan-checkpoint/1"
TRAINING_STATE_FORMAT = "fakescan-training-state/1"
WEIGHTS_SUFFIX = ".safetensors"
META_SUFFIX = ".json"
BEST_NAME = "best"
"""A run folder's checkpoint stem: a folder given as a checkpoint means ``FOLDER/best``."""


def _default_version() -> str:
    from fakescan import __version__

    return __version__


def _count(number: int, noun: str) -> str:
    """``"1 video"``, ``"2 videos"``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


@dataclass(frozen=True)
class TrainingProvenance:
    """What a checkpoint's model was trained on, as ``fakescan train`` found it (sidecar ``training_data``).

    Attributes:
        datasets: the data set names of the training and validation crops (``"ffpp"``, …).
        methods: the forgery methods among the training crops (``"real"`` excluded), sorted.
        pseudo_fakes: ``"none"``, or ``"sbi"`` when self-blended fakes of the real crops were added.
        detector: the face detector the training crops were cut with (from each video folder's
            extraction record, ``_extract.json``); ``None`` when no record says (packed shards,
            crops made by other tools). Several detectors are joined with ``+``.
        crop_size: the side the training crops were extracted at, ``None`` when unknown.
        synthetic: the crops were cut from a ``fakescan synth`` (or ``fakescan demo``) data set,
            whose fakes are graphics manipulations of a few people: such a model's verdicts on real
            videos mean nothing.
        videos, crops: training videos and crops.
    """

    datasets: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    pseudo_fakes: str = "none"
    detector: str | None = None
    crop_size: int | None = None
    synthetic: bool = False
    videos: int = 0
    crops: int = 0

    def describe(self) -> str:
        """One phrase for people.

        >>> seen = TrainingProvenance(("ffpp",), ("Deepfakes", "FaceSwap"), "sbi", "hog", 256, False, 10, 320)
        >>> seen.describe()
        'ffpp (10 videos, 320 crops): real, Deepfakes, FaceSwap + SBI pseudo-fakes; faces by hog at 256 px'
        """
        methods = ", ".join(("real", *self.methods))
        if self.pseudo_fakes != "none":
            methods += f" + {self.pseudo_fakes.upper()} pseudo-fakes"
        names = ", ".join(self.datasets) or "unnamed data"
        text = f"{names} ({_count(self.videos, 'video')}, {_count(self.crops, 'crop')}): {methods}"
        if self.detector:
            text += f"; faces by {self.detector}" + (f" at {self.crop_size} px" if self.crop_size else "")
        return text + ("; synthetic forgeries (fakescan synth)" if self.synthetic else "")

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> TrainingProvenance:
        """Parse the sidecar's ``training_data`` object; unknown keys are ignored.

        Raises:
            ValueError: not an object, or a field of the wrong type.
        """
        if not isinstance(data, Mapping):
            raise ValueError("training_data is not an object")
        try:
            size = data.get("crop_size")
            return cls(
                datasets=tuple(str(v) for v in data.get("datasets", ())),
                methods=tuple(str(v) for v in data.get("methods", ())),
                pseudo_fakes=str(data.get("pseudo_fakes", "none")),
                detector=None if data.get("detector") is None else str(data["detector"]),
                crop_size=None if size is None else int(size),
                synthetic=bool(data.get("synthetic", False)),
                videos=int(data.get("videos", 0)),
                crops=int(data.get("crops", 0)),
            )
        except (TypeError, ValueError) as error:
            raise ValueError(f"malformed training_data ({error})") from None


@dataclass(frozen=True)
class CheckpointMeta:
    """What a checkpoint's JSON sidecar says about its model.

    Attributes:
        model: registry name (:func:`fakescan.models.list_models`).
        model_kwargs: keyword arguments of :func:`fakescan.models.create` besides the name, e.g.
            ``{"num_classes": 1, "image_size": 256, "drop_rate": 0.5}``; JSON values only.
            A ``pretrained`` weights path is recorded but not used on load.
        input_cfg: preprocessing the model expects; :func:`save_checkpoint` takes the model's own
            ``input_cfg`` when this is ``None``.
        class_names: output classes; ``("real", "fake")`` for a single real/fake logit.
        spectrum_stats: training-set statistics of the spectrum input, for models that use them.
        train_videos_digest: :func:`fakescan.data.datasets.index.video_digest` of the training videos.
        train_videos_list: file name of the list of training videos saved beside the checkpoint.
        threshold: decision threshold calibrated on validation (fake iff probability >= threshold).
        grayscale: the model was trained on grayscale images (replicated to three channels), so
            inputs must be converted the same way.
        val_metrics: validation metrics of this checkpoint (name → number or ``None``).
        epoch, step: when it was saved.
        fakescan_version: the version that wrote it.
        weights_sha256: SHA-256 of the ``.safetensors`` file, filled in by :func:`save_checkpoint`.
        face_crop: how the faces this model expects were cut, when known: ``margin`` (crop side /
            face box's longer side), ``detector``, ``faces`` (``"max"``, ``"one"``, ``"all"``) and a
            ``note``; ``predict`` takes the margin from here unless ``--margin`` is given.
        source: for a checkpoint made by ``fakescan import``: ``family``, the original ``file`` name,
            its ``sha256``, the ``licence`` and ``licence_url`` as published, the ``reference``
            repository and ``reference_files``, the reference's ``output`` convention
            (``"softmax"``/``"sigmoid"``, ``fake_index``) and its ``video_score`` rule.
        calibration: for a threshold set by ``fakescan calibrate``: the data, split, rule and counts.
        training_data: what the model was trained on (:class:`TrainingProvenance`); ``None`` in
            checkpoints written before fakescan recorded it.
        real_log_spectrum: the mean log-spectrum of real training faces as the model sees them
            (:func:`fakescan.ops.spectrum.mean_log_spectrum`), which explanations compare a face
            with; ``None`` in checkpoints written before fakescan kept it.
    """

    model: str
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    input_cfg: InputConfig | None = None
    class_names: tuple[str, ...] = ("real", "fake")
    spectrum_stats: SpectrumStats | None = None
    train_videos_digest: str | None = None
    train_videos_list: str | None = None
    threshold: float = 0.5
    grayscale: bool = False
    val_metrics: Mapping[str, float | None] = field(default_factory=dict)
    epoch: int = 0
    step: int = 0
    fakescan_version: str = field(default_factory=_default_version)
    weights_sha256: str = ""
    face_crop: Mapping[str, Any] | None = None
    source: Mapping[str, Any] | None = None
    calibration: Mapping[str, Any] | None = None
    training_data: TrainingProvenance | None = None
    real_log_spectrum: LogSpectrum | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """The sidecar's content (with its format tag)."""
        out: dict[str, Any] = {"format": CHECKPOINT_FORMAT}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, LogSpectrum):
                value = {**asdict(value), "values": [list(row) for row in value.values]}
            elif isinstance(value, (InputConfig, SpectrumStats, TrainingProvenance)):
                value = asdict(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[item.name] = value
        return out

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> CheckpointMeta:
        """Parse a sidecar; unknown keys (from a newer fakescan) are ignored.

        Raises:
            ValueError: not a fakescan checkpoint sidecar, or a field of the wrong shape.
        """
        if data.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"not a {CHECKPOINT_FORMAT} sidecar (format {data.get('format')!r})")
        if not isinstance(data.get("model"), str):
            raise ValueError("the sidecar names no model")
        values = {item.name: data[item.name] for item in fields(cls) if item.name in data}
        try:
            if values.get("input_cfg") is not None:
                cfg = values["input_cfg"]
                values["input_cfg"] = InputConfig(
                    image_size=int(cfg["image_size"]),
                    mean=tuple(float(v) for v in cfg["mean"]),  # type: ignore[arg-type]
                    std=tuple(float(v) for v in cfg["std"]),  # type: ignore[arg-type]
                    kind=cfg.get("kind", "rgb"),
                )
            if values.get("spectrum_stats") is not None:
                stats = values["spectrum_stats"]
                values["spectrum_stats"] = SpectrumStats(
                    mean=tuple(stats["mean"]), std=tuple(stats["std"]), count=int(stats.get("count", 0))
                )
            if values.get("training_data") is not None:
                values["training_data"] = TrainingProvenance.from_json_dict(values["training_data"])
            if values.get("real_log_spectrum") is not None:
                reference = values["real_log_spectrum"]
                values["real_log_spectrum"] = LogSpectrum(
                    values=tuple(tuple(float(v) for v in row) for row in reference["values"]),
                    count=int(reference.get("count", 0)),
                    image_size=int(reference.get("image_size", 0)),
                )
            if "class_names" in values:
                values["class_names"] = tuple(str(name) for name in values["class_names"])
            if not isinstance(values.get("model_kwargs", {}), Mapping):
                raise ValueError("model_kwargs is not an object")
            for name in ("face_crop", "source", "calibration"):
                if values.get(name) is not None and not isinstance(values[name], Mapping):
                    raise ValueError(f"{name} is not an object")
            if "threshold" in values:
                values["threshold"] = _probability(values["threshold"], "threshold")
            return cls(**values)
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed sidecar field ({error})") from None


def _probability(value: Any, name: str) -> float:
    """``value`` as a float in [0, 1]; a ValueError naming ``name`` if it is not one (NaN included).

    >>> _probability(0.25, "threshold")
    0.25
    >>> _probability("high", "threshold")
    Traceback (most recent call last):
    ...
    ValueError: threshold must be a number in [0, 1], got 'high'
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")  # NaN fails the range too
    return float(value)


def detector_for(meta: CheckpointMeta, given: str | None = None) -> str:
    """The face detector to predict with: ``given`` when set, else the one the model's training
    crops were cut with (``training_data.detector``, when it names one), else
    :data:`fakescan.data.faces.DEFAULT_DETECTOR` (checkpoints that do not record it).

    >>> meta = CheckpointMeta("cnn", training_data=TrainingProvenance(detector="hog"))
    >>> detector_for(meta), detector_for(meta, "haar"), detector_for(CheckpointMeta("cnn"))
    ('hog', 'haar', 'blazeface-full')
    """
    from fakescan.data.faces import DEFAULT_DETECTOR

    if given is not None:
        return given
    recorded = meta.training_data.detector if meta.training_data is not None else None
    return recorded if recorded and "+" not in recorded else DEFAULT_DETECTOR


def crop_size_for(meta: CheckpointMeta, given: int | None = None) -> int:
    """The side to cut faces at before resizing them to the model's input: ``given`` when set,
    else the size an imported checkpoint's ``face_crop`` records, else the side the model's training
    crops were extracted at (``training_data.crop_size``), else
    ``fakescan extract``'s default (256).

    >>> meta = CheckpointMeta("cnn", training_data=TrainingProvenance(crop_size=128))
    >>> crop_size_for(meta), crop_size_for(meta, 320), crop_size_for(CheckpointMeta("cnn"))
    (128, 320, 256)
    """
    from fakescan.data.extract import ExtractConfig

    if given is not None:
        return given
    if meta.face_crop and meta.face_crop.get("size"):  # an imported checkpoint: its reference's size
        return int(meta.face_crop["size"])
    recorded = meta.training_data.crop_size if meta.training_data is not None else None
    return recorded or ExtractConfig.size


def margin_for(meta: CheckpointMeta, given: float | None = None) -> float:
    """The crop side as a multiple of the face box's long side: ``given`` when set, else the margin
    an imported checkpoint's ``face_crop`` records (its reference's), else ``fakescan extract``'s
    default (1.3).

    >>> margin_for(CheckpointMeta("cnn", face_crop={"margin": 1.25})), margin_for(CheckpointMeta("cnn"))
    (1.25, 1.3)
    """
    from fakescan.data.extract import ExtractConfig

    if given is not None:
        return given
    if meta.face_crop and meta.face_crop.get("margin"):
        return float(meta.face_crop["margin"])
    return ExtractConfig.margin


def checkpoint_paths(path: str | Path) -> tuple[Path, Path]:
    """``(weights, sidecar)`` for a checkpoint given by its stem, its ``.safetensors`` or its ``.json``;
    a folder (a run folder, or one ``fakescan import`` wrote) means its :data:`BEST_NAME` checkpoint.

    >>> [str(p) for p in checkpoint_paths("runs/best.json")]
    ['runs/best.safetensors', 'runs/best.json']
    """
    path = Path(path)
    if path.is_dir():
        path = path / BEST_NAME
    if path.suffix in (WEIGHTS_SUFFIX, META_SUFFIX):
        path = path.with_suffix("")
    return path.with_name(path.name + WEIGHTS_SUFFIX), path.with_name(path.name + META_SUFFIX)


BEST_STEM = "best"
"""The stem of the checkpoint ``fakescan train`` chooses on validation, in its run folder."""


def _is_checkpoint_sidecar(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("format") == CHECKPOINT_FORMAT
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return False


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint a ``--model`` value names: a run folder means its ``best`` checkpoint.

    A path that is not a folder is returned as it is (a stem, ``.safetensors``, ``.json`` or
    ``.onnx``). A folder with ``best.json`` gives ``FOLDER/best``; otherwise the folder's one
    checkpoint, or its one sub-folder's ``best`` (``runs/demo`` → ``runs/demo/run/best``).

    Raises:
        InputError: a folder with no checkpoint, or with several (naming them: use ``RUN/best``).
    """
    path = Path(path)
    if not path.is_dir():
        return path
    if (path / f"{BEST_STEM}{META_SUFFIX}").is_file():
        return path / BEST_STEM
    found = sorted(p.with_suffix("") for p in path.glob(f"*{META_SUFFIX}") if _is_checkpoint_sidecar(p))
    found += sorted(p.parent / BEST_STEM for p in path.glob(f"*/{BEST_STEM}{META_SUFFIX}"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(
            path, "a folder without a checkpoint: give a training run folder (with best.json) or a checkpoint"
        )
    names = ", ".join(p.relative_to(path).as_posix() for p in found[:3]) + (", …" if len(found) > 3 else "")
    raise InputError(path, f"holds {len(found)} checkpoints ({names}): name one, e.g. {found[0]}")


# --------------------------------------------------------------------------------------------------
# Model checkpoints


def _state_tensors(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CPU, contiguous copies safe for safetensors (which refuses tensors that share memory)."""
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for name, value in state.items():
        tensor = value.detach().cpu().contiguous()
        if tensor.untyped_storage().data_ptr() in seen and tensor.numel():
            tensor = tensor.clone()
        seen.add(tensor.untyped_storage().data_ptr())
        out[name] = tensor
    return out


def _unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside DDP/DataParallel and ``torch.compile`` wrappers."""
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):
            model = model._orig_mod
        else:
            return model


def _check_jsonable(what: str, value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, default=lambda v: str(v) if isinstance(v, Path) else _fail(v)))
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{what} must hold JSON values only: {error}") from None


def _fail(value: Any) -> Any:
    raise TypeError(f"a {type(value).__name__} ({value!r}) is not a JSON value")


def save_checkpoint(path_stem: str | Path, model: nn.Module, meta: CheckpointMeta) -> CheckpointMeta:
    """Write ``PATH_STEM.safetensors`` (weights) and then ``PATH_STEM.json`` (sidecar), atomically.

    Args:
        path_stem: the checkpoint's path without suffix (a ``.safetensors``/``.json`` suffix is dropped).
        model: the model; its ``state_dict`` is saved (a DDP/DataParallel or ``torch.compile``
            wrapper is looked through, so the keys are those of the bare model).
        meta: the sidecar; ``weights_sha256`` is filled in here, and ``input_cfg`` from
            ``model.input_cfg`` when not given.

    Returns:
        The meta as written.

    Raises:
        ConfigError: ``meta.model_kwargs`` or ``meta.val_metrics`` hold non-JSON values.
    """
    weights_path, meta_path = checkpoint_paths(path_stem)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save

    model_kwargs = _check_jsonable("model_kwargs", dict(meta.model_kwargs))
    for name in ("face_crop", "source", "calibration"):
        if getattr(meta, name) is not None:
            meta = replace(meta, **{name: _check_jsonable(name, dict(getattr(meta, name)))})
    val_metrics = _check_jsonable("val_metrics", {k: _finite_or_none(v) for k, v in meta.val_metrics.items()})
    model = _unwrap(model)
    data = save(_state_tensors(model.state_dict()), metadata={"fakescan_model": meta.model})
    input_cfg = meta.input_cfg or getattr(model, "input_cfg", None)
    meta = replace(
        meta,
        model_kwargs=model_kwargs,
        val_metrics=val_metrics,
        input_cfg=input_cfg,
        weights_sha256=hashlib.sha256(data).hexdigest(),
    )
    atomic_write_bytes(weights_path, data)
    atomic_write_text(meta_path, json.dumps(meta.to_json_dict(), indent=2, allow_nan=False) + "\n")
    return meta


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def read_checkpoint_meta(path: str | Path) -> CheckpointMeta:
    """Read a checkpoint's sidecar without touching its weights (a run folder: its ``best``).

    Raises:
        InputError: the sidecar does not exist (or a folder holds no single checkpoint).
        CheckpointMismatchError: the sidecar is not valid JSON or not a fakescan checkpoint sidecar.
    """
    _, meta_path = checkpoint_paths(resolve_checkpoint(path))
    try:
        text = meta_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(meta_path, "checkpoint sidecar not found") from None
    except OSError as error:
        raise InputError(meta_path, f"cannot read the checkpoint sidecar ({error.strerror})") from None
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("top level is not an object")
        return CheckpointMeta.from_json_dict(data)
    except (UnicodeDecodeError, ValueError) as error:
        raise CheckpointMismatchError(f"{meta_path}: unreadable checkpoint sidecar ({error})") from None


def update_checkpoint_meta(path: str | Path, **changes: Any) -> CheckpointMeta:
    """Rewrite a checkpoint's sidecar with ``changes`` (e.g. ``threshold``, ``val_metrics``),
    atomically; the weights file is checked against the sidecar's hash first and left as it is.

    Raises:
        InputError, CheckpointMismatchError: as :func:`read_checkpoint_meta`, and a weights file
            that is missing or does not match the sidecar's hash.
        ConfigError: a change that is not a field, or that holds non-JSON values.
    """
    weights_path, meta_path = checkpoint_paths(path)
    meta = read_checkpoint_meta(meta_path)
    _read_weights(weights_path, meta.weights_sha256 or None)
    allowed = {f.name for f in fields(CheckpointMeta)} - {"weights_sha256", "model", "model_kwargs"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ConfigError(f"cannot change the sidecar field {unknown[0]!r}")
    if "threshold" in changes:
        try:
            changes["threshold"] = _probability(changes["threshold"], "threshold")
        except ValueError as error:
            raise ConfigError(str(error)) from None
    if "val_metrics" in changes:
        changes["val_metrics"] = {k: _finite_or_none(v) for k, v in dict(changes["val_metrics"]).items()}
    meta = replace(meta, **changes)
    document = _check_jsonable("the sidecar", meta.to_json_dict())
    atomic_write_text(meta_path, json.dumps(document, indent=2, allow_nan=False) + "\n")
    return meta


def _read_weights(weights_path: Path, expected_sha256: str | None) -> dict[str, torch.Tensor]:
    from safetensors.torch import load

    try:
        data = weights_path.read_bytes()
    except FileNotFoundError:
        raise InputError(weights_path, "checkpoint weights file not found") from None
    if expected_sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected_sha256:
            raise CheckpointMismatchError(
                f"{weights_path}: SHA-256 {digest[:12]}… does not match the sidecar's "
                f"{expected_sha256[:12]}… (the file was changed, truncated or replaced)"
            )
    try:
        return load(data)
    except Exception as error:  # safetensors raises its own SafetensorError and others
        raise CheckpointMismatchError(
            f"{weights_path}: not a readable safetensors file ({type(error).__name__}: {error})"
        ) from None


def _describe_mismatch(model: nn.Module, state: Mapping[str, torch.Tensor]) -> str | None:
    own = model.state_dict()
    missing = [key for key in own if key not in state]
    unexpected = [key for key in state if key not in own]
    shapes = [
        f"{key} {tuple(state[key].shape)} vs {tuple(own[key].shape)}"
        for key in own
        if key in state and tuple(state[key].shape) != tuple(own[key].shape)
    ]
    problems = []
    for label, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shapes", shapes)):
        if items:
            more = f" and {len(items) - 3} more" if len(items) > 3 else ""
            problems.append(f"{label} {', '.join(items[:3])}{more}")
    return "; ".join(problems) or None


def load_checkpoint(
    path: str | Path,
    device: str | torch.device = "cpu",
    expected_model: str | None = None,
) -> tuple[nn.Module, CheckpointMeta]:
    """Rebuild a checkpoint's model and load its weights strictly.

    Args:
        path: the checkpoint's stem, ``.safetensors`` or ``.json`` path, or a run folder
            (:func:`resolve_checkpoint`).
        device: where to put the model.
        expected_model: if given, the registry name the checkpoint must be for.

    Returns:
        ``(model, meta)``; the model is in eval mode.

    Raises:
        InputError: the sidecar or the weights file does not exist.
        CheckpointMismatchError: an unreadable sidecar, a truncated or corrupt weights file, a hash
            mismatch, a model other than ``expected_model`` or one the registry cannot build, or
            weights that do not fit the model (missing/unexpected keys, other shapes).
    """
    from fakescan.models import create

    weights_path, meta_path = checkpoint_paths(resolve_checkpoint(path))
    meta = read_checkpoint_meta(meta_path)
    if expected_model is not None and meta.model != expected_model:
        raise CheckpointMismatchError(
            f"{meta_path}: a checkpoint of model {meta.model!r}, not of {expected_model!r}"
        )
    state = _read_weights(weights_path, meta.weights_sha256 or None)
    kwargs = dict(meta.model_kwargs)
    if "pretrained" in kwargs:
        kwargs["pretrained"] = None  # the checkpoint's weights replace any initial weights
    try:
        model = create(meta.model, **kwargs)
    except ConfigError as error:
        raise CheckpointMismatchError(f"{meta_path}: cannot rebuild the model ({error})") from None
    problem = _describe_mismatch(model, state)
    if problem is not None:
        raise CheckpointMismatchError(f"{weights_path}: weights do not fit model {meta.model!r} ({problem})")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise CheckpointMismatchError(
            f"{weights_path}: weights do not fit model {meta.model!r} ({first})"
        ) from None
    return model.to(device).eval(), meta


# --------------------------------------------------------------------------------------------------
# Training state


@dataclass(frozen=True)
class TrainingState:
    """What :func:`load_training_state` read back (optimiser, scheduler and model are restored in place).

    Attributes:
        epoch, step: where training stopped; resume at the next step.
        early_stopping: the early-stopping state as saved (e.g. best score, patience left).
        rng_state: the RNG states as saved (already restored unless ``restore_rng=False``).
        extra: any other state saved (e.g. a GradScaler's or a sampler's ``state_dict``).
    """

    epoch: int
    step: int
    early_stopping: dict[str, Any]
    rng_state: dict[str, Any]
    extra: dict[str, Any]


def capture_rng_state() -> dict[str, Any]:
    """The states of Python's ``random``, numpy's global RNG, torch's CPU RNG and every CUDA RNG."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Restore the states returned by :func:`capture_rng_state` (or read back from a file)."""
    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state(
            (name, np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(cached))
        )
    if "torch" in state:
        torch.set_rng_state(torch.as_tensor(state["torch"], dtype=torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        cuda = [torch.as_tensor(s, dtype=torch.uint8) for s in state["cuda"]]
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])


class _TreeEncoder:
    """Python state trees ↔ JSON plus a flat dict of tensors.

    Tensors (and numpy arrays) are stored in the tensor dict and referenced from the JSON; tuples
    and dicts with non-string keys (optimiser state is keyed by int) are tagged so they come back
    as they were.
    """

    def __init__(self) -> None:
        self.tensors: dict[str, torch.Tensor] = {}

    def encode(self, value: Any, where: str) -> Any:  # noqa: PLR0911 - one return per type
        if isinstance(value, torch.Tensor):
            key = f"t{len(self.tensors)}"
            self.tensors[key] = value.detach().cpu().contiguous().clone()
            return {"__tensor__": key}
        if isinstance(value, np.ndarray):
            key = f"t{len(self.tensors)}"
            wide = value.astype(np.int64) if value.dtype == np.uint32 else value
            self.tensors[key] = torch.from_numpy(np.ascontiguousarray(wide).copy())
            return {"__ndarray__": key, "dtype": str(value.dtype)}
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, Mapping):
            if all(isinstance(k, str) for k in value) and not any(k.startswith("__") for k in value):
                return {k: self.encode(v, f"{where}.{k}") for k, v in value.items()}
            return {
                "__items__": [
                    [self.encode(k, where), self.encode(v, f"{where}.{k}")] for k, v in value.items()
                ]
            }
        if isinstance(value, np.generic):
            return value.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise ConfigError(f"cannot save training state {where}: a {type(value).__name__} is not supported")

    def decode(self, value: Any) -> Any:  # noqa: PLR0911 - one return per tag
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "__tensor__" in value:
            return self.tensors[value["__tensor__"]]
        if "__ndarray__" in value:
            return self.tensors[value["__ndarray__"]].numpy().astype(value["dtype"])
        if "__tuple__" in value:
            return tuple(self.decode(v) for v in value["__tuple__"])
        if "__items__" in value:
            return {self.decode(k): self.decode(v) for k, v in value["__items__"]}
        return {k: self.decode(v) for k, v in value.items()}


def save_training_state(
    path: str | Path,
    optimiser: torch.optim.Optimizer,
    scheduler: Any | None,
    epoch: int,
    step: int,
    rng_state: Mapping[str, Any] | None = None,
    early_stopping: Mapping[str, Any] | None = None,
    model: nn.Module | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Write the state ``--resume`` needs: ``PATH.safetensors`` (tensors), then ``PATH.json``.

    Args:
        path: stem of the two files (a ``.safetensors``/``.json`` suffix is dropped).
        optimiser: its ``state_dict`` is saved.
        scheduler: an LR scheduler (anything with ``state_dict``) or ``None``.
        epoch, step: where training stands; resume at the next step.
        rng_state: RNG states; ``None`` captures the current ones (:func:`capture_rng_state`).
        early_stopping: the early-stopping state (JSON values, tensors or arrays).
        model: if given, its weights too, so that the state file alone resumes the run.
        extra: other state trees (e.g. ``{"scaler": scaler.state_dict(), "sampler": ...}``).

    Raises:
        ConfigError: a value that is not a tensor, an array or a JSON-like value.
    """
    from safetensors.torch import save

    weights_path, meta_path = checkpoint_paths(path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    encoder = _TreeEncoder()
    tree = {
        "optimiser": encoder.encode(optimiser.state_dict(), "optimiser"),
        "scheduler": None if scheduler is None else encoder.encode(scheduler.state_dict(), "scheduler"),
        "rng_state": encoder.encode(dict(rng_state or capture_rng_state()), "rng_state"),
        "early_stopping": encoder.encode(dict(early_stopping or {}), "early_stopping"),
        "extra": encoder.encode(dict(extra or {}), "extra"),
    }
    tensors = dict(encoder.tensors)
    if model is not None:
        state = _state_tensors(_unwrap(model).state_dict())
        tensors.update({f"model/{k}": v for k, v in state.items()})
    data = save(tensors, metadata={"format": TRAINING_STATE_FORMAT})
    document = {
        "format": TRAINING_STATE_FORMAT,
        "epoch": int(epoch),
        "step": int(step),
        "has_model": model is not None,
        "weights_sha256": hashlib.sha256(data).hexdigest(),
        "fakescan_version": _default_version(),
        "state": tree,
    }
    atomic_write_bytes(weights_path, data)
    atomic_write_text(meta_path, json.dumps(document) + "\n")


def load_training_state(
    path: str | Path,
    optimiser: torch.optim.Optimizer,
    scheduler: Any | None = None,
    model: nn.Module | None = None,
    restore_rng: bool = True,
) -> TrainingState:
    """Restore a state written by :func:`save_training_state` into ``optimiser``, ``scheduler`` and ``model``.

    Build the model and optimiser exactly as before (same parameters, same order) and move the
    model to its device first: the optimiser's state follows its parameters' devices.

    Raises:
        InputError: a file does not exist.
        CheckpointMismatchError: unreadable or corrupt files, a hash mismatch, a state that has no
            scheduler or model when one is passed, or one that does not fit the optimiser or model.
    """
    weights_path, meta_path = checkpoint_paths(path)
    try:
        document = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(meta_path, "training state not found") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise CheckpointMismatchError(f"{meta_path}: unreadable training state ({error})") from None
    if not isinstance(document, dict) or document.get("format") != TRAINING_STATE_FORMAT:
        raise CheckpointMismatchError(f"{meta_path}: not a {TRAINING_STATE_FORMAT} file")
    tensors = _read_weights(weights_path, document.get("weights_sha256"))
    encoder = _TreeEncoder()
    encoder.tensors = tensors
    try:
        tree = encoder.decode(document["state"])
    except KeyError as error:
        raise CheckpointMismatchError(f"{weights_path}: tensor {error} is missing") from None
    try:
        optimiser.load_state_dict(tree["optimiser"])
    except (ValueError, KeyError, RuntimeError) as error:
        raise CheckpointMismatchError(f"{meta_path}: optimiser state does not fit ({error})") from None
    if scheduler is not None:
        if tree["scheduler"] is None:
            raise CheckpointMismatchError(f"{meta_path}: the saved state has no scheduler")
        scheduler.load_state_dict(tree["scheduler"])
    if model is not None:
        if not document.get("has_model"):
            raise CheckpointMismatchError(f"{meta_path}: the saved state holds no model weights")
        state = {k.removeprefix("model/"): v for k, v in tensors.items() if k.startswith("model/")}
        problem = _describe_mismatch(_unwrap(model), state)
        if problem is not None:
            raise CheckpointMismatchError(f"{weights_path}: model weights do not fit ({problem})")
        _unwrap(model).load_state_dict(state, strict=True)
    if restore_rng:
        restore_rng_state(tree["rng_state"])
    return TrainingState(
        epoch=int(document["epoch"]),
        step=int(document["step"]),
        early_stopping=tree["early_stopping"],
        rng_state=tree["rng_state"],
        extra=tree["extra"],
    )
