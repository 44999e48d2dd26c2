"""The bookkeeping of benchmarks/bench_generalisation.py: which trainings run, which methods count as
unseen, which crops reach training, and that people stay apart. (The benchmark itself trains dozens
of models; it runs by hand, see BENCHMARKS.md.)"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from fakescan.data.datasets.index import CropRecord
from fakescan.evaluate.metrics import FrameScores
from fakescan.synth.build import ALL_METHODS, plan_pairs

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCHMARKS))
        return importlib.import_module("bench_generalisation")


def test_its_doctests_pass(bench: ModuleType) -> None:
    result = doctest.testmod(bench)
    assert result.attempted >= 2 and result.failed == 0


def test_a_method_trained_on_is_never_unseen(bench: ModuleType) -> None:
    methods = list(ALL_METHODS)
    jobs = bench.plan_jobs(["cnn", "xception"], bench.RECIPES, methods, [0, 1, 2])
    # plain and plain+sbi: one training per method; sbi-only: one on reals alone.
    assert len(jobs) == 2 * 3 * (2 * len(methods) + 1)
    for job in jobs:
        unseen = job.unseen(methods)
        if job.recipe == "sbi-only":
            assert job.trained_on is None and unseen == methods
        else:
            assert job.trained_on in methods and job.trained_on not in unseen
            assert len(unseen) == len(methods) - 1
    with pytest.raises(ValueError, match="unknown recipe"):
        bench.plan_jobs(["cnn"], ["mixup"], methods, [0])


def _crop(video: str, method: str, split: str) -> CropRecord:
    return CropRecord(f"{video}/0.png", video, 0, int(method != "real"), method, split, "synth")  # type: ignore[arg-type]


def test_only_reals_and_the_method_trained_on_reach_training_and_selection(bench: ModuleType) -> None:
    train = [_crop(f"t{m}", m, "train") for m in ("real", *ALL_METHODS)]
    val = [_crop(f"v{m}", m, "val") for m in ("real", *ALL_METHODS)]
    for job in bench.plan_jobs(["cnn"], bench.RECIPES, list(ALL_METHODS), [0]):
        kept_train, kept_val = bench.split_for(job, train, val)
        allowed = {"real"} | ({job.trained_on} if job.trained_on else set())
        assert {r.method for r in kept_train} == allowed == {r.method for r in kept_val}
        assert all(r.split == "train" for r in kept_train) and all(r.split == "val" for r in kept_val)


def test_people_apart_is_checked(bench: ModuleType) -> None:
    people = ["ann", "ann", "bob", "cy", "di", "ed", "flo", "gus", "hal"]
    clips = {f"{n:03d}": name for n, name in enumerate(people)}
    plan = plan_pairs(clips, seed=3, held_out=3)
    bench.check_people_apart(clips, plan)  # the builder's plan keeps them apart
    leaky = {**plan, "test": [*plan["test"], ("000", "001")]}  # ann is a training person
    with pytest.raises(ValueError, match="ann in both"):
        bench.check_people_apart(clips, leaky)


def test_seen_and_unseen_are_averaged_per_seed(bench: ModuleType) -> None:
    methods = ["A", "B", "C"]
    rows = []
    for seed in (0, 1, 2):
        for trained_on in methods:  # perfect on the method trained on, chance elsewhere
            auc = {m: (1.0, 1.0) if m == trained_on else (0.5 + 0.1 * seed, 0.5) for m in methods}
            rows.append(
                {"model": "cnn", "recipe": "plain", "trained_on": trained_on, "seed": seed, "auc": auc}
            )
        rows.append({"model": "cnn", "recipe": "sbi-only", "trained_on": None, "seed": seed,
                     "auc": dict.fromkeys(methods, (0.8, 0.9))})  # fmt: skip
    summary = {entry["recipe"]: entry for entry in bench.summarise(rows, methods)}
    assert summary["plain"]["seen_frame"] == [1.0, 1.0, 1.0]
    assert summary["plain"]["unseen_frame"] == pytest.approx([0.5, 0.6, 0.7])
    assert summary["sbi-only"]["seen_frame"] == [] and summary["sbi-only"]["unseen_video"] == [0.9] * 3
    assert bench.mean_sd(summary["plain"]["unseen_frame"]) == "0.60 ± 0.10"
    # Paired by seed: SBI alone (0.8 everywhere) minus plain's unseen 0.5, 0.6, 0.7.
    (gain,) = bench.paired_gains(list(summary.values()))
    assert gain["recipe"] == "sbi-only" and gain["gains"] == pytest.approx([0.3, 0.2, 0.1])
    assert "| cnn | sbi-only | +0.200 ± 0.100 | 3 of 3 |" in bench._gains_table(list(summary.values()))


def test_per_method_auc_scores_each_method_against_every_real(bench: ModuleType) -> None:
    videos = ["r1", "r1", "r2", "r2", "a1", "a1", "b1", "b1"]
    frames = FrameScores(
        video_ids=np.array(videos),
        frame_indices=np.array([0, 1] * 4),
        labels=np.array([0, 0, 0, 0, 1, 1, 1, 1]),
        scores=np.array([0.1, 0.2, 0.3, 0.4, 0.9, 0.8, 0.25, 0.05]),
        methods=np.array(["real"] * 4 + ["A", "A", "B", "B"]),
    )
    auc = bench.per_method_auc(frames)
    assert auc["A"] == (1.0, 1.0)
    assert auc["B"][0] == pytest.approx(0.25) and auc["B"][1] == pytest.approx(0.0)


def test_the_section_holds_the_summary_and_each_runs_settings(bench: ModuleType) -> None:
    import argparse

    settings = {
        "methods": ["A", "B"], "device": "cpu", "select": "known-clip", "held_out": 3, "clip_frames": 16,
        "clip_size": 128, "crop_frames": 8, "image_size": 64, "epochs": 4, "batch_size": 16, "lr": 1e-3,
        "threads": 1,
    }  # fmt: skip
    runs = []
    for model, epochs in (("cnn", 8), ("xception", 4)):
        rows = [
            {
                "model": model,
                "recipe": "plain",
                "trained_on": "A",
                "seed": seed,
                "auc": {"A": (0.9, 1.0), "B": (0.5 + 0.1 * seed, 0.5)},
            }
            for seed in (0, 1, 2)
        ]
        runs.append((rows, argparse.Namespace(**{**settings, "epochs": epochs})))
    section = bench.render(runs, {"wall": 120.0, "cpu": 60.0, "load": 9.0})
    assert section.startswith(bench.START) and section.rstrip().endswith(bench.END)
    assert (
        "| cnn | plain | one method at a time | 0.90 ± 0.00 | 1.00 ± 0.00 | 0.60 ± 0.10 | 0.50 ± 0.00 |"
        in section
    )
    assert "Settings of cnn" in section and "8 epochs" in section and "4 epochs" in section
    assert "1.0 min CPU time, summed over 2 runs" in section and "load average 9.0" in section
    assert "| xception | plain | A | **0.90 ± 0.00** (1.00 ± 0.00) | 0.60 ± 0.10 (0.50 ± 0.00) |" in section


def test_the_sbi_mask_reaches_the_settings(bench: ModuleType) -> None:
    assert bench.parse_args([]).sbi_mask == "ellipse"
    args = bench.parse_args(["--sbi-mask", "mesh", "--threads", "1"])
    rows = [{"model": "cnn", "recipe": "sbi-only", "trained_on": None, "seed": 0, "auc": {}}]
    assert args.sbi_mask == "mesh" and bench._settings(rows, args).endswith("; SBI masks: mesh.")
