"""The ``fakescan`` command line, run as a user runs it (a subprocess)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from fakescan.data.images import read_image


def fakescan(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fakescan", *map(str, args)], capture_output=True, text=True, check=False
    )


def test_extract_options_reach_the_output(samples: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = fakescan(
        "extract", samples / "videos/single_face.mp4", samples / "images/obama.jpg", "--out", out,
        "--frames", "4", "--size", "128", "--format", "jpg", "--margin", "2.0", "--detector", "haar",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "manifest:" in done.stderr and "ok" in done.stderr
    with open(out / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["frame_index"] for r in rows if "single_face" in r["source"]] == ["9", "27", "45", "63"]
    crops = sorted(out.rglob("*.jpg"))
    assert len(crops) == 5 and {read_image(p).shape for p in crops} == {(128, 128, 3)}
    box = [float(rows[-1][k]) for k in ("x1", "y1", "x2", "y2")]
    assert box[2] > box[0]


def test_every_frame_of_a_range(samples: Path, tmp_path: Path) -> None:
    done = fakescan(
        "extract", samples / "videos/single_face.mp4", "--out", tmp_path,
        "--start-frame", "10", "--end-frame", "14", "--every-frame", "--size", "32",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(int(p.stem) for p in tmp_path.rglob("*.png")) == [10, 11, 12, 13]


def test_nothing_processed_exits_1_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_text("not a video")
    done = fakescan("extract", tmp_path / "a.mp4", tmp_path / "gone.mov", "--out", tmp_path / "out")
    assert done.returncode == 1
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert error_lines == ["error: no input could be processed (2 files, all failed)"]
    assert "Traceback" not in done.stderr
    assert f"{tmp_path / 'gone.mov'}: unreadable (file not found)" in done.stderr.replace("\n", "")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--shard", "2"], 2, "--shard must look like i/n"),
        (["--shard", "4/4"], 2, "--shard must be i/n with 0 <= i < n"),
        (["--detector", "mtcnn"], 2, "unknown face detector 'mtcnn'"),
        (["--detector", "retinaface"], 1, "needs a local weights file"),  # the detector cannot be built
        (["--every-frame", "--stride", "3"], 2, "contradict"),
        (["--margin", "0.2"], 2, "--margin must be at least 1.0"),
        (["--workers", "0"], 2, "Invalid value for '--workers'"),
    ],
)
def test_bad_options_give_one_clear_line(
    samples: Path, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    done = fakescan("extract", samples / "images/obama.jpg", "--out", tmp_path, *args)
    assert done.returncode == code
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not list(tmp_path.rglob("*.png"))


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    done = fakescan("--debug", "extract", tmp_path / "gone.mp4", "--out", tmp_path, "--detector", "nope")
    assert done.returncode == 1 and "Traceback" in done.stderr and "UsageError" in done.stderr


def test_version_usage_and_samples_path() -> None:
    assert fakescan("--version").stdout.startswith("fakescan 0.")
    assert fakescan("extract").returncode == 2
    assert fakescan("samples", "path").stdout.strip().endswith("samples")


def test_retinaface_weights_option_reaches_the_detector(samples: Path, tmp_path: Path) -> None:
    import json

    import torch

    from tests.data.test_retinaface import MOBILENET_LAYOUT, _random_state

    weights = tmp_path / "mobilenet0.25_Final.pth"
    torch.save(_random_state(MOBILENET_LAYOUT), weights)
    out = tmp_path / "out"
    done = fakescan(
        "extract", samples / "images/obama.jpg", "--out", out, "--detector", "retinaface",
        "--detector-weights", weights,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads((out / "obama/_extract.json").read_text())
    assert record["config"]["detector"] == "retinaface"
    assert record["config"]["detector_weights"] == str(weights)
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"junk")
    failed = fakescan("extract", samples / "images/obama.jpg", "--out", out, "--detector", "retinaface",
                      "--detector-weights", bad)  # fmt: skip
    assert failed.returncode == 1 and str(bad) in failed.stderr and "Traceback" not in failed.stderr


def test_synth_every_sample_counts_the_people_it_holds_out(samples: Path, tmp_path: Path) -> None:
    # Eleven people are found in every sample (single_face's man and Obama once each): too few
    # to hold out six for val and six for test, which the message says in one line.
    done = fakescan(
        "synth", "--out", tmp_path / "s", "--every-sample", "--held-out", "6", "--methods", "all",
        "--frames", "2", "--size", "32", "--clips-per-video", "1",
    )  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    message = " ".join(done.stdout.split() + done.stderr.split())
    assert "needs at least 14 different people" in message and "single_face" in message
    assert "face_noface" not in message and "obama_32bit" not in message  # same people, one name
    assert not (tmp_path / "s").exists()  # nothing half-written
