"""The leakage guard (fakescan.data.datasets.leakage) catches planted leaks with a one-line message."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fakescan.data.datasets import VideoRecord, build_index, check_disjoint, overlap
from fakescan.errors import SplitLeakError
from tests.data.datasets.layouts import make_dfdc, make_ffpp


def moved(records: list[VideoRecord], video_id: str, split: str) -> list[VideoRecord]:
    """``records`` with the one whose id is ``video_id`` put in ``split``."""
    assert any(r.video_id == video_id for r in records)
    return [dataclasses.replace(r, split=split) if r.video_id == video_id else r for r in records]


def test_a_video_in_two_splits() -> None:
    a = VideoRecord("clips/a", "clips/a.mp4", 0, "real", "train", "folders", ("clips/a",))
    with pytest.raises(SplitLeakError) as caught:
        check_disjoint([a, dataclasses.replace(a, split="test")])
    assert str(caught.value) == "split leak: video 'clips/a' is in train and in test"


def test_an_ffpp_source_in_two_splits(tmp_path: Path) -> None:
    records = build_index("ffpp", make_ffpp(tmp_path))
    real = "original_sequences/youtube/c23/videos/000"
    with pytest.raises(SplitLeakError) as caught:
        check_disjoint(moved(records, real, "test"))
    message = str(caught.value)
    assert "'000'" in message and "train" in message and "test" in message and real in message
    assert "\n" not in message


def test_a_dfdc_fake_and_its_original_in_different_splits(tmp_path: Path) -> None:
    records = build_index("dfdc", make_dfdc(tmp_path), val_fraction=0.2, seed=0)
    fake = next(r for r in records if r.label == 1 and r.sources == ("aaaa.mp4",))
    elsewhere = "val" if fake.split == "train" else "train"
    with pytest.raises(SplitLeakError, match=r"source 'aaaa\.mp4' is in (train|val) .* and in (train|val)"):
        check_disjoint(moved(records, fake.video_id, elsewhere))


def test_a_clean_index_passes() -> None:
    rows = [
        VideoRecord("a", "a.mp4", 0, "real", "train", "x", ("a",)),
        VideoRecord("b", "b.mp4", 1, "fake", "train", "x", ("a",)),
        VideoRecord("c", "c.mp4", 0, "real", "test", "x"),
    ]
    check_disjoint(rows)


def test_overlap_of_id_lists() -> None:
    assert overlap(["a", "b"], iter(["b", "c"])) == {"b"}
    assert overlap(["a"], ["b"]) == set()
