"""Benchmark of ``fakescan predict``: end-to-end frames per second, and the model alone per backend.

Model: ``create("xception", num_classes=1, image_size=256)``, untrained (speed does not depend on
the weights), saved as a checkpoint and loaded as ``fakescan predict`` loads it.

* **model only** — images per second for batches of random 256 px images, at each batch size of
  ``--batches`` (16, and 32: the ``predict`` default, which batches the frames of a video):
  ``eager`` (eval mode, ``torch.inference_mode``, contiguous NCHW), ``channels_last`` (model and
  input in channels-last memory format: the ``predict`` default), ``compiled`` (``torch.compile``,
  inductor, on the channels-last model; the first calls compile and are not timed), ``onnxruntime``
  (the model exported by :func:`fakescan.predict.export.export_onnx`, CPU execution provider) and,
  for reference, ``bf16`` (channels-last under CPU ``torch.autocast`` in bfloat16: faster where the
  CPU has bf16 instructions, but its logits move far more than float32 rounding, so ``predict``
  uses it only when asked, ``--precision bf16``; its AUC cost: ``bench_precision.py``). Best of
  ``--repeat`` timed calls after warm-up; each mode in a fresh process,
  with the largest logit difference to the eager float32 model on the same batch.
* **end to end** — ``run_prediction`` on a sample video (``--frames`` sampled frames: decode, HOG
  face detection at 480 px, crop, normalise, batched model), with the torch backend and with the
  ONNX backend; frames per second, and the share of the time spent on decoding + detection (measured
  by a pass of :func:`fakescan.data.extract.iter_frame_faces` alone).

Eager PyTorch gets slower per image as the batch grows (its convolutions leave the caches), while
ONNX Runtime keeps its rate, so the speed-up depends on the batch; the report gives it at each size.

Run it from the repository root (about 6 minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_predict.py           # print the results as Markdown
    .venv/bin/python benchmarks/bench_predict.py --write   # and update its section of BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from _report import cpu_model, publish, usable_cores

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
SECTION_START = "<!-- bench_predict:start -->"
SECTION_END = "<!-- bench_predict:end -->"
MODEL = "xception"
MODES = ("eager", "channels_last", "compiled", "onnxruntime", "bf16")
MODE_TITLES = {
    "eager": "eager, contiguous",
    "channels_last": "channels_last (predict default)",
    "compiled": "torch.compile (channels_last)",
    "onnxruntime": "ONNX Runtime (CPU)",
    "bf16": "bf16 autocast, channels_last (reference only)",
}
TARGET_SPEEDUP = 3.0
EXACT_MODES = ("channels_last", "compiled", "onnxruntime")
"""The float32 backends (bf16 is for reference only)."""
VIDEO = "videos/WolfgangLanger_Pexels.mp4"
PIPELINE_BATCH = 32
"""Crops per forward pass end to end: ``PredictConfig.batch_size``'s default."""


@dataclass(frozen=True)
class Result:
    """One measurement: ``per_s`` images (model) or frames (end to end) per second, or why it failed.

    ``max_abs_diff``: largest ``|Δ logit|`` against the eager float32 model on the same batch.
    """

    kind: str
    mode: str
    per_s: float | None
    batch: int = 0
    detect_share: float | None = None
    max_abs_diff: float | None = None
    error: str = ""


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0][:160]}" if text else type(error).__name__


def _checkpoint(folder: Path, image_size: int) -> Path:
    import torch

    from fakescan.checkpoints import CheckpointMeta, save_checkpoint
    from fakescan.models import create

    torch.manual_seed(0)
    options = {"num_classes": 1, "image_size": image_size}
    stem = folder / MODEL
    save_checkpoint(stem, create(MODEL, **options), CheckpointMeta(model=MODEL, model_kwargs=options))
    return stem


def measure_model(mode: str, image_size: int, batch: int, repeat: int) -> Result:
    """Time the model alone in ``mode`` (call it in a fresh process)."""
    import torch

    from fakescan.predict import load_predictor

    with tempfile.TemporaryDirectory() as tmp:
        stem = _checkpoint(Path(tmp), image_size)
        images = (
            torch.rand(batch, 3, image_size, image_size, generator=torch.Generator().manual_seed(0)) * 2 - 1
        )
        reference = load_predictor(stem, channels_last=False).scorer.logits(images)  # type: ignore[attr-defined]
        if mode == "onnxruntime":
            from fakescan.predict.export import export_onnx

            export_onnx(stem, Path(tmp) / "model.onnx", verify=False)
            scorer = load_predictor(Path(tmp) / "model.onnx", backend="onnx").scorer

            def step() -> torch.Tensor:
                return torch.from_numpy(scorer.logits(images))  # type: ignore[attr-defined]

        else:
            contiguous = mode == "eager"
            model = load_predictor(stem, channels_last=not contiguous).model
            assert model is not None
            inputs = images if contiguous else images.contiguous(memory_format=torch.channels_last)
            runner = torch.compile(model) if mode == "compiled" else model

            def step() -> torch.Tensor:
                with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=mode == "bf16"):
                    return runner(inputs).float()

        try:
            for _ in range(2 if mode == "compiled" else 1):
                logits = step()
            diff = float((logits - reference).abs().max())
            best = float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                step()
                best = min(best, time.perf_counter() - started)
        except Exception as error:  # report a backend failure as a row, not a crash
            return Result("model", mode, None, batch=batch, error=_first_line(error))
    return Result("model", mode, batch / best, batch=batch, max_abs_diff=diff)


def measure_pipeline(backend: str, image_size: int, batch: int, frames: int) -> Result:
    """Time ``run_prediction`` on the sample video with ``backend`` (call it in a fresh process)."""
    from fakescan.data.extract import ExtractConfig, MediaItem, iter_frame_faces
    from fakescan.data.faces import create_detector
    from fakescan.data.samples import fetch_samples
    from fakescan.predict import PredictConfig, load_predictor, run_prediction

    video = fetch_samples() / VIDEO
    config = PredictConfig(extract=ExtractConfig(frames=frames), batch_size=batch)
    with tempfile.TemporaryDirectory() as tmp:
        stem = _checkpoint(Path(tmp), image_size)
        model_path = stem
        if backend == "onnx":
            from fakescan.predict.export import export_onnx

            model_path = Path(tmp) / "model.onnx"
            export_onnx(stem, model_path, verify=False)
        predictor = load_predictor(model_path, backend=backend)  # type: ignore[arg-type]
        run_prediction([video], predictor, config)  # warm-up: first-call allocations, file cache
        started = time.perf_counter()
        report = run_prediction([video], predictor, config)
        total = time.perf_counter() - started
        read = report.predictions[0].frames_read
        detector = create_detector("hog", max_side=480)
        item = MediaItem(video, "video", "v")
        started = time.perf_counter()
        list(iter_frame_faces(item, config.extract, detector))
        detect = time.perf_counter() - started
    return Result("pipeline", backend, read / total, detect_share=min(1.0, detect / total))


def run_worker(args: argparse.Namespace, kind: str, mode: str, batch: int) -> Result:
    options = {
        "--image-size": args.image_size,
        "--batches": batch,
        "--repeat": args.repeat,
        "--frames": args.frames,
    }
    command = [sys.executable, __file__, "--worker", kind, mode]
    for flag, value in options.items():
        command += [flag, str(value)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            return Result(**json.loads(line))
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return Result(kind, mode, None, batch=batch, error=f"worker exited {done.returncode}: {tail[:160]}")


def machine_line() -> str:
    import torch

    cpu = cpu_model()
    cores = usable_cores()
    try:
        import onnxruntime

        ort = f", onnxruntime {onnxruntime.__version__}"
    except ImportError:
        ort = ""
    return (
        f"CPU: {cpu}, {cores} cores available, torch {torch.__version__} ({torch.get_num_threads()} threads)"
        f"{ort}, Python {platform.python_version()}, {platform.system()} {platform.release()}; no GPU"
    )


def _speedup_line(models: dict[str, Result], batch: int) -> str:
    base = models.get("eager")
    exact = [models[m] for m in EXACT_MODES if m in models and models[m].per_s]
    if not (base and base.per_s and exact):
        return f"batch {batch}: no speed-up measured"
    fastest = max(exact, key=lambda r: r.per_s or 0.0)
    speedup = (fastest.per_s or 0.0) / base.per_s
    verdict = "met" if speedup >= TARGET_SPEEDUP else "not met"
    line = f"batch {batch}: **{verdict}**, {speedup:.2f}× ({MODE_TITLES[fastest.mode]})"
    if "bf16" in models and models["bf16"].per_s:
        bf16 = models["bf16"]
        line += (
            f"; bf16 autocast {(bf16.per_s or 0.0) / base.per_s:.2f}× but its logits move up to "
            f"{bf16.max_abs_diff or 0.0:.1e}, so `predict` uses it only with `--precision bf16`"
        )
    return line


def report_section(results: list[Result], args: argparse.Namespace, when: str) -> str:
    batches = list(args.batches)
    models = {(r.mode, r.batch): r for r in results if r.kind == "model"}
    pipelines = {r.mode: r for r in results if r.kind == "pipeline"}
    lines = [
        SECTION_START,
        "## Prediction: model backends and end-to-end throughput",
        "",
        f"What: (1) images per second of `{MODEL}` alone at {args.image_size} px per backend, at batch "
        f"{' and '.join(map(str, batches))} (32 is what `predict` uses), with the ratio to eager "
        f"contiguous at the same batch (best of {args.repeat} timed calls after warm-up, each backend and "
        f"batch in its own process); (2) `fakescan predict` end to end on `{VIDEO}` ({args.frames} sampled "
        "frames: decode, HOG face detection at 480 px, crop, normalise, batched model), frames per second "
        "after a warm-up run, and the share of that time spent decoding and detecting. Untrained weights "
        "(speed does not depend on them).",
        "",
        "How: `.venv/bin/python benchmarks/bench_predict.py --write` (about 6 minutes on 2 cores).",
        "",
        f"Machine and date: {when}. {machine_line()}.",
        "",
        "| model backend | batch | images/s | vs eager contiguous | max abs. logit difference to eager |",
        "|---|---:|---:|---:|---:|",
    ]
    for batch in batches:
        base = models.get(("eager", batch))
        for mode in MODES:
            r = models.get((mode, batch))
            if r is None:
                continue
            if r.per_s is None:
                lines.append(f"| {MODE_TITLES[mode]} | {batch} | failed ({r.error}) | | |")
                continue
            ratio = f"{r.per_s / base.per_s:.2f}×" if base and base.per_s else ""
            diff = "" if r.max_abs_diff is None else f"{r.max_abs_diff:.1e}"
            lines.append(f"| {MODE_TITLES[mode]} | {batch} | {r.per_s:.1f} | {ratio} | {diff} |")
    lines += ["", "| end to end | frames/s | decode + detect share |", "|---|---:|---:|"]
    for backend, r in pipelines.items():
        if r.per_s is None:
            lines.append(f"| {backend} backend | failed ({r.error}) | |")
        else:
            share = "" if r.detect_share is None else f"{100 * r.detect_share:.0f} %"
            lines.append(f"| {backend} backend | {r.per_s:.1f} | {share} |")
    lines += ["", f"Target ≥ {TARGET_SPEEDUP:.0f}× eager contiguous for the model part, float32 backends:"]
    for batch in batches:
        by_mode = {mode: r for (mode, b), r in models.items() if b == batch}
        lines.append(f"- {_speedup_line(by_mode, batch)}.")
    lines.append(SECTION_END)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument(
        "--batches", type=int, nargs="+", default=[16, 32], help="batch sizes of the model-only part"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed calls per model measurement (best taken)"
    )
    parser.add_argument("--frames", type=int, default=32, help="frames sampled from the video end to end")
    parser.add_argument("--modes", nargs="*", choices=MODES, default=list(MODES))
    parser.add_argument("--backends", nargs="*", choices=("torch", "onnx"), default=["torch", "onnx"])
    parser.add_argument("--write", action="store_true", help=f"update the section in {BENCHMARKS_MD.name}")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        kind, mode = args.worker
        batch = args.batches[0]
        if kind == "model":
            result = measure_model(mode, args.image_size, batch, args.repeat)
        else:
            result = measure_pipeline(mode, args.image_size, batch, args.frames)
        print(json.dumps(asdict(result)))
        return 0

    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    results = []
    plan = [("model", m, b) for b in args.batches for m in args.modes]
    plan += [("pipeline", b, PIPELINE_BATCH) for b in args.backends]
    for kind, mode, batch in plan:
        started = time.perf_counter()
        result = run_worker(args, kind, mode, batch)
        unit = "img/s" if kind == "model" else "frames/s"
        speed = f"{result.per_s:.1f} {unit}" if result.per_s else result.error
        print(
            f"{kind:9s} {mode:14s} batch {batch:3d} {speed}  ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        results.append(result)
    section = report_section(results, args, when)
    publish(section, BENCHMARKS_MD, args.write, SECTION_START, SECTION_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
