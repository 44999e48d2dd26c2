"""Benchmark of ``fakescan demo``: what the full mode buys over ``--quick``, and what each costs.

For each seed (``--seeds``, default 0, 1, 2) and mode (``quick``: :data:`fakescan.demo.QUICK`;
``full``: :data:`fakescan.demo.FULL`), the whole demo runs as a user runs it
(:func:`fakescan.demo.run_demo`, one process each, ``--jobs`` at a time) in a scratch folder. The
seed changes the people held out, the forgeries and the training. Each run gives the held-out test
people's frame and video AUC (:func:`fakescan.evaluate.runner.run_test`), the epoch chosen, the
epochs run and the wall time. A table cell is mean ± sample standard deviation over the seeds.

    .venv/bin/python benchmarks/bench_demo.py --write    # about 90 minutes on 2 busy cores

The data are synthetic forgeries of ten people (two held out for test per seed): the numbers
compare the two modes with each other, not with any real-world detector.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _report import cpu_model, publish, usable_cores

START, END = "<!-- bench_demo:start -->", "<!-- bench_demo:end -->"
ROOT = Path(__file__).resolve().parent.parent


def run_one(mode: str, seed: int, out: Path) -> dict[str, Any]:
    """One demo run (in this process); its numbers."""
    from fakescan.demo import run_demo

    started = time.process_time()
    report = run_demo(out, quick=mode == "quick", seed=seed)
    return {
        "mode": mode,
        "seed": seed,
        "frame_auc": report.test.frame.auc,
        "video_auc": report.test.video.auc,
        "best_epoch": report.fit.best_epoch + 1,
        "epochs_run": report.fit.epochs_run,
        "stopped_early": report.fit.stopped_early,
        "wall_s": report.total_seconds,
        "train_s": report.seconds.get("train", float("nan")),
        "cpu_s": time.process_time() - started,
        "test_people_stills": report.test_stills,
    }


def _spawn(mode: str, seed: int, work: Path) -> dict[str, Any]:
    result = work / f"{mode}-{seed}.json"
    command = [sys.executable, __file__, "--one", mode, str(seed), str(work / f"{mode}-{seed}"), str(result)]
    subprocess.run(command, check=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return json.loads(result.read_text(encoding="utf-8"))


def _mean_sd(values: Sequence[float], digits: int = 2) -> str:
    if len(values) < 2:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def section(rows: Sequence[dict[str, Any]], seeds: Sequence[int], jobs: int, load: float) -> str:
    """The BENCHMARKS.md section."""
    import torch

    lines = [
        START,
        "## The demo: `--quick` against the full mode (`benchmarks/bench_demo.py`)",
        "",
        f"Machine: {cpu_model()}, {usable_cores()} cores; Python {platform.python_version()}, torch"
        f" {torch.__version__}; {dt.date.today().isoformat()}. Seeds {', '.join(map(str, seeds))}; {jobs}"
        " demo runs side by side (each one torch thread). The machine was shared with other jobs"
        f" (load average {load:.1f} at the end): wall times are contended, compare them with each other.",
        "",
        "quick: `cnn`, 6 epochs, synthetic fakes only, no early stopping. full: `cnn`, up to 20 epochs,"
        " early stopping after 4 without a lower validation loss, a self-blended image of every real"
        " training crop added (`data.pseudo_fakes: sbi`). Both on the same data (32 frames of each"
        " clip, 128 px crops), tested on the held-out people's real clips and their FaceSwap-lite and"
        " Resynth fakes.",
        "",
        "| mode | frame AUC | video AUC | best epoch (from 1) | epochs run | wall time, s | CPU time, s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode in ("quick", "full"):
        mine = [row for row in rows if row["mode"] == mode]
        if not mine:
            continue
        cells = [
            _mean_sd([r["frame_auc"] for r in mine]),
            _mean_sd([r["video_auc"] for r in mine]),
            ", ".join(str(r["best_epoch"]) for r in mine),
            ", ".join(str(r["epochs_run"]) for r in mine),
            _mean_sd([r["wall_s"] for r in mine], 0),
            _mean_sd([r["cpu_s"] for r in mine], 0),
        ]
        lines.append(f"| {mode} | {' | '.join(cells)} |")
    lines += [
        "",
        "Per seed (frame / video AUC): "
        + "; ".join(
            f"seed {r['seed']} {r['mode']} {r['frame_auc']:.3f} / {r['video_auc']:.3f}"
            + (" (test people: animated stills)" if r.get("test_people_stills") else "")
            for r in sorted(rows, key=lambda r: (r["seed"], r["mode"] != "quick"))
        )
        + ".",
        "",
        "Ten people, two held out for test per seed, synthetic forgeries: this compares the two modes,"
        " it is no measure of a real-world detector.",
        END,
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma list")
    parser.add_argument("--modes", default="quick,full", help="comma list of quick, full")
    parser.add_argument("--jobs", type=int, default=2, help="demo runs side by side")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--rows", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--from-rows", type=Path, nargs="*", help="make the table from saved rows")
    parser.add_argument("--one", nargs=4, metavar=("MODE", "SEED", "OUT", "RESULT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        mode, seed, out, result = args.one
        row = run_one(mode, int(seed), Path(out))
        Path(result).write_text(json.dumps(row), encoding="utf-8")
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.from_rows:
        rows = [row for path in args.from_rows for row in json.loads(path.read_text(encoding="utf-8"))]
    else:
        jobs = [(mode, seed) for seed in seeds for mode in args.modes.split(",")]
        with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp, ThreadPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(lambda job: _spawn(*job, Path(tmp)), jobs))
    if args.rows:
        args.rows.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    publish(
        section(rows, seeds, args.jobs, os.getloadavg()[0]), ROOT / "BENCHMARKS.md", args.write, START, END
    )


if __name__ == "__main__":
    main()
