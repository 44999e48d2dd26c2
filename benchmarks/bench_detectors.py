"""The face detectors side by side: start-up, time per frame, and hits on the hand-counted sample media.

What it measures, on ONE CPU core (thread pools limited to one thread, the process pinned to the
first core it may use, before anything heavy is imported):

* start-up: a fresh Python process imports :mod:`fakescan.data.faces` and builds the detector with
  :func:`~fakescan.data.faces.create_detector` (backend import + model load), best of 3 processes;
* ms per frame at 480 px: the 32 evenly spaced frames of ``WolfgangLanger_Pexels.mp4`` (one face)
  and of ``negatives/no_face.mp4`` (none), resized to 480 px on the longer side beforehand, each
  searched once after a warm-up; best of ``--repeat`` passes, CPU time beside wall time;
* dense extraction: :func:`~fakescan.data.extract.run_extraction` of every frame of
  ``WolfgangLanger_Pexels.mp4`` (472 frames, 640×360) with the default detector, searching every
  frame or every k-th frame and interpolating between (``--detect-every``), into a fresh folder;
* recall and false positives on every sample photograph and video, against the hand counts in
  ``tests/data/faces/ground_truth.json`` (scored as ``tests/data/faces/ground_truth.py`` does:
  counts, not boxes), each detector at its defaults (frames searched at ``--detect-size`` 480).

RetinaFace is left out: it needs a weights file that fakescan does not fetch.

Run it from the repository root (about a minute)::

    .venv/bin/python benchmarks/bench_detectors.py           # print the tables as Markdown
    .venv/bin/python benchmarks/bench_detectors.py --write   # and update its section of BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from _report import cpu_model, publish

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy, OpenCV or LiteRT is imported (in main)
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
START, END = "<!-- bench_detectors:start -->", "<!-- bench_detectors:end -->"
DETECTORS = ("hog", "haar", "blazeface", "blazeface-full")
TIMING_VIDEOS = ("videos/WolfgangLanger_Pexels.mp4", "negatives/no_face.mp4")


def _ground_truth():
    spec = importlib.util.spec_from_file_location("ground_truth", ROOT / "tests/data/faces/ground_truth.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ground_truth"] = module
    spec.loader.exec_module(module)
    return module


def start_up(name: str, runs: int = 3) -> tuple[float, float]:
    """Best (wall, CPU) seconds, over fresh processes, to import the detector registry and build ``name``."""
    code = (
        "import time; t, c = time.perf_counter(), time.process_time()\n"
        "from fakescan.data.faces import create_detector\n"
        f"create_detector({name!r}); print(time.perf_counter() - t, time.process_time() - c)"
    )
    times = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        wall, cpu = (float(v) for v in done.stdout.split()[-2:])
        times.append((wall, cpu))
    return min(times)


def frames_at(samples: Path, video: str, side: int) -> list:
    import cv2

    from fakescan.data.video import even_frame_indices, probe_video, read_frames

    table = probe_video(samples / video)
    out = []
    for frame in read_frames(table, even_frame_indices(table.num_frames, 32)):
        height, width = frame.image.shape[:2]
        factor = side / max(height, width)
        size = (round(width * factor), round(height * factor))
        out.append(cv2.resize(frame.image, size, interpolation=cv2.INTER_AREA))
    return out


def per_frame(detector, frames: list, repeat: int) -> tuple[float, float]:
    """Best (wall, CPU) milliseconds per frame over ``repeat`` passes, after a warm-up."""
    detector.detect(frames[0])
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        for image in frames:
            detector.detect(image)
        result = ((time.perf_counter() - wall) / len(frames), (time.process_time() - cpu) / len(frames))
        best = min(best, result)
    return best[0] * 1000, best[1] * 1000


def dense(samples: Path, every: int) -> tuple[float, float, int]:
    """(wall s, CPU s, crops) of extracting every frame of the face video, searching every ``every``-th."""
    import tempfile

    from fakescan.data.extract import ExtractConfig, run_extraction

    config = ExtractConfig(stride=1, detect_every=every)
    with tempfile.TemporaryDirectory() as out:
        wall, cpu = time.perf_counter(), time.process_time()
        report = run_extraction([samples / TIMING_VIDEOS[0]], out, config)
        return time.perf_counter() - wall, time.process_time() - cpu, report.crops


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per measurement (best taken)")
    parser.add_argument("--write", action="store_true", help=f"update the section in {BENCHMARKS_MD.name}")
    parser.add_argument("--output", type=Path, default=BENCHMARKS_MD, help="the file --write updates")
    args = parser.parse_args(argv)

    import cv2

    from fakescan.data.faces import create_detector
    from fakescan.data.samples import fetch_samples

    cv2.setNumThreads(1)
    samples = fetch_samples()
    truth = _ground_truth()
    timing_frames = {video: frames_at(samples, video, 480) for video in TIMING_VIDEOS}
    speed_rows, hit_rows = [], {}
    totals = {}
    for name in DETECTORS:
        boot_wall, boot_cpu = start_up(name)
        detector = create_detector(name)
        cells = [f"{boot_wall:.2f} ({boot_cpu:.2f}) s"]
        for video in TIMING_VIDEOS:
            wall, cpu = per_frame(detector, timing_frames[video], args.repeat)
            cells.append(f"{wall:.1f} ({cpu:.1f})")
        speed_rows.append(f"| {name} | " + " | ".join(cells) + " |")
        found = seen = false = 0
        for image in truth.GROUND_TRUTH["images"]:
            score = truth.score_image(detector, samples, image)
            hit_rows.setdefault(image, []).append(f"{score.found}/{score.truth}, {score.false}")
            found, seen, false = found + score.found, seen + score.truth, false + score.false
        for video in truth.GROUND_TRUTH["videos"]:
            score = truth.score_video(detector, samples, video)
            hit_rows.setdefault(video, []).append(f"{score.found}/{score.truth}, {score.false}")
            found, seen, false = found + score.found, seen + score.truth, false + score.false
        totals[name] = f"{found}/{seen} ({found / seen:.0%}), {false}"
        print(name, "done", file=sys.stderr)

    dense_rows = []
    base_cpu = None
    for every in (1, 5, 10):
        wall, cpu, crops = dense(samples, every)
        base_cpu = base_cpu or cpu
        dense_rows.append(f"| {every} | {wall:.1f} | {cpu:.1f} | {base_cpu / cpu:.1f}× | {crops} |")

    head = "| | " + " | ".join(DETECTORS) + " |\n|---|" + "---|" * len(DETECTORS)
    lines = [
        START,
        "## Face detectors side by side",
        "",
        f"`benchmarks/bench_detectors.py`, {date.today().isoformat()}, {cpu_model()}, one core "
        "(process pinned, one thread), Python " + ".".join(map(str, sys.version_info[:2])) + ". The machine "
        "was shared with other engineers' jobs while this ran: wall times are upper bounds; CPU "
        "times are in brackets.",
        "",
        "Start-up (fresh process: import + build, best of 3) and milliseconds per frame (frames "
        f"resized to 480 px, best of {args.repeat} passes over 32 frames):",
        "",
        "| detector | start-up | face video 480×270 | no-face video 480×270 |",
        "|---|---|---|---|",
        *speed_rows,
        "",
        "Faces found / hand-counted faces (photographs) or face frames found / frames with a face "
        "(32 sampled frames per video), then false faces (photographs) or frames with a false face "
        "(videos); each detector at its defaults, searched at 480 px. Ground truth: "
        "`tests/data/faces/ground_truth.json`.",
        "",
        head,
        *(f"| {media} | " + " | ".join(cells) + " |" for media, cells in hit_rows.items()),
        "| **all** | " + " | ".join(totals[n] for n in DETECTORS) + " |",
        "",
        "Dense extraction: every frame of `WolfgangLanger_Pexels.mp4` (472 frames, 640×360) with the "
        "default detector (`blazeface-full`), 256 px PNG crops; faces searched on every k-th frame and "
        "interpolated between (`--detect-every k`):",
        "",
        "| --detect-every | wall s | CPU s | CPU speed-up | crops |",
        "|---|---|---|---|---|",
        *dense_rows,
        "",
        END,
        "",
    ]
    publish("\n".join(lines), args.output, args.write, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
