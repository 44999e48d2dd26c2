"""``fakescan extract --dataset`` and ``fakescan prepare``, run as a user runs them (a subprocess)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from fakescan.data.datasets import read_crop_table, read_video_index
from fakescan.data.images import read_image
from tests.data.datasets.layouts import make_celebdf, make_ffpp

PAIRS = {"train": [("000", "001")], "val": [("002", "003")], "test": [("004", "005")]}


def fakescan(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fakescan", *map(str, args)], capture_output=True, text=True, check=False
    )


def error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith("error:")]


@pytest.fixture
def face_ffpp(tmp_path: Path, make_video, samples: Path) -> Path:
    """A miniature FF++ (Deepfakes only) whose videos are four frames of a real face."""
    face = read_image(samples / "images/single_face.jpg")
    counter = itertools.count()

    def write(path: Path) -> None:
        made = make_video(f"made{next(counter)}.mp4", frames=4, gop=4, background=face, size=(256, 256))
        path.parent.mkdir(parents=True, exist_ok=True)
        made.rename(path)

    return make_ffpp(tmp_path / "FaceForensics++", PAIRS, methods=["Deepfakes"], write=write)


def test_extract_a_data_set_writes_crops_by_video_id_and_both_tables(face_ffpp: Path, tmp_path: Path) -> None:
    out = tmp_path / "crops"
    options = ["--dataset", "ffpp", "--root", face_ffpp, "--methods", "Deepfakes"]
    done = fakescan(
        "extract", *options, "--out", out, "--splits", "train,test", "--frames", "2", "--size", "64"
    )
    assert done.returncode == 0, done.stderr

    index = read_video_index(out / "index.csv")
    assert len(index) == 12 and {r.split for r in index} == {"train", "val", "test"}
    extracted = {r.video_id for r in index if r.split != "val"}
    folders = {p.parent.relative_to(out).as_posix() for p in out.rglob("*.png")}
    assert folders == extracted, "one crop folder per extracted video, named by its video id"
    assert "manipulated_sequences/Deepfakes/c23/videos/000_001" in folders

    crops = read_crop_table(out / "crops.csv")
    by_id = {r.video_id: r for r in index}
    assert len(crops) == 2 * len(extracted)
    for crop in crops:
        assert crop.crop.startswith(crop.video_id + "/") and (out / crop.crop).is_file()
        assert (crop.split, crop.label, crop.method) == (
            by_id[crop.video_id].split,
            by_id[crop.video_id].label,
            by_id[crop.video_id].method,
        )
    assert "ffpp: 12 videos" in done.stderr and "crops.csv (16 crops)" in done.stderr

    table = (out / "crops.csv").read_bytes()
    (out / "crops.csv").unlink()
    again = fakescan("prepare", *options, "--out", out)
    assert again.returncode == 0, again.stderr
    assert (out / "crops.csv").read_bytes() == table
    assert "warning: 4 of 12 videos have no face crop" in again.stderr


def test_prepare_prints_counts_and_warnings(tmp_path: Path) -> None:
    root = make_celebdf(
        tmp_path / "Celeb-DF-v2", test_lines=["1 YouTube-real/00001.mp4", "1 YouTube-real/00999.mp4"]
    )
    done = fakescan(
        "prepare",
        "--dataset",
        "celebdf-v2",
        "--root",
        root,
        "--out",
        tmp_path / "out",
        "--val-fraction",
        "0.2",
        "--seed",
        "1",
    )
    assert done.returncode == 0, done.stderr
    assert "warning: celebdf-v2: 1 videos of List_of_testing_videos.txt are not on disk" in done.stderr
    lines = [line.split() for line in done.stderr.splitlines()]
    assert ["Celeb-synthesis", "│", "10", "│", "2", "│", "0", "│", "12"] in lines
    assert len(read_video_index(tmp_path / "out/index.csv")) == 30


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["prepare", "--dataset", "ff++", "--root", "{root}", "--out", "{out}"],
            2,
            "error: unknown data set 'ff++'; choose one of: ffpp,",
        ),
        (
            ["prepare", "--dataset", "ffpp", "--root", "{root}", "--out", "{out}", "--seed", "2"],
            2,
            "error: data set 'ffpp' takes no option seed (its options: methods, compression, splits_dir)",
        ),
        (
            ["prepare", "--dataset", "ffpp", "--root", "{root}", "--out", "{out}", "--fractions", "a,b"],
            2,
            "error: --fractions takes numbers, e.g. 0.8,0.1,0.1; got 'a,b'",
        ),
        (
            ["prepare", "--dataset", "ffpp", "--root", "{root}/nowhere", "--out", "{out}"],
            1,
            "nowhere: no such folder",
        ),
        (
            ["extract", "{root}", "--dataset", "ffpp", "--root", "{root}", "--out", "{out}"],
            2,
            "give no INPUTS",
        ),
        (["extract", "--dataset", "ffpp", "--out", "{out}"], 2, "--dataset needs --root"),
        (["extract", "--compression", "c40", "--out", "{out}"], 2, "--compression: options of --dataset"),
        (["extract", "--out", "{out}"], 2, "give INPUTS"),
        (
            ["extract", "--dataset", "ffpp", "--root", "{root}", "--out", "{out}", "--splits", "dev"],
            2,
            "error: --splits: unknown split(s) ['dev']",
        ),
    ],
)
def test_usage_errors_are_one_clear_line(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    root = make_ffpp(tmp_path / "ffpp")
    done = fakescan(*(arg.format(root=root, out=tmp_path / "out") for arg in args))
    assert done.returncode == code
    assert message in " ".join(done.stderr.replace("│", " ").split())
    assert "Traceback" not in done.stderr
    if message.startswith("error:"):
        assert len(error_lines(done)) == 1


def test_a_broken_split_file_names_the_file(tmp_path: Path) -> None:
    root = make_ffpp(tmp_path / "ffpp")
    (root / "val.json").write_text('[["002", "003"]')
    done = fakescan("prepare", "--dataset", "ffpp", "--root", root, "--out", tmp_path / "out")
    assert done.returncode == 1
    assert error_lines(done) == [
        f"error: {root / 'val.json'}: not valid JSON (Expecting ',' delimiter at line 1, column 16)"
    ]
