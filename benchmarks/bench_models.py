"""Benchmark of the detectors: forward and training-step throughput, and peak memory.

For each registered model (``fakescan.models.list_models()``), at 256 px with a batch of 16 random
images normalised like real input:

* ``eager``: ``model(x)`` in eval mode under ``torch.inference_mode``, contiguous NCHW input;
* ``channels_last``: the same with the model and input in ``torch.channels_last`` memory format;
* ``compiled``: ``torch.compile(model)`` (inductor; the first call compiles and is not timed);
* ``train step``: forward with the auxiliary outputs, the model's full loss
  (:func:`fakescan.train.losses.detector_loss`: BCE, plus reconstruction and metric losses for the
  attention network), backward and an Adam step, half of the batch labelled fake.

Each measurement runs in a fresh process, so that its peak resident memory (``ru_maxrss``) is its
own: the figure includes the Python interpreter and torch (about 0.3 GB before any model is built).
Throughput is the best of ``--repeat`` timed calls after warm-up calls; ratios are to the eager
contiguous forward of the same model. Threads: torch's default (one per available core).

Run it from the repository root (about 5 minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_models.py           # print the results as Markdown
    .venv/bin/python benchmarks/bench_models.py --write   # and update its section of BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _report import cpu_model, publish, usable_cores

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
SECTION_START = "<!-- bench_models:start -->"
SECTION_END = "<!-- bench_models:end -->"
MODES = ("eager", "channels_last", "compiled", "train")
MODE_TITLES = {
    "eager": "eager",
    "channels_last": "channels_last",
    "compiled": "torch.compile",
    "train": "train step",
}
TARGET_SPEEDUP = 3.0


@dataclass(frozen=True)
class Measurement:
    """One mode of one model: images per second, peak RSS in bytes, or why it failed."""

    model: str
    mode: str
    images_per_s: float | None
    peak_rss: int
    params: int
    error: str = ""


def _peak_rss_bytes() -> int:
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def measure(name: str, mode: str, image_size: int, batch: int, repeat: int, warmup: int) -> Measurement:
    """Time ``mode`` for model ``name`` in this process (call it in a fresh one)."""
    import torch

    from fakescan.models import create
    from fakescan.train.losses import detector_loss

    torch.manual_seed(0)
    model = create(name, num_classes=1, image_size=image_size)
    params = sum(p.numel() for p in model.parameters())
    images = torch.rand(batch, 3, image_size, image_size) * 2 - 1
    labels = torch.arange(batch) % 2

    if mode == "train":
        model.train()
        optimiser = torch.optim.Adam(model.parameters(), lr=2e-4)

        def step() -> None:
            output = model(images, return_aux=True)
            loss, _ = detector_loss(output, images, labels)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()

    else:
        model.eval()
        inputs = images
        if mode == "channels_last":
            model = model.to(memory_format=torch.channels_last)
            inputs = images.contiguous(memory_format=torch.channels_last)
        runner = torch.compile(model) if mode == "compiled" else model

        def step() -> None:
            with torch.inference_mode():
                runner(inputs)

    try:
        for _ in range(warmup):
            step()
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            step()
            best = min(best, time.perf_counter() - started)
    except Exception as error:  # report any backend failure as a row, not a crash
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return Measurement(name, mode, None, _peak_rss_bytes(), params, f"{type(error).__name__}: {message}")
    return Measurement(name, mode, batch / best, _peak_rss_bytes(), params)


def run_in_subprocess(name: str, mode: str, args: argparse.Namespace) -> Measurement:
    command = [
        sys.executable,
        __file__,
        "--worker",
        name,
        mode,
        "--image-size",
        str(args.image_size),
        "--batch",
        str(args.batch),
        "--repeat",
        str(args.repeat),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return Measurement(**json.loads(line))
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return Measurement(name, mode, None, 0, 0, f"worker exited {done.returncode}: {tail}")


def machine_line() -> str:
    import torch

    cores = usable_cores()
    return (
        f"CPU: {cpu_model()}, {cores} cores available, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; no GPU"
    )


def _cell(m: Measurement, baseline: Measurement | None) -> str:
    if m.images_per_s is None:
        return f"failed ({m.error})"
    ratio = ""
    if baseline is not None and baseline.images_per_s:
        ratio = f" ({m.images_per_s / baseline.images_per_s:.2f}×)"
    return f"{m.images_per_s:.1f}{ratio}"


def report_section(results: list[Measurement], args: argparse.Namespace, when: str) -> str:
    models = list(dict.fromkeys(m.model for m in results))
    by_key = {(m.model, m.mode): m for m in results}
    header = "| model | parameters | " + " | ".join(f"{MODE_TITLES[m]}, img/s" for m in MODES)
    header += " | peak RSS eager / train, GB |"
    lines = [
        SECTION_START,
        "## Models: forward and training throughput",
        "",
        f"What: images per second at {args.image_size} px, batch {args.batch}, for every registered "
        "model: eval-mode forward (eager contiguous NCHW, channels_last, `torch.compile`) and a full "
        "training step (forward with auxiliary outputs, the model's whole loss, backward, Adam). In "
        "brackets: the ratio to the eager contiguous forward. Peak RSS of the process doing it (each "
        "measurement in its own process; includes about 0.3 GB of Python and torch). Best of "
        f"{args.repeat} timed calls after warm-up.",
        "",
        "How: `.venv/bin/python benchmarks/bench_models.py --write` (about 5 minutes on 2 cores).",
        "",
        f"Machine and date: {when}. {machine_line()}.",
        "",
        header,
        "|---|---:|" + "---:|" * len(MODES) + "---:|",
    ]
    for name in models:
        base = by_key.get((name, "eager"))
        cells = [_cell(by_key[(name, mode)], base) for mode in MODES if (name, mode) in by_key]
        params = max(by_key[(name, mode)].params for mode in MODES if (name, mode) in by_key)
        peaks = " / ".join(
            f"{by_key[(name, mode)].peak_rss / 1e9:.2f}"
            for mode in ("eager", "train")
            if (name, mode) in by_key
        )
        lines.append(f"| {name} | {params:,} | " + " | ".join(cells) + f" | {peaks} |")
    best = []
    for name in models:
        base = by_key.get((name, "eager"))
        fastest = max(
            (by_key[(name, m)] for m in ("channels_last", "compiled") if (name, m) in by_key),
            key=lambda m: m.images_per_s or 0.0,
        )
        if base and base.images_per_s and fastest.images_per_s:
            best.append(
                f"{name} {fastest.images_per_s / base.images_per_s:.2f}× ({MODE_TITLES[fastest.mode]})"
            )
    lines += [
        "",
        f"Best speed-up over eager contiguous on this CPU: {', '.join(best)}. The ≥ {TARGET_SPEEDUP:.0f}× "
        "target belongs to the inference work (`fakescan predict`, ONNX Runtime and batching), not to "
        "this baseline; GPU figures are not measured here (no GPU was lent to this run).",
        SECTION_END,
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per measurement (best taken)")
    parser.add_argument("--models", nargs="*", help="models to measure (default: all registered)")
    parser.add_argument("--modes", nargs="*", choices=MODES, default=list(MODES))
    parser.add_argument("--write", action="store_true", help=f"update the section in {BENCHMARKS_MD.name}")
    parser.add_argument("--worker", nargs=2, metavar=("MODEL", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        name, mode = args.worker
        warmup = 2 if mode == "compiled" else 1
        result = measure(name, mode, args.image_size, args.batch, args.repeat, warmup)
        print(json.dumps(result.__dict__))
        return 0

    from fakescan.models import list_models

    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    results = []
    # Effort (CLIP ViT-L/14, 500M parameters) has its own script: benchmarks/bench_effort.py.
    for name in args.models or [name for name in list_models() if name != "effort"]:
        for mode in args.modes:
            started = time.perf_counter()
            result = run_in_subprocess(name, mode, args)
            speed = f"{result.images_per_s:.1f} img/s" if result.images_per_s else result.error
            print(f"{name:14s} {mode:14s} {speed}  ({time.perf_counter() - started:.0f} s)", flush=True)
            results.append(result)
    section = report_section(results, args, when)
    publish(section, BENCHMARKS_MD, args.write, SECTION_START, SECTION_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
