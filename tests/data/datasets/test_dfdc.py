"""Full DFDC: metadata.json parts, val carved by original, the test labels (fakescan.data.datasets.dfdc)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from fakescan.data.datasets import DatasetWarning, index_dfdc
from fakescan.errors import ConfigError, DatasetLayoutError
from tests.data.datasets.layouts import DFDC_TEST, dfdc_part, make_dfdc


def groups_by_split(records) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for record in records:
        found.setdefault(record.sources[0], set()).add(record.split)
    return found


def test_fakes_stay_with_their_original(tmp_path: Path) -> None:
    records = index_dfdc(make_dfdc(tmp_path), val_fraction=0.3, seed=4)
    assert all(len(splits) == 1 for splits in groups_by_split(records).values())
    train_val = [r for r in records if r.split != "test"]
    assert Counter(r.split for r in train_val) == {"train": 21, "val": 9}
    fake = next(r for r in records if r.video_id == "train/dfdc_train_part_0/aaaaf1")
    assert (fake.label, fake.method, fake.sources, fake.path) == (
        1,
        "fake",
        ("aaaa.mp4",),
        "train/dfdc_train_part_0/aaaaf1.mp4",
    )
    test = {r.path: r.label for r in records if r.split == "test"}
    assert test == {f"test/videos/{name}": label for name, label in DFDC_TEST.items()}


def test_val_parts(tmp_path: Path) -> None:
    parts = {0: dfdc_part(["aaaa", "bbbb"]), 1: dfdc_part(["cccc"]), 2: dfdc_part(["dddd"])}
    parts[2]["ccccf9.mp4"] = {"label": "FAKE", "original": "cccc.mp4"}  # a fake kept in another part
    with pytest.warns(DatasetWarning, match="no test/ folder"):
        records = index_dfdc(make_dfdc(tmp_path, parts=parts, test=None), val_parts=[1])
    val = {r.video_id for r in records if r.split == "val"}
    assert val == {
        "train/dfdc_train_part_1/cccc",
        "train/dfdc_train_part_1/ccccf0",
        "train/dfdc_train_part_1/ccccf1",
        "train/dfdc_train_part_2/ccccf9",
    }
    with pytest.raises(ConfigError, match=r"val part\(s\) \[7\] not found"):
        index_dfdc(tmp_path, val_parts=[7])
    with pytest.raises(ConfigError, match="not both"):
        index_dfdc(tmp_path, val_parts=[1], val_fraction=0.1)


def test_default_val_fraction(tmp_path: Path) -> None:
    parts = {0: dfdc_part([f"v{n:03d}" for n in range(40)], fakes_per_original=1)}
    with pytest.warns(DatasetWarning, match="the index has no test split"):
        records = index_dfdc(make_dfdc(tmp_path, parts=parts, test=None))
    assert Counter(r.split for r in records) == {"train": 72, "val": 8}


def test_missing_and_unlabelled_videos(tmp_path: Path) -> None:
    make_dfdc(tmp_path, skip=["bbbbf0.mp4"])
    (tmp_path / "train/dfdc_train_part_1/zzzz.mp4").write_bytes(b"v")
    with pytest.warns(DatasetWarning) as caught:
        records = index_dfdc(tmp_path)
    messages = " | ".join(str(w.message) for w in caught)
    assert "1 videos listed in the metadata are not on disk (dfdc_train_part_0/bbbbf0.mp4)" in messages
    assert "1 videos on disk have no label and were left out (dfdc_train_part_1/zzzz.mp4)" in messages
    assert len(records) == 30 - 1 + 4


@pytest.mark.parametrize(
    ("where", "content", "message"),
    [
        ("train/dfdc_train_part_0/metadata.json", "{", "metadata.json: not valid JSON"),
        (
            "train/dfdc_train_part_0/metadata.json",
            json.dumps({"a.mp4": {"label": "fake"}}),
            "'a.mp4' has label 'fake'",
        ),
        (
            "train/dfdc_train_part_0/metadata.json",
            json.dumps({"a.mp4": {"label": "FAKE"}}),
            "fake 'a.mp4' has no 'original'",
        ),
        ("test/labels.csv", "name,fake\na.mp4,1\n", "labels.csv: expected the header 'filename,label'"),
        (
            "test/labels.csv",
            "filename,label\na.mp4,FAKE\n",
            "labels.csv, line 2: label must be 1 (fake) or 0 (real)",
        ),
    ],
)
def test_malformed_files_name_the_file(tmp_path: Path, where: str, content: str, message: str) -> None:
    make_dfdc(tmp_path)
    (tmp_path / where).write_text(content)
    with pytest.raises(DatasetLayoutError, match=re.escape(message)):
        index_dfdc(tmp_path)


def test_layout_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="found neither train/dfdc_train_part_"):
        index_dfdc(tmp_path)
    make_dfdc(tmp_path)
    (tmp_path / "train/dfdc_train_part_1/metadata.json").unlink()
    with pytest.raises(DatasetLayoutError, match=r"part_1/metadata\.json: no such file"):
        index_dfdc(tmp_path)
