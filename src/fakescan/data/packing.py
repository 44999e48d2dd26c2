"""Packing face crops into WebDataset-style tar shards, one series per split, with a JSON index.

A folder of many small PNG files is slow to read from network disks and object stores; a few large
tar files read sequentially are fast, and they stream: ``fakescan train`` reads a packed folder
directly (:func:`fakescan.train.engine.load_training_data`). :func:`pack_shards` writes, for each split
of a crop table (:class:`~fakescan.data.datasets.CropRecord` rows):

- POSIX (ustar) tar files ``<split>-000000.tar``, ``<split>-000001.tar``, … of at most
  ``shard_size`` samples each. A sample is consecutive members sharing a *key* (an 8-digit number,
  the record's position within its split): ``<key>.png`` (or ``.jpg``: the crop file's bytes as
  stored, never re-encoded), ``<key>.json`` (crop, video_id, frame_index, label, method,
  class_index, dataset, split) and, when asked for, ``<key>.spectrum.npy`` (the un-normalised
  spectrum image, ``C×H×W`` float16 or float32, of the crop in ``[0, 1]``; see
  :func:`fakescan.data.transforms.spectrum_image`). The stored spectra are for other tools and for
  inspection (:class:`~fakescan.data.loading.ShardDataset` serves them as ``Batch.spectra``): no
  fakescan model reads them, since MD-CSD computes its spectrum inside the model from the RGB
  input, so that training and prediction cannot differ.
- ``shards.json``: the shards and their sample counts and SHA-256, the class names (class 0 is
  ``real``, then the other methods sorted), per-split counts and video-id digests
  (:func:`~fakescan.data.datasets.video_digest`), the spectrum options and the spectrum statistics
  of the **training split** (for :func:`~fakescan.data.transforms.normalize_spectrum`), and the crops
  that were skipped.

Every file is written under a temporary name and renamed into place, and the bytes depend only on
the crop table and the crop files (fixed member order, times and owners), so a re-run after a crash
produces the same shards; leftovers of the crashed run, and shards of an earlier packing that the
new one no longer has, are removed. ``shards.json`` is deleted first and written last, so a folder
whose packing did not finish has no index and cannot be read by mistake. A missing or unreadable
crop is skipped and counted, and named in :attr:`PackReport.skipped`. One packing owns its output
folder: do not run two at once into it.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import re
import tarfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from fakescan._atomic import TMP_MARK, atomic_write_text, make_output_dir
from fakescan.data.datasets.index import REAL, SPLITS, CropRecord, Split, video_digest
from fakescan.data.images import IMAGE_EXTENSIONS, decode_image, read_file_bytes
from fakescan.data.transforms import SpectrumOptions, resize, spectrum_image
from fakescan.errors import ConfigError, DatasetLayoutError, InputError
from fakescan.ops.spectrum import SpectrumStats, spectrum_stats

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "SHARD_INDEX",
    "PackReport",
    "ShardIndex",
    "ShardInfo",
    "SkippedCrop",
    "SpectrumDtype",
    "SpectrumOptions",
    "class_names_of",
    "pack_shards",
    "read_shard_index",
    "shard_name",
]

SHARD_INDEX = "shards.json"
"""File name of the index that :func:`pack_shards` writes beside the shards."""
SHARD_FORMAT = "fakescan-shards"
SHARD_FORMAT_VERSION = 1
DEFAULT_SHARD_SIZE = 1000
"""Samples per shard by default: about 100 MB of 256 px PNG crops."""
META_SUFFIX = ".json"
SPECTRUM_SUFFIX = ".spectrum.npy"

SpectrumDtype = Literal["float16", "float32"]
_SPECTRUM_DTYPES: tuple[str, ...] = ("float16", "float32")
_SHARD_NAME = re.compile(r"^(?:train|val|test)-\d{6}\.tar$")
_TAR_FORMAT = tarfile.USTAR_FORMAT

ProgressCallback = Callable[[int, int], None]
"""``(records done, records in all)``, called after each crop."""


@dataclass(frozen=True)
class ShardInfo:
    """One written shard.

    Attributes:
        name: file name inside the output folder (``train-000000.tar``).
        split: the split its samples belong to.
        samples: number of samples in it.
        sha256: hex digest of the file.
    """

    name: str
    split: Split
    samples: int
    sha256: str


@dataclass(frozen=True)
class SkippedCrop:
    """A crop of the table that was not packed.

    Attributes:
        crop: its path relative to the crops folder, as in the table.
        path: the file that was looked for.
        reason: what was wrong (``"file not found"``, ``"not a decodable image"``, …).
    """

    crop: str
    path: Path
    reason: str


@dataclass(frozen=True)
class ShardIndex:
    """The contents of ``shards.json`` (see :func:`read_shard_index`).

    Attributes:
        root: the folder the shards are in.
        shards: every shard, in split order, then in order within its split.
        class_names: class index → method name; index 0 is ``"real"``.
        counts: samples per split.
        video_digests: :func:`~fakescan.data.datasets.video_digest` of each split's video ids.
        spectrum: the options of the stored spectra, or None when the shards hold none.
        spectrum_dtype: their stored dtype (None without spectra).
        spectrum_stats: per-channel statistics of the training split's stored spectra, or None
            (no spectra, or no training split packed).
        skipped: crops of the table that are not in the shards.
    """

    root: Path
    shards: tuple[ShardInfo, ...]
    class_names: tuple[str, ...]
    counts: Mapping[str, int]
    video_digests: Mapping[str, str]
    spectrum: SpectrumOptions | None = None
    spectrum_dtype: SpectrumDtype | None = None
    spectrum_stats: SpectrumStats | None = None
    skipped: tuple[SkippedCrop, ...] = ()

    def shard_paths(self, split: Split) -> list[Path]:
        """Paths of the shards of ``split`` (empty when it was not packed)."""
        return [self.root / shard.name for shard in self.shards if shard.split == split]


@dataclass(frozen=True)
class PackReport:
    """What :func:`pack_shards` did.

    Attributes:
        index: the written index (also at ``index.root / "shards.json"``).
        records: rows of the table considered (those of the packed splits).
    """

    index: ShardIndex
    records: int

    @property
    def skipped(self) -> tuple[SkippedCrop, ...]:
        """Missing or unreadable crops, each named."""
        return self.index.skipped

    @property
    def samples(self) -> int:
        """Samples written in all."""
        return sum(self.index.counts.values())

    @property
    def index_path(self) -> Path:
        return self.index.root / SHARD_INDEX


def shard_name(split: Split, number: int) -> str:
    """File name of shard ``number`` of ``split``.

    >>> shard_name("train", 3)
    'train-000003.tar'
    """
    return f"{split}-{number:06d}.tar"


def class_names_of(records: Sequence[CropRecord]) -> tuple[str, ...]:
    """Class index → method: ``"real"`` first, then the other methods in sorted order.

    >>> rec = lambda method: CropRecord("a.png", "a", 0, int(method != "real"), method, "train", "d")
    >>> class_names_of([rec("NeuralTextures"), rec("Deepfakes"), rec("real")])
    ('real', 'Deepfakes', 'NeuralTextures')
    """
    return (REAL, *sorted({record.method for record in records} - {REAL}))


def pack_shards(
    records: Sequence[CropRecord],
    crops_root: str | Path,
    out_dir: str | Path,
    shard_size: int = DEFAULT_SHARD_SIZE,
    spectrum: SpectrumOptions | None = None,
    spectrum_dtype: SpectrumDtype = "float16",
    spectrum_size: int | None = None,
    splits: Sequence[Split] | None = None,
    on_progress: ProgressCallback | None = None,
) -> PackReport:
    """Write the crops of ``records`` as tar shards, one series per split, and ``shards.json``.

    Args:
        records: the crop table (:func:`~fakescan.data.datasets.read_crop_table`). Within a split,
            samples keep the table's order; class names come from all rows, packed or not.
        crops_root: the folder the ``crop`` paths are relative to.
        out_dir: the output folder (created if needed).
        shard_size: at most this many samples per shard.
        spectrum: also store each crop's spectrum image with these options; None for none.
        spectrum_dtype: ``"float16"`` (half the size) or ``"float32"``.
        spectrum_size: compute spectra of the crop resized to this side (the model's input size);
            None for the crop's own size.
        splits: the splits to pack (default: every split present in ``records``).
        on_progress: called as ``on_progress(done, total)`` after each record.

    Returns:
        A :class:`PackReport`; its index is also written to ``out_dir / "shards.json"``.

    Raises:
        ConfigError: a bad ``shard_size``, ``spectrum_dtype`` or split name.
        FileExistsError: ``out_dir`` is a file.
    """
    if shard_size < 1:
        raise ConfigError(f"shard size must be at least 1, got {shard_size}")
    if spectrum_dtype not in _SPECTRUM_DTYPES:
        raise ConfigError(f"unknown spectrum dtype {spectrum_dtype!r}; choose one of: float16, float32")
    if spectrum_size is not None and spectrum_size < 1:
        raise ConfigError(f"spectrum size must be positive, got {spectrum_size}")
    wanted = _check_splits(splits)
    crops_root, out_dir = Path(crops_root), Path(out_dir)
    make_output_dir(out_dir)
    _remove_leftovers(out_dir)
    (out_dir / SHARD_INDEX).unlink(missing_ok=True)  # until the new one is written, no index: no mixed reads

    names = class_names_of(records)
    by_split = {split: [r for r in records if r.split == split] for split in SPLITS if split in wanted}
    by_split = {split: rows for split, rows in by_split.items() if rows}
    total = sum(len(rows) for rows in by_split.values())
    progress = _Progress(total, on_progress)
    shards: list[ShardInfo] = []
    skipped: list[SkippedCrop] = []
    counts: dict[str, int] = {}
    digests: dict[str, str] = {}
    stats: SpectrumStats | None = None
    for split, rows in by_split.items():
        writer = _SplitWriter(
            split, out_dir, shard_size, names, spectrum, spectrum_dtype, spectrum_size, shards, skipped
        )
        spectra = writer.write(rows, crops_root, progress)
        if split == "train" and spectrum is not None:
            stats = _stats_or_none(spectra)
        else:
            for _ in spectra:
                pass
        counts[split] = writer.samples
        digests[split] = video_digest(writer.video_ids)

    index = ShardIndex(
        root=out_dir,
        shards=tuple(shards),
        class_names=names,
        counts=counts,
        video_digests=digests,
        spectrum=spectrum,
        spectrum_dtype=spectrum_dtype if spectrum is not None else None,
        spectrum_stats=stats,
        skipped=tuple(skipped),
    )
    atomic_write_text(out_dir / SHARD_INDEX, json.dumps(_index_to_json(index), indent=2) + "\n")
    _remove_stale_shards(out_dir, {shard.name for shard in shards})
    return PackReport(index=index, records=total)


def read_shard_index(folder: str | Path) -> ShardIndex:
    """Read the ``shards.json`` of a packed folder (or the file itself).

    Raises:
        DatasetLayoutError: the index is missing, not valid JSON, or not a fakescan shard index.
    """
    path = Path(folder)
    if path.is_dir():
        path = path / SHARD_INDEX
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetLayoutError(f"{path}: no shard index; run `fakescan pack` first") from None
    except json.JSONDecodeError as error:
        raise DatasetLayoutError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict) or data.get("format") != SHARD_FORMAT:
        raise DatasetLayoutError(f"{path}: not a fakescan shard index")
    if data.get("version") != SHARD_FORMAT_VERSION:
        raise DatasetLayoutError(
            f"{path}: shard index version {data.get('version')!r}, this fakescan reads "
            f"{SHARD_FORMAT_VERSION}; pack again"
        )
    try:
        return _index_from_json(data, path.parent)
    except (KeyError, TypeError, ValueError) as error:
        raise DatasetLayoutError(f"{path}: malformed shard index ({error!r})") from None


# -- writing -------------------------------------------------------------------------------------


class _Progress:
    def __init__(self, total: int, callback: ProgressCallback | None) -> None:
        self.total, self.done, self.callback = total, 0, callback

    def step(self) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total)


class _SplitWriter:
    """Writes the shards of one split; appends to the shared ``shards`` and ``skipped`` lists."""

    def __init__(
        self,
        split: Split,
        out_dir: Path,
        shard_size: int,
        class_names: tuple[str, ...],
        options: SpectrumOptions | None,
        dtype: SpectrumDtype,
        size: int | None,
        shards: list[ShardInfo],
        skipped: list[SkippedCrop],
    ) -> None:
        self.split, self.out_dir, self.shard_size = split, out_dir, shard_size
        self.class_index = {name: index for index, name in enumerate(class_names)}
        self.options, self.dtype, self.size = options, dtype, size
        self.shards, self.skipped = shards, skipped
        self.samples = 0
        self.written = 0
        self.video_ids: set[str] = set()

    def write(
        self, rows: Sequence[CropRecord], crops_root: Path, progress: _Progress
    ) -> Iterator[torch.Tensor]:
        """Write every shard of the split; yields each stored spectrum (as float32) on the way."""
        batch: list[tuple[str, CropRecord, bytes, bytes | None]] = []
        for position, record in enumerate(rows):
            member = self._read(record, crops_root)
            progress.step()
            if member is None:
                continue
            data, spec = member
            stored = None
            if spec is not None:
                array = spec.numpy().astype(self.dtype)
                stored = _npy_bytes(array)
                yield torch.from_numpy(array.astype(np.float32))
            batch.append((f"{position:08d}", record, data, stored))
            if len(batch) == self.shard_size:
                self._flush(batch)
                batch = []
        if batch:
            self._flush(batch)

    def _read(self, record: CropRecord, crops_root: Path) -> tuple[bytes, torch.Tensor | None] | None:
        path = crops_root / record.crop
        suffix = Path(record.crop).suffix.lower()
        try:
            if suffix not in IMAGE_EXTENSIONS:
                raise InputError(path, f"not an image file name (suffix {suffix or 'none'!r})")
            data = read_file_bytes(path)
            pixels = decode_image(data, path)
        except InputError as error:
            self.skipped.append(SkippedCrop(crop=record.crop, path=path, reason=error.reason))
            return None
        spec = None
        if self.options is not None:
            spec = spectrum_image(pixels if self.size is None else resize(pixels, self.size), self.options)
        return data, spec

    def _flush(self, batch: list[tuple[str, CropRecord, bytes, bytes | None]]) -> None:
        name = shard_name(self.split, self.written)
        target = self.out_dir / name
        tmp = self.out_dir / f".{name}.{os.getpid()}{TMP_MARK}"
        digest = hashlib.sha256()
        try:
            with open(tmp, "wb") as handle:
                with tarfile.open(fileobj=handle, mode="w", format=_TAR_FORMAT) as tar:
                    for key, record, data, stored in batch:
                        suffix = Path(record.crop).suffix.lower()
                        _add_member(tar, key + suffix, data)
                        _add_member(tar, key + META_SUFFIX, self._meta(record))
                        if stored is not None:
                            _add_member(tar, key + SPECTRUM_SUFFIX, stored)
                        self.video_ids.add(record.video_id)
                handle.flush()
                os.fsync(handle.fileno())
            with open(tmp, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        self.samples += len(batch)
        self.written += 1
        self.shards.append(
            ShardInfo(name=name, split=self.split, samples=len(batch), sha256=digest.hexdigest())
        )

    def _meta(self, record: CropRecord) -> bytes:
        meta = {
            "crop": record.crop,
            "video_id": record.video_id,
            "frame_index": record.frame_index,
            "label": record.label,
            "method": record.method,
            "class_index": self.class_index[record.method],
            "dataset": record.dataset,
            "split": record.split,
        }
        return json.dumps(meta, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _stats_or_none(spectra: Iterator[torch.Tensor]) -> SpectrumStats | None:
    first = next(spectra, None)
    if first is None:
        return None
    return spectrum_stats(itertools.chain([first], spectra))


def _check_splits(splits: Sequence[str] | None) -> set[str]:
    if splits is None:
        return set(SPLITS)
    unknown = [split for split in splits if split not in SPLITS]
    if unknown:
        raise ConfigError(f"unknown split {unknown[0]!r}; choose from: {', '.join(SPLITS)}")
    if not splits:
        raise ConfigError("no split to pack")
    return set(splits)


def _remove_leftovers(out_dir: Path) -> None:
    """Delete temporary files that a killed packing left behind."""
    for path in out_dir.iterdir():
        if path.name.startswith(".") and TMP_MARK in path.name and path.is_file():
            path.unlink(missing_ok=True)


def _remove_stale_shards(out_dir: Path, keep: set[str]) -> None:
    """Delete shard files of an earlier packing that the new index does not list."""
    for path in out_dir.iterdir():
        if _SHARD_NAME.match(path.name) and path.name not in keep and path.is_file():
            path.unlink()


# -- the index as JSON ---------------------------------------------------------------------------


def _index_to_json(index: ShardIndex) -> dict[str, Any]:
    splits = {}
    for split, count in index.counts.items():
        splits[split] = {
            "samples": count,
            "video_digest": index.video_digests[split],
            "shards": [
                {"name": s.name, "samples": s.samples, "sha256": s.sha256}
                for s in index.shards
                if s.split == split
            ],
        }
    spec: dict[str, Any] | None = None
    if index.spectrum is not None:
        stats = index.spectrum_stats
        spec = {
            "kind": index.spectrum.kind,
            "scale": index.spectrum.scale,
            "mode": index.spectrum.mode,
            "dtype": index.spectrum_dtype,
            "stats": None
            if stats is None
            else {"mean": list(stats.mean), "std": list(stats.std), "count": stats.count, "split": "train"},
        }
    return {
        "format": SHARD_FORMAT,
        "version": SHARD_FORMAT_VERSION,
        "class_names": list(index.class_names),
        "splits": splits,
        "spectrum": spec,
        "skipped": [{"crop": s.crop, "path": str(s.path), "reason": s.reason} for s in index.skipped],
    }


def _index_from_json(data: dict[str, Any], root: Path) -> ShardIndex:
    shards, counts, digests = [], {}, {}
    for split, entry in data["splits"].items():
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}")
        counts[split] = int(entry["samples"])
        digests[split] = str(entry["video_digest"])
        shards += [ShardInfo(s["name"], split, int(s["samples"]), s["sha256"]) for s in entry["shards"]]
    spec = data.get("spectrum")
    options = stats = dtype = None
    if spec is not None:
        options = SpectrumOptions(kind=spec["kind"], scale=spec["scale"], mode=spec["mode"])
        dtype = spec["dtype"]
        if spec.get("stats") is not None:
            raw = spec["stats"]
            stats = SpectrumStats(mean=tuple(raw["mean"]), std=tuple(raw["std"]), count=int(raw["count"]))
    skipped = tuple(SkippedCrop(s["crop"], Path(s["path"]), s["reason"]) for s in data.get("skipped", []))
    return ShardIndex(
        root=root,
        shards=tuple(shards),
        class_names=tuple(data["class_names"]),
        counts=counts,
        video_digests=digests,
        spectrum=options,
        spectrum_dtype=dtype,
        spectrum_stats=stats,
        skipped=skipped,
    )
