"""The Deepfake Detection Challenge data set (DFDC, Dolhansky et al. 2020, arXiv:2006.07397).

Layout of the full release::

    ROOT/train/dfdc_train_part_0 … dfdc_train_part_49/
        abc.mp4 …
        metadata.json    {"abc.mp4": {"label": "FAKE", "split": "train", "original": "xyz.mp4"}, …}
    ROOT/test/videos/*.mp4
    ROOT/test/labels.csv   header "filename,label", label 1 = fake, 0 = real

Each training part's ``metadata.json`` names, for every fake, the real video it was made from
(``original``). The release has no validation split, so val is carved out of train *by original*:
a real video and every fake made from it form one group, and groups are dealt with a fixed seed
(``val_fraction``), or chosen by part number (``val_parts``: a group goes to val if any of its
videos lies in one of those parts). ``sources`` is the original's file name for a fake and the
file's own name for a real, so the leakage guard keeps each group in one split. Either half of the
release may be absent (e.g. only ``test/`` for a cross-data-set evaluation), not both.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

from fakescan.data.datasets._common import (
    check_fraction,
    examples,
    finish_index,
    list_media,
    read_json,
    require_dir,
)
from fakescan.data.datasets.index import REAL, Split, VideoRecord
from fakescan.data.datasets.splits import split_groups
from fakescan.errors import ConfigError, DatasetLayoutError

__all__ = ["FAKE_METHOD", "TrainEntry", "index_dfdc", "parse_metadata", "parse_test_labels"]

DATASET = "dfdc"
FAKE_METHOD = "fake"
"""DFDC does not say which method made a fake; all fakes share this method name."""
_PART = re.compile(r"^dfdc_train_part_(\d+)$")

TrainEntry = tuple[str, int, str]
"""``(file name, label, source)`` of one training video: source is the original for a fake."""


def parse_metadata(data: object, source: str) -> list[TrainEntry]:
    """Check one part's ``metadata.json`` and return its videos.

    >>> parse_metadata({"a.mp4": {"label": "FAKE", "original": "b.mp4"}, "b.mp4": {"label": "REAL"}}, "m")
    [('a.mp4', 1, 'b.mp4'), ('b.mp4', 0, 'b.mp4')]
    >>> parse_metadata({"a.mp4": {"label": "FAKE"}}, "metadata.json")
    Traceback (most recent call last):
    ...
    fakescan.errors.DatasetLayoutError: metadata.json: fake 'a.mp4' has no 'original' (the real video it was made from)
    """  # noqa: E501
    if not isinstance(data, dict):
        raise DatasetLayoutError(f"{source}: expected an object {{file name: {{label, original}}}}")
    entries = []
    for name, entry in data.items():
        label = entry.get("label") if isinstance(entry, dict) else None
        if label not in ("FAKE", "REAL"):
            raise DatasetLayoutError(f"{source}: {name!r} has label {label!r}, expected 'FAKE' or 'REAL'")
        if label == "REAL":
            entries.append((name, 0, name))
            continue
        original = entry.get("original")
        if not isinstance(original, str) or not original:
            raise DatasetLayoutError(
                f"{source}: fake {name!r} has no 'original' (the real video it was made from)"
            )
        entries.append((name, 1, original))
    return entries


def parse_test_labels(text: str, source: str) -> dict[str, int]:
    """``test/labels.csv`` as ``{file name: label}`` (1 fake, 0 real, as in fakescan).

    >>> parse_test_labels("filename,label\\naaa.mp4,1\\nbbb.mp4,0\\n", "labels.csv")
    {'aaa.mp4': 1, 'bbb.mp4': 0}
    """
    reader = csv.DictReader(io.StringIO(text))
    if not {"filename", "label"} <= set(reader.fieldnames or []):
        raise DatasetLayoutError(f"{source}: expected the header 'filename,label', got {reader.fieldnames}")
    labels: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        value = (row["label"] or "").strip()
        if value not in ("0", "1", "0.0", "1.0"):
            raise DatasetLayoutError(
                f"{source}, line {line}: label must be 1 (fake) or 0 (real), got {value!r}"
            )
        labels[row["filename"].strip()] = int(float(value))
    return labels


def _train_parts(root: Path) -> dict[int, Path]:
    train = root / "train"
    if not train.is_dir():
        return {}
    parts = {}
    for folder in sorted(train.iterdir()):
        match = _PART.match(folder.name)
        if match and folder.is_dir():
            parts[int(match.group(1))] = folder
    return parts


def index_dfdc(
    root: str | Path,
    *,
    val_fraction: float | None = None,
    val_parts: Sequence[int] | None = None,
    seed: int = 0,
) -> list[VideoRecord]:
    """Index the full DFDC: the training parts (train and a val carved by original) and the test set.

    Args:
        root: the DFDC folder holding ``train/`` and/or ``test/``.
        val_fraction: share of the training *originals* (with their fakes) put in val; default 0.1.
        val_parts: part numbers whose groups make up val, instead of ``val_fraction``.
        seed: fixes which originals go to val (with ``val_fraction``).

    Raises:
        ConfigError: both ``val_fraction`` and ``val_parts``, or a val part not on disk.
        DatasetLayoutError: a ``metadata.json`` or ``labels.csv`` is missing or malformed; no video.
    """
    root = require_dir(Path(root), "the DFDC folder")
    if val_fraction is not None and val_parts is not None:
        raise ConfigError("give --val-fraction or --val-parts for DFDC, not both")
    parts = _train_parts(root)
    if val_parts is not None:
        absent = sorted(set(val_parts) - set(parts))
        if absent:
            raise ConfigError(
                f"DFDC val part(s) {absent} not found under {root / 'train'} (found {sorted(parts)})"
            )
    test_dir = root / "test"
    if not parts and not test_dir.is_dir():
        raise DatasetLayoutError(
            f"{root}: found neither train/dfdc_train_part_*/ nor test/ (the DFDC layout)"
        )

    notes: list[str] = []
    train: list[tuple[int, str, int, str]] = []  # part, file name, label, source
    missing: list[str] = []
    unlisted: list[str] = []
    for number, folder in parts.items():
        metadata = folder / "metadata.json"
        entries = parse_metadata(read_json(metadata, "the DFDC labels of this part"), str(metadata))
        names = {path.name for path in list_media(folder)}
        listed = {name for name, _, _ in entries}
        missing += [f"{folder.name}/{name}" for name in sorted(listed - names)]
        unlisted += [f"{folder.name}/{name}" for name in sorted(names - listed)]
        train += [(number, name, label, source) for name, label, source in entries if name in names]

    if val_parts is not None:
        chosen = set(val_parts)
        val_groups = {source for number, _, _, source in train if number in chosen}
        group_split: dict[str, Split] = {
            source: "val" if source in val_groups else "train" for _, _, _, source in train
        }
    else:
        share = check_fraction(0.1 if val_fraction is None else val_fraction, "--val-fraction")
        group_split = split_groups((source for *_, source in train), (1.0 - share, share, 0.0), seed)

    records = []
    for number, name, label, source in train:
        path = f"train/{parts[number].name}/{name}"
        records.append(
            VideoRecord(
                Path(path).with_suffix("").as_posix(),
                path,
                label,
                FAKE_METHOD if label else REAL,
                group_split[source],
                DATASET,
                (source,),
            )
        )

    if test_dir.is_dir():
        labels_path = test_dir / "labels.csv"
        try:
            text = labels_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DatasetLayoutError(f"{labels_path}: no such file (the DFDC test labels)") from None
        labels = parse_test_labels(text, str(labels_path))
        videos = require_dir(test_dir / "videos", "the DFDC test videos")
        names = {path.name for path in list_media(videos)}
        missing += [f"test/videos/{name}" for name in sorted(set(labels) - names)]
        unlisted += [f"test/videos/{name}" for name in sorted(names - set(labels))]
        for name in sorted(names & set(labels)):
            path = f"test/videos/{name}"
            label = labels[name]
            records.append(
                VideoRecord(
                    Path(path).with_suffix("").as_posix(),
                    path,
                    label,
                    FAKE_METHOD if label else REAL,
                    "test",
                    DATASET,
                    (name,),
                )
            )
    else:
        notes.append(f"no test/ folder under {root}: the index has no test split")
    if not parts:
        notes.append(f"no train/dfdc_train_part_*/ under {root}: the index has no train or val split")

    if missing:
        notes.append(f"{len(missing)} videos listed in the metadata are not on disk ({examples(missing)})")
    if unlisted:
        notes.append(f"{len(unlisted)} videos on disk have no label and were left out ({examples(unlisted)})")
    return finish_index(records, DATASET, root, notes)
