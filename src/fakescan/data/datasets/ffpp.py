"""FaceForensics++ (Rössler et al., ICCV 2019, https://github.com/ondyari/FaceForensics), official splits.

The layout written by the data set's own download script::

    ROOT/original_sequences/youtube/{raw,c23,c40}/videos/000.mp4 … 999.mp4
    ROOT/manipulated_sequences/<method>/{raw,c23,c40}/videos/953_974.mp4
    ROOT/{train,val,test}.json     (from the repository's dataset/splits/; ROOT/splits/ works too)

Each split file is a list of pairs of source ids, ``[["953", "974"], …]``; the 1000 YouTube videos
form 500 pairs, 360 / 70 / 70 of them in train / val / test (720 / 140 / 140 videos). The two
fakes of a pair, ``953_974`` (target 953 with the face of 974) and ``974_953``, and the two real
videos ``953`` and ``974`` all belong to the pair's split. ``sources`` records exactly that: a fake
has ``("953", "974")``, a real ``("953",)``, and the leakage guard keeps every id in one split.

``c23`` ("HQ") is the compression most results are reported on, ``c40`` ("LQ") the hard one.
The DeepFakeDetection videos kept in the same tree (``actors``, ``DeepFakeDetection``) are not part
of FF++: see :mod:`fakescan.data.datasets.dfd`. Mask videos (``<method>/masks``) are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from fakescan.data.datasets._common import examples, finish_index, list_media, read_json, require_dir
from fakescan.data.datasets.index import REAL, SPLITS, Split, VideoRecord
from fakescan.errors import ConfigError, DatasetLayoutError

__all__ = [
    "CLASSIC_METHODS",
    "COMPRESSIONS",
    "METHODS",
    "assign_pairs",
    "index_ffpp",
    "parse_pairs",
]

CLASSIC_METHODS: tuple[str, ...] = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")
"""The four methods of the original FF++ benchmark."""
METHODS: tuple[str, ...] = (*CLASSIC_METHODS, "FaceShifter")
"""Every manipulation method of FF++ (FaceShifter was added after the paper)."""
COMPRESSIONS: tuple[str, ...] = ("raw", "c23", "c40")

DATASET = "ffpp"
_FAKE_NAME = re.compile(r"^(\d+)_(\d+)$")
_REAL_NAME = re.compile(r"^\d+$")


def parse_pairs(data: object, source: str) -> list[tuple[str, str]]:
    """Check the content of one split file: a list of ``[target, source]`` pairs of digit strings.

    >>> parse_pairs([["953", "974"], ["000", "003"]], "train.json")
    [('953', '974'), ('000', '003')]
    >>> parse_pairs([["953"]], "train.json")
    Traceback (most recent call last):
    ...
    fakescan.errors.DatasetLayoutError: train.json: item 0 is ['953'], expected a pair of video ids like ["953", "974"]
    """  # noqa: E501
    if not isinstance(data, list):
        raise DatasetLayoutError(
            f'{source}: expected a list of video id pairs like [["953", "974"], …], got {type(data).__name__}'
        )
    pairs = []
    for n, item in enumerate(data):
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not all(isinstance(x, str) and _REAL_NAME.match(x) for x in item)
        ):
            raise DatasetLayoutError(
                f'{source}: item {n} is {item!r}, expected a pair of video ids like ["953", "974"]'
            )
        pairs.append((item[0], item[1]))
    return pairs


def assign_pairs(
    pairs_by_split: Mapping[Split, Sequence[tuple[str, str]]], names: Mapping[Split, str]
) -> dict[str, Split]:
    """The split of every source id named in the split files.

    Raises:
        DatasetLayoutError: an id is listed in two split files (``names`` gives the files' names).

    >>> assign_pairs({"train": [("1", "2")], "test": [("3", "4")]}, {})
    {'1': 'train', '2': 'train', '3': 'test', '4': 'test'}
    """
    owner: dict[str, Split] = {}
    for split, pairs in pairs_by_split.items():
        for pair in pairs:
            for video in pair:
                seen = owner.setdefault(video, split)
                if seen != split:
                    raise DatasetLayoutError(
                        f"{names.get(split, split)}: video id {video!r} is also listed in"
                        f" {names.get(seen, seen)}; the official split files share no id"
                    )
    return owner


def _split_files(root: Path, splits_dir: Path | None) -> dict[Split, Path]:
    folder = splits_dir
    if folder is None:
        folder = root
        if not (root / "train.json").is_file() and (root / "splits" / "train.json").is_file():
            folder = root / "splits"
    return {split: folder / f"{split}.json" for split in SPLITS}


def _resolve_methods(root: Path, methods: Sequence[str] | None, compression: str) -> list[str]:
    def folder(method: str) -> Path:
        return root / "manipulated_sequences" / method / compression / "videos"

    if methods is None:
        chosen = [*CLASSIC_METHODS, *(["FaceShifter"] if folder("FaceShifter").is_dir() else [])]
    else:
        # Other folders under manipulated_sequences (a user's own or `fakescan synth` methods) are
        # read when they exist; a name that is neither an FF++ method nor on disk is a typo.
        unknown = [method for method in methods if method not in METHODS and not folder(method).is_dir()]
        if unknown:
            raise ConfigError(
                f"unknown FF++ method(s) {unknown}; choose from {', '.join(METHODS)} "
                f"or a folder under {root / 'manipulated_sequences'}"
            )
        chosen = list(dict.fromkeys(methods))
    for method in chosen:
        require_dir(folder(method), f"FF++ {method} videos at {compression}; pass --methods to choose others")
    return chosen


def index_ffpp(
    root: str | Path,
    *,
    methods: Sequence[str] | None = None,
    compression: str = "c23",
    splits_dir: str | Path | None = None,
) -> list[VideoRecord]:
    """Index FaceForensics++ by its official train/val/test split files.

    Args:
        root: the FF++ folder (holding ``original_sequences`` and ``manipulated_sequences``).
        methods: manipulation methods to include; default the four classic ones, plus FaceShifter
            when it is on disk. Other method folders under ``manipulated_sequences`` (such as the
            ones ``fakescan synth`` writes) are read when named.
        compression: ``"raw"``, ``"c23"`` (default) or ``"c40"``.
        splits_dir: folder of ``train.json``, ``val.json``, ``test.json``; default ``root`` (or
            ``root/splits``).

    Videos listed in the split files but missing on disk, and videos on disk in no split file,
    are left out and reported as one :class:`~fakescan.data.datasets._common.DatasetWarning`.

    Raises:
        ConfigError: unknown method or compression.
        DatasetLayoutError: a split file or an expected folder is missing or malformed, an id is in
            two split files, or no video is found.
    """
    root = require_dir(Path(root), "the FaceForensics++ folder")
    if compression not in COMPRESSIONS:
        raise ConfigError(f"FF++ compression must be one of {', '.join(COMPRESSIONS)}, got {compression!r}")
    files = _split_files(root, None if splits_dir is None else Path(splits_dir))
    pairs_by_split = {
        split: parse_pairs(read_json(path, "FF++ split file"), str(path)) for split, path in files.items()
    }
    id_split = assign_pairs(pairs_by_split, {split: str(path) for split, path in files.items()})
    pair_split = {frozenset(pair): split for split, pairs in pairs_by_split.items() for pair in pairs}

    reals_dir = root / "original_sequences" / "youtube" / compression / "videos"
    if not reals_dir.is_dir():
        present = [c for c in COMPRESSIONS if (reals_dir.parent.parent / c / "videos").is_dir()]
        raise DatasetLayoutError(
            f"{reals_dir}: no such folder (FF++ real videos at {compression}; compressions on disk:"
            f" {', '.join(present) or 'none'})"
        )
    chosen = _resolve_methods(root, methods, compression)

    records: list[VideoRecord] = []
    unlisted: list[str] = []
    for path in list_media(reals_dir):
        split = id_split.get(path.stem)
        if split is None:
            unlisted.append(path.relative_to(root).as_posix())
            continue
        rel = path.relative_to(root)
        records.append(
            VideoRecord(rel.with_suffix("").as_posix(), rel.as_posix(), 0, REAL, split, DATASET, (path.stem,))
        )
    expected = {f"{reals_dir.relative_to(root).as_posix()}/{video}" for video in id_split}
    for method in chosen:
        folder = root / "manipulated_sequences" / method / compression / "videos"
        prefix = folder.relative_to(root).as_posix()
        for target, source in (pair for pairs in pairs_by_split.values() for pair in pairs):
            expected.update({f"{prefix}/{target}_{source}", f"{prefix}/{source}_{target}"})
        for path in list_media(folder):
            match = _FAKE_NAME.match(path.stem)
            split = None if match is None else pair_split.get(frozenset(match.groups()))
            rel = path.relative_to(root)
            if match is None or split is None:
                unlisted.append(rel.as_posix())
                continue
            records.append(
                VideoRecord(
                    rel.with_suffix("").as_posix(), rel.as_posix(), 1, method, split, DATASET, match.groups()
                )
            )

    notes = []
    missing = expected - {record.video_id for record in records}
    if missing and records:
        notes.append(f"{len(missing)} videos listed in the split files are not on disk ({examples(missing)})")
    if unlisted:
        notes.append(
            f"{len(unlisted)} videos on disk are in no split file and were left out ({examples(unlisted)})"
        )
    if not records:
        raise DatasetLayoutError(
            f"{root}: none of the videos listed in {files['train'].parent} is on disk under"
            f" {reals_dir.relative_to(root)} or the {', '.join(chosen)} folders"
        )
    return finish_index(records, DATASET, root, notes)
