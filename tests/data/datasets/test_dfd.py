"""DeepFakeDetection, split by actor with a seed (fakescan.data.datasets.dfd)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from fakescan.data.datasets import DatasetWarning, index_dfd
from fakescan.errors import ConfigError, DatasetLayoutError
from tests.data.datasets.layouts import DFD_FAKES, DFD_REALS, make_dfd


def test_no_actor_in_two_splits(tmp_path: Path) -> None:
    with pytest.warns(DatasetWarning, match="fakes whose two actors fall in different splits"):
        records = index_dfd(make_dfd(tmp_path), seed=0)
    actor_splits: dict[str, set[str]] = {}
    for record in records:
        for actor in record.sources:
            actor_splits.setdefault(actor, set()).add(record.split)
    assert all(len(splits) == 1 for splits in actor_splits.values())
    assert Counter(r.label for r in records)[0] == len(DFD_REALS), "every real video is kept"
    fake = next(r for r in records if r.video_id.endswith("01_02__exit_phone_room__ABCD12"))
    assert (fake.method, fake.label, fake.sources) == ("DeepFakeDetection", 1, ("01", "02"))
    assert {r.split for r in records} == {"train", "val", "test"}


def test_seed_and_fractions_reach_the_split(tmp_path: Path) -> None:
    make_dfd(tmp_path)
    with pytest.warns(DatasetWarning):
        first = {r.video_id: r.split for r in index_dfd(tmp_path, seed=0)}
        again = {r.video_id: r.split for r in index_dfd(tmp_path, seed=0)}
        other = {r.video_id: r.split for r in index_dfd(tmp_path, seed=1)}
    assert first == again and first != other
    everything = index_dfd(tmp_path, fractions=(0, 0, 1))
    assert {r.split for r in everything} == {"test"} and len(everything) == len(DFD_REALS) + len(DFD_FAKES)


def test_layout_errors(tmp_path: Path) -> None:
    make_dfd(tmp_path, compression="c40")
    with pytest.raises(DatasetLayoutError, match="actors/c23/videos: no such folder"):
        index_dfd(tmp_path)
    with pytest.raises(ConfigError, match="summing to 1"):
        index_dfd(tmp_path, compression="c40", fractions=(0.5, 0.5, 0.5))


def test_oddly_named_files_are_left_out(tmp_path: Path) -> None:
    make_dfd(tmp_path, reals=["01__walk", "02__walk", "walking"], fakes=["01_02__walk__X", "01-02.mp4"])
    with pytest.warns(DatasetWarning, match="2 files not named like DFD videos"):
        records = index_dfd(tmp_path, fractions=(1, 0, 0))
    assert len(records) == 3
