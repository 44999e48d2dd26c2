"""FaceForensics++ by its official split files (fakescan.data.datasets.ffpp)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from fakescan.data.datasets import DatasetWarning, index_ffpp
from fakescan.errors import ConfigError, DatasetLayoutError
from tests.data.datasets.layouts import CLASSIC, make_ffpp, touch

REALS = "original_sequences/youtube/c23/videos"


def test_pairs_put_fakes_and_their_reals_in_one_split(tmp_path: Path) -> None:
    records = index_ffpp(make_ffpp(tmp_path))
    assert len(records) == 10 + 4 * 10
    by_id = {r.video_id: r for r in records}
    fake = by_id["manipulated_sequences/Face2Face/c23/videos/009_008"]
    assert (fake.split, fake.label, fake.method, fake.sources) == ("test", 1, "Face2Face", ("009", "008"))
    assert fake.path == "manipulated_sequences/Face2Face/c23/videos/009_008.mp4"
    real = by_id[f"{REALS}/008"]
    assert (real.split, real.label, real.method, real.sources) == ("test", 0, "real", ("008",))
    assert Counter(r.split for r in records) == {"train": 30, "val": 10, "test": 10}
    assert {r.dataset for r in records} == {"ffpp"}


def test_methods_and_compression_options(tmp_path: Path) -> None:
    make_ffpp(tmp_path, methods=["Deepfakes", "FaceShifter"], compression="c40")
    records = index_ffpp(tmp_path, methods=["FaceShifter"], compression="c40")
    assert Counter(r.method for r in records) == {"real": 10, "FaceShifter": 10}
    assert all("/c40/" in r.path for r in records)
    with pytest.raises(DatasetLayoutError, match=r"Face2Face/c40/videos: no such folder.*--methods"):
        index_ffpp(tmp_path, compression="c40")


def test_faceshifter_joins_by_default_when_present(tmp_path: Path) -> None:
    records = index_ffpp(make_ffpp(tmp_path, methods=[*CLASSIC, "FaceShifter"]))
    assert Counter(r.method for r in records)["FaceShifter"] == 10


def test_missing_compression_folder_names_what_is_there(tmp_path: Path) -> None:
    make_ffpp(tmp_path, compression="c23")
    with pytest.raises(DatasetLayoutError) as caught:
        index_ffpp(tmp_path, compression="raw")
    message = str(caught.value)
    assert "youtube/raw/videos: no such folder" in message and "on disk: c23" in message
    with pytest.raises(ConfigError, match="compression"):
        index_ffpp(tmp_path, compression="c50")


def test_missing_and_unlisted_videos_are_counted(tmp_path: Path) -> None:
    make_ffpp(
        tmp_path,
        skip=[f"{REALS}/007", "manipulated_sequences/FaceSwap/c23/videos/000_001"],
        extra=[f"{REALS}/500.mp4", "manipulated_sequences/FaceSwap/c23/videos/500_501.mp4"],
    )
    with pytest.warns(DatasetWarning) as caught:
        records = index_ffpp(tmp_path)
    messages = [str(w.message) for w in caught]
    assert any(m.startswith("ffpp: 2 videos listed in the split files are not on disk") for m in messages)
    assert any("2 videos on disk are in no split file" in m and "500_501" in m for m in messages)
    assert len(records) == 50 - 2


def test_nothing_on_disk_is_an_error(tmp_path: Path) -> None:
    make_ffpp(tmp_path)
    for video in (tmp_path / "original_sequences").rglob("*.mp4"):
        video.unlink()
    for video in (tmp_path / "manipulated_sequences").rglob("*.mp4"):
        video.unlink()
    with pytest.raises(DatasetLayoutError, match="none of the videos listed"):
        index_ffpp(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "test.json: no such file"),
        (b'[["008", "009"]', "test.json: not valid JSON"),
        (b'{"pairs": []}', "test.json: expected a list of video id pairs"),
        (b'[["008", 9]]', "test.json: item 0 is ['008', 9], expected a pair"),
        (b'[["000", "009"]]', "video id '000' is also listed in"),
    ],
)
def test_bad_split_files_name_the_file(tmp_path: Path, content: bytes | None, message: str) -> None:
    make_ffpp(tmp_path)
    split_file = tmp_path / "test.json"
    if content is None:
        split_file.unlink()
    else:
        split_file.write_bytes(content)
    with pytest.raises(DatasetLayoutError) as caught:
        index_ffpp(tmp_path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path / "test.json"))


def test_split_files_in_a_splits_folder_or_elsewhere(tmp_path: Path) -> None:
    root = make_ffpp(tmp_path / "data")
    (root / "splits").mkdir()
    for split in ("train", "val", "test"):
        touch(tmp_path / "lists" / f"{split}.json", (root / f"{split}.json").read_bytes())
        (root / f"{split}.json").rename(root / "splits" / f"{split}.json")
    assert len(index_ffpp(root)) == 50
    (root / "splits" / "val.json").write_text(json.dumps([]))
    assert len(index_ffpp(root, splits_dir=tmp_path / "lists")) == 50
    with pytest.warns(DatasetWarning, match="10 videos on disk are in no split file"):
        assert len(index_ffpp(root)) == 40


def test_unknown_method_lists_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="FaceShifter"):
        index_ffpp(make_ffpp(tmp_path), methods=["DeepFaceLab"])


def test_other_method_folders_are_read_when_named(tmp_path: Path) -> None:
    root = make_ffpp(tmp_path, methods=["Deepfakes", "MyMethod"])
    records = index_ffpp(root, methods=["MyMethod"])
    assert Counter(r.method for r in records) == {"real": 10, "MyMethod": 10}
