"""What a prediction says about how it was made, and how a person reads it, on the real sample media.

Provenance in the JSON and CSV results (version, checkpoint and SHA-256, training data, settings,
time), the crop file named per frame, merged shards, run folders given as ``--model``, the
detector taken from the checkpoint, and the table at 80 columns.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import pytest
from typer.testing import CliRunner

from fakescan import __version__
from fakescan.checkpoints import (
    TrainingProvenance,
    load_checkpoint,
    read_checkpoint_meta,
    resolve_checkpoint,
)
from fakescan.cli import app
from fakescan.data.extract import ExtractConfig
from fakescan.errors import InputError
from fakescan.predict import PredictConfig, load_predictor, merge_documents, run_prediction
from fakescan.predict.engine import PROVENANCE_FIELDS
from fakescan.synth.build import synthetic_root_of
from tests.predict import make_checkpoint, make_run

DEMO_LIKE = TrainingProvenance(
    datasets=("ffpp",),
    methods=("FaceSwap-lite", "Resynth"),
    detector="haar",
    crop_size=128,
    synthetic=True,
    videos=12,
    crops=384,
)


@pytest.fixture(scope="module")
def demo_like_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("runs") / "demo-like", DEMO_LIKE)


def invoke(*args: object, columns: int | None = None):
    env = {"COLUMNS": str(columns)} if columns else {}
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


# -- run folders ------------------------------------------------------------------------------------


def test_a_run_folder_means_its_best_checkpoint(tmp_path: Path, demo_like_run: Path) -> None:
    assert resolve_checkpoint(demo_like_run) == demo_like_run / "best"
    assert resolve_checkpoint(demo_like_run / "best.json") == demo_like_run / "best.json"  # a file: as given
    assert (
        resolve_checkpoint(demo_like_run.parent) == demo_like_run / "best"
    )  # runs/demo → runs/demo/run/best
    assert read_checkpoint_meta(demo_like_run).training_data == DEMO_LIKE
    assert load_checkpoint(demo_like_run)[1].threshold == pytest.approx(0.4)
    single = tmp_path / "single"
    single.mkdir()
    stem = make_checkpoint(single)
    assert resolve_checkpoint(single) == stem  # a folder's one checkpoint
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: a folder without a checkpoint"):
        resolve_checkpoint(tmp_path / "empty")
    for suffix in (".json", ".safetensors"):
        (single / f"cnn{suffix}").rename(single / f"other{suffix}")
    make_checkpoint(single)
    with pytest.raises(InputError, match=r"holds 2 checkpoints \(cnn, other\): name one"):
        resolve_checkpoint(single)


def test_predict_takes_a_run_folder_and_one_line_for_an_ambiguous_one(
    samples: Path, demo_like_run: Path, tmp_path: Path
) -> None:
    done = invoke("predict", samples / "images/obama.jpg", "--model", demo_like_run, "--json", "-")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["checkpoint"]["path"] == str(demo_like_run / "best.safetensors")
    for name in ("a", "b"):
        make_run(tmp_path / name, None)
    done = invoke("predict", samples / "images/obama.jpg", "--model", tmp_path)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.exit_code == 1 and len(errors) == 1, done.output
    assert "holds 2 checkpoints (a/best, b/best): name one, e.g." in errors[0]


# -- what the model was trained on, and its detector -------------------------------------------------


def test_sidecar_training_data_round_trips_and_old_sidecars_have_none(tmp_path: Path) -> None:
    stem = make_checkpoint(tmp_path)
    assert read_checkpoint_meta(stem).training_data is None  # a checkpoint that does not record it
    document = json.loads((tmp_path / "cnn.json").read_text())
    assert document["training_data"] is None
    run = make_run(tmp_path / "run", DEMO_LIKE)
    document = json.loads((run / "best.json").read_text())
    assert document["training_data"]["methods"] == ["FaceSwap-lite", "Resynth"]
    assert document["training_data"]["synthetic"] is True and document["training_data"]["detector"] == "haar"
    assert read_checkpoint_meta(run).training_data == DEMO_LIKE


def test_predict_says_what_the_model_learnt_and_uses_its_detector(samples: Path, demo_like_run: Path) -> None:
    video = samples / "videos/single_face.mp4"
    done = invoke("predict", video, "--model", demo_like_run, "--frames", "2", "--json", "-")
    assert done.exit_code == 0, done.output
    text = " ".join(done.stderr.split())
    assert (
        "Model: cnn" in text
        and "trained on ffpp (12 videos, 384 crops): real, FaceSwap-lite, Resynth" in text
    )
    assert "notice: a demo model, trained on synthetic forgeries" in text
    assert "its verdicts on real videos mean nothing" in text
    assert "faces found with haar and cut at 128 px, as for its training crops" in text
    document = json.loads(done.stdout)
    assert document["settings"]["detector"] == "haar"  # the checkpoint's, not the default
    assert document["settings"]["crop_size"] == 128
    assert document["checkpoint"]["training_data"]["synthetic"] is True
    explicit = invoke(
        "predict", video, "--model", demo_like_run, "--frames", "2", "--detector", "hog", "--json", "-"
    )
    assert json.loads(explicit.stdout)["settings"]["detector"] == "hog"  # an explicit --detector wins
    boxes = [[f["box"] for f in json.loads(out.stdout)["results"][0]["frames"]] for out in (done, explicit)]
    assert boxes[0] != boxes[1]  # the detectors really differ


def test_an_old_checkpoint_uses_the_default_detector_and_says_nothing_is_recorded(
    samples: Path, tmp_path: Path
) -> None:
    from fakescan.data.faces import DEFAULT_DETECTOR

    stem = make_checkpoint(tmp_path)
    done = invoke("predict", samples / "images/obama.jpg", "--model", stem, "--json", "-")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["settings"]["detector"] == DEFAULT_DETECTOR
    assert json.loads(done.stdout)["settings"]["crop_size"] == 256
    assert "does not say what it was trained on" in " ".join(done.stderr.split())
    assert "notice:" not in done.stderr
    bad = invoke("predict", samples / "images/obama.jpg", "--model", stem, "--crop-size", "0")
    assert bad.exit_code == 2 and "--size must be at least 8, got 0" in bad.stderr  # not the default


def test_synthetic_data_sets_are_recognised_by_their_manifest(tmp_path: Path) -> None:
    root = tmp_path / "data"
    clip = root / "manipulated_sequences/Resynth/c23/videos/000_001.mp4"
    clip.parent.mkdir(parents=True)
    assert synthetic_root_of(clip) is None
    (root / "synth.json").write_text(json.dumps({"methods": {}, "clips": {}}))
    assert synthetic_root_of(clip) == root
    (root / "synth.json").write_text("{}")  # some other file of that name
    assert synthetic_root_of(clip) is None


# -- provenance in the results ----------------------------------------------------------------------


def test_json_and_csv_carry_provenance_and_the_scored_crops(
    samples: Path, demo_like_run: Path, tmp_path: Path
) -> None:
    video, photo = samples / "videos/single_face.mp4", samples / "images/obama.jpg"
    crops, table = tmp_path / "crops", tmp_path / "out.csv"
    done = invoke(
        "predict", video, photo, "--model", demo_like_run, "--frames", "3", "--crop-size", "96",
        "--detector", "blazeface", "--save-crops", crops, "--json", "-", "--csv", table,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    document = json.loads(done.stdout)
    weights = demo_like_run / "best.safetensors"
    assert document["fakescan_version"] == __version__
    assert document["checkpoint"]["path"] == str(weights)
    assert document["checkpoint"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert document["model"] == "cnn" and document["threshold"] == 0.4
    settings = document["settings"]
    assert (settings["frames"], settings["detector"], settings["crop_size"]) == (3, "blazeface", 96)  # given
    assert (settings["backend"], settings["precision"]) == ("torch", "fp32")
    created = datetime.strptime(document["created_utc"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs(datetime.now(timezone.utc) - created) < timedelta(minutes=10)
    for result in document["results"]:
        assert result["score"] == round(result["score"], 6) and result["threshold"] == 0.4
        for frame in result["frames"]:
            assert frame["probability"] == round(frame["probability"], 6)
            crop = Path(frame["crop"])  # the crop file that was scored
            assert (
                crop.is_file() and crop.parent == crops / result["key"] and crop.stem == str(frame["index"])
            )
            assert cv2.imread(str(crop)).shape == (96, 96, 3)
    assert len(document["results"][0]["frames"]) == 3
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert [r["path"] for r in rows] == [str(video), str(photo)]
    for row in rows:
        assert row["checkpoint_sha256"] == document["checkpoint"]["sha256"]
        assert row["detector"] == "blazeface" and row["frames"] == "3" and row["crop_size"] == "96"
        assert row["fakescan_version"] == __version__ and row["created_utc"] == document["created_utc"]
        assert set(PROVENANCE_FIELDS) <= set(row)
    plain = invoke("predict", photo, "--model", demo_like_run, "--json", "-")
    assert all(f["crop"] is None for f in json.loads(plain.stdout)["results"][0]["frames"])  # not saved


def test_merged_shards_keep_the_provenance(samples: Path, demo_like_run: Path) -> None:
    predictor = load_predictor(demo_like_run)
    config = PredictConfig(extract=ExtractConfig(frames=2))
    inputs = [samples / "images/obama.jpg", samples / "images/biden.jpg", samples / "videos/single_face.mp4"]
    parts = [
        (f"s{i}.json", run_prediction(inputs, predictor, config, shard=(i, 2)).to_dict()) for i in (0, 1)
    ]
    merged = merge_documents(parts)
    first = parts[0][1]
    for key in ("fakescan_version", "checkpoint", "settings", "model", "threshold"):
        assert merged[key] == first[key], key
    assert merged["created_utc"] == max(doc["created_utc"] for _, doc in parts)
    assert len(merged["results"]) == 3
    other = run_prediction(inputs, predictor, replace(config, extract=ExtractConfig(frames=3)), shard=(1, 2))
    with pytest.raises(InputError, match=r"s1.json: its settings .* differs from s0.json's"):
        merge_documents([parts[0], ("s1.json", other.to_dict())])


# -- the table, as a person reads it ----------------------------------------------------------------


def _table_rows(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "│" in line]


@pytest.mark.parametrize("columns", [80, None])  # a terminal of 80 columns, and a pipe (rich: 80)
def test_the_table_at_80_columns_tells_the_files_apart(
    samples: Path, demo_like_run: Path, tmp_path: Path, columns: int | None
) -> None:
    deep = tmp_path / "a folder with a rather long name" / "and another one below it, for good measure"
    deep.mkdir(parents=True)
    files = []
    for name in (
        "interview_with_the_first_person_2024_final.jpg",
        "interview_with_the_first_person_2025_final.jpg",
    ):
        target = deep / name
        target.write_bytes((samples / "images/obama.jpg").read_bytes())
        files.append(target)
    (tmp_path / "other").mkdir()
    files.append(tmp_path / "other/mountain.jpg")
    files[2].write_bytes((samples / "negatives/mountain.jpg").read_bytes())
    done = invoke("predict", *files, "--model", demo_like_run, columns=columns)
    assert done.exit_code == 0, done.output
    rows = _table_rows(done.stderr)
    assert len(rows) == 3, done.stderr
    assert all(len(line) <= 80 for line in rows), done.stderr
    cells = [row.split("│")[0].strip() for row in rows]
    assert len(set(cells)) == 3 and all(len(cell) >= 16 for cell in cells), cells  # never vanishes
    assert cells[0].endswith("2024_final.jpg") and cells[1].endswith(
        "2025_final.jpg"
    )  # the name's end is kept
    assert "…" in cells[0] and cells[0].startswith("a folder")  # relative to the common folder
    assert cells[2] == "other/mountain.jpg" and f"paths relative to {tmp_path}\n" in done.stderr
    assert "3 files in" in done.stderr
    one = invoke("predict", files[2], "--model", demo_like_run, columns=columns)
    assert _table_rows(one.stderr)[0].split("│")[0].strip() == "mountain.jpg"
    assert "1 file in" in one.stderr and "1 files" not in one.stderr
    assert re.search(r"threshold 0\.400\b", one.stderr)


def test_export_takes_a_run_folder_and_onnx_results_name_the_onnx_file(
    samples: Path, demo_like_run: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    onnx = tmp_path / "demo.onnx"
    done = invoke("export", demo_like_run, "--onnx", onnx, "--no-verify")
    assert done.exit_code == 0, done.output
    predicted = invoke(
        "predict", samples / "images/obama.jpg", "--model", onnx, "--backend", "onnx", "--json", "-"
    )
    assert predicted.exit_code == 0, predicted.output
    document = json.loads(predicted.stdout)
    assert document["checkpoint"]["path"] == str(onnx)
    assert document["checkpoint"]["sha256"] == hashlib.sha256(onnx.read_bytes()).hexdigest()
    assert document["checkpoint"]["training_data"]["detector"] == "haar"  # the sidecar travels with it
    assert document["settings"]["detector"] == "haar" and document["settings"]["backend"] == "onnx"


def test_test_and_robustness_take_a_run_folder(crops_dir: Path, demo_like_run: Path, tmp_path: Path) -> None:
    done = invoke("test", demo_like_run, crops_dir, "--out", tmp_path / "test")
    assert done.exit_code == 0, done.output
    assert (tmp_path / "test/summary.md").is_file()
    done = invoke(
        "robustness",
        demo_like_run,
        crops_dir,
        "--out",
        tmp_path / "r",
        "--perturbations",
        "jpeg",
        "--levels",
        "1",
    )
    assert done.exit_code == 0, done.output
    assert (tmp_path / "r/robustness.json").is_file()
