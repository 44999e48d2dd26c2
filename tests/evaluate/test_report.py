"""Report files: written atomically, readable, and giving back the same metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from fakescan._atomic import TMP_MARK
from fakescan.errors import InputError
from fakescan.evaluate.metrics import ScoreAccumulator, binary_metrics, multiclass_metrics, video_scores
from fakescan.evaluate.report import (
    cross_dataset_rich_table,
    cross_dataset_table,
    plot_roc,
    read_metrics_json,
    read_scores_csv,
    read_video_scores_csv,
    write_metrics_json,
    write_scores_csv,
    write_video_scores_csv,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def accumulator() -> ScoreAccumulator:
    rng = np.random.default_rng(0)
    acc = ScoreAccumulator()
    for batch in range(6):
        labels = rng.integers(0, 2, 8)
        methods = ["Deepfakes" if y else "real" for y in labels]
        ids = [f"{method}/{batch}_{i % 3}" for i, method in enumerate(methods)]  # several frames a video
        scores = np.clip(rng.normal(0.35 + 0.3 * labels, 0.2), 0, 1)
        acc.update(scores, labels, ids, frame_indices=np.arange(8) + 8 * batch, methods=methods)
    return acc


def no_leftovers(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if TMP_MARK in p.name]


def test_metrics_json_is_strict_and_round_trips(tmp_path: Path, accumulator: ScoreAccumulator) -> None:
    one_class = binary_metrics([1, 1], [0.2, 0.9])
    multi = multiclass_metrics([0, 1], [[0.8, 0.2], [0.3, 0.7]], ["real", "fake"])
    path = tmp_path / "metrics.json"
    write_metrics_json(path, {"frame": accumulator.frame_metrics(), "one_class": one_class, "multi": multi})

    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    json.loads(path.read_text(), parse_constant=refuse)
    data = read_metrics_json(path)
    assert data["frame"]["auc"] == accumulator.frame_metrics().auc
    assert data["one_class"]["auc"] is None and data["one_class"]["note"]
    assert data["multi"]["confusion"] == [[1, 0], [0, 1]]
    assert no_leftovers(tmp_path)
    with pytest.raises(InputError, match="not found"):
        read_metrics_json(tmp_path / "missing.json")
    with pytest.raises(TypeError, match="object"):
        write_metrics_json(tmp_path / "bad.json", {"x": object()})


def test_scores_csv_round_trip(tmp_path: Path, accumulator: ScoreAccumulator) -> None:
    path = tmp_path / "frames.csv"
    write_scores_csv(path, accumulator.frames())
    back = read_scores_csv(path)
    original = accumulator.frames()
    assert np.array_equal(back.scores, original.scores)  # exact: full precision in the file
    assert back.video_ids.tolist() == original.video_ids.tolist()
    assert back.methods.tolist() == original.methods.tolist()
    assert back.frame_indices.tolist() == original.frame_indices.tolist()
    assert binary_metrics(back.labels, back.scores, 0.4) == accumulator.frame_metrics(0.4)
    again = video_scores(back.video_ids, back.labels, back.scores)
    assert binary_metrics(again.labels, again.scores) == accumulator.video_metrics()
    assert path.read_text().splitlines()[0] == "video_id,frame_index,method,label,score"
    assert no_leftovers(tmp_path)


def test_video_csv_round_trip(tmp_path: Path, accumulator: ScoreAccumulator) -> None:
    path = tmp_path / "videos.csv"
    videos = accumulator.video_scores()
    write_video_scores_csv(path, videos, threshold=0.45)
    back = read_video_scores_csv(path)
    assert back.ids.tolist() == videos.ids.tolist()
    assert np.array_equal(back.scores, videos.scores)
    assert binary_metrics(back.labels, back.scores) == accumulator.video_metrics()
    lines = path.read_text().splitlines()
    predictions = [int(line.rsplit(",", 1)[1]) for line in lines[1:]]
    assert predictions == (videos.scores >= 0.45).astype(int).tolist()


def test_reading_a_wrong_csv(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="missing columns"):
        read_scores_csv(path)


def test_plot_roc_writes_a_png(tmp_path: Path, accumulator: ScoreAccumulator) -> None:
    from PIL import Image

    path = tmp_path / "roc.png"
    videos = accumulator.video_scores()
    plot_roc(
        path,
        {
            "frames": (accumulator.labels, accumulator.scores),
            "videos": (videos.labels, videos.scores),
            "reals only": ([0, 0], [0.1, 0.2]),
        },
        title="test",
        dpi=50,
    )
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.size == (250, 250)
    assert no_leftovers(tmp_path)


def test_cross_dataset_table(accumulator: ScoreAccumulator) -> None:
    frame = {"ffpp-c23": accumulator.frame_metrics(), "celebdf-v2": binary_metrics([1, 1], [0.3, 0.8])}
    video = {"ffpp-c23": accumulator.video_metrics(), "dfdc": accumulator.video_metrics()}
    text = cross_dataset_table(frame, video, columns=("auc", "eer", "n"))
    lines = text.splitlines()
    assert lines[0] == "| test set | frame AUC | frame EER | frame N | video AUC | video EER | video N |"
    assert lines[1] == "|---|---:|---:|---:|---:|---:|---:|"
    assert len(lines) == 5
    auc = accumulator.frame_metrics().auc
    assert lines[2].startswith(f"| ffpp-c23 | {auc:.4f} |")
    assert lines[3] == "| celebdf-v2 | n/a | n/a | 2 | — | — | — |"
    assert lines[4].startswith("| dfdc | — | — | — |")
    with pytest.raises(ValueError, match="unknown metric column"):
        cross_dataset_table(frame, columns=("roc",))


def test_rich_table_renders(accumulator: ScoreAccumulator) -> None:
    from rich.console import Console

    table = cross_dataset_rich_table({"ffpp-c23": accumulator.frame_metrics()}, title="cross-data-set")
    console = Console(record=True, width=120)
    console.print(table)
    text = console.export_text()
    assert "ffpp-c23" in text and "frame AUC" in text
    assert f"{accumulator.frame_metrics().auc:.4f}" in text
    assert not math.isnan(accumulator.frame_metrics().auc)
