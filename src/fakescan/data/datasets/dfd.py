"""DeepFakeDetection (DFD, Google/Jigsaw 2019), as distributed inside the FaceForensics++ tree.

Layout (the FF++ download script fetches it with ``-d DeepFakeDetection_original`` and
``-d DeepFakeDetection``)::

    ROOT/original_sequences/actors/{raw,c23,c40}/videos/01__exit_phone_room.mp4
    ROOT/manipulated_sequences/DeepFakeDetection/{raw,c23,c40}/videos/01_02__meeting_serious__YVGY8LOK.mp4

A real video is named ``<actor>__<scene>``; a fake ``<actor>_<actor>__<scene>__<code>``, the scene
of the first actor with the face of the second. There are 28 paid actors.

DFD has **no official split**. This adapter splits by *actor*, with a fixed seed: the actors are
dealt to train / val / test by :func:`~fakescan.data.datasets.splits.split_groups`, a real video
follows its actor, and a fake goes to a split only if **both** of its actors are there. A fake
whose two actors fall in different splits would leak an identity whichever split it joined, so it
is left out (and counted in the warning). ``sources`` are the actor ids, checked by the guard.
With ``fractions=(0, 0, 1)`` the whole set is test data, the usual cross-data-set use of DFD.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from fakescan.data.datasets._common import examples, finish_index, list_media, require_dir
from fakescan.data.datasets.ffpp import COMPRESSIONS
from fakescan.data.datasets.index import REAL, VideoRecord
from fakescan.data.datasets.splits import check_fractions, split_groups
from fakescan.errors import ConfigError

__all__ = ["METHOD", "actors_of", "index_dfd"]

DATASET = "dfd"
METHOD = "DeepFakeDetection"
_REAL_NAME = re.compile(r"^(\d+)__.+$")
_FAKE_NAME = re.compile(r"^(\d+)_(\d+)__.+$")


def actors_of(stem: str, fake: bool) -> tuple[str, ...] | None:
    """The actor ids in a DFD file name (without extension), or ``None`` if it is not one.

    >>> actors_of("01_02__meeting_serious__YVGY8LOK", fake=True)
    ('01', '02')
    >>> actors_of("01__exit_phone_room", fake=False)
    ('01',)
    >>> actors_of("exit_phone_room", fake=False) is None
    True
    """
    match = (_FAKE_NAME if fake else _REAL_NAME).match(stem)
    return None if match is None else match.groups()


def index_dfd(
    root: str | Path,
    *,
    compression: str = "c23",
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
) -> list[VideoRecord]:
    """Index DeepFakeDetection with a seeded split by actor (no actor in two splits).

    Args:
        root: the FaceForensics++ folder holding the DFD videos.
        compression: ``"raw"``, ``"c23"`` (default) or ``"c40"``.
        fractions: shares of the *actors* in ``(train, val, test)``.
        seed: fixes which actors go where.

    Raises:
        ConfigError: bad compression or fractions.
        DatasetLayoutError: a DFD folder is missing, or no video is found.
    """
    root = require_dir(Path(root), "the FaceForensics++ folder holding DeepFakeDetection")
    if compression not in COMPRESSIONS:
        raise ConfigError(f"DFD compression must be one of {', '.join(COMPRESSIONS)}, got {compression!r}")
    shares = check_fractions(fractions)
    reals_dir = require_dir(
        root / "original_sequences" / "actors" / compression / "videos", f"DFD real videos at {compression}"
    )
    fakes_dir = require_dir(
        root / "manipulated_sequences" / METHOD / compression / "videos", f"DFD fake videos at {compression}"
    )

    found: list[tuple[Path, int, tuple[str, ...]]] = []
    unnamed: list[str] = []
    for label, folder in ((0, reals_dir), (1, fakes_dir)):
        for path in list_media(folder):
            actors = actors_of(path.stem, fake=label == 1)
            if actors is None:
                unnamed.append(path.relative_to(root).as_posix())
            else:
                found.append((path, label, actors))
    actor_split = split_groups((actor for _, _, actors in found for actor in actors), shares, seed)

    records: list[VideoRecord] = []
    straddling: list[str] = []
    for path, label, actors in found:
        rel = path.relative_to(root)
        splits = {actor_split[actor] for actor in actors}
        if len(splits) > 1:
            straddling.append(rel.as_posix())
            continue
        method = METHOD if label else REAL
        records.append(
            VideoRecord(
                rel.with_suffix("").as_posix(), rel.as_posix(), label, method, splits.pop(), DATASET, actors
            )
        )

    notes = []
    if straddling:
        notes.append(
            f"{len(straddling)} fakes whose two actors fall in different splits were left out"
            f" ({examples(straddling)})"
        )
    if unnamed:
        notes.append(f"{len(unnamed)} files not named like DFD videos were left out ({examples(unnamed)})")
    return finish_index(records, DATASET, root, notes)
