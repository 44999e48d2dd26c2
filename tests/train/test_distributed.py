"""Data-parallel training: a real two-process ``torchrun`` run with gloo on the CPU.

The run's validation metrics must be those of its gathered validation scores, and those scores must
be exactly what one process gets scoring every validation crop once with the saved checkpoint.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from fakescan.data.datasets.index import read_crop_table
from fakescan.errors import ConfigError
from fakescan.evaluate.report import read_scores_csv
from fakescan.train.distributed import RankSlice, merge_rank_predictions
from tests.train.crops import SIZE


def test_rank_slices_cover_every_item_once() -> None:
    for size in (0, 1, 7, 8):
        slices = [list(RankSlice(size, rank, 3)) for rank in range(3)]
        assert sorted(i for part in slices for i in part) == list(range(size))
        assert [len(RankSlice(size, rank, 3)) for rank in range(3)] == [len(p) for p in slices]
    with pytest.raises(ConfigError):
        RankSlice(4, 2, 2)


def test_merging_undoes_the_rank_slices() -> None:
    size, world = 11, 3
    scores = np.random.default_rng(0).random(size)
    ids = [f"v{i}" for i in range(size)]
    parts = []
    for rank in range(world):
        index = list(RankSlice(size, rank, world))
        parts.append({"scores": scores[index], "video_ids": [ids[i] for i in index], "probs": None})
    merged = merge_rank_predictions(parts)
    np.testing.assert_array_equal(merged["scores"], scores)
    assert merged["video_ids"] == ids and merged["probs"] is None
    with pytest.raises(ValueError, match="interleave"):
        merge_rank_predictions([{"s": np.zeros(1)}, {"s": np.zeros(3)}])


@pytest.mark.slow
def test_two_gloo_processes_train_and_report_the_metrics_of_all_validation_crops(
    crops_dir: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "fakescan",
        "train",
        "cnn",
        str(crops_dir),
        str(crops_dir),
        "--out",
        str(run),
        "--epochs",
        "3",
        "--image_size",
        str(SIZE),
        "--batch_size",
        "8",
        "--lr",
        "3e-3",
        "--workers",
        "0",
        "--device",
        "cpu",
    ]
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stderr.count("best checkpoint:") == 1  # rank 0 alone reports

    with open(run / "log.csv", newline="") as handle:
        log = list(csv.DictReader(handle))
    assert len(log) == 3
    val_crops = [r for r in read_crop_table(crops_dir / "crops.csv") if r.split == "val"]

    # The gathered validation scores: every validation crop exactly once, none padded in twice.
    scores = read_scores_csv(run / "val_scores.csv")
    assert len(scores.scores) == len(val_crops)
    assert sorted(zip(scores.video_ids.tolist(), scores.frame_indices.tolist(), strict=True)) == sorted(
        (r.video_id, r.frame_index) for r in val_crops
    )

    # The checkpoint's validation metrics are those of the gathered scores...
    meta = json.loads((run / "best.json").read_text())
    val = meta["val_metrics"]
    assert val["auc"] == pytest.approx(roc_auc_score(scores.labels, scores.scores), abs=1e-12)
    assert val["ap"] == pytest.approx(average_precision_score(scores.labels, scores.scores), abs=1e-12)
    best = [row for row in log if row["best"] == "True"][-1]
    assert float(best["val_auc"]) == pytest.approx(val["auc"], abs=1e-12)
    assert float(log[-1]["train_loss"]) < float(log[0]["train_loss"])  # it learned
    assert meta["grayscale"] is False

    # ... and those are what one process scores with the saved checkpoint.
    from fakescan.checkpoints import load_checkpoint
    from fakescan.data.loading import CropFolderDataset, make_loader
    from fakescan.data.transforms import EvalTransform
    from fakescan.scoring import predict_loader

    model, _ = load_checkpoint(run / "best")
    dataset = CropFolderDataset(val_crops, crops_dir, EvalTransform(model.input_cfg))
    alone = predict_loader(model, make_loader(dataset, 16, workers=0), torch.device("cpu"))
    np.testing.assert_allclose(scores.scores, alone.scores, rtol=0, atol=1e-6)
    assert alone.video_ids == scores.video_ids.tolist()
