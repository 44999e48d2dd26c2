"""Celeb-DF v1 and v2 (Li et al., CVPR 2020, https://github.com/yuezunli/celeb-deepfakeforensics).

Both versions unpack to the same layout::

    ROOT/Celeb-real/id0_0000.mp4 …          real: celebrity interviews (id<celebrity>_<clip>)
    ROOT/YouTube-real/00000.mp4 …           real: other YouTube clips
    ROOT/Celeb-synthesis/id0_id1_0000.mp4   fake: clip of id0 with the face of id1
    ROOT/List_of_testing_videos.txt         the official test set, one "<label> <path>" per line

In the test list the label comes first and **1 means real, 0 means fake** (the reverse of
fakescan's labels), e.g. ``1 YouTube-real/00170.mp4``. The test split is exactly the listed videos
(518 in v2); nothing listed is ever put in train or val. The other videos are split into train and
val *by video* with a fixed seed, reals and fakes separately so that both keep the same proportions.

Leak groups: the official test list shares celebrities with the rest of the data set, so identity
cannot be kept apart here. ``sources`` is therefore the video itself, and the leakage guard checks
videos only, which is what "nothing in the test list is trained on" requires.
"""

from __future__ import annotations

from pathlib import Path

from fakescan.data.datasets._common import (
    check_fraction,
    examples,
    finish_index,
    list_media,
    require_dir,
)
from fakescan.data.datasets.index import REAL, VideoRecord
from fakescan.data.datasets.splits import split_by_group
from fakescan.errors import DatasetLayoutError

__all__ = [
    "FAKE_FOLDER",
    "REAL_FOLDERS",
    "TEST_LIST",
    "index_celebdf_v1",
    "index_celebdf_v2",
    "parse_test_list",
]

REAL_FOLDERS: tuple[str, ...] = ("Celeb-real", "YouTube-real")
FAKE_FOLDER = "Celeb-synthesis"
TEST_LIST = "List_of_testing_videos.txt"


def parse_test_list(text: str, source: str) -> dict[str, int]:
    """The official test list as ``{path: fakescan label}`` (0 real, 1 fake).

    Each line is ``<1 real | 0 fake> <folder>/<file>``; the label must agree with the folder.

    >>> parse_test_list("1 YouTube-real/00170.mp4\\n0 Celeb-synthesis/id0_id1_0000.mp4\\n", "list.txt")
    {'YouTube-real/00170.mp4': 0, 'Celeb-synthesis/id0_id1_0000.mp4': 1}
    >>> parse_test_list("1 Celeb-synthesis/id0_id1_0000.mp4", "list.txt")
    Traceback (most recent call last):
    ...
    fakescan.errors.DatasetLayoutError: list.txt, line 1: label 1 (real) but Celeb-synthesis/ holds fakes
    """
    listed: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in ("0", "1"):
            raise DatasetLayoutError(
                f"{source}, line {number}: expected '<1 real | 0 fake> <folder>/<file>', got {line.strip()!r}"
            )
        official, path = parts
        folder = path.split("/", 1)[0]
        if folder not in (*REAL_FOLDERS, FAKE_FOLDER) or "/" not in path:
            raise DatasetLayoutError(
                f"{source}, line {number}: {path!r} is not in {', '.join((*REAL_FOLDERS, FAKE_FOLDER))}"
            )
        label = 1 if official == "0" else 0
        if label != (folder == FAKE_FOLDER):
            kind = "holds fakes" if folder == FAKE_FOLDER else "holds real videos"
            name = "real" if official == "1" else "fake"
            raise DatasetLayoutError(
                f"{source}, line {number}: label {official} ({name}) but {folder}/ {kind}"
            )
        listed[path] = label
    return listed


def _read_test_list(path: Path, dataset: str) -> str:
    """The text of the official test list; a UTF-8 byte-order mark is dropped (CRLF ends are fine)."""
    what = f"the official {dataset} test list"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DatasetLayoutError(f"{path}: no such file ({what})") from None
    except IsADirectoryError:
        raise DatasetLayoutError(
            f"{path}: a folder, not the official {dataset} test list (a text file)"
        ) from None
    except OSError as error:
        raise DatasetLayoutError(f"{path}: cannot read {what} ({error.strerror})") from None
    try:
        text: str | None = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise DatasetLayoutError(
            f"{path}: not a text file ({what}: '<1 real | 0 fake> <folder>/<file>' lines)"
        )
    return text


def _index_celebdf(root: str | Path, dataset: str, val_fraction: float, seed: int) -> list[VideoRecord]:
    root = require_dir(Path(root), f"the {dataset} folder")
    check_fraction(val_fraction, "--val-fraction")
    list_path = root / TEST_LIST
    listed = parse_test_list(_read_test_list(list_path, dataset), str(list_path))
    if not listed:
        raise DatasetLayoutError(f"{list_path}: names no video: it must list the official test videos")

    on_disk: list[tuple[str, int]] = []
    for folder in (*REAL_FOLDERS, FAKE_FOLDER):
        directory = require_dir(root / folder, f"part of the {dataset} layout")
        on_disk += [
            (path.relative_to(root).as_posix(), int(folder == FAKE_FOLDER)) for path in list_media(directory)
        ]

    rest = [(Path(path).with_suffix("").as_posix(), label) for path, label in on_disk if path not in listed]
    rest_split = split_by_group(
        [video_id for video_id, _ in rest],
        None,
        (1.0 - val_fraction, val_fraction, 0.0),
        seed,
        strata=[str(label) for _, label in rest],
    )
    records = []
    for path, label in on_disk:
        video_id = Path(path).with_suffix("").as_posix()
        split = "test" if path in listed else rest_split[video_id]
        method = FAKE_FOLDER if label else REAL
        records.append(VideoRecord(video_id, path, label, method, split, dataset, (video_id,)))

    missing = set(listed) - {path for path, _ in on_disk}
    notes = []
    if missing:
        notes.append(f"{len(missing)} videos of {TEST_LIST} are not on disk ({examples(missing)})")
    return finish_index(records, dataset, root, notes)


def index_celebdf_v1(root: str | Path, *, val_fraction: float = 0.1, seed: int = 0) -> list[VideoRecord]:
    """Index Celeb-DF v1: the official test list, and a seeded train/val split of the rest by video.

    Args:
        root: the Celeb-DF folder (``Celeb-real``, ``YouTube-real``, ``Celeb-synthesis``, the list).
        val_fraction: share of the non-test videos put in val.
        seed: fixes which videos go to val.

    Raises:
        DatasetLayoutError: a folder or the test list is missing, or a line of the list is malformed
            or labelled against its folder.
    """
    return _index_celebdf(root, "celebdf-v1", val_fraction, seed)


def index_celebdf_v2(root: str | Path, *, val_fraction: float = 0.1, seed: int = 0) -> list[VideoRecord]:
    """Index Celeb-DF v2 (same layout and rules as :func:`index_celebdf_v1`)."""
    return _index_celebdf(root, "celebdf-v2", val_fraction, seed)
