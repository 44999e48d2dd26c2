"""Benchmark of training and testing through the engine: images per second and memory, per model.

Everything runs through the real code paths, not a hand-written loop:

* ``train``: for each registered model (``fakescan.models.list_models()``) and each image size
  (``--sizes``, default 128 and 256 px), one epoch of :func:`fakescan.train.engine.fit` with
  ``load_config(overrides={"model": ..., "epochs": 1, "device": ..., "data": {"image_size": ...,
  "batch_size": 16, "workers": ..., "max_steps_per_epoch": N, "pseudo_fakes": "none"}})`` on a crop
  folder read by :func:`~fakescan.train.engine.load_training_data`. The epoch is the engine's whole
  epoch: loading and augmentation, forward with the auxiliary outputs, the model's full loss,
  backward, Adam (or ``--optimizer``: SGD, or SAM with its two forward/backward passes per step, as
  SBI trains), then the validation pass (one batch), the checkpoint and the training state.
  Reported: the epoch's ``images_per_s`` from ``FitResult.history[0]`` (it includes loader start-up
  and the first, slower step), the steady rate from the ``on_step`` callback (steps after the
  first), the first step's seconds, the seconds of the whole ``fit`` call, and the process's peak
  RSS. ``N`` is ``--steps`` (default 3) at 256 px and ``--steps``·(256/size)² at other sizes, so
  that each run does about the same work; on a GPU it is ``--gpu-steps`` (default 30) scaled the
  same way.
* ``test``: images per second of :func:`fakescan.evaluate.runner.run_test` (``batch_size=64``, split
  ``test``) for each model at ``--test-size`` (256 px) on ``--test-crops`` (192) crops, with the
  checkpoint the training run at that size wrote (or, when that size was not trained, a fresh
  checkpoint of the untrained model saved with :func:`~fakescan.checkpoints.save_checkpoint`;
  speed does not depend on the weights). Two rates: the whole ``run_test`` call (checkpoint loading,
  scoring, metrics, CSV files and ROC plot) and its scoring part alone (``predict_loader``).
* ``long``: memory over a long test run: ``run_test`` with ``--long-model`` (``cnn``) at the test
  size over ``--long-crops`` (3000) crops, the crop table listing the test crops many times under
  different video ids. The process's resident memory (``VmRSS``) is read after every scored batch;
  reported at the first batch, at 10 %, 50 % and 90 % of the crops, at the end of scoring and after
  ``run_test`` returned (reports written), with the peak. Memory stays flat when it does not grow
  with the number of crops scored.

To time the scoring part and read memory per batch, the ``test`` and ``long`` workers wrap
``fakescan.scoring.predict_loader`` (which ``run_test`` looks up when called): the wrapper calls
the real function with the real loader, only counting the batches as they pass.

Each measurement runs in a fresh process, so its peak RSS (``ru_maxrss``) is its own; the figure
includes Python, torch and the libraries ``fit``/``run_test`` import (about 0.3 GB before the run
begins; the report gives the figure measured). On a CUDA machine every part runs on the CPU and on
the GPU (``--devices``), and the GPU rows add ``torch.cuda.max_memory_allocated``. Threads: torch's
default (one per available core). Loader workers: 0 on the CPU (the default of ``fakescan train`` and
``fakescan test``; the training step, not loading, is the bottleneck there: see
``bench_loading.py``), ``min(8, cores)`` on a GPU; ``--workers`` sets both.

Crops: 256 px PNG windows cut (fixed windows, no face detector) from the real sample media
(``fakescan samples fetch``; fetched if missing): training from the frames of two sample videos,
validation from the third, test from the sample photos; each real window has a manipulated twin
(blurred, colour-shifted face region blended in) labelled fake. Written with their crop tables into
a temporary folder that is removed afterwards. It is a throughput benchmark: what the models learn
in so few steps is not looked at.

Run it from the repository root (about 15 minutes on 2 CPU cores; ``--models``, ``--sizes`` and
``--parts`` run a subset)::

    .venv/bin/python benchmarks/bench_train.py           # print the results as Markdown
    .venv/bin/python benchmarks/bench_train.py --write   # and update its section of BENCHMARKS.md
    .venv/bin/python benchmarks/bench_train.py --models cnn --sizes 128 --steps 2 --long-crops 200

Other programs running on the machine slow the wall times down; compare runs on the same machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from _report import cpu_model, publish, usable_cores

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
SECTION_START = "<!-- bench_train:start -->"
SECTION_END = "<!-- bench_train:end -->"
PARTS = ("train", "test", "long")
SIZES = (128, 256)
REFERENCE_SIZE = 256  # --steps counts the steps at this size
TRAIN_BATCH = 16
TEST_BATCH = 64
CROP_SIZE = 256
DATASET = "samples"
TRAIN_VIDEOS = ("videos/WolfgangLanger_Pexels.mp4", "videos/single_face.mp4")
VAL_VIDEO = "videos/face_noface.mov"
TEST_PHOTOS = (
    "images/single_face.jpg",
    "images/multi_face.jpg",
    "images/obama.jpg",
    "images/biden.jpg",
    "images/einstein.jpg",
    "images/breakingbad.jpg",
)
TRAIN_WINDOWS = 48  # per training video; each gives a real and a fake crop
VAL_WINDOWS = 8  # real + fake: one batch of 16
CLIP = 8  # windows per "video" id
LONG_GROUP = 32  # crops per video id in the long run
FLAT_MB = 32.0  # growth from 10 % to the end of scoring below this (or 5 %) counts as flat


# --------------------------------------------------------------------------------------------------
# The machine


def cuda_name() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def machine_lines() -> list[str]:
    import numpy
    import torch

    gpu = cuda_name()
    return [
        f"CPU: {cpu_model()}, {usable_cores()} cores available ({os.cpu_count()} in the machine), "
        f"torch using {torch.get_num_threads()} threads",
        f"GPU: {gpu}" if gpu else "GPU: none (CPU rows only)",
        f"OS: {platform.system()} {platform.release()} ({platform.machine()})",
        f"Python {platform.python_version()}, torch {torch.__version__}, numpy {numpy.__version__}",
    ]


# --------------------------------------------------------------------------------------------------
# Crops from the sample media


def steps_at(size: int, steps: int) -> int:
    """Training steps at ``size`` px: ``steps`` at 256 px, scaled by the pixel count; at least 2, as
    the steady rate needs the steps after the first."""
    return max(2, round(steps * (REFERENCE_SIZE / size) ** 2))


def windows(samples: Path, source: str, count: int) -> list[tuple[int, Any]]:
    """``count`` square windows of a sample video's frames (or a photo), resized to 256 px."""
    import cv2

    from fakescan.data.images import read_image
    from fakescan.data.video import probe_video, read_frames

    path = samples / source
    if path.suffix == ".jpg":
        image = read_image(path)
        frames = [(index, image) for index in range(count)]
    else:
        table = probe_video(path)
        step = max(1, table.num_frames // count)
        indices = range(0, table.num_frames, step)
        frames = [(frame.index, frame.image) for frame in read_frames(table, indices)][:count]
        frames += frames[: count - len(frames)]  # a short video: windows of the same frames again
    out = []
    for position, (frame_index, image) in enumerate(frames):
        height, width = image.shape[:2]
        side = int(min(height, width) * (0.5 + 0.3 * (position % 4) / 4))
        x = (width - side) * (position % 7) // 6
        y = (height - side) * (position % 5) // 4
        out.append((frame_index, cv2.resize(image[y : y + side, x : x + side], (CROP_SIZE, CROP_SIZE))))
    return out


def manipulate(crop: Any) -> Any:
    """A fake twin: the central face region blurred, colour-shifted and blended back in."""
    import cv2
    import numpy as np

    height, width = crop.shape[:2]
    changed = cv2.GaussianBlur(crop, (0, 0), 2.5).astype(np.int16) + np.array([10, -6, 4], np.int16)
    mask = np.zeros((height, width), np.float32)
    cv2.ellipse(mask, (width // 2, height // 2), (width // 4, height // 3), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 8)[..., None]
    blended = crop * (1 - mask) + np.clip(changed, 0, 255) * mask
    return blended.round().astype(np.uint8)


def make_crops(samples: Path, root: Path, train_records: int, test_crops: int, long_crops: int) -> dict:
    """Write the crops and tables: ``root/crops`` (train, val and test splits) and ``root/long``
    (``long_crops`` test rows over the same test images); the number of files and rows of each."""
    from fakescan.data.datasets.index import CropRecord, write_crop_table
    from fakescan.data.images import write_image

    crops, long = root / "crops", root / "long"

    def pairs(source: str, count: int, split: str, into: list) -> None:
        stem = Path(source).stem
        for position, (frame_index, image) in enumerate(windows(samples, source, count)):
            clip = f"{stem}/clip{position // CLIP}" if split != "test" else stem
            for label, method, pixels in ((0, "real", image), (1, "Manipulated", manipulate(image))):
                name = f"{method}/{stem}/{frame_index:06d}_{position:03d}.png"
                (crops / name).parent.mkdir(parents=True, exist_ok=True)
                write_image(crops / name, pixels)
                into.append(CropRecord(name, f"{method}/{clip}", frame_index, label, method, split, DATASET))

    train_pool: list = []
    for source in TRAIN_VIDEOS:
        pairs(source, TRAIN_WINDOWS, "train", train_pool)
    val: list = []
    pairs(VAL_VIDEO, VAL_WINDOWS, "val", val)
    test: list = []
    per_photo = math.ceil(test_crops / 2 / len(TEST_PHOTOS))
    for source in TEST_PHOTOS:
        pairs(source, per_photo, "test", test)
    test = test[: max(2, test_crops)]

    # More training rows than crop files: list the pool again under other video ids (same files).
    train = []
    for number in range(math.ceil(train_records / len(train_pool))):
        suffix = f"-r{number}" if number else ""
        train += [replace(record, video_id=record.video_id + suffix) for record in train_pool]
    write_crop_table(crops / "crops.csv", [*train, *val, *test])

    rows = []
    for number in range(long_crops):
        record = test[number % len(test)]
        target = long / record.crop
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(crops / record.crop, target)
            except OSError:
                shutil.copyfile(crops / record.crop, target)
        group = f"{record.method}/long{number // LONG_GROUP:04d}"
        rows.append(CropRecord(record.crop, group, number, record.label, record.method, "test", DATASET))
    long.mkdir(parents=True, exist_ok=True)
    write_crop_table(long / "crops.csv", rows)
    return {
        "files": len(train_pool) + len(val) + len(test),
        "train_files": len(train_pool),
        "train": len(train),
        "val": len(val),
        "test": len(test),
        "long": len(rows),
    }


def fresh_checkpoint(model_name: str, size: int, stem: Path) -> Path:
    """Save the untrained model as a checkpoint (for test sizes no training run wrote one)."""
    import torch

    from fakescan.checkpoints import CheckpointMeta, save_checkpoint
    from fakescan.models import create

    torch.manual_seed(0)
    kwargs = {"num_classes": 1, "image_size": size}
    save_checkpoint(stem, create(model_name, **kwargs), CheckpointMeta(model=model_name, model_kwargs=kwargs))
    return stem.with_suffix(".safetensors")


# --------------------------------------------------------------------------------------------------
# Measurements (each in a fresh process)


def _peak_rss_bytes() -> int:
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _cpu_seconds() -> float:
    """CPU time of this process, all its threads (and of its joined children, such as loader workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _rss_bytes() -> int:
    """This process's resident memory now (``VmRSS``), 0 where ``/proc`` has none."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _gpu_peak(device: str) -> int | None:
    import torch

    return int(torch.cuda.max_memory_allocated()) if device.startswith("cuda") else None


def _error_text(error: BaseException) -> str:
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def measure_train(spec: dict) -> dict:
    """One epoch of ``fit`` for ``spec["model"]`` at ``spec["size"]``: rates, seconds and memory."""
    import torch

    from fakescan.train.config import load_config
    from fakescan.train.engine import fit, load_training_data

    baseline = _rss_bytes()
    config = load_config(
        overrides={
            "model": spec["model"],
            "epochs": 1,
            "early_stopping": 0,
            "device": spec["device"],
            "optim": {"optimizer": spec.get("optimizer", "adam")},
            "data": {
                "image_size": spec["size"],
                "batch_size": TRAIN_BATCH,
                "workers": spec["workers"],
                "max_steps_per_epoch": spec["steps"],
                "pseudo_fakes": "none",  # the model's step alone, as published (no self-blends)
            },
        }
    )
    data = load_training_data(spec["crops"], spec["crops"])
    if spec["device"].startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    step_ends: list[float] = []

    def on_step(step: int, loss: float, images_per_s: float) -> None:
        step_ends.append(time.perf_counter())  # after loss.item(): the step is done, also on a GPU

    started, started_cpu = time.perf_counter(), _cpu_seconds()
    result = fit(config, data, spec["run_dir"], on_step=on_step)
    fit_seconds, fit_cpu = time.perf_counter() - started, _cpu_seconds() - started_cpu
    row = result.history[0]
    steps = len(step_ends)
    steady = TRAIN_BATCH * (steps - 1) / (step_ends[-1] - step_ends[0]) if steps >= 2 else None
    # The engine's rate is seen / (loader start → last step); what the later steps do not explain is
    # the first step with the loader's start-up.
    train_seconds = steps * TRAIN_BATCH / row.images_per_s
    first_step = train_seconds - (step_ends[-1] - step_ends[0]) if steps else None
    return {
        "steps": steps,
        "images_per_s": row.images_per_s,
        "steady_images_per_s": steady,
        "first_step_s": first_step,
        "epoch_s": row.seconds,
        "fit_s": fit_seconds,
        "fit_cpu_s": fit_cpu,
        "peak_rss": _peak_rss_bytes(),
        "baseline_rss": baseline,
        "gpu_peak": _gpu_peak(spec["device"]),
        "threads": torch.get_num_threads(),
        "checkpoint": str(result.best_checkpoint) if result.best_checkpoint.is_file() else None,
    }


def measure_test(spec: dict) -> dict:
    """``run_test`` of ``spec["checkpoint"]`` on ``spec["crops"]``: rates, and memory per batch."""
    import torch

    from fakescan import scoring
    from fakescan.evaluate.runner import run_test

    baseline = _rss_bytes()
    marks: list[tuple[int, float, int, int]] = []  # (crops scored, seconds since scoring began, RSS, peak)
    real_predict_loader = scoring.predict_loader

    def counted(loader: Any, began: float) -> Any:
        done = 0
        for batch in loader:
            yield batch
            done += len(batch)  # resumed when the next batch is asked for: this one is scored
            marks.append((done, time.perf_counter() - began, _rss_bytes(), _peak_rss_bytes()))

    def timed_predict_loader(model: Any, loader: Any, device: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        marks.append((0, 0.0, _rss_bytes(), _peak_rss_bytes()))
        return real_predict_loader(model, counted(loader, began), device, **kwargs)

    scoring.predict_loader = timed_predict_loader
    if spec["device"].startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    started, started_cpu = time.perf_counter(), _cpu_seconds()
    report = run_test(
        spec["checkpoint"],
        [spec["crops"]],
        spec["out"],
        split="test",
        device=spec["device"],
        batch_size=TEST_BATCH,
        workers=spec["workers"],
    )
    total, total_cpu = time.perf_counter() - started, _cpu_seconds() - started_cpu
    after = _rss_bytes()
    crops = report.results[0].crops
    first_done, first_seconds = marks[1][0], marks[1][1]
    scoring = marks[-1][1]
    later = (crops - first_done) / (scoring - first_seconds) if crops > first_done else None
    return {
        "crops": crops,
        "videos": report.results[0].videos,
        "images_per_s": crops / total,
        "scoring_images_per_s": crops / scoring,
        "steady_images_per_s": later,
        "run_s": total,
        "run_cpu_s": total_cpu,
        "scoring_s": scoring,
        "peak_rss": _peak_rss_bytes(),
        "baseline_rss": baseline,
        "rss_after": after,
        "marks": marks,
        "gpu_peak": _gpu_peak(spec["device"]),
        "threads": torch.get_num_threads(),
    }


def worker(spec: dict) -> dict:
    try:
        result = measure_train(spec) if spec["kind"] == "train" else measure_test(spec)
    except Exception as error:  # report a failure as a row, not a crash
        return {**spec, "error": _error_text(error), "peak_rss": _peak_rss_bytes()}
    return {**spec, **result, "error": ""}


def run_in_subprocess(spec: dict) -> dict:
    command = [sys.executable, __file__, "--worker", json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {**spec, "error": f"worker exited {done.returncode}: {tail}", "peak_rss": 0}


# --------------------------------------------------------------------------------------------------
# Report


def _gb(value: int | None) -> str:
    return f"{value / 1e9:.2f}" if value else "–"


def _mb(value: int) -> str:
    return f"{value / 1e6:.0f}"


def _rate(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def long_points(result: dict) -> list[tuple[str, int, int, int]]:
    """``(label, crops scored, RSS, peak RSS so far)`` after the first batch, at 10 %, 50 % and 90 % of
    the crops and at the end of scoring."""
    marks = result["marks"][1:]
    total = marks[-1][0]
    points = [("first batch", *_point(marks[0]))]
    for fraction in (0.1, 0.5, 0.9):
        mark = next(mark for mark in marks if mark[0] >= fraction * total)
        points.append((f"{fraction:.0%}", *_point(mark)))
    points.append(("end of scoring", *_point(marks[-1])))
    return points


def _point(mark: list) -> tuple[int, int, int]:
    done, _, rss, peak = mark
    return done, rss, peak


def long_verdict(result: dict) -> tuple[bool, float, float]:
    """Whether memory stayed flat from 10 % of the crops to the end of scoring: neither the resident
    memory nor its peak so far grew by more than ``FLAT_MB`` or 5 %; the two growths in MB."""
    points = long_points(result)
    (_, _, rss_10, peak_10), (_, _, rss_end, peak_end) = points[1], points[-1]
    growth, peak_growth = (rss_end - rss_10) / 1e6, (peak_end - peak_10) / 1e6
    flat = max(growth, peak_growth) <= max(FLAT_MB, 0.05 * rss_10 / 1e6)
    return flat, growth, peak_growth


def report_section(
    train: list[dict], test: list[dict], long: list[dict], counts: dict, machine: list[str], args, when: str
) -> str:
    rows = [*train, *test, *long]
    gpu = any(r["device"].startswith("cuda") for r in rows)
    baseline = min((r["baseline_rss"] for r in rows if not r["error"]), default=0)
    by_device = {r["device"]: r["workers"] for r in rows}
    workers = ", ".join(f"{count} on {device}" for device, count in by_device.items())
    if by_device.get("cpu") == 0:
        workers += " (the `fakescan train` / `test` default)"
    lines = [
        SECTION_START,
        "## Training and testing through the engine: images/s and memory",
        "",
        "What: (1) one epoch of `fakescan.train.engine.fit` per model and image size, batch "
        f"{TRAIN_BATCH}, cut to N steps (`max_steps_per_epoch`; {args.steps} at 256 px, scaled by the "
        "pixel count at other sizes): the epoch's images/s as the engine logs it (loader start-up and "
        "the first step included), the steady rate of the steps after the first (`on_step` callback), "
        "the first step's seconds, the whole `fit` call (with the validation batch, checkpoint and "
        f"training state) and the peak RSS of the process; (2) `fakescan.evaluate.runner.run_test` at "
        f"{args.test_size} px, batch {TEST_BATCH}, on {counts['test']} crops with the checkpoint of "
        "(1): images/s of the whole call and of its scoring part (`predict_loader`); (3) memory over a "
        f"long `run_test` of `{args.long_model}` on {counts['long']} crops. Each run in its own "
        f"process; its peak RSS includes Python, torch and fakescan ({_gb(baseline)} GB before the run "
        f"began) and the libraries the run imports. Loader workers: {workers}. Crops: 256 px PNG "
        "windows of the sample videos (training, validation) and photos (test), each with a manipulated "
        "twin labelled fake.",
        "",
        "How: `.venv/bin/python benchmarks/bench_train.py --write` (about 15 minutes on 2 cores).",
        "",
        f"Machine and date: {when}.",
        "",
        *[f"- {line}" for line in machine],
        "",
    ]
    if train:
        header = (
            "| model | device | size | steps × batch | epoch img/s (engine) | steady img/s | first step, s "
            "| fit call wall / CPU, s | peak RSS, GB |"
        )
        lines += ["Training (`fit`, one epoch):", "", header + (" GPU peak, GB |" if gpu else "")]
        lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if gpu else ""))
        for r in train:
            start = f"| {r['model']} | {r['device']} | {r['size']} | "
            if r["error"]:
                lines.append(start + f"failed: {r['error']} |" + " |" * (6 + gpu))
                continue
            cells = [
                f"{r['steps']} × {TRAIN_BATCH}",
                f"{_rate(r['images_per_s'])}",
                f"**{_rate(r['steady_images_per_s'])}**",
                f"{r['first_step_s']:.1f}",
                f"{r['fit_s']:.0f} / {r['fit_cpu_s']:.0f}",
                _gb(r["peak_rss"]),
                *([_gb(r["gpu_peak"])] if gpu else []),
            ]
            lines.append(start + " | ".join(cells) + " |")
        lines.append("")
    if test:
        header = (
            "| model | device | size | crops | run_test img/s | scoring img/s | run_test wall / CPU, s "
            "| peak RSS, GB |"
        )
        lines += ["Testing (`run_test`):", "", header + (" GPU peak, GB |" if gpu else "")]
        lines.append("|---|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if gpu else ""))
        for r in test:
            origin = "" if r["trained"] else " (untrained)"
            start = f"| {r['model']}{origin} | {r['device']} | {r['size']} | "
            if r["error"]:
                lines.append(start + f"failed: {r['error']} |" + " |" * (4 + gpu))
                continue
            cells = [
                f"{r['crops']}",
                f"**{_rate(r['images_per_s'])}**",
                f"{_rate(r['scoring_images_per_s'])}",
                f"{r['run_s']:.1f} / {r['run_cpu_s']:.1f}",
                _gb(r["peak_rss"]),
                *([_gb(r["gpu_peak"])] if gpu else []),
            ]
            lines.append(start + " | ".join(cells) + " |")
        lines.append("")
    for r in long:
        title = f"Memory over a long test run: `{r['model']}` at {r['size']} px on {r['device']}"
        if r["error"]:
            lines += [f"{title}: failed ({r['error']}).", ""]
            continue
        points = long_points(r)
        flat, growth, peak_growth = long_verdict(r)
        lines += [
            f"{title}, {r['crops']} crops ({r['videos']} video ids) in {r['run_s']:.0f} s wall, "
            f"{r['run_cpu_s']:.0f} s CPU ({_rate(r['images_per_s'])} img/s). Resident memory (VmRSS) read "
            "between batches, and the process's peak so far (`ru_maxrss`, which also catches the "
            "activations inside a forward pass):",
            "",
            "| point | crops scored | RSS, MB | peak so far, MB |",
            "|---|---:|---:|---:|",
            *[f"| {label} | {done} | {_mb(rss)} | {_mb(peak)} |" for label, done, rss, peak in points],
            f"| after `run_test` returned (reports written) | {r['crops']} | {_mb(r['rss_after'])} "
            f"| {_mb(r['peak_rss'])} |",
            "",
            f"- **{'Flat' if flat else 'Not flat'}**: from 10 % of the crops to the end of scoring the "
            f"resident memory moved {growth:+.0f} MB and its peak {peak_growth:+.0f} MB (flat: neither "
            f"grows by more than {FLAT_MB:.0f} MB or 5 %).",
            "",
        ]
    if not gpu:
        lines.append("GPU figures are not measured here: no GPU was available to this run.")
    lines.append(SECTION_END)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", help="models to measure (default: all registered)")
    parser.add_argument("--sizes", nargs="*", type=int, default=list(SIZES), help="training image sizes")
    parser.add_argument("--parts", nargs="*", choices=PARTS, default=list(PARTS))
    parser.add_argument("--steps", type=int, default=3, help="CPU training steps at 256 px (scaled by size)")
    parser.add_argument(
        "--optimizer", default="adam", choices=("adam", "sgd", "sam"), help="sam: two passes per step (SBI)"
    )
    parser.add_argument("--gpu-steps", type=int, default=30, help="GPU training steps at 256 px")
    parser.add_argument("--test-size", type=int, default=256, help="image size of the test runs")
    parser.add_argument("--test-crops", type=int, default=192, help="crops of each test run")
    parser.add_argument("--long-crops", type=int, default=3000, help="crops of the long test run")
    parser.add_argument("--long-model", default="cnn", help="model of the long test run")
    parser.add_argument("--devices", nargs="*", help="default: cpu, and cuda when available")
    parser.add_argument(
        "--workers", type=int, help="loader workers (default: 0 on cpu, min(8, cores) on cuda)"
    )
    parser.add_argument("--write", action="store_true", help=f"update the section in {BENCHMARKS_MD.name}")
    parser.add_argument("--output", type=Path, default=BENCHMARKS_MD, help="the file --write updates")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    if args.steps < 1 or args.gpu_steps < 1 or args.test_crops < 2 or args.long_crops < 1:
        parser.error("--steps, --gpu-steps and --long-crops must be at least 1, --test-crops at least 2")

    import torch

    from fakescan.data.samples import fetch_samples
    from fakescan.models import list_models

    # EfficientNet-B1…B3 sit between B0 and B4 in cost: measured only when named in --models.
    # Effort (CLIP ViT-L/14) likewise, and has its own script: benchmarks/bench_effort.py.
    between = {"efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "effort"}
    models = args.models or [name for name in list_models() if name not in between]
    devices = args.devices or ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]

    def steps_for(device: str, size: int) -> int:
        return steps_at(size, args.gpu_steps if device.startswith("cuda") else args.steps)

    def workers_for(device: str) -> int:
        if args.workers is not None:
            return args.workers
        return min(8, usable_cores()) if device.startswith("cuda") else 0

    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = machine_lines()
    print(f"# bench_train, {when}")
    for line in machine:
        print(line)

    samples = fetch_samples()  # no-op when cached
    train, test, long = [], [], []
    with tempfile.TemporaryDirectory(prefix="fakescan-bench-train-") as tmp:
        root = Path(tmp)
        train_rows = TRAIN_BATCH * max(steps_for(d, s) for d in devices for s in args.sizes)
        started = time.perf_counter()
        counts = make_crops(samples, root, train_rows, args.test_crops, args.long_crops)
        print(
            f"{counts['files']} crop files made in {time.perf_counter() - started:.1f} s: "
            f"{counts['train']} training rows ({counts['train_files']} files), {counts['val']} validation, "
            f"{counts['test']} test; {counts['long']} rows for the long run",
            flush=True,
        )
        checkpoints: dict[tuple[str, str, int], str] = {}

        def checkpoint_for(device: str, name: str, size: int) -> tuple[str, bool]:
            trained = checkpoints.get((device, name, size))
            if trained:
                return trained, True
            stem = root / "fresh" / f"{name}-{size}"
            if not stem.with_suffix(".safetensors").is_file():
                fresh_checkpoint(name, size, stem)
            return str(stem.with_suffix(".safetensors")), False

        def run(spec: dict, what: str) -> dict:
            started = time.perf_counter()
            result = run_in_subprocess(spec)
            if result["error"]:
                summary = result["error"]
            elif spec["kind"] == "train":
                summary = (
                    f"{result['images_per_s']:.1f} img/s (steady {_rate(result['steady_images_per_s'])}), "
                    f"peak RSS {_gb(result['peak_rss'])} GB"
                )
            else:
                summary = (
                    f"{result['images_per_s']:.1f} img/s (scoring {result['scoring_images_per_s']:.1f}), "
                    f"peak RSS {_gb(result['peak_rss'])} GB"
                )
            print(f"{what:36s} {summary}  ({time.perf_counter() - started:.0f} s)", flush=True)
            return result

        for device in devices:
            common = {"device": device, "workers": workers_for(device)}
            if "train" in args.parts:
                for name in models:
                    for size in args.sizes:
                        run_dir = root / "runs" / f"{device}-{name}-{size}"
                        spec = {
                            "kind": "train",
                            "model": name,
                            "size": size,
                            "steps": steps_for(device, size),
                            "optimizer": args.optimizer,
                            "crops": str(root / "crops"),
                            "run_dir": str(run_dir),
                            **common,
                        }
                        result = run(spec, f"train {name} {size} px {device}")
                        if result.get("checkpoint"):
                            checkpoints[(device, name, size)] = result["checkpoint"]
                        train.append(result)
            jobs = [("test", name, root / "crops") for name in models if "test" in args.parts]
            if "long" in args.parts:
                jobs.append(("long", args.long_model, root / "long"))
            for part, name, crops in jobs:
                checkpoint, trained = checkpoint_for(device, name, args.test_size)
                spec = {
                    "kind": "test",
                    "model": name,
                    "size": args.test_size,
                    "checkpoint": checkpoint,
                    "trained": trained,
                    "crops": str(crops),
                    "out": str(root / "tests" / f"{part}-{device}-{name}"),
                    **common,
                }
                result = run(spec, f"{part} {name} {args.test_size} px {device}")
                (test if part == "test" else long).append(result)

    section = report_section(train, test, long, counts, machine, args, when)
    publish(section, args.output, args.write, SECTION_START, SECTION_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
