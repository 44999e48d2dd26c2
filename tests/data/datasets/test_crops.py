"""Joining an index with the manifest of fakescan extract (fakescan.data.datasets.crops)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakescan.data.datasets import (
    DatasetWarning,
    VideoRecord,
    crop_table,
    find_manifests,
    join_crops,
    media_items,
    read_manifest,
)
from fakescan.data.extract import ManifestRow, write_manifest
from fakescan.errors import DatasetLayoutError

FAKE = VideoRecord(
    "manipulated_sequences/Deepfakes/c23/videos/000_001",
    "manipulated_sequences/Deepfakes/c23/videos/000_001.mp4",
    1,
    "Deepfakes",
    "train",
    "ffpp",
    ("000", "001"),
)
TWIN = VideoRecord(
    "manipulated_sequences/FaceSwap/c23/videos/000_001",
    "manipulated_sequences/FaceSwap/c23/videos/000_001.mp4",
    1,
    "FaceSwap",
    "test",
    "ffpp",
    ("000", "001"),
)
REAL = VideoRecord(
    "original_sequences/youtube/c23/videos/002",
    "original_sequences/youtube/c23/videos/002.mp4",
    0,
    "real",
    "val",
    "ffpp",
    ("002",),
)


def row(video: VideoRecord, frame: int | None, status: str = "ok", name: str | None = None) -> ManifestRow:
    crop = None if status != "ok" else f"{video.video_id}/{name or frame}.png"
    return ManifestRow(
        f"/data/{video.path}", "video", status, frame, 0.5, 0 if crop else None, 1.0, 2.0, 3.0, 4.0, 0.9, crop
    )


ROWS = [
    row(FAKE, 0), row(FAKE, 9), row(FAKE, 18, "no_face"),
    row(TWIN, 4), row(TWIN, 7, name="7_1"),
    row(REAL, None, "decode_error"),
    ManifestRow("/elsewhere/x.mp4", "video", "ok", 3, crop="x/3.png"),
]  # fmt: skip


def test_join_by_crop_folder_not_by_file_name() -> None:
    joined = join_crops([FAKE, TWIN, REAL], ROWS)
    assert [(c.crop, c.method, c.split, c.frame_index) for c in joined.crops] == [
        (f"{FAKE.video_id}/0.png", "Deepfakes", "train", 0),
        (f"{FAKE.video_id}/9.png", "Deepfakes", "train", 9),
        (f"{TWIN.video_id}/4.png", "FaceSwap", "test", 4),
        (f"{TWIN.video_id}/7_1.png", "FaceSwap", "test", 7),
    ]
    assert joined.without_crops == [REAL.video_id] and joined.strays == ["x/3.png"]


def test_crop_table_from_a_manifest_file_reports_gaps(tmp_path: Path) -> None:
    write_manifest(tmp_path / "manifest.csv", ROWS)
    assert read_manifest(tmp_path / "manifest.csv") == ROWS
    (tmp_path / FAKE.video_id).mkdir(parents=True)
    (tmp_path / FAKE.video_id / "0.png").write_bytes(b"png")
    with pytest.warns(DatasetWarning) as caught:
        crops = crop_table([FAKE, TWIN, REAL], tmp_path / "manifest.csv", crops_root=tmp_path)
    assert [c.crop for c in crops] == [f"{FAKE.video_id}/0.png"]
    messages = [str(w.message) for w in caught]
    assert messages[0] == f"2 of 3 videos have no face crop ({TWIN.video_id}, {REAL.video_id})"
    assert any("1 crops belong to no video of the index" in m for m in messages)
    assert any("3 crops of the manifest are missing on disk" in m for m in messages)
    assert find_manifests(tmp_path) == [tmp_path / "manifest.csv"]


def test_shard_manifests_and_bad_manifests(tmp_path: Path) -> None:
    assert find_manifests(tmp_path) == []
    for i in range(2):
        write_manifest(tmp_path / f"manifest.shard-{i}-of-2.csv", [])
    assert [p.name for p in find_manifests(tmp_path)] == [
        "manifest.shard-0-of-2.csv",
        "manifest.shard-1-of-2.csv",
    ]
    (tmp_path / "manifest.csv").write_text("source,status\nx,ok\n")
    with pytest.raises(DatasetLayoutError, match="not a fakescan extract manifest"):
        read_manifest(tmp_path / "manifest.csv")
    with pytest.raises(DatasetLayoutError, match="no such file"):
        read_manifest(tmp_path / "gone.csv")


def test_media_items_use_video_ids_as_keys(tmp_path: Path) -> None:
    items = media_items([FAKE, REAL], tmp_path)
    assert [(item.path, item.kind, item.key) for item in items] == [
        (tmp_path / FAKE.path, "video", FAKE.video_id),
        (tmp_path / REAL.path, "video", REAL.video_id),
    ]


def test_landmarks_go_from_the_manifest_to_the_crop_table_and_old_tables_still_read(tmp_path: Path) -> None:
    from dataclasses import replace

    from fakescan.data.datasets import read_crop_table, write_crop_table

    marked = [replace(r, landmarks="10.0 20.0;30.0 20.5") if r.crop else r for r in ROWS]
    write_manifest(tmp_path / "manifest.csv", marked)
    assert read_manifest(tmp_path / "manifest.csv") == marked
    crops = crop_table([FAKE, TWIN, REAL], tmp_path / "manifest.csv")
    assert {c.landmarks for c in crops} == {"10.0 20.0;30.0 20.5"}
    write_crop_table(tmp_path / "crops.csv", crops)
    assert read_crop_table(tmp_path / "crops.csv") == crops
    # a manifest and a crop table written before the landmarks column existed
    for name in ("manifest.csv", "crops.csv"):
        lines = (tmp_path / name).read_text().splitlines()
        header = lines[0].split(",")
        at = header.index("landmarks")
        old = [",".join(c for k, c in enumerate(line.split(",")) if k != at) for line in lines]
        (tmp_path / name).write_text("\n".join(old) + "\n")
    assert read_manifest(tmp_path / "manifest.csv") == ROWS
    assert [c.landmarks for c in read_crop_table(tmp_path / "crops.csv")] == [""] * len(crops)
