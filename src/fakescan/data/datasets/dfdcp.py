"""The DFDC preview data set (DFDCP, Dolhansky et al. 2019, arXiv:1910.08854).

Layout of the release::

    ROOT/original_videos/…/*.mp4       real
    ROOT/method_A/…/*.mp4              fake, first face-swap method
    ROOT/method_B/…/*.mp4              fake, second face-swap method
    ROOT/dataset.json   {"method_A/…/x.mp4": {"label": "fake", "set": "train"}, …}

``dataset.json`` gives every video its label and its official set, ``train`` or ``test``. The
test split is the official one; val is carved out of train *by video* with a fixed seed, each top
folder (``original_videos``, ``method_A``, ``method_B``) in the same proportion. A fake's
method is the top folder of its path (``method_A``, ``method_B``). The file does not link a fake
to the real video it came from, so ``sources`` is the video itself and the leakage guard checks
videos only.
"""

from __future__ import annotations

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
from fakescan.data.datasets.splits import split_by_group
from fakescan.errors import DatasetLayoutError

__all__ = ["index_dfdcp", "parse_dataset_json"]

DATASET = "dfdcp"


def parse_dataset_json(data: object, source: str) -> dict[str, tuple[int, str]]:
    """Check ``dataset.json``: ``{path: (label, official set)}``, label 1 fake, set train or test.

    >>> parse_dataset_json({"method_A/1/a.mp4": {"label": "fake", "set": "test"}}, "dataset.json")
    {'method_A/1/a.mp4': (1, 'test')}
    >>> parse_dataset_json({"x.mp4": {"label": "fake", "set": "dev"}}, "dataset.json")
    Traceback (most recent call last):
    ...
    fakescan.errors.DatasetLayoutError: dataset.json: 'x.mp4' has set 'dev', expected 'train' or 'test'
    """
    if not isinstance(data, dict):
        raise DatasetLayoutError(f"{source}: expected an object {{path: {{label, set}}}}")
    entries = {}
    for path, entry in data.items():
        label = str(entry.get("label", "")).lower() if isinstance(entry, dict) else ""
        if label not in ("fake", "real"):
            raise DatasetLayoutError(
                f"{source}: {path!r} has label {label or None!r}, expected 'fake' or 'real'"
            )
        official = entry.get("set")
        if official not in ("train", "test"):
            raise DatasetLayoutError(f"{source}: {path!r} has set {official!r}, expected 'train' or 'test'")
        entries[path] = (int(label == "fake"), official)
    return entries


def index_dfdcp(root: str | Path, *, val_fraction: float = 0.1, seed: int = 0) -> list[VideoRecord]:
    """Index the DFDC preview by its ``dataset.json``, with a seeded val split of train by video.

    Args:
        root: the DFDCP folder holding ``dataset.json``.
        val_fraction: share of the official training videos put in val.
        seed: fixes which videos go to val.

    Raises:
        DatasetLayoutError: ``dataset.json`` is missing or malformed, or no listed video is on disk.
    """
    root = require_dir(Path(root), "the DFDC preview folder")
    check_fraction(val_fraction, "--val-fraction")
    json_path = root / "dataset.json"
    entries = parse_dataset_json(read_json(json_path, "the DFDC preview index"), str(json_path))
    on_disk = {path.relative_to(root).as_posix() for path in list_media(root, recursive=True)}
    present = sorted(path for path in entries if path in on_disk)

    train = [path for path in present if entries[path][1] == "train"]
    carved = split_by_group(
        [Path(path).with_suffix("").as_posix() for path in train],
        None,
        (1.0 - val_fraction, val_fraction, 0.0),
        seed,
        strata=[path.split("/", 1)[0] for path in train],
    )
    records = []
    for path in present:
        label, official = entries[path]
        video_id = Path(path).with_suffix("").as_posix()
        split: Split = "test" if official == "test" else carved[video_id]
        method = path.split("/", 1)[0] if label else REAL
        records.append(VideoRecord(video_id, path, label, method, split, DATASET, (video_id,)))

    notes = []
    missing = set(entries) - on_disk
    unlisted = on_disk - set(entries)
    if missing:
        notes.append(f"{len(missing)} videos of dataset.json are not on disk ({examples(missing)})")
    if unlisted:
        notes.append(
            f"{len(unlisted)} videos on disk are not in dataset.json and were left out ({examples(unlisted)})"
        )
    return finish_index(records, DATASET, root, notes)
