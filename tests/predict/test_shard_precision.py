"""``predict --shard``/``--merge`` and ``--precision bf16``, on the real sample media."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fakescan.cli import app
from fakescan.data.extract import ExtractConfig
from fakescan.errors import ConfigError
from fakescan.predict import PredictConfig, load_predictor, run_prediction
from fakescan.predict.results import DIGITS
from tests.predict import make_checkpoint

BF16_TOLERANCE = 1e-2
"""Largest |p_bf16 − p_fp32| allowed for a frame probability (measured: 3.6e-6 for the test cnn)."""


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt"), "cnn", image_size=64, threshold=0.3)


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_two_shards_cover_every_file_once_and_merge_to_the_unsharded_run(
    samples: Path, checkpoint: Path, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    shutil.copytree(samples / "images", media)
    shutil.copy(samples / "negatives/no_face.mp4", media)
    gone = tmp_path / "gone.mp4"  # a missing input: reported by exactly one shard
    common = (media, gone, "--model", checkpoint, "--frames", "2")
    whole = invoke("predict", *common, "--json", tmp_path / "all.json")
    assert whole.exit_code == 0, whole.output
    for i in (0, 1):
        done = invoke("predict", *common, "--shard", f"{i}/2", "--json", tmp_path / "out.json",
                      "--csv", tmp_path / "out.csv")  # fmt: skip
        assert done.exit_code == 0, done.output
    shards = [tmp_path / f"out.shard-{i}-of-2.json" for i in (0, 1)]
    assert not (tmp_path / "out.json").exists()
    paths = [[r["path"] for r in json.loads(s.read_text())["results"]] for s in shards]
    assert all(paths)  # both shards got work
    expected = json.loads((tmp_path / "all.json").read_text())
    every = sorted(r["path"] for r in expected["results"])
    assert len(every) == 11 and sorted(paths[0] + paths[1]) == every  # each file exactly once
    rows = [list(csv.DictReader((tmp_path / f"out.shard-{i}-of-2.csv").open())) for i in (0, 1)]
    assert sorted(r["path"] for part in rows for r in part) == every

    merged_path = tmp_path / "merged.json"
    done = invoke("predict", "--merge", merged_path, *shards)
    assert done.exit_code == 0, done.output
    merged = json.loads(merged_path.read_text())
    assert set(merged) == set(expected)
    for key in ("model", "backend", "threshold", "aggregate"):
        assert merged[key] == expected[key]
    assert [r["path"] for r in merged["results"]] == every
    by_path = {r["path"]: r for r in expected["results"]}
    for result in merged["results"]:
        want = by_path[result["path"]]
        assert set(result) == set(want) and result["verdict"] == want["verdict"]
        if want["score"] is None:
            assert result["score"] is None
        else:
            assert abs(result["score"] - want["score"]) < 1e-6
    assert {r["verdict"] for r in merged["results"]} >= {"no_face", "error"}

    again = invoke("predict", "--merge", tmp_path / "twice.json", shards[0], shards[0])
    assert again.exit_code == 1 and "overlapping shards" in again.stderr
    assert not (tmp_path / "twice.json").exists()
    bad = invoke("predict", media, "--model", checkpoint, "--shard", "2/2")
    assert bad.exit_code == 2 and "--shard" in bad.stderr


def test_bf16_scores_stay_close_to_fp32_and_the_option_reaches_the_run(
    samples: Path, checkpoint: Path
) -> None:
    inputs = [samples / "videos/single_face.mp4", samples / "images/obama.jpg"]
    config = PredictConfig(extract=ExtractConfig(frames=3))
    probs = {}
    for precision in ("fp32", "bf16"):
        report = run_prediction(inputs, load_predictor(checkpoint, precision=precision), config)
        probs[precision] = np.array([f.probability for p in report.predictions for f in p.frames])
    assert len(probs["fp32"]) == 4 and not np.isnan(probs["fp32"]).any()
    gap = np.abs(probs["bf16"] - probs["fp32"]).max()
    assert 0 < gap < BF16_TOLERANCE  # bfloat16 changed the numbers, but only a little

    done = invoke("predict", inputs[1], "--model", checkpoint, "--precision", "bf16", "--json", "-")
    assert done.exit_code == 0, done.output
    cli_prob = json.loads(done.stdout)["results"][0]["frames"][0]["probability"]
    assert cli_prob == round(float(probs["bf16"][-1]), DIGITS)  # the JSON keeps DIGITS places
    assert cli_prob != probs["fp32"][-1]
    bad = invoke("predict", inputs[1], "--model", checkpoint, "--precision", "int8")
    assert bad.exit_code == 2 and "--precision" in bad.stderr
    onnx = invoke("predict", inputs[1], "--model", checkpoint, "--backend", "onnx", "--precision", "bf16")
    assert onnx.exit_code == 2 and "torch backend" in onnx.stderr
    with pytest.raises(ConfigError, match="torch backend"):
        load_predictor(checkpoint, backend="onnx", precision="bf16")
