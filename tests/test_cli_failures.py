"""How the command line fails: one line naming the file, the right exit code, no lost results.

Each test reproduces one fault found by probing the CLI with bad inputs and a hostile
environment (odd file names, a full disk, unreadable files, malformed side files).
"""

from __future__ import annotations

import csv
import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fakescan.cli import app
from tests.predict import make_checkpoint


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def manifest_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "manifest.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt"), "cnn", image_size=64, threshold=0.3)


# -- 1. user text never goes through rich markup ----------------------------------------------------


def test_brackets_in_paths_are_printed_as_they_are(samples: Path, checkpoint: Path, tmp_path: Path) -> None:
    folder = tmp_path / "a[/x]"  # the folder "x]" inside "a["
    folder.mkdir(parents=True)
    photo = folder / "clip [final].jpg"
    shutil.copy(samples / "images/obama.jpg", photo)
    missing = folder / "gone [v2].mp4"
    done = invoke("extract", photo, missing, "--out", tmp_path / "out", "--detector", "haar")
    assert done.exit_code == 0, done.output
    assert "Traceback" not in done.output and "MarkupError" not in done.output
    assert f"{missing}: unreadable (file not found)" in done.stderr.replace("\n", "")
    predicted = invoke("predict", photo, missing, "--model", checkpoint, "--detector", "haar")
    assert predicted.exit_code == 0, predicted.output
    assert " clip [final].jpg " in predicted.stderr  # its row of the table, relative to its folder
    assert f"paths relative to {folder}\n" in predicted.stderr
    assert f"{missing}: file not found" in predicted.stderr.replace("\n", "")


def test_brackets_in_an_error_message_survive(tmp_path: Path) -> None:
    done = invoke("extract", tmp_path / "a[/x].mp4", "--out", tmp_path / "out")
    assert done.exit_code == 1
    assert error_lines(done.stderr) == ["error: no input could be processed (1 file, it failed)"]
    assert "a[/x].mp4: unreadable" in done.stderr


# -- 2, 3. a failed output write is an error of the run, on one line ---------------------------------


class _FullDisk:
    """Stands in for ``open`` in fakescan._atomic: writing a file whose name matches fails with ENOSPC."""

    def __init__(self, *names: str) -> None:
        self.names = names

    def __call__(self, path, mode="r", *args, **kwargs):
        handle = open(path, mode, *args, **kwargs)  # closed by the caller's with
        if "w" in mode and any(name in Path(path).name for name in self.names):
            handle.close()
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return handle


def test_disk_full_while_writing_crops_fails_the_run(
    samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fakescan._atomic.open", _FullDisk(".png"), raising=False)
    out = tmp_path / "out"
    done = invoke("extract", samples / "images/obama.jpg", "--out", out, "--detector", "haar")
    assert done.exit_code == 1 and "Traceback" not in done.output
    assert error_lines(done.stderr) == [
        f"error: 1 of 1 files failed because an output could not be written (or by a fault of fakescan's):"
        f" see {out / 'manifest.csv'}; run again to retry them"
    ]
    (row,) = manifest_rows(out)
    assert row["status"] == "error"
    full = "cannot write (no space left on device): free disk space, or choose another location"
    assert row["reason"] == f"{out / 'obama/0.png'}: {full}"
    assert not list(out.rglob("*.png")) and not list(out.rglob("_extract.json"))
    monkeypatch.undo()
    again = invoke("extract", samples / "images/obama.jpg", "--out", out, "--detector", "haar")
    assert again.exit_code == 0 and [r["status"] for r in manifest_rows(out)] == ["ok"]


def test_disk_full_while_writing_the_manifest_is_one_line(
    samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fakescan._atomic.open", _FullDisk("manifest.csv"), raising=False)
    out = tmp_path / "out"
    done = invoke("extract", samples / "images/obama.jpg", "--out", out, "--detector", "haar")
    assert done.exit_code == 1 and "Traceback" not in done.output
    assert error_lines(done.stderr) == [
        f"error: {out / 'manifest.csv'}: cannot write (no space left on device): free disk space, "
        "or choose another location"
    ]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_an_out_folder_that_is_a_file_is_one_line(samples: Path, checkpoint: Path, tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("a file")
    done = invoke("extract", samples / "images/obama.jpg", "--out", taken)
    assert done.exit_code == 1 and "Traceback" not in done.output
    assert error_lines(done.stderr) == [
        f"error: {taken}: is a file, not a folder: choose another output folder"
    ]
    below = invoke("extract", samples / "images/obama.jpg", "--out", taken / "crops")
    assert below.exit_code == 1 and "Traceback" not in below.output and len(error_lines(below.stderr)) == 1
    assert str(taken / "crops") in below.stderr
    explain = invoke("predict", samples / "images/obama.jpg", "--model", checkpoint, "--explain", taken)
    assert explain.exit_code == 1 and error_lines(explain.stderr) == error_lines(done.stderr)


def test_predict_checks_its_output_files_before_the_work(
    samples: Path, checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("scored although the results could not be written")

    monkeypatch.setattr("fakescan.predict.run_prediction", never)
    for option in ("--json", "--csv"):
        done = invoke("predict", samples / "images/obama.jpg", "--model", checkpoint, option, tmp_path)
        assert done.exit_code == 1 and "Traceback" not in done.output
        assert error_lines(done.stderr) == [
            f"error: {tmp_path}: is a folder: give the path of a file to write"
        ]


@pytest.mark.parametrize("threshold", ['"high"', "NaN", "1.5", "null"])
def test_a_bad_threshold_in_the_sidecar_is_one_line(
    samples: Path, checkpoint: Path, tmp_path: Path, threshold: str
) -> None:
    stem = tmp_path / "edited"
    for suffix in (".safetensors", ".json"):
        shutil.copy(checkpoint.with_name(checkpoint.name + suffix), stem.with_name(stem.name + suffix))
    sidecar = stem.with_name(stem.name + ".json")
    document = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps(document).replace('"threshold": 0.3', f'"threshold": {threshold}'))
    done = invoke("predict", samples / "images/obama.jpg", "--model", stem)
    assert done.exit_code == 1 and "Traceback" not in done.output
    assert error_lines(done.stderr) == [
        f"error: {sidecar}: unreadable checkpoint sidecar (threshold must be a number in [0, 1], "
        f"got {json.loads(threshold)!r})"
    ]


# -- 9. smaller ones ---------------------------------------------------------------------------------


def test_a_start_frame_past_the_end_is_said_plainly(samples: Path, tmp_path: Path) -> None:
    video = samples / "videos/single_face.mp4"
    done = invoke("extract", video, "--out", tmp_path, "--start-frame", "100000", "--detector", "haar")
    assert done.exit_code == 1 and "Traceback" not in done.output
    (row,) = manifest_rows(tmp_path)
    assert row["status"] == "out_of_range"
    assert row["reason"].startswith("--start-frame 100000 is past the end (the video has ")
    assert f"{video}: out_of_range (--start-frame 100000 is past the end" in done.stderr.replace("\n", "")


def _damaged_video(path: Path) -> Path:
    """60 frames of noise (every frame a large packet), 20 kB of it zeroed a third of the way in."""
    from fractions import Fraction

    import av
    import numpy as np

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(25, 1))
        stream.width, stream.height, stream.pix_fmt, stream.gop_size = 160, 120, "yuv420p", 12
        stream.options = {"preset": "ultrafast", "crf": "18"}
        for index in range(60):
            pixels = np.random.default_rng(index).integers(0, 255, (120, 160, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = bytearray(path.read_bytes())
    data[len(data) // 3 : len(data) // 3 + 20_000] = bytes(20_000)
    path.write_bytes(bytes(data))
    return path


def test_frames_lost_to_damage_are_noted(checkpoint: Path, tmp_path: Path) -> None:
    video = _damaged_video(tmp_path / "damaged.mp4")
    out = tmp_path / "out"
    done = invoke("extract", video, "--out", out, "--every-frame", "--detector", "haar")
    assert done.exit_code == 0, done.output
    rows = manifest_rows(out)
    notes = [row for row in rows if row["status"] == "decode_error"]
    assert len(notes) == 1 and notes[0]["reason"].endswith(
        "of 60 sampled frames could not be decoded (truncated or damaged video)"
    )
    assert len(rows) - 1 == 60 - int(notes[0]["reason"].split()[0])  # a row per frame read, and the note
    assert f"note {video}: {notes[0]['reason']}" in done.stderr.replace("\n", "")
    predicted = invoke("predict", video, "--model", checkpoint, "--frames", "60", "--json", "-")
    (result,) = json.loads(predicted.stdout)["results"]
    assert result["reason"].endswith(notes[0]["reason"])  # after "no face found ...": noise has no face


# -- 6, 7, 8. what extraction reads, and which record belongs to which file ------------------------


def test_the_output_folder_inside_an_input_folder_is_never_read(samples: Path, tmp_path: Path) -> None:
    shutil.copy(samples / "images/obama.jpg", tmp_path / "obama.jpg")
    out = tmp_path / "crops"
    for _ in range(2):
        done = invoke("extract", tmp_path, "--out", out, "--detector", "haar")
        assert done.exit_code == 0, done.output
        assert [row["source"] for row in manifest_rows(out)] == [str(tmp_path / "obama.jpg")]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == ["obama/0.png"]


def test_unreadable_inputs_are_counted_rows(
    samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    folder = tmp_path / "in"
    (folder / "locked").mkdir(parents=True)
    shutil.copy(samples / "images/obama.jpg", folder / "obama.jpg")
    shutil.copy(samples / "images/obama.jpg", folder / "locked/hidden.jpg")
    named = tmp_path / "secret.jpg"
    shutil.copy(samples / "images/obama.jpg", named)
    real_scandir, real_open = os.scandir, open

    def scandir(path=".", *args):  # as if "locked" had mode 000 (root reads everything)
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path, *args)

    def guarded_open(file, *args, **kwargs):
        if Path(str(file)).name == "secret.jpg":
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr("fakescan.data.extract.open", guarded_open, raising=False)
    out = tmp_path / "out"
    done = invoke("extract", named, folder, "--out", out, "--detector", "haar")
    assert done.exit_code == 0, done.output
    rows = {row["source"]: (row["status"], row["reason"]) for row in manifest_rows(out)}
    assert rows[str(named)] == ("unreadable", "cannot read (permission denied)")
    assert rows[str(folder / "locked")] == ("unreadable", "folder cannot be read (permission denied)")
    assert rows[str(folder / "obama.jpg")][0] == "ok" and len(rows) == 3
    assert f"{folder / 'locked'}: unreadable (folder cannot be read" in done.stderr.replace("\n", "")


def test_same_named_files_keep_their_own_records_when_their_keys_swap(samples: Path, tmp_path: Path) -> None:
    import os

    first, second = tmp_path / "a/face.jpg", tmp_path / "b/face.jpg"
    for target, source in ((first, "obama.jpg"), (second, "biden.jpg")):
        target.parent.mkdir()
        shutil.copy(samples / "images" / source, target)
    size = max(first.stat().st_size, second.stat().st_size)
    for target in (first, second):  # equal size and time: only the path tells them apart
        target.write_bytes(target.read_bytes().ljust(size, b"\0"))
        os.utime(target, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    out = tmp_path / "out"

    def boxes(*inputs: Path) -> dict[str, tuple[str, ...]]:
        done = invoke("extract", *inputs, "--out", out, "--detector", "haar")
        assert done.exit_code == 0, done.output
        return {
            row["source"]: (row["x1"], row["y1"], row["crop"].split("/")[0]) for row in manifest_rows(out)
        }

    before = boxes(first, second)
    after = boxes(second, first)  # the keys face_jpg and face_jpg_2 change hands
    assert before[str(first)][:2] != before[str(second)][:2]
    for source in (first, second):
        assert after[str(source)][:2] == before[str(source)][:2]
    assert after[str(first)][2] != before[str(first)][2]  # so the record really moved with the key


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            ["extract", "{photo}", "--out", "{out}", "--border", "wrap"],
            "error: --border must be clamp or pad",
        ),
        (
            ["extract", "{photo}", "--out", "{out}", "--frames", "0"],
            "error: --frames must be at least 1, got 0",
        ),
        (["extract", "{photo}", "--out", "{out}", "--workers", "0"], "Invalid value for '--workers'"),
        (
            ["predict", "{photo}", "--model", "{model}", "--batch-size", "0"],
            "error: --batch-size must be at least 1",
        ),
        (
            ["predict", "{photo}", "--model", "{model}", "--aggregate", "median"],
            "error: --aggregate must be one of",
        ),
        (
            ["train", "cnn", "{out}", "{out}", "--out", "{out}", "--epochs", "0"],
            "error: epochs must be at least 1",
        ),
        (["train", "cnn", "{out}", "{out}", "--out", "{out}", "--image_size", "7,7"], "error: --image_size:"),
        (
            ["pack", "{out}", "--out", "{out}", "--raw", "--log"],
            "error: --raw and --log contradict each other",
        ),
    ],
)
def test_invalid_option_values_are_usage_errors(
    samples: Path, checkpoint: Path, tmp_path: Path, command: list[str], message: str
) -> None:
    fill = {"photo": samples / "images/obama.jpg", "out": tmp_path / "out", "model": checkpoint}
    done = invoke(*(part.format(**fill) for part in command))
    assert done.exit_code == 2, done.output
    assert message in done.stderr and "Traceback" not in done.output
    assert not (tmp_path / "out").exists()  # refused before any work


def test_fakescan_test_skips_and_counts_an_unreadable_crop(
    samples: Path, checkpoint: Path, tmp_path: Path
) -> None:
    from fakescan.data.datasets.index import CropRecord, write_crop_table
    from fakescan.data.extract import ExtractConfig, run_extraction

    crops = tmp_path / "crops"
    photos = [samples / "images/obama.jpg", samples / "images/biden.jpg"]
    report = run_extraction(photos, crops, ExtractConfig(size=64, detector="haar"))
    real, fake = (row.crop for row in report.rows)
    (crops / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    write_crop_table(
        crops / "crops.csv",
        [
            CropRecord(real, "real/obama", 0, 0, "real", "test", "samples"),
            CropRecord(fake, "fake/biden", 0, 1, "Resynth", "test", "samples"),
            CropRecord("broken.png", "fake/broken", 0, 1, "Resynth", "test", "samples"),
        ],
    )
    done = invoke("test", checkpoint, crops, "--out", tmp_path / "results")
    assert done.exit_code == 0, done.output
    assert "crops: 2 crops, 2 videos" in done.stderr and "1 unreadable crops skipped" in done.stderr
    assert f"skipped {crops / 'broken.png'}: not a decodable image" in done.stderr.replace("\n", "")
    metrics = json.loads((tmp_path / "results/crops/metrics.json").read_text())
    assert [c["crop"] for c in metrics["skipped_crops"]] == ["broken.png"]
    with open(tmp_path / "results/crops/frames.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 2


def test_gifs_in_a_folder_are_read_as_videos(samples: Path, tmp_path: Path) -> None:
    import cv2
    from PIL import Image

    from fakescan.data.images import read_image

    photo = read_image(samples / "images/obama.jpg")
    small = cv2.resize(photo, (320, round(320 * photo.shape[0] / photo.shape[1])))
    folder = tmp_path / "in"
    folder.mkdir()
    frames = [Image.fromarray(np.roll(small, 4 * i, axis=1)) for i in range(8)]
    frames[0].save(folder / "moving.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[0].save(folder / "still.gif")
    out = tmp_path / "out"
    done = invoke("extract", folder, "--out", out, "--frames", "4", "--detector", "haar")
    assert done.exit_code == 0, done.output
    rows = manifest_rows(out)
    assert {(Path(r["source"]).name, r["kind"], r["status"]) for r in rows} == {
        ("moving.gif", "video", "ok"),
        ("still.gif", "video", "ok"),
    }
    assert [r["frame_index"] for r in rows if r["source"].endswith("moving.gif")] == ["1", "3", "5", "7"]
    assert "ignored" not in done.stderr


# -- 2, 4. training ----------------------------------------------------------------------------------


def _four_crops(samples: Path, folder: Path, val_labels: tuple[int, int]) -> Path:
    """Four real face crops with a crop table: a real and a "fake" to train on, two of ``val_labels``."""
    from fakescan.data.datasets.index import CropRecord, write_crop_table
    from fakescan.data.extract import ExtractConfig, run_extraction

    photos = [samples / f"images/{name}.jpg" for name in ("obama", "biden", "multi_face", "single_face")]
    report = run_extraction(photos, folder, ExtractConfig(size=64, detector="haar"))
    names = [row.crop for row in report.rows if row.crop]
    labels, splits = (0, 1, *val_labels), ("train", "train", "val", "val")
    table = []
    for n, (name, label, split) in enumerate(zip(names, labels, splits, strict=True)):
        kind = "fake" if label else "real"
        method = "Resynth" if label else "real"
        table.append(CropRecord(name, f"{kind}/{n}", 0, label, method, split, "samples"))
    write_crop_table(folder / "crops.csv", table)
    return folder


def test_disk_full_while_saving_the_training_state_is_one_line(
    samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crops = _four_crops(samples, tmp_path / "crops", (0, 1))
    monkeypatch.setattr("fakescan._atomic.open", _FullDisk("last_state"), raising=False)
    run = tmp_path / "run"
    done = invoke("train", "cnn", crops, crops, "--out", run, "--image_size", "64", "--epochs", "1")
    assert done.exit_code == 1 and "Traceback" not in done.output
    (line,) = error_lines(done.stderr)
    assert line.startswith(f"error: {run / 'last_state.'}") and line.endswith(
        ": cannot write (no space left on device): free disk space, or choose another location"
    )


def test_a_validation_split_of_one_class_is_refused(samples: Path, tmp_path: Path) -> None:
    crops = _four_crops(samples, tmp_path / "crops", (0, 0))
    plain = ("--pseudo-fakes", "none")  # the default's self-blends would give validation its fakes
    done = invoke(
        "train", "cnn", crops, crops, "--out", tmp_path / "run", "--image_size", "64", "--epochs", "1", *plain
    )
    assert done.exit_code == 1 and "Traceback" not in done.output
    assert error_lines(done.stderr) == [
        f"error: {crops / 'crops.csv'}: the validation crops are all real (2 crops): with one class the AUC"
        " is undefined and the threshold cannot be calibrated; give VAL_DATA a val split with real and fake"
        " videos (or train with --pseudo-fakes sbi, which adds fakes to real-only validation)"
    ]
    assert not (tmp_path / "run/best.json").exists()


def test_the_onnx_install_hint_keeps_its_brackets(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    for module in ("onnx", "onnxscript", "onnxruntime"):
        monkeypatch.setitem(sys.modules, module, None)  # as if the onnx extra were not installed
    done = invoke("export", checkpoint, "--onnx", tmp_path / "model.onnx")
    assert done.exit_code == 1 and "Traceback" not in done.output
    (line,) = error_lines(done.stderr)
    assert line.endswith("package: install the onnx extra: pip install 'fakescan[onnx]'")
