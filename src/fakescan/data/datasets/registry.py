"""The data set adapters by name, and :func:`build_index`, which picks one and passes it options.

=============== ================================== =====================================================
name            split                              leak groups (``sources``)
=============== ================================== =====================================================
``ffpp``        official train/val/test.json       FF++ source ids: a fake and both of its real videos
``dfd``         seeded, by actor                   actor ids
``celebdf-v1``  official test list; seeded val     the video itself (the test list shares celebrities)
``celebdf-v2``  official test list; seeded val     the video itself (the test list shares celebrities)
``dfdc``        official test; val by original     the original video of a fake, a real's own name
``dfdcp``       official train/test; seeded val    the video itself
``folders``     split folders, or seeded           the file, or its sub-folder (``group_by="folder"``)
=============== ================================== =====================================================
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fakescan.data.datasets.celebdf import index_celebdf_v1, index_celebdf_v2
from fakescan.data.datasets.dfd import index_dfd
from fakescan.data.datasets.dfdc import index_dfdc
from fakescan.data.datasets.dfdcp import index_dfdcp
from fakescan.data.datasets.ffpp import index_ffpp
from fakescan.data.datasets.folders import index_folders
from fakescan.data.datasets.index import VideoRecord
from fakescan.errors import ConfigError

__all__ = ["DATASETS", "Adapter", "DatasetSpec", "adapter_options", "build_index"]

Adapter = Callable[..., list[VideoRecord]]
"""``index_<name>(root, **options) -> list[VideoRecord]``; every adapter runs the leakage guard."""


@dataclass(frozen=True)
class DatasetSpec:
    """A registered data set.

    Attributes:
        name: the name used on the command line and in the ``dataset`` column of the index.
        index: the adapter.
        split: how its splits are made, in a few words.
        leak_groups: what ``sources`` holds, i.e. what the leakage guard keeps within one split.
    """

    name: str
    index: Adapter
    split: str
    leak_groups: str


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("ffpp", index_ffpp, "official train/val/test.json", "FF++ source ids of fakes and reals"),
        DatasetSpec("dfd", index_dfd, "seeded, by actor", "actor ids"),
        DatasetSpec("celebdf-v1", index_celebdf_v1, "official test list, seeded val", "the video"),
        DatasetSpec("celebdf-v2", index_celebdf_v2, "official test list, seeded val", "the video"),
        DatasetSpec("dfdc", index_dfdc, "official test, val by original", "the original of each fake"),
        DatasetSpec("dfdcp", index_dfdcp, "official train/test, seeded val", "the video"),
        DatasetSpec("folders", index_folders, "split folders, or seeded", "the file or its sub-folder"),
    )
}
"""Registered data sets by name."""


def adapter_options(name: str) -> tuple[str, ...]:
    """The keyword options the adapter of ``name`` takes (besides ``root``).

    >>> adapter_options("ffpp")
    ('methods', 'compression', 'splits_dir')
    """
    return tuple(inspect.signature(_spec(name).index).parameters)[1:]


def _spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise ConfigError(f"unknown data set {name!r}; choose one of: {', '.join(DATASETS)}") from None


def build_index(name: str, root: str | Path, **options: object) -> list[VideoRecord]:
    """Index the data set ``name`` found at ``root`` with its adapter.

    Options a data set does not take are an error, not silently dropped.

    >>> build_index("ffpp-v3", ".")
    Traceback (most recent call last):
    ...
    fakescan.errors.ConfigError: unknown data set 'ffpp-v3'; choose one of: ffpp, dfd, celebdf-v1, celebdf-v2, dfdc, dfdcp, folders

    Raises:
        ConfigError: unknown name, or an option the data set does not take.
        DatasetLayoutError, SplitLeakError: from the adapter.
    """  # noqa: E501
    spec = _spec(name)
    accepted = adapter_options(name)
    extra = [option for option in options if option not in accepted]
    if extra:
        raise ConfigError(
            f"data set {name!r} takes no option {', '.join(extra)} (its options: {', '.join(accepted)})"
        )
    return spec.index(Path(root), **options)
