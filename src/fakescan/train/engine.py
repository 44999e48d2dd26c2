"""The training engine: one loop for every model, checkpoint selection on validation only.

Roles as in Lightning's layering: the model (``fakescan.models``) owns its forward and parameter
groups, the losses (:mod:`fakescan.train.losses`) are functions of ``(output, batch)``, the data side
(:mod:`fakescan.data.loading`) owns datasets and loaders, and this module owns seeds, devices, the
loop, early stopping, checkpoints and logs. The engine never asks which model it runs.

Scaling out: launched by ``torchrun``, :func:`fit` joins the process group
(:mod:`fakescan.train.distributed`), trains a ``DistributedDataParallel`` model on each rank's share of
the training data, scores each rank's share of the validation data and merges the scores before any
metric, so every rank takes the same decisions; rank 0 alone writes the run folder.

Evaluation integrity is enforced here, not trusted: the validation data must come from the
validation split and share no video with the training data, crops from the test split are refused
for training or selection, and the run folder records the training videos (``train_videos.txt``) and
their digest, which every checkpoint carries so that ``fakescan test`` can refuse overlapping data.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from fakescan._atomic import atomic_write_text, make_output_dir
from fakescan.checkpoints import TrainingProvenance
from fakescan.data.datasets.index import REAL, CropRecord, read_crop_table, video_digest
from fakescan.data.loading import (
    Batch,
    CropFolderDataset,
    ShardDataset,
    make_loader,
    set_epoch,
    shard_records,
)
from fakescan.data.packing import SHARD_INDEX, class_names_of, read_shard_index
from fakescan.data.transforms import AugmentConfig, EvalTransform, TrainTransform
from fakescan.errors import ConfigError, SplitLeakError
from fakescan.models import create
from fakescan.models.output import DetectorOutput, InputConfig
from fakescan.ops.spectrum import LogSpectrum, SpectrumStats, mean_log_spectrum, spectrum_stats
from fakescan.scoring import Predictions, predict_loader, resolve_device
from fakescan.synth.pseudo import PseudoFakeDataset
from fakescan.train.config import TrainConfig, resolve_pseudo_fakes
from fakescan.train.distributed import (
    DistributedContext,
    RankSlice,
    all_gather_objects,
    init_distributed,
    merge_rank_predictions,
    shutdown_distributed,
    sum_across_ranks,
    sync_buffers,
)
from fakescan.train.losses import LossWeights, classification_loss, detector_loss

__all__ = [
    "EarlyStopping",
    "EpochLog",
    "FitResult",
    "TrainingData",
    "fit",
    "fit_real_spectrum",
    "fit_spectrum_stats",
    "gather_predictions",
    "load_training_data",
    "seed_everything",
    "train_transform",
    "training_provenance",
    "validation_loss",
]

TRAIN_VIDEOS_FILE = "train_videos.txt"
LOG_FILE = "log.csv"
VAL_SCORES_FILE = "val_scores.csv"


# --------------------------------------------------------------------------------------------------
# Seeds


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch once; with deterministic CPU kernels two runs are identical."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class TrainingData:
    """The crops a run trains and selects on, after the integrity checks.

    Attributes:
        train, val: crop records of each.
        train_root, val_root: the folders their ``crop`` paths are relative to (a crops folder, or
            the folder of packed shards).
        class_names: class index → method, shared by both (0 = real).
        train_shards, val_shards: the tar shards (:func:`fakescan.data.packing.pack_shards`) the
            crops are read from; empty when they are read from a crops folder's files.
    """

    train: list[CropRecord]
    val: list[CropRecord]
    train_root: Path
    val_root: Path
    class_names: tuple[str, ...]
    train_shards: tuple[Path, ...] = ()
    val_shards: tuple[Path, ...] = ()

    @property
    def train_videos(self) -> list[str]:
        """``dataset/video_id`` of every training video, sorted (what checkpoints record)."""
        return sorted({_namespaced(r) for r in self.train})


def _crop_source(
    folder: Path, split: str
) -> tuple[list[CropRecord], tuple[Path, ...], tuple[str, ...] | None]:
    """The crops of ``split`` in ``folder``: its packed shards (``shards.json``, the fast path) or
    its crop table; with the shards and the pack's class names when packed."""
    if (folder / SHARD_INDEX).is_file():
        index = read_shard_index(folder)
        shards = tuple(index.shard_paths(split))  # type: ignore[arg-type]
        return shard_records(shards), shards, index.class_names
    table = folder / "crops.csv"
    if not table.is_file():
        raise ConfigError(
            f"{folder}: no crops.csv or shards.json here; run `fakescan extract --dataset ...`, "
            "`fakescan prepare` or `fakescan pack` first"
        )
    return [r for r in read_crop_table(table) if r.split == split], (), None


def _namespaced(record: CropRecord) -> str:
    return f"{record.dataset}/{record.video_id}"


def load_training_data(
    train_dir: str | Path,
    val_dir: str | Path,
    train_split: str = "train",
    val_split: str = "val",
    allow_test: bool = False,
) -> TrainingData:
    """Read the crops of the training and validation folders and check they are honest.

    Each folder is a crops folder (``crops.csv``) or a folder of packed shards (``shards.json``,
    :func:`fakescan.data.packing.pack_shards`), whose samples are then streamed from the tar files:
    the fast path for large data sets (``benchmarks/bench_loading.py``). The shards' crop records
    are read once here, for the integrity checks and the run's list of training videos.

    Raises:
        ConfigError: a folder has no crop table, or no crops of the asked split.
        SplitLeakError: a validation video is also a training video, or test crops would be used for
            training or checkpoint selection (unless ``allow_test``).
    """
    train_dir, val_dir = Path(train_dir), Path(val_dir)
    for split, role in ((train_split, "training"), (val_split, "checkpoint selection")):
        if split == "test" and not allow_test:
            raise SplitLeakError(
                f"refusing to use the test split for {role}; test data is for `fakescan test`"
            )
    train, train_shards, packed_train = _crop_source(train_dir, train_split)
    val, val_shards, packed_val = _crop_source(val_dir, val_split)
    if not train:
        raise ConfigError(f"{train_dir}: no crops of split {train_split!r}")
    if not val:
        raise ConfigError(f"{val_dir}: no crops of split {val_split!r}")
    shared = {_namespaced(r) for r in train} & {_namespaced(r) for r in val}
    if shared:
        example = sorted(shared)[0]
        raise SplitLeakError(
            f"{len(shared)} video(s) are in both the training and the validation data, e.g. {example}"
        )
    names = class_names_of([*train, *val])
    packed = packed_train or packed_val
    if packed is not None:
        # Shards carry the class index of their pack: the run keeps those indices.
        if (packed_val or packed) != packed or not set(names) <= set(packed):
            raise ConfigError(
                f"{train_dir} and {val_dir}: the classes of the packed shards ({', '.join(packed)}) do not "
                f"cover those of the data ({', '.join(names)}); pack both with the same crop table"
            )
        names = packed
    return TrainingData(train, val, train_dir, val_dir, tuple(names), train_shards, val_shards)


# --------------------------------------------------------------------------------------------------
# Optimiser, schedule, penalties, early stopping


PROVENANCE_FOLDERS = 256
"""At most this many crop folders' extraction records are read for :func:`training_provenance`."""


def training_provenance(data: TrainingData, pseudo_fakes: str = "none") -> TrainingProvenance:
    """What a run trains on, for its checkpoint's sidecar (``training_data``).

    The data set names come from the training and validation crops, the methods from the training
    crops; the face detector, the crop size and whether the sources are a ``fakescan synth`` data set
    from the extraction records (``_extract.json``) of the training crops' folders (at most
    :data:`PROVENANCE_FOLDERS` of them, spread over the list), when the crops were read from a
    crops folder that has them.
    """
    from fakescan.data.extract import read_record
    from fakescan.synth.build import synthetic_root_of

    folders = sorted({str(Path(r.crop).parent) for r in data.train})
    if len(folders) > PROVENANCE_FOLDERS:
        step = len(folders) / PROVENANCE_FOLDERS
        folders = [folders[int(i * step)] for i in range(PROVENANCE_FOLDERS)]
    detectors: set[str] = set()
    sizes: set[int] = set()
    synthetic: list[bool] = []
    if not data.train_shards:
        for folder in folders:
            record = read_record(data.train_root / folder)
            if record is None:
                continue
            settings = record["config"]
            if isinstance(settings.get("detector"), str):
                detectors.add(settings["detector"])
            if isinstance(settings.get("size"), int):
                sizes.add(settings["size"])
            source = (record.get("source_stamp") or {}).get("path")
            if isinstance(source, str):
                synthetic.append(synthetic_root_of(source) is not None)
    return TrainingProvenance(
        datasets=tuple(sorted({r.dataset for r in [*data.train, *data.val]})),
        methods=tuple(sorted({r.method for r in data.train} - {REAL})),
        pseudo_fakes=pseudo_fakes,
        detector="+".join(sorted(detectors)) or None,
        crop_size=sizes.pop() if len(sizes) == 1 else None,
        synthetic=bool(synthetic) and all(synthetic),
        videos=len(data.train_videos),
        crops=len(data.train),
    )


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser of ``config.optim.optimizer`` (Adam, SGD, or SAM over SGD) over the model's
    parameter groups (its own ``param_groups(lr, wd)`` when it has one), trainable parameters only:
    a model that freezes part of itself (Effort's CLIP trunk, ``requires_grad=False``) gives the
    optimiser the rest."""
    optim = config.optim
    groups_of = getattr(model, "param_groups", None)
    groups: Any
    if callable(groups_of):
        groups = []
        for group in groups_of(optim.lr, optim.weight_decay):
            params = [p for p in group["params"] if p.requires_grad]
            if params:
                groups.append({**group, "params": params})
    else:
        groups = [p for p in model.parameters() if p.requires_grad]
    if not groups:
        raise ConfigError(f"{type(model).__name__} has no trainable parameter")
    if optim.optimizer == "adam":
        return torch.optim.Adam(groups, lr=optim.lr, weight_decay=optim.weight_decay)
    sgd = {"lr": optim.lr, "momentum": optim.momentum, "weight_decay": optim.weight_decay}
    if optim.optimizer == "sgd":
        return torch.optim.SGD(groups, **sgd)
    if optim.optimizer == "sam":
        from fakescan.train.sam import SAM

        return SAM(groups, torch.optim.SGD, rho=optim.sam_rho, **sgd)
    raise ConfigError(f"unknown optimizer {optim.optimizer!r} (choose adam, sgd or sam)")


def linear_decay_factor(epoch: int, epochs: int, start: float) -> float:
    """Learning-rate factor of the ``"linear"`` schedule: 1 up to epoch ``⌊start·epochs⌋``, then falling
    linearly so that the last epoch runs at ``1/(epochs − ⌊start·epochs⌋)`` of the base rate.

    >>> [round(linear_decay_factor(e, 8, 0.5), 2) for e in range(8)]
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25]
    """
    first = int(start * epochs)
    return 1.0 if epoch <= first else max(0.0, (epochs - epoch) / (epochs - first))


def build_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> Any:
    """The learning-rate schedule of ``config.optim.scheduler``; ``None`` for ``"none"``."""
    optim = config.optim
    if optim.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=optim.plateau_factor, patience=optim.plateau_patience
        )
    if optim.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=optim.step_size, gamma=optim.step_gamma)
    if optim.scheduler == "linear":
        if not 0 <= optim.linear_decay_start < 1:
            raise ConfigError(f"linear_decay_start must be in [0, 1), got {optim.linear_decay_start}")
        epochs, start = config.epochs, optim.linear_decay_start
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: linear_decay_factor(epoch, epochs, start)
        )
    if optim.scheduler == "none":
        return None
    raise ConfigError(f"unknown scheduler {optim.scheduler!r} (choose plateau, step, linear or none)")


def weight_penalty(model: nn.Module, l1: float, l2: float) -> torch.Tensor | None:
    """``l1·Σ|w| + l2·Σw²`` over the trainable weights of convolutions and linear layers (not biases,
    norms, nor frozen weights)."""
    if l1 == 0 and l2 == 0:
        return None
    total: torch.Tensor | None = None
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear) and module.weight.requires_grad:
            weight = module.weight
            term = l1 * weight.abs().sum() + l2 * weight.pow(2).sum()
            total = term if total is None else total + term
    return total


@dataclass
class EarlyStopping:
    """Stop after ``patience`` epochs without a lower monitored value (``patience=0``: never).

    >>> stopper = EarlyStopping(patience=2)
    >>> [stopper.update(v) for v in (1.0, 0.8, 0.9, 0.85)], stopper.should_stop
    ([True, True, False, False], True)
    """

    patience: int
    best: float = math.inf
    bad_epochs: int = 0

    def update(self, value: float) -> bool:
        """Record an epoch's value; True when it is the best so far."""
        if value < self.best:
            self.best, self.bad_epochs = value, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.patience > 0 and self.bad_epochs >= self.patience


# --------------------------------------------------------------------------------------------------
# Prediction


def _targets(batch: Batch, num_outputs: int) -> torch.Tensor:
    return batch.labels if num_outputs == 1 else batch.class_labels


def validation_loss(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """The plain classification loss of a validation batch (what checkpoint selection minimises)."""
    return classification_loss(logits, _targets(batch, logits.shape[1]))


def gather_predictions(predictions: Predictions, context: DistributedContext) -> Predictions:
    """All ranks' predictions in dataset order, on every rank (each rank scored the items that
    :class:`~fakescan.train.distributed.RankSlice` gave it); unchanged when alone."""
    if not context.enabled:
        return predictions
    columns = {name: value for name, value in predictions.__dict__.items() if name != "loss"}
    parts = all_gather_objects((columns, predictions.loss), context)
    merged = merge_rank_predictions([part for part, _ in parts])
    counts = [len(part["scores"]) for part, _ in parts]
    loss = sum(part_loss * count for (_, part_loss), count in zip(parts, counts, strict=True)) / sum(counts)
    return Predictions(**merged, loss=loss)


def _rank_slice_loader(loader: DataLoader[Any], context: DistributedContext) -> DataLoader[Any]:
    """``loader`` over this rank's :class:`RankSlice` of its dataset (no padded duplicates)."""
    if not context.enabled:
        return loader
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=RankSlice(len(loader.dataset), context.rank, context.world_size),  # type: ignore[arg-type]
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
    )


# --------------------------------------------------------------------------------------------------
# The loop


@dataclass(frozen=True)
class EpochLog:
    """One line of ``log.csv``."""

    epoch: int
    train_loss: float
    val_loss: float
    val_auc: float
    val_acc: float
    lr: float
    images_per_s: float
    seconds: float
    best: bool


@dataclass
class FitResult:
    """What :func:`fit` leaves: the run folder, the best checkpoint, and the per-epoch log."""

    run_dir: Path
    best_checkpoint: Path
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    history: list[EpochLog] = field(default_factory=list)


def _write_log(path: Path, history: Sequence[EpochLog]) -> None:
    buffer = io.StringIO()
    names = list(EpochLog.__dataclass_fields__)
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for row in history:
        writer.writerow([getattr(row, n) for n in names])
    atomic_write_text(path, buffer.getvalue())


def _train_epoch(
    model: nn.Module,
    loader: Any,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    device: torch.device,
    scaler: torch.amp.GradScaler | None,
    on_step: Callable[[int, float, float], None] | None,
) -> tuple[float, int, float]:
    """One pass over ``loader``; returns this rank's loss sum, images seen, and seconds taken.

    ``model`` is what the step calls (a ``DistributedDataParallel`` wrapper under ``torchrun``);
    ``module`` is the model itself, whose weights the L1/L2 penalty reads.
    """
    from fakescan.train.sam import SAM

    model.train()
    terms = config.loss
    weights = LossWeights(
        terms.reconstruction, terms.metric, terms.flooding, terms.orthogonality, terms.singular_value
    )
    loss_sum, seen, started = 0.0, 0, time.perf_counter()
    limit = config.data.max_steps_per_epoch
    for step, cpu_batch in enumerate(loader):
        if limit is not None and step >= limit:
            break
        batch = cpu_batch.to(device, non_blocking=True)

        def compute_loss(batch: Batch = batch) -> torch.Tensor:
            with torch.autocast(device.type, enabled=scaler is not None):
                output = model(batch.images, return_aux=True)
                assert isinstance(output, DetectorOutput)
                targets = _targets(batch, output.logits.shape[1])
                loss, _ = detector_loss(output, batch.images, targets, weights)
            penalty = weight_penalty(module, config.optim.l1, config.optim.l2)
            return loss if penalty is None else loss + penalty

        loss = compute_loss()
        if not torch.isfinite(loss):
            raise ConfigError(f"training loss became {loss.item()} at step {step}; lower the learning rate")
        optimizer.zero_grad(set_to_none=True)
        if isinstance(optimizer, SAM):  # the loss at w, then the step with the gradient at w + ε̂
            loss.backward()
            optimizer.step(lambda: _backward(compute_loss()))
        elif scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        loss_sum += loss.item() * len(batch)
        seen += len(batch)
        if on_step is not None:
            on_step(step, loss.item(), seen / max(time.perf_counter() - started, 1e-9))
    if seen == 0:
        raise ConfigError("the training data yielded no batch")
    return loss_sum, seen, time.perf_counter() - started


def _backward(loss: torch.Tensor) -> torch.Tensor:
    loss.backward()
    return loss


def _all_ranks_speed(
    on_step: Callable[[int, float, float], None], world_size: int
) -> Callable[[int, float, float], None]:
    """``on_step`` told the images per second of all ranks (rank 0's rate times their number)."""

    def report(step: int, loss: float, speed: float) -> None:
        on_step(step, loss, speed * world_size)

    return report


def _write_val_scores(path: Path, predictions: Predictions, dataset: Any, class_names: Sequence[str]) -> None:
    """The best checkpoint's validation scores, one row per crop (what its ``val_metrics`` are of)."""
    from fakescan.evaluate.metrics import FrameScores
    from fakescan.evaluate.report import write_scores_csv

    names = getattr(dataset, "class_names", None) or class_names
    methods = [names[c] for c in predictions.class_labels.tolist()]
    write_scores_csv(path, FrameScores.of_predictions(predictions, methods))


def _val_auc_acc(predictions: Predictions) -> tuple[float, float]:
    from sklearn.metrics import roc_auc_score

    labels = predictions.labels
    auc = float(roc_auc_score(labels, predictions.scores)) if len(set(labels.tolist())) == 2 else math.nan
    acc = float(((predictions.scores >= 0.5).astype(int) == labels).mean())
    return auc, acc


def _build_model(config: TrainConfig, image_size: int) -> tuple[nn.Module, dict[str, Any]]:
    kwargs: dict[str, Any] = {"num_classes": config.num_outputs, "image_size": image_size}
    if config.pretrained is not None:
        kwargs["pretrained"] = config.pretrained
    kwargs.update(config.model_options)
    model = create(config.model, **kwargs)
    # A model built from files (Effort's CLIP folder) says how to rebuild its architecture without them.
    init_kwargs = getattr(model, "init_kwargs", None)
    if callable(init_kwargs):
        kwargs.update(init_kwargs())
    return model, kwargs


def subsample_videos(records: Sequence[CropRecord], seed: int) -> list[CropRecord]:
    """The crops of an equal number of real and fake videos (the larger class subsampled by video,
    see :func:`fakescan.data.datasets.labels.balance`)."""
    from fakescan.data.datasets.index import VideoRecord
    from fakescan.data.datasets.labels import balance

    videos = {
        _namespaced(r): VideoRecord(_namespaced(r), "", r.label, r.method, r.split, r.dataset)
        for r in records
    }
    kept = {v.video_id for v in balance(list(videos.values()), "subsample", seed)}
    return [r for r in records if _namespaced(r) in kept]


def train_transform(config: TrainConfig, input_cfg: Any) -> TrainTransform:
    """The training split's transform for ``config.data.augment`` (default, robust, sbi or none)."""
    if config.data.augment == "robust":
        from fakescan.data.perturb import RobustAugment

        flip_only = AugmentConfig(flip_p=AugmentConfig().flip_p, jpeg_p=0.0, blur_p=0.0, noise_p=0.0)
        return TrainTransform(input_cfg, flip_only, grayscale=config.data.grayscale, degrade=RobustAugment())
    augment = {"default": AugmentConfig, "sbi": AugmentConfig.sbi}.get(
        config.data.augment, AugmentConfig.none
    )()
    return TrainTransform(input_cfg, augment=augment, grayscale=config.data.grayscale)


SHARD_SHUFFLE_BUFFER = 1000
"""Training samples streamed from shards are shuffled through a buffer of this many (and the shard
order each epoch; :class:`~fakescan.data.loading.ShardDataset`)."""


def _check_shard_options(data: TrainingData, config: TrainConfig) -> None:
    if data.train_shards and config.data.balance != "none":
        raise ConfigError(
            f"{data.train_root}: packed shards stream in a shuffled order and cannot be balanced by a "
            f"sampler (--balance {config.data.balance}); train from the crops folder, or --balance none"
        )
    if data.train_shards and config.data.pseudo_fakes != "none":
        raise ConfigError(
            f"{data.train_root}: pseudo-fakes are made from a crops folder's files; train from the crops "
            "folder for --pseudo-fakes"
        )


def _require_both_labels(data: TrainingData, pseudo_fakes: bool) -> None:
    """Refuse a validation set of one label: its AUC is undefined and no threshold can be calibrated,
    so the "best" checkpoint would be chosen blind (self-blended fakes added to it count)."""
    labels = {record.label for record in data.val} | ({1} if pseudo_fakes else set())
    if len(labels) < 2:
        only = "real" if labels == {0} else "fake"
        raise ConfigError(
            f"{data.val_root / 'crops.csv'}: the validation crops are all {only} ({len(data.val)} crops):"
            " with one class the AUC is undefined and the threshold cannot be calibrated; give VAL_DATA"
            " a val split with real and fake videos"
            + (
                " (or train with --pseudo-fakes sbi, which adds fakes to real-only validation)"
                if only == "real"
                else ""
            )
        )


def _loaders(data: TrainingData, config: TrainConfig, input_cfg: Any) -> tuple[Any, Any]:
    config = resolve_pseudo_fakes(config, from_shards=bool(data.train_shards))
    _check_shard_options(data, config)
    training_transform = train_transform(config, input_cfg)
    eval_transform = EvalTransform(input_cfg, grayscale=config.data.grayscale)
    train_set: CropFolderDataset | PseudoFakeDataset | ShardDataset
    val_set: CropFolderDataset | PseudoFakeDataset | ShardDataset
    if data.train_shards:
        train_set = ShardDataset(
            data.train_shards, training_transform, shuffle_buffer=SHARD_SHUFFLE_BUFFER, seed=config.seed
        )
    else:
        train_records = data.train
        if config.data.balance == "subsample":
            train_records = subsample_videos(train_records, config.seed)
        train_set = CropFolderDataset(
            train_records, data.train_root, training_transform, class_names=data.class_names, seed=config.seed
        )
    if data.val_shards:
        val_set = ShardDataset(data.val_shards, eval_transform, seed=config.seed)
    else:
        val_set = CropFolderDataset(
            data.val, data.val_root, eval_transform, class_names=data.class_names, seed=config.seed
        )
    if config.data.pseudo_fakes == "sbi":
        # An SBI fake of every real training crop, new each epoch; a validation set without fakes gets
        # fixed ones (the same every epoch) so that checkpoints are chosen on a real/fake task.
        assert isinstance(train_set, CropFolderDataset)
        landmarks = meshes = val_meshes = None
        covered = False  # every real crop's folder has a mesh file
        if config.data.sbi_mask in ("mesh", "auto"):
            from fakescan.data.meshes import CropMeshes

            meshes, val_meshes = CropMeshes(data.train_root), CropMeshes(data.val_root)
            covered = meshes.covers(r for r in data.train if r.label == 0) and val_meshes.covers(
                r for r in data.val if r.label == 0
            )
            if config.data.sbi_mask == "auto" and not covered:  # auto: the mesh hull, else the ellipse
                meshes = val_meshes = None
        if config.data.sbi_mask in ("landmarks", "mesh"):
            from fakescan.data.faces.landmarks import CropLandmarks, landmark_model_path

            # dlib's predictor (the fallback of "mesh") is fetched now, a failure stopping before
            # training, unless every real crop's folder has a mesh file
            landmarks = CropLandmarks(None if covered else landmark_model_path())
        train_set = PseudoFakeDataset(train_set, landmarks=landmarks, mesh=meshes)
        if not any(record.label == 1 for record in data.val):
            if not isinstance(val_set, CropFolderDataset):
                raise ConfigError(f"{data.val_root}: validation pseudo-fakes need a crops folder")
            val_set = PseudoFakeDataset(val_set, fixed=True, landmarks=landmarks, mesh=val_meshes)
    _require_both_labels(data, pseudo_fakes=isinstance(val_set, PseudoFakeDataset))
    balance = {"none": None, "weighted": "label" if config.num_outputs == 1 else "class"}.get(
        config.data.balance, None
    )
    size = len(data.train) if data.train_shards else len(train_set)  # type: ignore[arg-type]
    train_loader = make_loader(
        train_set,
        config.data.batch_size,
        shuffle=balance is None and not data.train_shards,
        workers=config.data.workers,
        balance=balance,
        seed=config.seed,
        drop_last=size > config.data.batch_size,
    )
    val_loader = make_loader(val_set, config.data.batch_size, workers=config.data.workers)
    return train_loader, val_loader


SPECTRUM_STATS_CROPS = 2000
"""At most this many training crops give the spectrum statistics (evenly spread over a crop table;
the first of packed shards)."""


def fit_spectrum_stats(
    model: nn.Module, data: TrainingData, config: TrainConfig, device: torch.device
) -> SpectrumStats | None:
    """Training-set statistics of a model's spectrum input, stored in the model; None for a model
    without one.

    A model that builds its own frequency input (MD-CSD: ``compute_spectrum`` and
    ``set_spectrum_stats``) standardises it with per-channel mean and std of the training crops
    (:func:`fakescan.ops.spectrum_stats`), taken here at the start of :func:`fit`: the training
    split only, unaugmented, as the model computes it, over at most :data:`SPECTRUM_STATS_CROPS`
    crops. The statistics live in the model's buffers (so in every checkpoint's weights) and in
    its sidecar (``spectrum_stats``).
    """
    compute = getattr(model, "compute_spectrum", None)
    store = getattr(model, "set_spectrum_stats", None)
    if not (callable(compute) and callable(store)):
        return None
    transform = EvalTransform(model.input_cfg, grayscale=config.data.grayscale)  # type: ignore[arg-type]
    records = data.train
    if len(records) > SPECTRUM_STATS_CROPS:
        picks = np.linspace(0, len(records) - 1, SPECTRUM_STATS_CROPS).round().astype(int)
        records = [records[i] for i in sorted(set(picks.tolist()))]
    dataset: CropFolderDataset | ShardDataset
    if data.train_shards:  # the first crops of the stream, which holds them in the crop table's order
        dataset = ShardDataset(data.train_shards, transform)
    else:
        dataset = CropFolderDataset(records, data.train_root, transform, class_names=data.class_names)
    loader = make_loader(dataset, config.data.batch_size, workers=config.data.workers)
    batches = itertools.islice(loader, math.ceil(SPECTRUM_STATS_CROPS / config.data.batch_size))
    with torch.inference_mode():
        stats = spectrum_stats(compute(batch.images.to(device)) for batch in batches)
    store(stats)
    return stats


REAL_SPECTRUM_CROPS = 256
"""At most this many real training crops give the reference log-spectrum of a checkpoint."""


def fit_real_spectrum(
    data: TrainingData, config: TrainConfig, input_cfg: InputConfig, limit: int = REAL_SPECTRUM_CROPS
) -> LogSpectrum | None:
    """The mean log-spectrum of up to ``limit`` real training crops, as the model sees them.

    The crops go through the validation transform (resized to the input size, grayscale when the
    run is), back to ``[0, 1]`` pixels, then :func:`fakescan.ops.spectrum.mean_log_spectrum`: the
    reference ``predict --explain`` shows a face's spectrum against (``spectrum.png``). The crops
    are spread evenly over the crop table (the first real ones of packed shards), unaugmented, as
    :func:`fit_spectrum_stats` takes them; ``None`` when the training split has no real crop.
    """
    transform = EvalTransform(input_cfg, grayscale=config.data.grayscale)
    dataset: CropFolderDataset | ShardDataset
    if data.train_shards:
        dataset = ShardDataset(data.train_shards, transform)
    else:
        real = [record for record in data.train if record.label == 0]
        if len(real) > limit:
            picks = np.linspace(0, len(real) - 1, limit).round().astype(int)
            real = [real[i] for i in sorted(set(picks.tolist()))]
        if not real:
            return None
        dataset = CropFolderDataset(real, data.train_root, transform, class_names=data.class_names)
    mean = torch.tensor(input_cfg.mean, dtype=torch.float32)[:, None, None]
    std = torch.tensor(input_cfg.std, dtype=torch.float32)[:, None, None]

    def real_pixels() -> Iterator[torch.Tensor]:
        taken = 0
        for batch in make_loader(dataset, config.data.batch_size, workers=config.data.workers):
            images = batch.images[batch.labels == 0][: limit - taken]
            taken += images.shape[0]
            yield (images * std + mean).clamp_(0.0, 1.0)
            if taken >= limit:
                return

    # A loader with workers draws its seed from torch's global generator: keep that generator's
    # state, so that the spectrum changes nothing of the training that follows.
    with torch.random.fork_rng(devices=[]):
        try:
            return mean_log_spectrum(real_pixels())
        except ValueError:  # packed shards without a real crop
            return None


LAST_STATE = "last_state"
BEST_CHECKPOINT = "best"


def _history_of(extra: dict[str, Any]) -> list[EpochLog]:
    return [EpochLog(**row) for row in extra.get("history", [])]


def fit(
    config: TrainConfig,
    data: TrainingData,
    run_dir: str | Path,
    resume: bool = False,
    on_epoch: Callable[[EpochLog], None] | None = None,
    on_step: Callable[[int, float, float], None] | None = None,
) -> FitResult:
    """Train ``config.model`` on ``data.train``, choosing the checkpoint on ``data.val`` only.

    First, a model that standardises a spectrum input of its own (MD-CSD) gets the statistics of
    the training crops (:func:`fit_spectrum_stats`). After every epoch: validation loss, AUC and
    accuracy; the learning-rate schedule steps; a lower validation loss saves
    ``RUN/best.safetensors`` + ``best.json`` (with the decision threshold calibrated on validation,
    the validation metrics, the training-video digest and any spectrum statistics); the resumable
    state ``RUN/last_state.*`` and ``RUN/log.csv`` are rewritten. Training stops after
    ``config.epochs`` epochs or ``config.early_stopping`` epochs without improvement.

    With ``resume``, the run continues from ``RUN/last_state`` (model, optimiser, schedule, early
    stopping, RNG states and log), to the same result as an uninterrupted run on the same machine.

    ``data.pseudo_fakes: auto`` (the default) is resolved first
    (:func:`~fakescan.train.config.resolve_pseudo_fakes`: self-blends for a real/fake model trained
    from a crops folder); ``RUN/config.json`` records the value used.

    Under ``torchrun`` (``WORLD_SIZE`` > 1) every rank calls this with the same arguments; see
    :mod:`fakescan.train.distributed`. The callbacks run on rank 0 only, and the images per second
    they and the log report are those of all ranks together.

    Raises:
        ConfigError: bad settings, or ``resume`` with no saved state in ``run_dir``.
    """
    from fakescan.checkpoints import checkpoint_paths

    run_dir = Path(run_dir)
    if resume and not checkpoint_paths(run_dir / LAST_STATE)[1].is_file():
        raise ConfigError(f"{run_dir}: nothing to resume (no {LAST_STATE}.json); start without --resume")
    if config.num_outputs > 1 and len(data.class_names) != config.classes:
        raise ConfigError(
            f"--classes {config.classes} but the data has {len(data.class_names)} classes: "
            f"{', '.join(data.class_names)}"
        )
    config = resolve_pseudo_fakes(config, from_shards=bool(data.train_shards))
    context, device = init_distributed(resolve_device(config.device))
    if context.enabled and (data.train_shards or data.val_shards):
        shutdown_distributed(context)
        raise ConfigError(
            "training from packed shards runs in one process: their ranks' step counts may differ, "
            "which DistributedDataParallel cannot wait out; give torchrun the crops folders"
        )
    try:
        return _fit(config, data, run_dir, resume, context, device, on_epoch, on_step)
    finally:
        shutdown_distributed(context)


def _fit(
    config: TrainConfig,
    data: TrainingData,
    run_dir: Path,
    resume: bool,
    context: DistributedContext,
    device: torch.device,
    on_epoch: Callable[[EpochLog], None] | None,
    on_step: Callable[[int, float, float], None] | None,
) -> FitResult:
    from fakescan.checkpoints import (
        CheckpointMeta,
        load_training_state,
        save_checkpoint,
        save_training_state,
    )
    from fakescan.evaluate.metrics import binary_metrics, calibrate_threshold, finite_metrics

    main = context.is_main
    if main:
        make_output_dir(run_dir)
    seed_everything(config.seed)
    model, model_kwargs = _build_model(config, config.data.image_size)
    model.to(device)
    train_loader, val_loader = _loaders(data, config, model.input_cfg)
    val_loader = _rank_slice_loader(val_loader, context)
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config)
    from fakescan.train.sam import SAM

    # SAM's two steps run in full precision: a loss scale would have to be shared by both.
    use_amp = device.type == "cuda" and config.amp and not isinstance(optimizer, SAM)
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    stopper = EarlyStopping(config.early_stopping)

    train_videos = data.train_videos
    if main:
        atomic_write_text(run_dir / TRAIN_VIDEOS_FILE, "\n".join(train_videos) + "\n")
        atomic_write_text(run_dir / "config.json", json.dumps(config.to_dict(), indent=2) + "\n")
    digest = video_digest(train_videos)
    provenance = training_provenance(data, config.data.pseudo_fakes) if main else None

    history: list[EpochLog] = []
    start_epoch = 0
    # Before any step; a resumed run reads them back with the model's buffers.
    spectrum = None if resume else fit_spectrum_stats(model, data, config, device)
    # Read again on resume (it is not in the training state); the same crops give the same mean.
    real_spectrum = fit_real_spectrum(data, config, model.input_cfg) if main else None
    if resume:
        state = load_training_state(run_dir / LAST_STATE, optimizer, scheduler, model=model)
        stopper = EarlyStopping(config.early_stopping, **state.early_stopping)
        history = _history_of(state.extra)
        start_epoch = state.epoch + 1
        if scaler is not None and "scaler" in state.extra:
            scaler.load_state_dict(state.extra["scaler"])
    stepped = model
    if context.enabled:
        # After loading the state: DDP starts every rank from rank 0's weights. Every parameter
        # takes part in every model's loss (tests/models), so no search for unused ones; and no
        # static_graph: it syncs through the step's outputs, which a DetectorOutput hides from it.
        stepped = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    step_callback = on_step if main else None
    if step_callback is not None and context.enabled:
        step_callback = _all_ranks_speed(step_callback, context.world_size)

    best_epoch = max((row.epoch for row in history if row.best), default=-1)
    epoch = start_epoch - 1
    for epoch in range(start_epoch, config.epochs):
        if stopper.should_stop:
            break
        started = time.perf_counter()
        set_epoch(train_loader, epoch)
        loss_sum, seen, seconds = _train_epoch(
            stepped, train_loader, model, optimizer, config, device, scaler, step_callback
        )
        loss_sum, seen, seconds = sum_across_ranks([loss_sum, seen, seconds], context)
        train_loss = loss_sum / seen
        images_per_s = seen / max(seconds / context.world_size, 1e-9)
        sync_buffers(model, context)
        predictions = gather_predictions(
            predict_loader(model, val_loader, device, loss=validation_loss), context
        )
        auc, acc = _val_auc_acc(predictions)
        improved = stopper.update(predictions.loss)
        lr = optimizer.param_groups[0]["lr"]
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(predictions.loss)
        elif scheduler is not None:
            scheduler.step()
        row = EpochLog(
            epoch,
            train_loss,
            predictions.loss,
            auc,
            acc,
            lr,
            images_per_s,
            time.perf_counter() - started,
            improved,
        )
        history.append(row)
        if improved:
            best_epoch = epoch
        if improved and main:
            try:
                threshold = calibrate_threshold(predictions.labels, predictions.scores, config.threshold_rule)
            except ValueError:  # one class only in validation
                threshold = 0.5
            metrics = binary_metrics(predictions.labels, predictions.scores, threshold)
            save_checkpoint(
                run_dir / BEST_CHECKPOINT,
                model,
                CheckpointMeta(
                    model=config.model,
                    model_kwargs={k: v for k, v in model_kwargs.items() if k != "pretrained"},
                    class_names=data.class_names if config.num_outputs > 1 else ("real", "fake"),
                    train_videos_digest=digest,
                    train_videos_list=TRAIN_VIDEOS_FILE,
                    threshold=float(threshold),
                    val_metrics={"loss": predictions.loss, **finite_metrics(metrics.to_dict())},
                    epoch=epoch,
                    grayscale=config.data.grayscale,
                    spectrum_stats=spectrum or _spectrum_stats_of(model),
                    training_data=provenance,
                    real_log_spectrum=real_spectrum,
                ),
            )
            _write_val_scores(run_dir / VAL_SCORES_FILE, predictions, val_loader.dataset, data.class_names)
        if not main:
            continue
        extra: dict[str, Any] = {"history": [dict(r.__dict__) for r in history]}
        if scaler is not None:
            extra["scaler"] = scaler.state_dict()
        save_training_state(
            run_dir / LAST_STATE,
            optimizer,
            scheduler,
            epoch=epoch,
            step=0,
            early_stopping={"best": stopper.best, "bad_epochs": stopper.bad_epochs},
            model=model,
            extra=extra,
        )
        _write_log(run_dir / LOG_FILE, history)
        if on_epoch is not None:
            on_epoch(row)
    return FitResult(
        run_dir=run_dir,
        best_checkpoint=run_dir / f"{BEST_CHECKPOINT}.safetensors",
        best_epoch=best_epoch,
        epochs_run=len(history),
        stopped_early=stopper.should_stop and len(history) < config.epochs,
        history=history,
    )


def _spectrum_stats_of(model: nn.Module) -> SpectrumStats | None:
    read = getattr(model, "get_spectrum_stats", None)
    return read() if callable(read) else None
