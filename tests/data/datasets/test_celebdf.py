"""Celeb-DF v1/v2: the official test list, a seeded val (fakescan.data.datasets.celebdf)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from fakescan.data.datasets import DatasetWarning, index_celebdf_v1, index_celebdf_v2
from fakescan.errors import DatasetLayoutError
from tests.data.datasets.layouts import CELEB_FAKE, CELEB_REAL, CELEB_TEST, YOUTUBE_REAL, make_celebdf


def test_test_split_is_exactly_the_list(tmp_path: Path) -> None:
    records = index_celebdf_v2(make_celebdf(tmp_path))
    test = {r.path: r.label for r in records if r.split == "test"}
    assert test == {
        "Celeb-real/id0_0000.mp4": 0,
        "YouTube-real/00001.mp4": 0,
        "Celeb-synthesis/id0_id1_0000.mp4": 1,
        "Celeb-synthesis/id2_id3_0000.mp4": 1,
    }
    assert len(records) == len(CELEB_REAL) + len(YOUTUBE_REAL) + len(CELEB_FAKE)
    fake = next(r for r in records if r.video_id == "Celeb-synthesis/id0_id1_0000")
    assert (fake.method, fake.sources, fake.dataset) == (
        "Celeb-synthesis",
        ("Celeb-synthesis/id0_id1_0000",),
        "celebdf-v2",
    )
    assert {r.dataset for r in index_celebdf_v1(tmp_path)} == {"celebdf-v1"}


def test_val_is_carved_by_video_with_a_seed(tmp_path: Path) -> None:
    make_celebdf(tmp_path)
    half = index_celebdf_v2(tmp_path, val_fraction=0.5, seed=0)
    rest = [r for r in half if r.split != "test"]
    assert Counter((r.label, r.split) for r in rest) == {
        (0, "train"): 8,
        (0, "val"): 8,
        (1, "train"): 5,
        (1, "val"): 5,
    }
    assert [r.split for r in index_celebdf_v2(tmp_path, val_fraction=0.5, seed=0)] == [r.split for r in half]
    assert [r.split for r in index_celebdf_v2(tmp_path, val_fraction=0.5, seed=9)] != [r.split for r in half]
    assert {r.split for r in index_celebdf_v2(tmp_path, val_fraction=0.0)} == {"train", "test"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1 Celeb-synthesis/id0_id1_0000.mp4", "line 5: label 1 (real) but Celeb-synthesis/ holds fakes"),
        ("0 YouTube-real/00002.mp4", "line 5: label 0 (fake) but YouTube-real/ holds real videos"),
        ("2 YouTube-real/00002.mp4", "line 5: expected '<1 real | 0 fake> <folder>/<file>'"),
        ("1 Other-real/00002.mp4", "line 5: 'Other-real/00002.mp4' is not in Celeb-real"),
    ],
)
def test_malformed_lists_name_the_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    make_celebdf(tmp_path, test_lines=[*CELEB_TEST, line])
    with pytest.raises(DatasetLayoutError) as caught:
        index_celebdf_v2(tmp_path)
    assert str(caught.value) == f"{tmp_path / 'List_of_testing_videos.txt'}, {message}" or message in str(
        caught.value
    )
    assert str(tmp_path / "List_of_testing_videos.txt") in str(caught.value)


def test_missing_pieces(tmp_path: Path) -> None:
    make_celebdf(tmp_path, test_lines=[*CELEB_TEST, "1 YouTube-real/09999.mp4"])
    with pytest.warns(
        DatasetWarning, match=r"1 videos of List_of_testing_videos.txt are not on disk \(YouTube-real/09999"
    ):
        index_celebdf_v2(tmp_path)
    (tmp_path / "List_of_testing_videos.txt").unlink()
    with pytest.raises(DatasetLayoutError, match=r"List_of_testing_videos\.txt: no such file"):
        index_celebdf_v2(tmp_path)
    with pytest.raises(DatasetLayoutError, match="Celeb-synthesis: no such folder"):
        index_celebdf_v1(make_celebdf(tmp_path / "v1", fakes=[]))
