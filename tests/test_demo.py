"""``fakescan demo --quick`` end to end on the real sample media: report, held-out numbers, explanations."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakescan.cli import app
from fakescan.demo import HONEST, STAGES, run_demo
from fakescan.errors import ConfigError


@pytest.mark.slow
def test_quick_demo_trains_tests_and_explains_on_held_out_people(tmp_path: Path, samples: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--quick"])
    assert result.exit_code == 0, result.output
    report = out / "report.md"
    # Output to a pipe: a line per stage and counts, and closing lines that are never wrapped.
    lines = result.output.splitlines()
    assert f"report: {report}" in lines
    assert "trained on synthetic forgeries of a few people: not a real-world deepfake detector" in lines
    assert any(line.startswith("[1/7] ") for line in lines)
    counts = [re.fullmatch(r"\[3/7\] .*: (\d+)/(\d+) videos", line) for line in lines]
    done = [(int(m[1]), int(m[2])) for m in counts if m]
    assert done and done[-1][0] == done[-1][1] > 0, lines
    assert any(re.fullmatch(r"\[4/7\] .*: \d+/6 epochs", line) for line in lines), lines

    text = report.read_text(encoding="utf-8")
    assert HONEST in text
    assert "## Held-out test results" in text
    # Epochs counted from 1, as log.csv's best row (counted from 0) plus one.
    with (out / "run" / "log.csv").open(encoding="utf-8") as log:
        best = max(int(row["epoch"]) for row in csv.DictReader(log) if row["best"] == "True")
    assert f"epoch {best + 1} counting from 1" in text
    assert "| real videos |" in text and "| fake frames |" in text  # the confusion matrix
    assert "- Missed fakes (fake videos scored below" in text
    assert "Videos with no face found" in text
    # The held-out people, as synth.json records their sources: photos are said to be animated stills.
    clips = json.loads((out / "data" / "synth.json").read_text(encoding="utf-8"))["clips"].values()
    test_people = {
        c["identity"]: re.search(r" face \d+$", c["origin"]) for c in clips if c["split"] == "test"
    }
    for person, from_photo in test_people.items():
        kind = "a still photograph, animated" if from_photo else "clips of a video"
        assert f"`{person}` ({kind})" in text
    assert ("from a still photograph**" in text) == any(test_people.values())
    # Every picture the report links to exists.
    links = [line.split("](", 1)[1].rstrip(")") for line in text.splitlines() if line.startswith("![")]
    assert any(link.endswith("roc.png") for link in links)
    assert sum(link.endswith("timeline.png") for link in links) == 2
    for link in links:
        assert (out / link).is_file(), link

    explained = sorted(p.name for p in (out / "explain").rglob("*") if p.is_file())
    for name in ("gradcam.png", "spectrum.png", "timeline.png", "annotated.mp4"):
        assert explained.count(name) == 2, explained

    metrics = json.loads((out / "test" / "held-out" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["split"] == "test" and metrics["overlap_with_training"] == 0
    # Seed 0 of the quick mode separates the held-out people's frames almost perfectly.
    assert metrics["frame"]["auc"] > 0.9
    assert metrics["video"]["auc"] > 0.75
    _check_demo_model(out / "run", samples)


def _check_demo_model(run: Path, samples: Path) -> None:
    """The demo's checkpoint says what it learnt from, and ``predict --model RUN`` says it is a demo
    model and cuts faces as the demo's crops were cut."""
    from fakescan.checkpoints import read_checkpoint_meta
    from fakescan.demo import DEMO_DETECTOR, QUICK

    trained = read_checkpoint_meta(run).training_data
    assert trained is not None and trained.synthetic and trained.datasets == ("ffpp",)
    assert (trained.detector, trained.crop_size) == (DEMO_DETECTOR, QUICK.crop_size)
    assert trained.methods and "real" not in trained.methods and trained.pseudo_fakes == QUICK.pseudo_fakes
    photo = samples / "images/obama.jpg"
    done = CliRunner().invoke(app, ["predict", str(photo), "--model", str(run), "--json", "-"])
    assert done.exit_code == 0, done.output
    assert "its verdicts on real videos mean nothing" in " ".join(done.stderr.split())
    settings = json.loads(done.stdout)["settings"]
    assert (settings["detector"], settings["crop_size"]) == (DEMO_DETECTOR, QUICK.crop_size)


def test_refuses_a_folder_that_holds_something_else(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    stages: list[str] = []
    with pytest.raises(ConfigError, match="no earlier demo"):
        run_demo(tmp_path, quick=True, on_stage=lambda name, _: stages.append(name))
    assert stages == [] and (tmp_path / "notes.txt").read_text() == "mine"
    assert STAGES[0] == "samples" and STAGES[-1] == "report"
