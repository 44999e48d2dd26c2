"""Miniature copies of the official data set layouts, written into a temporary folder.

Adapters only list files, so every "video" here is a few bytes. Each builder takes what to put where
and returns the data set root; ``MINIATURES`` builds a small default tree per registered data set.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

CLASSIC = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")
FFPP_PAIRS: dict[str, list[tuple[str, str]]] = {
    "train": [("000", "001"), ("002", "003"), ("004", "005")],
    "val": [("006", "007")],
    "test": [("008", "009")],
}


def touch(path: Path, content: bytes = b"v") -> Path:
    """Write a tiny placeholder file (creating its folders)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def make_ffpp(
    root: Path,
    pairs: Mapping[str, Sequence[tuple[str, str]]] = FFPP_PAIRS,
    methods: Iterable[str] = CLASSIC,
    compression: str = "c23",
    skip: Iterable[str] = (),
    extra: Iterable[str] = (),
    write: Callable[[Path], object] = touch,
) -> Path:
    """FF++: split files, the real videos of every listed id, and both fakes of each pair per method.

    ``skip`` names videos (ids relative to ``root``) not to write; ``extra`` names more files to write.
    """
    skipped = set(skip)
    for split, split_pairs in pairs.items():
        touch(root / f"{split}.json", json.dumps([list(pair) for pair in split_pairs]).encode())
    reals = root / "original_sequences/youtube" / compression / "videos"
    videos = [reals / f"{i}.mp4" for split_pairs in pairs.values() for pair in split_pairs for i in pair]
    for method in methods:
        folder = root / "manipulated_sequences" / method / compression / "videos"
        for split_pairs in pairs.values():
            for a, b in split_pairs:
                videos += [folder / f"{a}_{b}.mp4", folder / f"{b}_{a}.mp4"]
    for video in videos:
        if video.relative_to(root).with_suffix("").as_posix() not in skipped:
            write(video)
    for name in extra:
        touch(root / name)
    return root


DFD_REALS = [
    f"{actor:02d}__{scene}" for actor in range(1, 11) for scene in ("exit_phone_room", "hugging_happy")
]
DFD_FAKES = [
    f"{a:02d}_{b:02d}__{scene}__ABCD{a}{b}"
    for a, b in [(1, 2), (2, 1), (3, 4), (5, 6), (7, 8), (9, 10), (1, 3), (4, 9)]
    for scene in ("exit_phone_room", "walk_down_hall")
]


def make_dfd(
    root: Path, reals: Iterable[str] = DFD_REALS, fakes: Iterable[str] = DFD_FAKES, compression: str = "c23"
) -> Path:
    """DFD inside an FF++ tree: actor videos and DeepFakeDetection fakes."""
    for name in reals:
        touch(root / "original_sequences/actors" / compression / "videos" / f"{name}.mp4")
    for name in fakes:
        touch(root / "manipulated_sequences/DeepFakeDetection" / compression / "videos" / f"{name}.mp4")
    return root


CELEB_REAL = [f"id{i}_{clip:04d}" for i in range(4) for clip in range(3)]
YOUTUBE_REAL = [f"{n:05d}" for n in range(6)]
CELEB_FAKE = [f"id{i}_id{j}_{clip:04d}" for i in range(4) for j in range(4) if i != j for clip in range(1)]
CELEB_TEST = [
    "1 Celeb-real/id0_0000.mp4",
    "1 YouTube-real/00001.mp4",
    "0 Celeb-synthesis/id0_id1_0000.mp4",
    "0 Celeb-synthesis/id2_id3_0000.mp4",
]


def make_celebdf(
    root: Path,
    test_lines: Iterable[str] = CELEB_TEST,
    celeb_real: Iterable[str] = CELEB_REAL,
    youtube_real: Iterable[str] = YOUTUBE_REAL,
    fakes: Iterable[str] = CELEB_FAKE,
) -> Path:
    """Celeb-DF (v1 and v2 share the layout): three folders and the official test list."""
    for folder, names in (
        ("Celeb-real", celeb_real),
        ("YouTube-real", youtube_real),
        ("Celeb-synthesis", fakes),
    ):
        for name in names:
            touch(root / folder / f"{name}.mp4")
    touch(root / "List_of_testing_videos.txt", ("\n".join(test_lines) + "\n").encode())
    return root


def dfdc_part(originals: Sequence[str], fakes_per_original: int = 2) -> dict[str, dict[str, str]]:
    """The metadata of a training part: each original with its fakes (named ``<original>f<k>.mp4``)."""
    metadata: dict[str, dict[str, str]] = {}
    for original in originals:
        metadata[f"{original}.mp4"] = {"label": "REAL", "split": "train"}
        for k in range(fakes_per_original):
            metadata[f"{original}f{k}.mp4"] = {
                "label": "FAKE",
                "split": "train",
                "original": f"{original}.mp4",
            }
    return metadata


DFDC_PARTS = {
    0: dfdc_part(["aaaa", "bbbb", "cccc", "dddd", "eeee"]),
    1: dfdc_part(["ffff", "gggg", "hhhh", "iiii", "jjjj"]),
}
DFDC_TEST = {"tst1.mp4": 1, "tst2.mp4": 0, "tst3.mp4": 1, "tst4.mp4": 0}


def make_dfdc(
    root: Path,
    parts: Mapping[int, Mapping[str, object]] = DFDC_PARTS,
    test: Mapping[str, int] | None = DFDC_TEST,
    skip: Iterable[str] = (),
) -> Path:
    """Full DFDC: training parts with their metadata.json, and test/videos with labels.csv."""
    skipped = set(skip)
    for number, metadata in parts.items():
        folder = root / "train" / f"dfdc_train_part_{number}"
        touch(folder / "metadata.json", json.dumps(metadata).encode())
        for name in metadata:
            if name not in skipped:
                touch(folder / name)
    if test is not None:
        lines = ["filename,label", *(f"{name},{label}" for name, label in test.items())]
        touch(root / "test/labels.csv", ("\n".join(lines) + "\n").encode())
        for name in test:
            touch(root / "test/videos" / name)
    return root


DFDCP_ENTRIES = {
    **{
        f"original_videos/{s}/{s}_A/00{k}.mp4": {"label": "real", "set": "train"}
        for s in (1, 2, 3)
        for k in range(2)
    },
    **{f"original_videos/9/9_A/00{k}.mp4": {"label": "real", "set": "test"} for k in range(2)},
    **{
        f"method_{m}/{s}/{s}_{m}/10{k}_{m}.mp4": {"label": "fake", "set": "train"}
        for m in "AB"
        for s in (1, 2, 3)
        for k in range(2)
    },
    **{f"method_{m}/9/9_{m}/90_{m}.mp4": {"label": "fake", "set": "test"} for m in "AB"},
}


def make_dfdcp(root: Path, entries: Mapping[str, object] = DFDCP_ENTRIES, skip: Iterable[str] = ()) -> Path:
    """DFDC preview: the three folders and dataset.json."""
    touch(root / "dataset.json", json.dumps(entries).encode())
    for path in entries:
        if path not in set(skip):
            touch(root / path)
    return root


FOLDERS = {
    "real": [f"r{n}.mp4" for n in range(10)] + ["stills/r_a.jpg", "stills/r_b.png"],
    "fake": [f"f{n}.mp4" for n in range(10)] + ["stills/f_a.jpg"],
}


def make_folders(root: Path, classes: Mapping[str, Iterable[str]] = FOLDERS) -> Path:
    """Users' own folders: ``root/<class>/<relative path>`` for every listed file."""
    for name, files in classes.items():
        for file in files:
            touch(root / name / file)
    return root


MINIATURES: dict[str, Callable[[Path], Path]] = {
    "ffpp": make_ffpp,
    "dfd": make_dfd,
    "celebdf-v1": make_celebdf,
    "celebdf-v2": make_celebdf,
    "dfdc": make_dfdc,
    "dfdcp": make_dfdcp,
    "folders": make_folders,
}
"""A default miniature tree per registered data set."""
