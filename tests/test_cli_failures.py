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
    assert f"{photo} " in predicted.stderr  # its row of the table
    assert f"{missing}: file not found" in predicted.stderr.replace("\n", "")


def test_brackets_in_an_error_message_survive(tmp_path: Path) -> None:
    done = invoke("extract", tmp_path / "a[/x].mp4", "--out", tmp_path / "out")
    assert done.exit_code == 1
    assert error_lines(done.stderr) == ["error: no input could be processed (1 files, all failed)"]
    assert "a[/x].mp4: unreadable" in done.stderr
