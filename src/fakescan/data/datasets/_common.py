"""Helpers shared by the data set adapters: listing media, reading split files, finishing an index.

Everything that touches the disk in an adapter goes through the few functions here, and every
adapter ends with :func:`finish_index`, which reports what was left out, refuses an empty or
ambiguous index and runs the leakage guard.
"""

from __future__ import annotations

import itertools
import json
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

from fakescan.data.datasets.index import VideoRecord
from fakescan.data.datasets.leakage import check_disjoint
from fakescan.data.media import MediaKind, media_kind
from fakescan.errors import ConfigError, DatasetLayoutError

__all__ = [
    "DatasetWarning",
    "check_fraction",
    "examples",
    "finish_index",
    "list_media",
    "read_json",
    "require_dir",
    "video_id_of",
]


class DatasetWarning(UserWarning):
    """Something was left out of an index: listed videos missing on disk, files in no split, ….

    Not an error: real downloads are often partial. The CLI prints these as yellow lines.
    """


def list_media(
    folder: Path, kinds: Sequence[MediaKind] = ("video",), *, recursive: bool = False
) -> list[Path]:
    """The media files of ``kinds`` in ``folder`` (or below it), sorted; hidden files skipped."""
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        path
        for path in found
        if path.is_file()
        and not path.name.startswith(".")
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
        and media_kind(path) in kinds
    )


def video_id_of(path: Path, root: Path) -> str:
    """A file's id: its path relative to ``root``, POSIX style, without extension.

    >>> video_id_of(Path("/d/manipulated_sequences/Deepfakes/c23/videos/953_974.mp4"), Path("/d"))
    'manipulated_sequences/Deepfakes/c23/videos/953_974'
    """
    return path.relative_to(root).with_suffix("").as_posix()


def require_dir(path: Path, what: str) -> Path:
    """``path`` if it is a folder, else :class:`DatasetLayoutError` saying what was expected there."""
    if not path.is_dir():
        raise DatasetLayoutError(f"{path}: no such folder ({what})")
    return path


def read_json(path: Path, what: str) -> object:
    """Parse a JSON file; a missing file or bad JSON raises :class:`DatasetLayoutError` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetLayoutError(f"{path}: no such file ({what})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetLayoutError(f"{path}: cannot be read ({error})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DatasetLayoutError(
            f"{path}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None


def examples(items: Iterable[str], shown: int = 3) -> str:
    """A short, sorted sample of ``items`` for a message.

    >>> examples(["c", "a", "b", "d", "e"])
    'a, b, c and 2 more'
    >>> examples(["x"])
    'x'
    """
    ordered = sorted(items)
    head = ", ".join(ordered[:shown])
    return head if len(ordered) <= shown else f"{head} and {len(ordered) - shown} more"


def check_fraction(value: float, option: str) -> float:
    """``value`` if it is in ``[0, 1)``, else :class:`ConfigError` naming ``option``."""
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{option} must be at least 0 and below 1, got {value}")
    return value


def finish_index(
    records: list[VideoRecord], dataset: str, root: Path, notes: Iterable[str]
) -> list[VideoRecord]:
    """The common end of every adapter.

    Emits each note as a :class:`DatasetWarning` (prefixed with the data set's name), refuses an
    index with no video or with two files for one video id, runs the leakage guard
    (:func:`~fakescan.data.datasets.leakage.check_disjoint`) and returns the records sorted by id.

    Raises:
        DatasetLayoutError: nothing was found, or two files map to the same video id.
        SplitLeakError: a video or source identity is in two splits.
    """
    for note in notes:
        warnings.warn(f"{dataset}: {note}", DatasetWarning, stacklevel=3)
    if not records:
        raise DatasetLayoutError(f"{root}: no {dataset} video found in its official layout")
    ordered = sorted(records, key=lambda record: record.video_id)
    for before, after in itertools.pairwise(ordered):
        if before.video_id == after.video_id:
            raise DatasetLayoutError(
                f"{root}: two files for video {before.video_id!r} ({before.path}, {after.path}); keep one"
            )
    check_disjoint(ordered)
    return ordered
