"""Dataset index records: the typed rows every adapter yields and every loader reads.

Two tables, both CSV with a header, written atomically:

- the **video index** (``index.csv``): one :class:`VideoRecord` per source video or image, with its
  label, method, split and the *source identities* that tie a fake to the real videos it was made
  from. Adapters (FaceForensics++, Celeb-DF, DFDC, …) produce it; the leakage guard checks it.
- the **crop table** (``crops.csv``): one :class:`CropRecord` per face crop, the video index joined
  with the manifest of ``fakescan extract``. Loaders and packers read it.

``video_id`` is the video's path relative to the data set root, POSIX style, without extension:
unique within a data set, and exactly the folder ``fakescan extract`` writes the video's crops to,
so a crop's video is known from the index, never guessed from a folder name (fakes of different
FF++ methods share file names).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Literal, TypeVar

from fakescan._atomic import atomic_write_text
from fakescan.errors import DatasetLayoutError

__all__ = [
    "REAL",
    "SPLITS",
    "CropRecord",
    "Split",
    "VideoRecord",
    "read_crop_table",
    "read_video_index",
    "video_digest",
    "write_crop_table",
    "write_video_index",
]

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
REAL = "real"
"""The ``method`` of real videos; class index 0 in multi-class labels."""

_SOURCE_SEP = ";"


@dataclass(frozen=True)
class VideoRecord:
    """One video (or image) of a data set.

    Attributes:
        video_id: path relative to the data set root, POSIX, no extension (unique in a data set).
        path: path relative to the data set root, POSIX, with extension.
        label: 0 real, 1 fake.
        method: ``"real"`` or the manipulation method (``"Deepfakes"``, ``"Celeb-synthesis"``, …).
        split: ``"train"``, ``"val"`` or ``"test"``.
        dataset: the data set's name (``"ffpp"``, ``"celebdf-v2"``, ``"folders"``, …).
        sources: identities this video is made of, which must all stay in one split: for an FF++
            fake ``953_974`` the ids ``("953", "974")``, for its reals ``("953",)``; for a DFDC fake
            its original's file name; otherwise the video's own id.
    """

    video_id: str
    path: str
    label: int
    method: str
    split: Split
    dataset: str
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.label not in (0, 1):
            raise ValueError(f"{self.video_id}: label must be 0 (real) or 1 (fake), got {self.label!r}")
        if self.split not in SPLITS:
            raise ValueError(f"{self.video_id}: split must be one of {SPLITS}, got {self.split!r}")


@dataclass(frozen=True)
class CropRecord:
    """One face crop with everything a loader needs.

    Attributes:
        crop: path of the image relative to the crops folder (``<video_id>/<frame>.png``).
        video_id, label, method, split, dataset: as in :class:`VideoRecord`.
        frame_index: index of the frame in its video (0 for an image).
        landmarks: the face's key points in pixels of the frame, ``"x y;x y;..."`` as in the
            extraction manifest (:func:`fakescan.data.extract.parse_landmarks`); empty when the
            detector gives none.
    """

    crop: str
    video_id: str
    frame_index: int
    label: int
    method: str
    split: Split
    dataset: str
    landmarks: str = ""


_Record = TypeVar("_Record", VideoRecord, CropRecord)


def _to_cell(value: object) -> str:
    if isinstance(value, tuple):
        return _SOURCE_SEP.join(value)
    return str(value)


def _write_table(path: str | Path, rows: Iterable[_Record], record_type: type[_Record]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = [f.name for f in fields(record_type)]
    writer.writerow(names)
    for row in rows:
        writer.writerow([_to_cell(getattr(row, name)) for name in names])
    atomic_write_text(path, buffer.getvalue())


def _read_table(path: str | Path, record_type: type[_Record]) -> list[_Record]:
    path = Path(path)
    names = [f.name for f in fields(record_type)]
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetLayoutError(f"{path}: no such file") from None
    reader = csv.DictReader(io.StringIO(text))
    required = [f.name for f in fields(record_type) if f.default is MISSING]
    missing = [name for name in required if name not in (reader.fieldnames or [])]
    if missing:
        raise DatasetLayoutError(f"{path}: not a {record_type.__name__} table, missing columns {missing}")
    names = [name for name in names if name in (reader.fieldnames or [])]  # older tables lack some
    records = []
    for line, row in enumerate(reader, start=2):
        try:
            values: dict[str, object] = dict(row)
            for name in ("label", "frame_index"):
                if name in names:
                    values[name] = int(row[name])
            if "sources" in names:
                values["sources"] = tuple(s for s in row["sources"].split(_SOURCE_SEP) if s)
            records.append(record_type(**{name: values[name] for name in names}))
        except (TypeError, ValueError) as error:
            raise DatasetLayoutError(f"{path}, line {line}: {error}") from None
    return records


def write_video_index(path: str | Path, records: Iterable[VideoRecord]) -> None:
    """Write a video index as CSV, atomically."""
    _write_table(path, records, VideoRecord)


def read_video_index(path: str | Path) -> list[VideoRecord]:
    """Read a video index; a missing file or a bad row raises :class:`DatasetLayoutError`."""
    return _read_table(path, VideoRecord)


def write_crop_table(path: str | Path, records: Iterable[CropRecord]) -> None:
    """Write a crop table as CSV, atomically."""
    _write_table(path, records, CropRecord)


def read_crop_table(path: str | Path) -> list[CropRecord]:
    """Read a crop table; a missing file or a bad row raises :class:`DatasetLayoutError`."""
    return _read_table(path, CropRecord)


def video_digest(video_ids: Sequence[str] | Iterable[str]) -> str:
    """SHA-256 of the sorted, de-duplicated video ids, one per line: the fingerprint of a split.

    >>> video_digest(["b", "a", "a"]) == video_digest(["a", "b"])
    True
    """
    text = "\n".join(sorted(set(video_ids)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
