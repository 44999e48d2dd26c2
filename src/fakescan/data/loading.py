"""Torch datasets over face crops — a crop folder or packed shards — and the loaders built on them.

Two sources give the same :class:`Sample`:

- :class:`CropFolderDataset` (map-style) reads ``crops_root / record.crop`` for each row of a crop
  table;
- :class:`ShardDataset` (iterable) streams the tar shards of :func:`fakescan.data.packing.pack_shards`,
  splitting them across DataLoader workers and, when ``torch.distributed`` is initialised, across
  ranks, so that every sample is read by exactly one of them.

A sample's augmentation draws from ``numpy.random.default_rng([seed, epoch, hash(crop path)])``:
fixed by the seed, independent of the source, of the order and of which worker reads it, so both
datasets give identical samples for the same crops. :func:`collate` stacks samples into a
:class:`Batch`; :func:`make_loader` builds the DataLoader (workers, pinned memory, a class-balanced
or distributed sampler).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler, get_worker_info

from fakescan.data.datasets.index import CropRecord
from fakescan.data.images import IMAGE_EXTENSIONS, decode_image, read_file_bytes
from fakescan.data.packing import META_SUFFIX, SPECTRUM_SUFFIX, class_names_of
from fakescan.data.transforms import Transform, normalize_spectrum
from fakescan.errors import ConfigError, InputError
from fakescan.ops.spectrum import SpectrumStats

__all__ = [
    "Batch",
    "ClassBalancedSampler",
    "CropFolderDataset",
    "EpochShuffleSampler",
    "Sample",
    "ShardDataset",
    "collate",
    "make_loader",
    "sample_rng",
    "set_epoch",
    "shard_records",
]

Balance = Literal["label", "class"]


@dataclass(frozen=True)
class Sample:
    """One face crop, ready for the model.

    Attributes:
        image: ``3×H×W`` float32, normalised as the transform's ``InputConfig`` says.
        label: 0 real, 1 fake.
        class_index: index into the class names (0 real, then the methods sorted).
        video_id: the crop's video (see :class:`~fakescan.data.datasets.CropRecord`).
        frame_index: the frame of that video.
        crop: the crop's path relative to the crops folder (its identity).
        spectrum: ``C×H×W`` float32 spectrum image, or None.
    """

    image: torch.Tensor
    label: int
    class_index: int
    video_id: str
    frame_index: int
    crop: str
    spectrum: torch.Tensor | None = None


@dataclass(frozen=True)
class Batch:
    """A batch of ``B`` samples.

    Attributes:
        images: ``B×3×H×W`` float32.
        labels: ``B`` int64, 0 real / 1 fake (what :func:`fakescan.train.losses.classification_loss`
            takes for a 1-logit model).
        class_labels: ``B`` int64 class indices (for a K-class model).
        video_ids: ``B`` video ids (for per-video scores).
        frame_indices: ``B`` int64 frame indices.
        spectra: ``B×C×H×W`` float32 spectrum images, or None.
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_labels: torch.Tensor
    video_ids: tuple[str, ...]
    frame_indices: torch.Tensor
    spectra: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """The batch with its tensors on ``device``."""

        def move(tensor: torch.Tensor) -> torch.Tensor:
            return tensor.to(device, non_blocking=non_blocking)

        return Batch(
            images=move(self.images),
            labels=move(self.labels),
            class_labels=move(self.class_labels),
            video_ids=self.video_ids,
            frame_indices=move(self.frame_indices),
            spectra=None if self.spectra is None else move(self.spectra),
        )

    def pin_memory(self) -> Batch:
        """The batch in page-locked memory (called by a DataLoader with ``pin_memory=True``)."""
        return Batch(
            images=self.images.pin_memory(),
            labels=self.labels.pin_memory(),
            class_labels=self.class_labels.pin_memory(),
            video_ids=self.video_ids,
            frame_indices=self.frame_indices.pin_memory(),
            spectra=None if self.spectra is None else self.spectra.pin_memory(),
        )


def collate(samples: Sequence[Sample]) -> Batch:
    """Stack samples into a :class:`Batch` (the ``collate_fn`` of :func:`make_loader`).

    Raises:
        ValueError: no samples, or only some of them carry a spectrum.

    >>> s = Sample(torch.zeros(3, 4, 4), 1, 2, "v", 7, "v/7.png")
    >>> batch = collate([s, s])
    >>> batch.images.shape, batch.labels.tolist(), batch.class_labels.tolist(), batch.video_ids
    (torch.Size([2, 3, 4, 4]), [1, 1], [2, 2], ('v', 'v'))
    """
    if not samples:
        raise ValueError("cannot collate an empty list of samples")
    with_spectrum = sum(sample.spectrum is not None for sample in samples)
    if with_spectrum not in (0, len(samples)):
        raise ValueError(f"{with_spectrum} of {len(samples)} samples carry a spectrum; all or none must")
    spectra = None
    if with_spectrum:
        spectra = torch.stack([sample.spectrum for sample in samples if sample.spectrum is not None])
    return Batch(
        images=torch.stack([sample.image for sample in samples]),
        labels=torch.tensor([sample.label for sample in samples], dtype=torch.int64),
        class_labels=torch.tensor([sample.class_index for sample in samples], dtype=torch.int64),
        video_ids=tuple(sample.video_id for sample in samples),
        frame_indices=torch.tensor([sample.frame_index for sample in samples], dtype=torch.int64),
        spectra=spectra,
    )


def sample_rng(seed: int, epoch: int, crop: str) -> np.random.Generator:
    """The generator that augments ``crop`` in ``epoch``: the same in every dataset and worker.

    >>> sample_rng(0, 1, "a/0.png").random() == sample_rng(0, 1, "a/0.png").random()
    True
    """
    digest = hashlib.blake2b(crop.encode("utf-8"), digest_size=8).digest()
    return np.random.default_rng([seed, epoch, int.from_bytes(digest, "little")])


# -- a crop folder -------------------------------------------------------------------------------


class CropFolderDataset(Dataset[Sample]):
    """Map-style dataset over the crop files of a crop table.

    Args:
        records: the rows to serve, in order (usually one split of a crop table).
        crops_root: the folder the ``crop`` paths are relative to.
        transform: a :class:`~fakescan.data.transforms.Transform` (``TrainTransform``, ``EvalTransform``).
        class_names: class index → method; default :func:`~fakescan.data.packing.class_names_of`
            ``(records)``. Pass the full table's names when ``records`` is one split.
        seed: base seed of the augmentations (see :func:`sample_rng`).

    Raises (on access):
        InputError: the crop file is missing or not a decodable image (the error names the file).
    """

    def __init__(
        self,
        records: Sequence[CropRecord],
        crops_root: str | Path,
        transform: Transform,
        class_names: Sequence[str] | None = None,
        seed: int = 0,
    ) -> None:
        self.records = list(records)
        self.crops_root = Path(crops_root)
        self.transform = transform
        self.class_names = tuple(class_names) if class_names is not None else class_names_of(self.records)
        self._class_index = {name: index for index, name in enumerate(self.class_names)}
        missing = sorted({r.method for r in self.records} - set(self._class_index))
        if missing:
            raise ConfigError(f"class_names {self.class_names} lack the method(s) {missing} of the records")
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the augmentations of ``epoch`` (call before each epoch's iteration starts)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def pixels(self, index: int) -> np.ndarray:
        """The crop of row ``index`` as ``H×W×3`` uint8 RGB, before the transform.

        Raises:
            InputError: the crop file is missing or not a decodable image (the error names the file).
        """
        path = self.crops_root / self.records[index].crop
        return decode_image(read_file_bytes(path, "crop file"), path)

    def __getitem__(self, index: int) -> Sample:
        record = self.records[index]
        views = self.transform(self.pixels(index), sample_rng(self.seed, self.epoch, record.crop))
        return Sample(
            image=views.image,
            label=record.label,
            class_index=self._class_index[record.method],
            video_id=record.video_id,
            frame_index=record.frame_index,
            crop=record.crop,
            spectrum=views.spectrum,
        )

    def targets(self, balance: Balance = "label") -> list[int]:
        """Per-sample targets for balancing: binary labels, or class indices."""
        if balance == "label":
            return [record.label for record in self.records]
        return [self._class_index[record.method] for record in self.records]


# -- shards --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _RawSample:
    """One sample of a shard, still encoded."""

    source: str
    image_name: str
    image: bytes
    meta: dict[str, Any]
    spectrum: bytes | None


class ShardDataset(IterableDataset[Sample]):
    """Iterable dataset streaming the tar shards of :func:`~fakescan.data.packing.pack_shards`.

    Work is divided among ``P = world_size × num_workers`` partitions (rank ``r``, worker ``w`` is
    partition ``r × num_workers + w``). With at least ``P`` shards, partition ``p`` reads shards
    ``p, p + P, …`` of the (epoch-shuffled) shard list; with fewer, every partition reads all shards
    and keeps samples ``p, p + P, …``. Either way each sample goes to exactly one partition;
    partitions may differ in size (by up to a shard in the first case, by one sample in the second),
    so a distributed trainer must not assume equal step counts per rank.

    Args:
        shard_paths: the shards (e.g. :meth:`~fakescan.data.packing.ShardIndex.shard_paths`).
        transform: a :class:`~fakescan.data.transforms.Transform`.
        shuffle_buffer: 0 reads in order; ``n > 0`` shuffles the shard order each epoch and the
            samples through a buffer of ``n`` (still-encoded) samples.
        seed: base seed of the shuffling and of the augmentations (see :func:`sample_rng`).
        spectrum_stats: normalise the spectra stored in the shards with these (the index's
            ``spectrum_stats``); None leaves them raw. A spectrum computed by the transform wins
            over a stored one.
        rank, world_size: this process's place among distributed processes; default: read from
            ``torch.distributed`` when it is initialised, else 0 of 1.

    Raises (while iterating):
        InputError: a shard is missing or not a tar file, or a sample's image cannot be decoded
            (the error names the shard and the crop).
    """

    def __init__(
        self,
        shard_paths: Sequence[str | Path],
        transform: Transform,
        shuffle_buffer: int = 0,
        seed: int = 0,
        spectrum_stats: SpectrumStats | None = None,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__()
        if shuffle_buffer < 0:
            raise ConfigError(f"shuffle_buffer must be 0 or more, got {shuffle_buffer}")
        if (rank is None) != (world_size is None):
            raise ConfigError("give both rank and world_size, or neither")
        if rank is not None and world_size is not None and not 0 <= rank < world_size:
            raise ConfigError(f"rank must be in 0..{world_size - 1}, got {rank}")
        self.shard_paths = [Path(path) for path in shard_paths]
        self.transform = transform
        self.shuffle_buffer = shuffle_buffer
        self.seed = seed
        self.spectrum_stats = spectrum_stats
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Shuffle and augment as for ``epoch`` (call before each epoch's iteration starts)."""
        self.epoch = epoch

    def partition(self) -> tuple[int, int]:
        """``(index, count)`` of the partition this process and worker read."""
        worker = get_worker_info()
        worker_id, workers = (worker.id, worker.num_workers) if worker is not None else (0, 1)
        rank, world_size = self._rank_and_world()
        return rank * workers + worker_id, world_size * workers

    def __iter__(self) -> Iterator[Sample]:
        part, parts = self.partition()
        for raw in self._shuffled(self._raw_samples(part, parts), part):
            yield self._decode(raw)

    def _rank_and_world(self) -> tuple[int, int]:
        if self.rank is not None and self.world_size is not None:
            return self.rank, self.world_size
        return _distributed_place()

    def _shard_order(self) -> list[Path]:
        paths = list(self.shard_paths)
        if self.shuffle_buffer > 0:  # the same order in every partition: seeded by seed and epoch only
            np.random.default_rng([self.seed, self.epoch]).shuffle(paths)  # type: ignore[arg-type]
        return paths

    def _raw_samples(self, part: int, parts: int) -> Iterator[_RawSample]:
        paths = self._shard_order()
        if len(paths) >= parts:
            for path in paths[part::parts]:
                yield from _read_shard(path)
            return
        position = 0
        for path in paths:
            for raw in _read_shard(path):
                if position % parts == part:
                    yield raw
                position += 1

    def _shuffled(self, samples: Iterator[_RawSample], part: int) -> Iterator[_RawSample]:
        if self.shuffle_buffer == 0:
            yield from samples
            return
        rng = np.random.default_rng([self.seed, self.epoch, part, 1])
        buffer: list[_RawSample] = []
        for raw in samples:
            if len(buffer) < self.shuffle_buffer:
                buffer.append(raw)
                continue
            slot = int(rng.integers(len(buffer)))
            yield buffer[slot]
            buffer[slot] = raw
        rng.shuffle(buffer)  # type: ignore[arg-type]
        yield from buffer

    def _decode(self, raw: _RawSample) -> Sample:
        meta = raw.meta
        crop = str(meta["crop"])
        where = f"{raw.source}:{raw.image_name}"
        try:
            pixels = decode_image(raw.image, where)
        except InputError as error:
            raise InputError(where, f"crop {crop}: {error.reason}") from None
        views = self.transform(pixels, sample_rng(self.seed, self.epoch, crop))
        spec = views.spectrum
        if spec is None and raw.spectrum is not None:
            spec = torch.from_numpy(np.load(io.BytesIO(raw.spectrum), allow_pickle=False).astype(np.float32))
            if self.spectrum_stats is not None:
                spec = normalize_spectrum(spec, self.spectrum_stats)
        return Sample(
            image=views.image,
            label=int(meta["label"]),
            class_index=int(meta["class_index"]),
            video_id=str(meta["video_id"]),
            frame_index=int(meta["frame_index"]),
            crop=crop,
            spectrum=spec,
        )


def _read_shard(path: Path) -> Iterator[_RawSample]:
    """The samples of one shard, in order: consecutive members that share a key."""
    key: str | None = None
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(path, mode="r|") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                member_key, dot, suffix = member.name.partition(".")
                if not dot:
                    continue
                if member_key != key:
                    if key is not None:
                        yield _raw_sample(path, key, members)
                    key, members = member_key, {}
                handle = tar.extractfile(member)
                members["." + suffix] = handle.read() if handle is not None else b""
    except FileNotFoundError:
        raise InputError(path, "shard not found") from None
    except (tarfile.TarError, EOFError) as error:
        raise InputError(path, f"not a readable tar shard ({error})") from None
    if key is not None:
        yield _raw_sample(path, key, members)


def shard_records(shard_paths: Sequence[str | Path]) -> list[CropRecord]:
    """The crop records of the samples in ``shard_paths``, in order, read from their ``.json``
    members (one sequential pass over the shards; nothing is decoded).

    Raises:
        InputError: a shard is missing or unreadable, or a sample's metadata is incomplete.
    """
    records = []
    for path in shard_paths:
        for raw in _read_shard(Path(path)):
            meta = raw.meta
            try:
                records.append(
                    CropRecord(
                        crop=str(meta["crop"]),
                        video_id=str(meta["video_id"]),
                        frame_index=int(meta["frame_index"]),
                        label=int(meta["label"]),
                        method=str(meta["method"]),
                        split=meta["split"],
                        dataset=str(meta["dataset"]),
                    )
                )
            except (KeyError, TypeError, ValueError) as error:
                raise InputError(
                    raw.source, f"sample {raw.image_name}: incomplete metadata ({error})"
                ) from None
    return records


def _raw_sample(path: Path, key: str, members: dict[str, bytes]) -> _RawSample:
    images = [suffix for suffix in members if suffix in IMAGE_EXTENSIONS]
    if len(images) != 1 or META_SUFFIX not in members:
        raise InputError(path, f"sample {key} needs one image and a {META_SUFFIX}, has {sorted(members)}")
    try:
        meta = json.loads(members[META_SUFFIX])
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(path, f"sample {key}: unreadable {META_SUFFIX} ({error})") from None
    return _RawSample(
        source=str(path),
        image_name=key + images[0],
        image=members[images[0]],
        meta=meta,
        spectrum=members.get(SPECTRUM_SUFFIX),
    )


# -- sampling and loaders ------------------------------------------------------------------------


class ClassBalancedSampler(Sampler[int]):
    """Draws indices with replacement so that every target value is drawn equally often, in every
    batch: each run of ``batch_size`` consecutive indices holds each value ``batch_size / K`` times
    (``K`` values; the remainder goes to values picked at random), each index drawn uniformly among
    those of its value.

    So with ``balance`` every training batch holds both classes, which the attention network's
    metric loss needs (it is 0 in a batch with fewer than two reals or no fake,
    :func:`fakescan.train.losses.metric_loss`): a real/fake batch of 4 or more holds at least two
    of each.

    Each epoch (:meth:`set_epoch`) draws anew from ``(seed, epoch, rank)``; every rank draws its
    own ``num_samples // world_size`` indices, so each rank's batches are balanced.

    Args:
        targets: the target value of every dataset index (binary labels or class indices).
        num_samples: indices per epoch over all ranks (default: the dataset's size).
        seed: base seed.
        batch_size: the loader's batch size (default: the whole epoch is one run).
        rank, world_size: default: from ``torch.distributed`` when initialised, else 0 of 1.

    >>> sampler = ClassBalancedSampler([0, 1, 1, 1, 1, 1], num_samples=12, batch_size=4)
    >>> [sorted(int(i > 0) for i in list(sampler)[k : k + 4]) for k in (0, 4, 8)]
    [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]]
    """

    def __init__(
        self,
        targets: Sequence[int],
        num_samples: int | None = None,
        seed: int = 0,
        batch_size: int | None = None,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        values = np.asarray(list(targets))
        if values.ndim != 1 or not len(values):
            raise ConfigError("balanced sampling needs a non-empty list of targets")
        if batch_size is not None and batch_size < 1:
            raise ConfigError(f"batch size must be at least 1, got {batch_size}")
        self.groups = [np.flatnonzero(values == value) for value in np.unique(values)]
        self.num_samples = len(values) if num_samples is None else num_samples
        if rank is None or world_size is None:
            rank, world_size = _distributed_place()
        self.rank, self.world_size = rank, world_size
        self.seed = seed
        self.batch_size = batch_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch, self.rank])
        total, k = len(self), len(self.groups)
        run = self.batch_size or max(total, 1)
        drawn: list[int] = []
        for start in range(0, total, run):
            count = min(run, total - start)
            shares = np.full(k, count // k)
            shares[rng.permutation(k)[: count % k]] += 1
            batch = np.concatenate([rng.choice(g, n) for g, n in zip(self.groups, shares, strict=True)])
            drawn.extend(rng.permutation(batch).tolist())
        return iter(drawn)

    def __len__(self) -> int:
        """Indices per rank: equal on every rank (a training step is a collective under DDP), so
        up to ``world_size - 1`` draws are left out."""
        return self.num_samples // self.world_size if self.world_size > 1 else self.num_samples


class EpochShuffleSampler(Sampler[int]):
    """A random order of ``range(size)`` that depends only on ``seed`` and the epoch.

    Unlike a sampler holding one generator that advances epoch after epoch, the order of epoch ``e``
    is the same whether the run got there uninterrupted or resumed at ``e`` (call :meth:`set_epoch`).

    >>> sampler = EpochShuffleSampler(5, seed=0)
    >>> first = list(sampler); sampler.set_epoch(1); second = list(sampler); sampler.set_epoch(0)
    >>> sorted(first) == list(range(5)) and first != second and list(sampler) == first
    True
    """

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
        return iter(order.tolist())

    def __len__(self) -> int:
        return self.size


def make_loader(
    dataset: Dataset[Sample],
    batch_size: int,
    shuffle: bool = False,
    workers: int | None = None,
    pin_memory: bool | None = None,
    drop_last: bool = False,
    balance: Balance | None = None,
    seed: int = 0,
) -> DataLoader[Sample]:
    """A DataLoader over ``dataset`` that yields :class:`Batch` objects.

    Args:
        dataset: a :class:`CropFolderDataset`, a :class:`ShardDataset` or any dataset of samples.
        batch_size: samples per batch.
        shuffle: random order each epoch (map-style datasets; a :class:`ShardDataset` shuffles
            through its own ``shuffle_buffer`` and refuses this).
        workers: loader processes; default: the CPU cores this process may use, at most 8 (0 on a
            single core: load in the main process). On two cores, two workers beat one, which
            loses to none (``benchmarks/bench_loading.py``).
        pin_memory: page-locked batches for fast GPU copies; default: when CUDA is available.
        drop_last: drop a last, smaller batch.
        balance: ``"label"`` or ``"class"``: sample (with replacement) so that each real/fake label,
            or each class, is drawn equally often in every batch (:class:`ClassBalancedSampler`);
            needs a dataset that lists its targets (``dataset.targets(balance)``: a
            :class:`CropFolderDataset`, or a :class:`~fakescan.synth.pseudo.PseudoFakeDataset`).
        seed: seed of the shuffling or balanced sampling (call :func:`set_epoch` each epoch).

    With ``torch.distributed`` initialised, a map-style dataset is split across ranks
    (``DistributedSampler``, or the balanced sampler's per-rank share). Workers are forked and
    torch limits each to one thread; OpenCV is left alone in them: ``cv2.setNumThreads`` in a
    forked child waits forever on the parent's thread pool.

    Raises:
        ConfigError: ``shuffle`` or ``balance`` with an iterable dataset, or ``balance`` with a
            dataset that cannot list its targets.
    """
    if batch_size < 1:
        raise ConfigError(f"batch size must be at least 1, got {batch_size}")
    if workers is None:
        cores = _usable_cores()
        workers = min(8, cores) if cores > 1 else 0
    if pin_memory is None:
        pin_memory = torch.cuda.is_available()
    sampler: Sampler[int] | None = None
    if isinstance(dataset, IterableDataset):
        if shuffle or balance is not None:
            raise ConfigError(
                "an iterable dataset is shuffled by its own shuffle_buffer and cannot be balanced by a "
                "sampler; use shuffle=False, balance=None"
            )
    elif balance is not None:
        targets = getattr(dataset, "targets", None)
        if not callable(targets):
            raise ConfigError(
                f"balance={balance!r} needs a dataset with a targets() method (a CropFolderDataset or a "
                f"PseudoFakeDataset), got {type(dataset).__name__}"
            )
        if balance not in ("label", "class"):
            raise ConfigError(f"balance must be 'label' or 'class', got {balance!r}")
        sampler = ClassBalancedSampler(targets(balance), seed=seed, batch_size=batch_size)
    elif torch.distributed.is_available() and torch.distributed.is_initialized():
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last)
    elif shuffle:
        sampler = EpochShuffleSampler(len(dataset), seed)  # type: ignore[arg-type]
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=pin_memory,
        drop_last=drop_last,
    )


def set_epoch(loader: DataLoader[Sample], epoch: int) -> None:
    """Tell a loader's dataset and sampler that ``epoch`` begins (before iterating over it)."""
    for part in (loader.dataset, loader.sampler):
        method = getattr(part, "set_epoch", None)
        if callable(method):
            method(epoch)


def _usable_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _distributed_place() -> tuple[int, int]:
    distributed = torch.distributed
    if distributed.is_available() and distributed.is_initialized():
        return distributed.get_rank(), distributed.get_world_size()
    return 0, 1
