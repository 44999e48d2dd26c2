"""Benchmark of ``fakescan robustness``: how long the whole grid takes on the demo's model and data,
and the report of one model trained with and without ``--augment robust``.

* ``time``: ``python -m fakescan robustness RUN/best CROPS --out ...`` in a fresh process on the model
  and crops of ``fakescan demo --quick`` (``--demo DIR``; built there first when DIR holds no demo):
  the full grid (clean + 41 perturbed cells), default options. Reported: wall seconds, the child
  process's CPU seconds (user + system, from ``getrusage``), crops scored, and the process's peak RSS.
* ``compare``: the demo's model (``cnn``, 128 px, the quick demo's training settings: 6 epochs, Adam
  2e-3, batch 32, no schedule) trained on the demo's training people with ``augment: default`` and with
  ``augment: robust`` (:class:`fakescan.data.perturb.RobustAugment`), for each seed of ``--seeds``
  (0 1 2), each through :func:`fakescan.train.engine.fit`; then
  :func:`fakescan.evaluate.robustness.run_robustness` of each best checkpoint on the demo's held-out
  test people (the full grid). Reported per perturbation: the frame- and video-level AUC averaged over
  its levels, mean ± sd over the seeds, for both trainings, and the clean AUC.

The demo's forgeries are synthetic (face swap and re-synthesis of a few people) and its test people
are held out, but its forgery *methods* are the training ones: the numbers compare the two trainings
with each other, on this data; they are no claim about real-world deepfakes. Each (augment, seed) run
is kept in ``--work`` (``robustness.json`` beside its checkpoint; the timing in ``timing.json``) and
reused by a later call (delete them to measure again), so the two augmentations can run as two
processes (``--augments default`` / ``--augments robust``) and a last call with ``--write`` gathers
them. Training and its reports run with one torch intra-op thread (the model is tiny; this is what
``fakescan demo`` does); the timed ``fakescan robustness`` process with torch's default threads, as a
user's would.

Run it from the repository root (about an hour on 2 busy CPU cores; ``--parts``, ``--seeds``,
``--augments`` run a subset)::

    .venv/bin/python benchmarks/bench_robustness.py --demo runs/demo-quick          # print the results
    .venv/bin/python benchmarks/bench_robustness.py --demo runs/demo-quick --write  # and update the file

Other programs running on the machine slow the wall times down; the CPU seconds say how much.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _report import cpu_model, publish, usable_cores

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
SECTION_START = "<!-- bench_robustness:start -->"
SECTION_END = "<!-- bench_robustness:end -->"
AUGMENTS = ("default", "robust")


def ensure_demo(demo: Path) -> None:
    """Build ``fakescan demo --quick`` in ``demo`` unless it is there."""
    if (demo / "demo.json").is_file() and (demo / "run" / "best.json").is_file():
        return
    from fakescan.demo import run_demo

    print(f"building the quick demo in {demo} ...", flush=True)
    run_demo(demo, quick=True)


def time_robustness(demo: Path, work: Path) -> dict[str, float]:
    """One full ``fakescan robustness`` run in a child process: wall, CPU, crops, peak RSS (kept in
    ``work/timing.json`` and reused by a later call)."""
    cached = work / "timing.json"
    if cached.is_file():
        return json.loads(cached.read_text(encoding="utf-8"))
    out = work / "timing"
    command = [
        sys.executable,
        "-m",
        "fakescan",
        "robustness",
        str(demo / "run" / "best"),
        str(demo / "crops"),
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([*command, "--out", str(out)], check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads((out / "robustness.json").read_text(encoding="utf-8"))
    crops = sum(s["crops"] for s in report["test_sets"].values())
    cells = 1 + len(next(iter(report["test_sets"].values()))["perturbed"])
    timing = {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "crops": crops,
        "cells": cells,
        "rss_mb": after.ru_maxrss / 1024,
    }
    cached.write_text(json.dumps(timing) + "\n", encoding="utf-8")
    return timing


def train_and_report(demo: Path, work: Path, augment: str, seed: int) -> dict:
    """Train the demo's model with ``augment`` and ``seed``, then its robustness report (cached)."""
    run = work / f"{augment}-seed{seed}"
    cached = run / "robustness" / "robustness.json"
    if cached.is_file():
        return json.loads(cached.read_text(encoding="utf-8"))
    from fakescan.demo import QUICK
    from fakescan.evaluate.robustness import run_robustness
    from fakescan.train.config import load_config
    from fakescan.train.engine import fit, load_training_data

    config = load_config(
        overrides={
            "model": QUICK.model,
            "epochs": QUICK.epochs,
            "early_stopping": 0,
            "seed": seed,
            "device": "cpu",
            "optim": {"lr": QUICK.lr, "scheduler": "none"},
            "data": {
                "image_size": QUICK.crop_size,
                "batch_size": QUICK.batch_size,
                "workers": 0,
                "augment": augment,
                "pseudo_fakes": "none",  # as measured: the two augmentations alone, no self-blends
            },
        }
    )
    started = time.perf_counter()
    fit(config, load_training_data(demo / "crops", demo / "crops"), run)
    trained = time.perf_counter() - started
    run_robustness(run / "best", [demo / "crops"], run / "robustness", device="cpu", names=["held-out"])
    report = json.loads(cached.read_text(encoding="utf-8"))
    report["train_seconds"] = trained
    cached.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return report


def _mean_sd(values: list[float]) -> str:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return "n/a"
    digits = 0 if abs(statistics.mean(finite)) >= 10 else 3
    if len(finite) == 1:
        return f"{finite[0]:.{digits}f}"
    return f"{statistics.mean(finite):.{digits}f} ± {statistics.stdev(finite):.{digits}f}"


def _per_perturbation(report: dict, level: str) -> dict[str, float]:
    """Clean AUC and, per perturbation, the AUC averaged over its levels (one test set)."""
    test_set = next(iter(report["test_sets"].values()))
    values = {"clean": test_set["clean"][level]["auc"]}
    grouped: dict[str, list[float]] = {}
    for row in test_set["perturbed"]:
        grouped.setdefault(row["perturbation"], []).append(row[f"{level}_auc"])
    for name, aucs in grouped.items():
        finite = [a for a in aucs if a is not None]
        values[name] = statistics.mean(finite) if finite else math.nan
    return values


def report_section(timing: dict | None, runs: dict[str, list[dict]], seeds: list[int], when: str) -> str:
    import torch

    import fakescan

    lines = [
        SECTION_START,
        "## `fakescan robustness`: the grid on the demo's model, and training with `--augment robust`",
        "",
        "What: (1) the time of one full `fakescan robustness` run (clean + 41 perturbed cells: the seven"
        " DeeperForensics-1.0 perturbations at five levels, JPEG at four, resize at two) on the model and"
        " held-out test crops of `fakescan demo --quick`; (2) that report for the demo's model (`cnn`,"
        " 128 px, 6 epochs) trained with the default augmentation and with `--augment robust`, each over"
        f" seeds {', '.join(map(str, seeds))} (mean ± sd). The forgeries are the demo's synthetic ones and"
        " the test people are held out, but the forgery methods are the training ones: this compares the"
        " two trainings on this data, nothing more.",
        "",
        "How: `.venv/bin/python benchmarks/bench_robustness.py --demo runs/demo-quick --write` (about an"
        " hour on 2 busy cores; see the script's docstring).",
        "",
        f"Machine and date: {when}.",
        "",
        f"- CPU: {cpu_model()}, {usable_cores()} cores available, shared with other engineers' jobs during"
        " the run (the CPU seconds below are this run's own; wall time includes waiting for the cores)",
        f"- OS: {platform.system()} {platform.release()} ({platform.machine()})",
        f"- Python {platform.python_version()}, torch {torch.__version__}, fakescan {fakescan.__version__}",
        "",
    ]
    if timing is not None:
        per_crop = 1000 * timing["cpu"] / max(1, timing["crops"] * timing["cells"])
        lines += [
            "| run | cells | crops per cell | wall, s | CPU, s | CPU per crop and cell, ms | peak RSS, MB |",
            "|---|---:|---:|---:|---:|---:|---:|",
            f"| `fakescan robustness` on the quick demo | {timing['cells']} | {timing['crops']}"
            f" | {timing['wall']:.0f} | {timing['cpu']:.0f} | {per_crop:.1f} | {timing['rss_mb']:.0f} |",
            "",
        ]
    if all(runs.get(a) for a in AUGMENTS):
        tables = {a: [_per_perturbation(r, "frame") for r in runs[a]] for a in AUGMENTS}
        videos = {a: [_per_perturbation(r, "video") for r in runs[a]] for a in AUGMENTS}
        names = list(tables["default"][0])
        lines += [
            "AUC on the held-out test people, averaged over each perturbation's levels (clean: unperturbed),"
            f" mean ± sd over {len(runs['default'])} seeds:",
            "",
            "| perturbation | frame AUC, default | frame AUC, robust"
            " | video AUC, default | video AUC, robust |",
            "|---|---:|---:|---:|---:|",
        ]
        for name in names:
            cells = [_mean_sd([t[name] for t in tables[a]]) for a in AUGMENTS]
            cells += [_mean_sd([t[name] for t in videos[a]]) for a in AUGMENTS]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        perturbed = [n for n in names if n != "clean"]
        means = {
            a: [statistics.mean(t[n] for n in perturbed if math.isfinite(t[n])) for t in tables[a]]
            for a in AUGMENTS
        }
        kept = {a: [m / t["clean"] for m, t in zip(means[a], tables[a], strict=True)] for a in AUGMENTS}
        paired = min(len(runs["default"]), len(runs["robust"]))

        def delta(values: dict[str, list[float]]) -> str:
            return _mean_sd([values["robust"][i] - values["default"][i] for i in range(paired)])

        clean = {a: [t["clean"] for t in tables[a]] for a in AUGMENTS}
        train = {a: _mean_sd([r.get("train_seconds", math.nan) for r in runs[a]]) for a in AUGMENTS}
        lines += [
            f"| **all perturbations** | {_mean_sd(means['default'])} | {_mean_sd(means['robust'])} | | |",
            f"| **all perturbations / clean** | {_mean_sd(kept['default'])}"
            f" | {_mean_sd(kept['robust'])} | | |",
            "",
            f"Robust minus default, paired by seed (frame AUC): clean {delta(clean)}; averaged over all"
            f" perturbations {delta(means)}; share of the clean AUC kept under perturbation {delta(kept)}.",
            "",
            f"Training wall seconds per run: default {train['default']}, robust {train['robust']}"
            " (on the busy machine).",
            "",
        ]
    lines.append(SECTION_END)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", type=Path, default=REPO / "runs" / "demo-quick")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "bench-robustness")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--augments", nargs="+", choices=AUGMENTS, default=list(AUGMENTS))
    parser.add_argument("--parts", nargs="+", choices=("time", "compare"), default=["time", "compare"])
    parser.add_argument("--write", action="store_true", help=f"update the section in {BENCHMARKS_MD.name}")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    ensure_demo(args.demo)
    args.work.mkdir(parents=True, exist_ok=True)
    timing = None
    if "time" in args.parts:
        timing = time_robustness(args.demo, args.work)
        print(f"robustness: {timing['wall']:.0f} s wall, {timing['cpu']:.0f} s CPU", flush=True)
    runs: dict[str, list[dict]] = {}
    if "compare" in args.parts:
        for augment in args.augments:
            for seed in args.seeds:
                started = time.perf_counter()
                runs.setdefault(augment, []).append(train_and_report(args.demo, args.work, augment, seed))
                print(f"{augment} seed {seed}: {time.perf_counter() - started:.0f} s", flush=True)
    section = report_section(timing, runs, args.seeds, when)
    publish(section, BENCHMARKS_MD, args.write, SECTION_START, SECTION_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
