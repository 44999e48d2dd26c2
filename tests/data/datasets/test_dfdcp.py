"""DFDC preview: dataset.json sets, val carved by video (fakescan.data.datasets.dfdcp)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from fakescan.data.datasets import DatasetWarning, index_dfdcp
from fakescan.errors import DatasetLayoutError
from tests.data.datasets.layouts import DFDCP_ENTRIES, make_dfdcp, touch


def test_official_test_and_seeded_val(tmp_path: Path) -> None:
    records = index_dfdcp(make_dfdcp(tmp_path), val_fraction=0.5, seed=0)
    assert len(records) == len(DFDCP_ENTRIES)
    assert Counter((r.method, r.split) for r in records) == {
        ("real", "train"): 3, ("real", "val"): 3, ("real", "test"): 2,
        ("method_A", "train"): 3, ("method_A", "val"): 3, ("method_A", "test"): 1,
        ("method_B", "train"): 3, ("method_B", "val"): 3, ("method_B", "test"): 1,
    }  # fmt: skip
    official = {path: entry["set"] for path, entry in DFDCP_ENTRIES.items()}
    assert all((r.split == "test") == (official[r.path] == "test") for r in records)
    assert all(r.sources == (r.video_id,) for r in records)


def test_missing_and_unlisted(tmp_path: Path) -> None:
    make_dfdcp(tmp_path, skip=["method_B/9/9_B/90_B.mp4"])
    touch(tmp_path / "method_B/9/9_B/91_B.mp4")
    with pytest.warns(DatasetWarning) as caught:
        index_dfdcp(tmp_path)
    messages = " | ".join(str(w.message) for w in caught)
    assert "1 videos of dataset.json are not on disk (method_B/9/9_B/90_B.mp4)" in messages
    assert "1 videos on disk are not in dataset.json" in messages


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "dataset.json: no such file"),
        ("[]", "dataset.json: expected an object"),
        ('{"a.mp4": {"label": "deepfake", "set": "train"}}', "'a.mp4' has label 'deepfake'"),
        ('{"a.mp4": {"label": "real", "set": "val"}}', "'a.mp4' has set 'val', expected 'train' or 'test'"),
    ],
)
def test_bad_dataset_json(tmp_path: Path, content: str | None, message: str) -> None:
    make_dfdcp(tmp_path)
    if content is None:
        (tmp_path / "dataset.json").unlink()
    else:
        (tmp_path / "dataset.json").write_text(content)
    with pytest.raises(DatasetLayoutError, match=message) as caught:
        index_dfdcp(tmp_path)
    assert str(tmp_path / "dataset.json") in str(caught.value)
