"""Tests of fakescan.data.packing: shards of real face crops round-trip exactly, re-runs are identical."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fakescan._atomic import TMP_MARK
from fakescan.data import packing
from fakescan.data.datasets.index import CropRecord, Split, read_crop_table, video_digest, write_crop_table
from fakescan.data.images import read_image, write_image
from fakescan.data.packing import (
    SHARD_INDEX,
    SpectrumOptions,
    class_names_of,
    pack_shards,
    read_shard_index,
)
from fakescan.data.transforms import spectrum_image
from fakescan.data.video import probe_video, read_frames
from fakescan.errors import ConfigError, DatasetLayoutError
from fakescan.ops.spectrum import spectrum_stats

CROP_SIZE = 64
FRAMES = 4
# (video_id, method, split, source image or video under the samples folder)
VIDEOS: tuple[tuple[str, str, Split, str], ...] = (
    ("real/000", "real", "train", "images/single_face.jpg"),
    ("Deepfakes/000_001", "Deepfakes", "train", "images/multi_face.jpg"),
    ("Face2Face/000_001", "Face2Face", "train", "images/obama.jpg"),
    ("real/001", "real", "train", "videos/single_face.mp4"),
    ("real/002", "real", "val", "images/einstein.jpg"),
    ("Deepfakes/002_003", "Deepfakes", "val", "images/biden.jpg"),
    ("real/004", "real", "test", "images/breakingbad.jpg"),
    ("Face2Face/004_005", "Face2Face", "test", "videos/WolfgangLanger_Pexels.mp4"),
)


def _source_frames(samples: Path, source: str) -> list[np.ndarray]:
    """``FRAMES`` RGB frames: from a video, evenly spaced ones; from a photo, the photo each time."""
    path = samples / source
    if path.suffix == ".jpg":
        return [read_image(path)] * FRAMES
    table = probe_video(path)
    indices = [i * (table.num_frames // FRAMES) for i in range(FRAMES)]
    return [frame.image for frame in read_frames(table, indices)]


def make_crop_folder(samples: Path, root: Path, size: int = CROP_SIZE) -> list[CropRecord]:
    """Cut ``FRAMES`` square crops per video of :data:`VIDEOS` from the real sample media into
    ``root/<video_id>/<frame>.png`` (a window that moves with the frame, resized to ``size``), and
    write ``root/crops.csv``. No face detector runs: the windows are fixed fractions of the image."""
    records = []
    for video_id, method, split, source in VIDEOS:
        for frame, image in enumerate(_source_frames(samples, source)):
            height, width = image.shape[:2]
            side = int(min(height, width) * 0.6)
            x = (width - side) * frame // (2 * FRAMES) + (width - side) // 4
            y = (height - side) // 3
            crop = cv2.resize(image[y : y + side, x : x + side], (size, size), interpolation=cv2.INTER_AREA)
            name = f"{video_id}/{frame * 8:06d}.png"
            (root / video_id).mkdir(parents=True, exist_ok=True)
            write_image(root / name, crop)
            label = 0 if method == "real" else 1
            records.append(CropRecord(name, video_id, frame * 8, label, method, split, "test-media"))
    write_crop_table(root / "crops.csv", records)
    return records


@pytest.fixture(scope="module")
def crop_folder(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crops")
    make_crop_folder(samples, root)
    return root


def read_tar(path: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        assert all(m.mtime == 0 and m.uid == 0 and m.isfile() for m in members)
        return [(m.name, tar.extractfile(m).read()) for m in members]  # type: ignore[union-attr]


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_shards_round_trip_the_crop_folder_exactly(crop_folder: Path, tmp_path: Path) -> None:
    records = read_crop_table(crop_folder / "crops.csv")
    report = pack_shards(records, crop_folder, tmp_path, shard_size=5)
    names = class_names_of(records)
    assert names == ("real", "Deepfakes", "Face2Face")
    assert report.samples == report.records == len(records) == 32 and not report.skipped
    assert [s.name for s in report.index.shards] == [
        *(f"train-{i:06d}.tar" for i in range(4)),  # 16 crops: 5 + 5 + 5 + 1
        "val-000000.tar",
        "val-000001.tar",
        "test-000000.tar",
        "test-000001.tar",
    ]
    index = read_shard_index(tmp_path)
    assert index == report.index
    assert index.counts == {"train": 16, "val": 8, "test": 8}
    seen: list[CropRecord] = []
    for split in ("train", "val", "test"):
        rows = [r for r in records if r.split == split]
        assert index.video_digests[split] == video_digest(r.video_id for r in rows)
        members = [m for path in index.shard_paths(split) for m in read_tar(path)]
        assert len(members) == 2 * len(rows)
        for position, (row, (image_name, data), (meta_name, meta)) in enumerate(
            zip(rows, members[0::2], members[1::2], strict=True)
        ):
            assert image_name == f"{position:08d}.png" and meta_name == f"{position:08d}.json"
            assert data == (crop_folder / row.crop).read_bytes()  # the stored bytes, not re-encoded
            fields = json.loads(meta)
            assert fields["class_index"] == names.index(row.method)
            del fields["class_index"]
            seen.append(CropRecord(**fields))
    assert seen == [r for split in ("train", "val", "test") for r in records if r.split == split]
    saved = json.loads((tmp_path / SHARD_INDEX).read_text())
    assert saved["class_names"] == list(names) and saved["spectrum"] is None


def test_log_color_spectra_and_train_only_statistics(crop_folder: Path, tmp_path: Path) -> None:
    records = read_crop_table(crop_folder / "crops.csv")
    options = SpectrumOptions(kind="fft", scale="log", mode="color")
    report = pack_shards(records, crop_folder, tmp_path, shard_size=100, spectrum=options)
    index = report.index
    assert index.spectrum == options and index.spectrum_dtype == "float16"
    stored = {}
    for path in index.shard_paths("train") + index.shard_paths("val"):
        members = read_tar(path)
        for (_, image), (_, meta), (name, npy) in zip(
            members[0::3], members[1::3], members[2::3], strict=True
        ):
            assert name.endswith(".spectrum.npy")
            array = np.load(io.BytesIO(npy))
            assert array.shape == (3, CROP_SIZE, CROP_SIZE) and array.dtype == np.float16
            expected = spectrum_image(
                cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)[..., ::-1], options
            )
            assert np.allclose(array.astype(np.float32), expected.numpy(), atol=0.02)
            stored[json.loads(meta)["crop"]] = (
                json.loads(meta)["split"],
                torch.from_numpy(array.astype(np.float32)),
            )
    train = spectrum_stats(spec for split, spec in stored.values() if split == "train")
    everything = spectrum_stats(spec for _, spec in stored.values())
    assert index.spectrum_stats is not None and index.spectrum_stats.channels == 3
    assert np.allclose(index.spectrum_stats.mean, train.mean, atol=1e-6)
    assert np.allclose(index.spectrum_stats.std, train.std, atol=1e-6)
    assert index.spectrum_stats.count == train.count == 16 * CROP_SIZE * CROP_SIZE
    assert not np.allclose(index.spectrum_stats.mean, everything.mean, atol=1e-6)  # val left out


def test_repack_after_a_crash_gives_identical_shards(
    crop_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = read_crop_table(crop_folder / "crops.csv")
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    pack_shards(records, crop_folder, clean, shard_size=3, spectrum=SpectrumOptions(scale="raw"))

    flush = packing._SplitWriter._flush
    calls = {"n": 0}

    def crash_on_fourth(self: packing._SplitWriter, batch: list) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt("simulated crash")
        flush(self, batch)

    pack_shards(records, crop_folder, crashed, shard_size=2)  # an earlier packing, other shards
    monkeypatch.setattr(packing._SplitWriter, "_flush", crash_on_fourth)
    with pytest.raises(KeyboardInterrupt):
        pack_shards(records, crop_folder, crashed, shard_size=3, spectrum=SpectrumOptions(scale="raw"))
    monkeypatch.undo()
    assert not (crashed / SHARD_INDEX).exists()  # an unfinished packing cannot be read by mistake
    with pytest.raises(DatasetLayoutError):
        read_shard_index(crashed)
    (crashed / f".train-000003.tar.99999{TMP_MARK}").write_bytes(b"half a shard")  # what kill -9 leaves
    (crashed / "test-000007.tar").write_bytes(b"a shard of an earlier packing")
    pack_shards(records, crop_folder, crashed, shard_size=3, spectrum=SpectrumOptions(scale="raw"))
    assert folder_bytes(crashed) == folder_bytes(clean)


def test_missing_and_unreadable_crops_are_counted_skips(crop_folder: Path, tmp_path: Path) -> None:
    records = read_crop_table(crop_folder / "crops.csv")
    crops = tmp_path / "crops"
    gone, broken = records[1], records[20]
    for record in records:
        if record is not gone:
            (crops / record.crop).parent.mkdir(parents=True, exist_ok=True)
            (crops / record.crop).write_bytes((crop_folder / record.crop).read_bytes())
    (crops / broken.crop).write_bytes(b"\x89PNG truncated")
    progress: list[tuple[int, int]] = []
    report = pack_shards(records, crops, tmp_path / "out", on_progress=lambda *a: progress.append(a))
    assert [(s.crop, s.reason) for s in report.skipped] == [
        (gone.crop, "file not found"),
        (broken.crop, "not a decodable image"),
    ]
    assert report.skipped[0].path == crops / gone.crop
    assert report.samples == 30 and report.index.counts[broken.split] == 7
    assert progress[-1] == (32, 32) and len(progress) == 32
    assert read_shard_index(tmp_path / "out").skipped == report.skipped


def test_only_chosen_splits_and_bad_options(crop_folder: Path, tmp_path: Path) -> None:
    records = read_crop_table(crop_folder / "crops.csv")
    report = pack_shards(records, crop_folder, tmp_path, splits=["test"], spectrum=SpectrumOptions())
    assert [s.name for s in report.index.shards] == ["test-000000.tar"]
    assert report.index.class_names == ("real", "Deepfakes", "Face2Face")  # from every row
    assert report.index.spectrum_stats is None  # no training split packed: nothing to normalise with
    with pytest.raises(ConfigError, match="unknown split"):
        pack_shards(records, crop_folder, tmp_path, splits=["training"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="shard size"):
        pack_shards(records, crop_folder, tmp_path, shard_size=0)
    with pytest.raises(DatasetLayoutError, match="fakescan pack"):
        read_shard_index(tmp_path / "nowhere")


def test_pack_command_with_log_and_color(crop_folder: Path, tmp_path: Path) -> None:
    def fakescan(*args: str | Path) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "fakescan", *map(str, args)]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    done = fakescan(
        "pack", crop_folder, "--out", tmp_path / "log", "--log", "--color",
        "--shard-size", "6", "--splits", "train,val", "--spectrum-dtype", "float32",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "24 samples" in done.stderr
    index = read_shard_index(tmp_path / "log")
    assert index.spectrum == SpectrumOptions(kind="dct", scale="log", mode="color")
    assert index.spectrum_dtype == "float32"
    assert index.counts == {"train": 16, "val": 8} and len(index.shard_paths("train")) == 3


def test_pack_options_reach_the_library(crop_folder: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from fakescan.cli import app

    runner = CliRunner()
    done = runner.invoke(
        app,
        ["pack", str(crop_folder), "--out", str(tmp_path / "raw"), "--raw", "--spectrum-kind", "fft",
         "--spectrum-size", "32", "--splits", "val", "--splits", "test"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    index = read_shard_index(tmp_path / "raw")
    assert index.spectrum == SpectrumOptions(kind="fft", scale="raw", mode="gray")
    assert index.counts == {"val": 8, "test": 8} and "no training split packed" in done.output
    with tarfile.open(index.shard_paths("val")[0]) as tar:
        npy = tar.extractfile("00000000.spectrum.npy").read()  # type: ignore[union-attr]
    assert np.load(io.BytesIO(npy)).shape == (1, 32, 32)
    for wrong, message in (
        (["--raw", "--log"], "--raw and --log contradict"),
        (["--color"], "--color: spectrum options, which need --raw or --log"),
        (["--log", "--spectrum-kind", "wavelet"], "unknown spectrum kind"),
        (["--splits", "train,dev"], "--splits: unknown split(s) ['dev']"),
    ):
        failed = runner.invoke(app, ["pack", str(crop_folder), "--out", str(tmp_path / "x"), *wrong])
        assert failed.exit_code == 2 and message in failed.output, failed.output
