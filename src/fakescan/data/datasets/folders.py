"""Users' own data: one folder per class, with or without train/val/test folders inside.

Accepted layouts (files are found recursively; videos and images may be mixed)::

    ROOT/real/**  ROOT/fake/**                       binary
    ROOT/real/**  ROOT/<method>/** …                 one folder per manipulation method
    ROOT/<class>/{train,val,test}/**                 the same, already split

A folder named ``real`` must exist: it is class 0, and every other folder is a fake method named
after it (so ``fake`` gives the method ``"fake"``). Either every class folder holds split folders or
none does. Without split folders, the files are split with a fixed seed in proportion to
``fractions``, each class separately (so every split holds every class in about the same
proportions); with them, those splits are used as they are, and media beside the split folders
are left out (and counted).

Leak groups (``sources``): with ``group_by="file"`` (default) each file is its own group. With
``group_by="folder"``, files in a sub-folder of a class (or split) folder form one group, named by
that sub-folder; use it when a folder holds the frames of one video, so that frames of one video
never end up in two splits. Nothing links a fake to the real video it was made from here: keep
such pairs in the same split folders yourself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from fakescan.data.datasets._common import examples, finish_index, list_media, require_dir
from fakescan.data.datasets.index import REAL, SPLITS, Split, VideoRecord
from fakescan.data.datasets.splits import check_fractions, split_by_group
from fakescan.errors import ConfigError, DatasetLayoutError

__all__ = ["index_folders", "unique_ids"]

DATASET = "folders"


def unique_ids(paths: Sequence[str]) -> list[str]:
    """Video ids for relative paths: the path without extension, plus ``_<ext>`` where two collide.

    This is the rule ``fakescan extract`` uses for output folders, so ids and crop folders agree.

    >>> unique_ids(["real/a.mp4", "real/a.png", "real/b.jpg"])
    ['real/a_mp4', 'real/a_png', 'real/b']
    """
    stems = [Path(path).with_suffix("").as_posix() for path in paths]
    counts = Counter(stems)
    return [
        f"{stem}_{Path(path).suffix.lstrip('.').lower()}" if counts[stem] > 1 else stem
        for path, stem in zip(paths, stems, strict=True)
    ]


def _group(path: Path, base: Path, group_by: str) -> str:
    """The leak group of ``path``, found under the class or split folder ``base``."""
    inner = path.relative_to(base)
    if group_by == "folder" and len(inner.parts) > 1:
        return (base / inner.parts[0]).as_posix()
    return path.with_suffix("").as_posix()


def index_folders(
    root: str | Path,
    *,
    fractions: Sequence[float] | None = None,
    seed: int = 0,
    group_by: Literal["file", "folder"] = "file",
) -> list[VideoRecord]:
    """Index a folder of class folders (``real`` plus one or more fake classes).

    Args:
        root: the folder holding the class folders.
        fractions: ``(train, val, test)`` shares for data without split folders; default
            ``(0.8, 0.1, 0.1)``. An error where the folders are already split.
        seed: fixes the seeded split.
        group_by: ``"file"`` or ``"folder"``: what must stay within one split (see the module notes).

    Raises:
        ConfigError: bad fractions or ``group_by``, or ``fractions`` given for split folders.
        DatasetLayoutError: no ``real`` folder, no fake class, a mix of split and unsplit classes,
            or no media.
    """
    root = require_dir(Path(root), "the data folder")
    if group_by not in ("file", "folder"):
        raise ConfigError(f"group_by must be 'file' or 'folder', got {group_by!r}")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = [folder.name for folder in classes]
    if REAL not in names:
        raise DatasetLayoutError(
            f"{root}: no '{REAL}' folder; expected {REAL}/ and fake/ (or one folder per fake method),"
            f" found {names or 'no folders'}"
        )
    if len(classes) < 2:
        raise DatasetLayoutError(f"{root}: only a '{REAL}' folder; add fake/ or one folder per fake method")
    split_style = {folder.name: any((folder / split).is_dir() for split in SPLITS) for folder in classes}
    presplit = any(split_style.values())
    if presplit and not all(split_style.values()):
        unsplit = [name for name, has in split_style.items() if not has]
        raise DatasetLayoutError(
            f"{root / unsplit[0]}: has no train/ val/ test/ folders while other classes do;"
            " split every class or none"
        )
    if presplit and fractions is not None:
        raise ConfigError(
            f"{root}: the classes are already split into train/ val/ test/; fractions do not apply"
        )
    shares = check_fractions((0.8, 0.1, 0.1) if fractions is None else fractions)

    # (relative path, class, split or None, group)
    found: list[tuple[str, str, Split | None, str]] = []
    left_out: list[str] = []
    for folder in classes:
        media = list_media(folder, ("video", "image"), recursive=True)
        if not presplit:
            found += [
                (
                    path.relative_to(root).as_posix(),
                    folder.name,
                    None,
                    _group(path.relative_to(root), Path(folder.name), group_by),
                )
                for path in media
            ]
            continue
        for path in media:
            rel = path.relative_to(root)
            split = rel.parts[1] if len(rel.parts) > 2 and rel.parts[1] in SPLITS else None
            if split is None:
                left_out.append(rel.as_posix())
                continue
            found.append(
                (rel.as_posix(), folder.name, split, _group(rel, Path(folder.name, split), group_by))
            )

    ids = unique_ids([path for path, *_ in found])
    seeded = {}
    if not presplit:
        groups = [group for *_, group in found]
        seeded = split_by_group(ids, groups, shares, seed, strata=[name for _, name, _, _ in found])
    records = []
    for video_id, (path, name, split, group) in zip(ids, found, strict=True):
        label = int(name != REAL)
        chosen: Split = split if split is not None else seeded[video_id]
        records.append(VideoRecord(video_id, path, label, name, chosen, DATASET, (group,)))

    notes = []
    empty = sorted(set(names) - {name for _, name, _, _ in found})
    if empty:
        notes.append(f"class folders with no media: {examples(empty)}")
    if left_out:
        notes.append(
            f"{len(left_out)} files outside the train/ val/ test/ folders were left out"
            f" ({examples(left_out)})"
        )
    return finish_index(records, DATASET, root, notes)
