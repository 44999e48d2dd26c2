"""Joining a video index with the manifest of ``fakescan extract``: the crop table.

``fakescan extract`` writes the crops of a file to ``<key>/<frame>.png`` under its output folder,
where ``key`` is the file's path relative to the input root without extension. When the input root
is the data set root (as with ``fakescan extract --dataset``), that key *is* the ``video_id`` of
the index, so a manifest row finds its video through the folder of its ``crop`` path; file or
folder names are never matched by themselves (fakes of different FF++ methods share names).
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from fakescan.data.datasets._common import DatasetWarning, examples
from fakescan.data.datasets.index import CropRecord, VideoRecord
from fakescan.data.media import media_kind
from fakescan.errors import DatasetLayoutError

if TYPE_CHECKING:
    from fakescan.data.extract import ManifestRow, MediaItem

__all__ = ["CropJoin", "crop_table", "find_manifests", "join_crops", "media_items", "read_manifest"]

_INT_COLUMNS = ("frame_index", "face_index")
_FLOAT_COLUMNS = ("timestamp", "x1", "y1", "x2", "y2", "score")


def media_items(records: Iterable[VideoRecord], root: str | Path) -> list[MediaItem]:
    """The extraction inputs for ``records``: each file under ``root``, its crops to its ``video_id``."""
    from fakescan.data.extract import MediaItem

    root = Path(root)
    return [
        MediaItem(root / record.path, media_kind(Path(record.path)) or "unknown", record.video_id)
        for record in records
    ]


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Read a ``manifest.csv`` written by ``fakescan extract`` back into typed rows.

    Raises:
        DatasetLayoutError: the file is missing, lacks a column or holds a bad number.
    """
    from fakescan.data.extract import ManifestRow

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetLayoutError(f"{path}: no such file (the manifest of fakescan extract)") from None
    reader = csv.DictReader(io.StringIO(text))
    names = [f.name for f in fields(ManifestRow)]
    optional = {"landmarks"}  # manifests written before landmarks were recorded lack the column
    missing = [name for name in names if name not in (reader.fieldnames or []) and name not in optional]
    if missing:
        raise DatasetLayoutError(f"{path}: not a fakescan extract manifest, missing columns {missing}")
    rows = []
    for line, row in enumerate(reader, start=2):
        values: dict[str, object] = {name: row.get(name) or "" for name in names}
        try:
            for name in _INT_COLUMNS:
                values[name] = int(row[name]) if row[name] else None
            for name in _FLOAT_COLUMNS:
                values[name] = float(row[name]) if row[name] else None
        except ValueError as error:
            raise DatasetLayoutError(f"{path}, line {line}: {error}") from None
        values["crop"] = row["crop"] or None
        rows.append(ManifestRow(**values))  # type: ignore[arg-type]
    return rows


def find_manifests(folder: str | Path) -> list[Path]:
    """The manifest(s) of an extraction folder: ``manifest.csv``, else every shard's manifest."""
    folder = Path(folder)
    single = folder / "manifest.csv"
    if single.is_file():
        return [single]
    return sorted(folder.glob("manifest.shard-*-of-*.csv"))


@dataclass(frozen=True)
class CropJoin:
    """The result of :func:`join_crops`.

    Attributes:
        crops: one record per ``ok`` manifest row whose video is in the index, in manifest order.
        without_crops: ids of indexed videos that got no crop, sorted.
        strays: crops (paths) whose folder is not a video of the index, e.g. from another data set.
        missing_files: crops listed in the manifest whose file is gone (only when checked).
    """

    crops: list[CropRecord]
    without_crops: list[str]
    strays: list[str]
    missing_files: list[str]


def join_crops(
    records: Iterable[VideoRecord], rows: Iterable[ManifestRow], crops_root: str | Path | None = None
) -> CropJoin:
    """Join the index with manifest rows (pure, unless ``crops_root`` is given to check the files)."""
    by_id = {record.video_id: record for record in records}
    crops: list[CropRecord] = []
    strays: list[str] = []
    missing: list[str] = []
    for row in rows:
        if row.status != "ok" or row.crop is None:
            continue
        video_id = row.crop.rsplit("/", 1)[0] if "/" in row.crop else ""
        record = by_id.get(video_id)
        if record is None:
            strays.append(row.crop)
            continue
        if crops_root is not None and not (Path(crops_root) / row.crop).is_file():
            missing.append(row.crop)
            continue
        frame = row.frame_index if row.frame_index is not None else 0
        crops.append(
            CropRecord(
                row.crop,
                video_id,
                frame,
                record.label,
                record.method,
                record.split,
                record.dataset,
                landmarks=row.landmarks,
            )
        )
    cropped = {crop.video_id for crop in crops}
    return CropJoin(crops, sorted(set(by_id) - cropped), strays, missing)


def crop_table(
    records: Sequence[VideoRecord],
    manifest: str | Path | Iterable[ManifestRow],
    crops_root: str | Path | None = None,
) -> list[CropRecord]:
    """The crop table of ``records``: every ``ok`` crop of the manifest, with its video's labels.

    Args:
        records: the video index (or the part of it that was extracted).
        manifest: a ``manifest.csv`` path, or its rows.
        crops_root: the extraction folder; if given, crops whose file is missing are dropped.

    Videos without any crop, crops of videos not in ``records`` and missing crop files are reported
    as one :class:`~fakescan.data.datasets._common.DatasetWarning` each.
    """
    rows = read_manifest(manifest) if isinstance(manifest, (str, Path)) else manifest
    joined = join_crops(records, rows, crops_root)
    if joined.without_crops:
        warnings.warn(
            f"{len(joined.without_crops)} of {len(records)} videos have no face crop"
            f" ({examples(joined.without_crops)})",
            DatasetWarning,
            stacklevel=2,
        )
    if joined.strays:
        warnings.warn(
            f"{len(joined.strays)} crops belong to no video of the index and were left out"
            f" ({examples(joined.strays)})",
            DatasetWarning,
            stacklevel=2,
        )
    if joined.missing_files:
        warnings.warn(
            f"{len(joined.missing_files)} crops of the manifest are missing on disk"
            f" ({examples(joined.missing_files)})",
            DatasetWarning,
            stacklevel=2,
        )
    return joined.crops
