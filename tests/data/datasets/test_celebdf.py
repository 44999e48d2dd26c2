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


def test_a_list_with_a_bom_or_crlf_line_ends_reads_as_the_plain_one(tmp_path: Path) -> None:
    plain = {r.video_id: r.split for r in index_celebdf_v2(make_celebdf(tmp_path / "plain"))}
    for name, encode in (
        ("bom", lambda text: b"\xef\xbb\xbf" + text.encode()),
        ("crlf", lambda text: text.replace("\n", "\r\n").encode()),
        ("both", lambda text: b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()),
    ):
        root = make_celebdf(tmp_path / name)
        (root / "List_of_testing_videos.txt").write_bytes(encode("\n".join(CELEB_TEST) + "\n"))
        assert {r.video_id: r.split for r in index_celebdf_v2(root)} == plain, name


def test_an_empty_binary_or_folder_list_is_refused_in_one_line(tmp_path: Path) -> None:
    listed = make_celebdf(tmp_path) / "List_of_testing_videos.txt"
    for content, message in (
        (b"", "names no video: it must list the official test videos"),
        (b"\n \r\n", "names no video: it must list the official test videos"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not a text file"),
    ):
        listed.write_bytes(content)
        with pytest.raises(DatasetLayoutError) as caught:
            index_celebdf_v2(tmp_path)
        assert str(caught.value).startswith(f"{listed}: {message}") and "\n" not in str(caught.value)
    listed.unlink()
    listed.mkdir()
    with pytest.raises(DatasetLayoutError, match=r"List_of_testing_videos\.txt: a folder, not the official"):
        index_celebdf_v2(tmp_path)
