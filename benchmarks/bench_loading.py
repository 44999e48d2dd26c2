"""Benchmark of data loading: 256 px face crops from a crop folder or from tar shards, 0/1/2 workers.

What it measures, on the CPU cores this process may use (not pinned: loader workers need them):

* ``loading``: images per second that :func:`fakescan.data.loading.make_loader` delivers as
  :class:`~fakescan.data.loading.Batch` objects of 32, with the default
  :class:`~fakescan.data.transforms.TrainTransform` at 256 px (resize, flip 0.5, JPEG 0.3, blur 0.1,
  noise 0.1, normalise), from

  - a :class:`~fakescan.data.loading.CropFolderDataset` (one PNG file per crop, shuffled), and
  - a :class:`~fakescan.data.loading.ShardDataset` over the same crops packed by
    :func:`fakescan.data.packing.pack_shards` (64 crops per shard, shuffle buffer of 256),

  each with 0 (main process), 1 and 2 worker processes. One timed epoch = every crop once, worker
  start-up included; the best of ``--repeat`` epochs is kept.
* ``training``: images per second of an Xception training step on the CPU
  (``fakescan.models.create("xception", num_classes=1, image_size=256)``, Adam, BCE-with-logits,
  batch 16 at 256 px), the best of ``--steps`` steps after a warm-up step. Loading must not be the
  bottleneck: the target is loading at least 10x the training rate.
* ``pack``: how long :func:`~fakescan.data.packing.pack_shards` takes for the crops, and the size of
  the shards against the crop folder.

Crops: a few hundred 256 px PNG face-region crops cut (fixed windows, no detector) from the real
sample media (``fakescan samples fetch``; fetched if missing): frames of the three sample videos and
windows of the sample photos, written with a crop table into a temporary folder that is removed
afterwards.

Run it from the repository root (about 2 minutes on two cores; the training steps take most)::

    .venv/bin/python benchmarks/bench_loading.py            # print the results as Markdown
    .venv/bin/python benchmarks/bench_loading.py --write    # and update its section of BENCHMARKS.md

Other programs running on the machine slow the wall times down; compare runs on the same machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _report import cpu_model, publish, usable_cores

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
SECTION_START = "<!-- bench_loading:start -->"
SECTION_END = "<!-- bench_loading:end -->"
IMAGE_SIZE = 256
LOAD_BATCH = 32
TRAIN_BATCH = 16
SHARD_SIZE = 64
SHUFFLE_BUFFER = 256
TARGET_RATIO = 10.0
WORKER_COUNTS = (0, 1, 2)
VIDEOS = ("videos/single_face.mp4", "videos/WolfgangLanger_Pexels.mp4", "videos/face_noface.mov")
PHOTOS = (
    "images/single_face.jpg",
    "images/multi_face.jpg",
    "images/obama.jpg",
    "images/biden.jpg",
    "images/einstein.jpg",
    "images/breakingbad.jpg",
)


# --------------------------------------------------------------------------------------------------
# The machine


def machine_lines() -> list[str]:
    import cv2
    import numpy
    import torch

    return [
        f"CPU: {cpu_model()}, {usable_cores()} cores available ({os.cpu_count()} in the machine), "
        f"torch using {torch.get_num_threads()} threads in the main process",
        f"OS: {platform.system()} {platform.release()} ({platform.machine()})",
        f"Python {platform.python_version()}, torch {torch.__version__}, numpy {numpy.__version__}, "
        f"OpenCV {cv2.__version__}",
    ]


# --------------------------------------------------------------------------------------------------
# Crops from the sample media


def make_crops(samples: Path, root: Path, per_video: int, per_photo: int) -> list:
    """Write 256 px PNG crops of the sample media under ``root`` and ``root/crops.csv``; the records."""
    import cv2

    from fakescan.data.datasets.index import CropRecord, write_crop_table
    from fakescan.data.images import read_image, write_image
    from fakescan.data.video import probe_video, read_frames

    def frames_of(source: str, count: int):
        path = samples / source
        if path.suffix == ".jpg":
            image = read_image(path)
            return [(index, image) for index in range(count)]
        table = probe_video(path)
        step = max(1, table.num_frames // count)
        return [(frame.index, frame.image) for frame in read_frames(table, range(0, table.num_frames, step))][
            :count
        ]

    records = []
    sources = [(source, per_video) for source in VIDEOS] + [(source, per_photo) for source in PHOTOS]
    for number, (source, count) in enumerate(sources):
        method = "real" if number % 2 == 0 else "Deepfakes"
        video_id = f"{method}/{Path(source).stem}"
        (root / video_id).mkdir(parents=True, exist_ok=True)
        for position, (frame_index, image) in enumerate(frames_of(source, count)):
            height, width = image.shape[:2]
            side = int(min(height, width) * (0.5 + 0.3 * (position % 4) / 4))
            x = (width - side) * (position % 7) // 6
            y = (height - side) * (position % 5) // 4
            crop = cv2.resize(image[y : y + side, x : x + side], (IMAGE_SIZE, IMAGE_SIZE))
            name = f"{video_id}/{frame_index:06d}_{position:03d}.png"
            write_image(root / name, crop)
            records.append(
                CropRecord(name, video_id, frame_index, int(method != "real"), method, "train", "samples")
            )
    write_crop_table(root / "crops.csv", records)
    return records


# --------------------------------------------------------------------------------------------------
# Timing


@dataclass
class LoadResult:
    """One loader configuration: images per epoch, best epoch's wall and CPU seconds, epochs run."""

    source: str
    workers: int
    images: int
    seconds: float
    cpu: float
    runs: int

    @property
    def rate(self) -> float:
        return self.images / self.seconds


def cpu_seconds() -> float:
    """CPU time of this process and of its finished (joined) children, such as loader workers."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_epochs(make_loader_once, workers: int, repeat: int) -> tuple[int, float, float, int]:
    """Images, best wall time, that epoch's CPU time (main + workers) and the epochs run.

    Each epoch uses a fresh loader (its workers start and are joined inside the timing). Without
    workers, while the best epoch was disturbed (wall well above CPU: another program had a core), up
    to ``repeat`` more epochs are run.
    """
    from fakescan.data.loading import set_epoch

    best, best_cpu, images, runs = float("inf"), 0.0, 0, 0
    while runs < repeat or (workers == 0 and runs < 2 * repeat and best > 1.15 * best_cpu + 0.02):
        loader = make_loader_once()
        set_epoch(loader, runs)
        started, started_cpu = time.perf_counter(), cpu_seconds()
        images = sum(len(batch) for batch in loader)
        del loader
        elapsed = time.perf_counter() - started
        runs += 1
        if elapsed < best:
            best, best_cpu = elapsed, cpu_seconds() - started_cpu
    return images, best, best_cpu, runs


def bench_loading(records: list, crops: Path, shards: list[Path], repeat: int) -> list[LoadResult]:
    from fakescan.data.loading import CropFolderDataset, ShardDataset, make_loader
    from fakescan.data.transforms import TrainTransform
    from fakescan.models.output import InputConfig

    transform = TrainTransform(InputConfig(image_size=IMAGE_SIZE))
    results = []
    for workers in WORKER_COUNTS:
        folder = CropFolderDataset(records, crops, transform, seed=0)
        stream = ShardDataset(shards, transform, shuffle_buffer=SHUFFLE_BUFFER, seed=0)
        for source, dataset, shuffle in (("crop folder", folder, True), ("shards", stream, False)):

            def build(dataset=dataset, shuffle=shuffle, workers=workers):
                return make_loader(
                    dataset, batch_size=LOAD_BATCH, shuffle=shuffle, workers=workers, pin_memory=False
                )

            images, seconds, cpu, runs = time_epochs(build, workers, repeat)
            result = LoadResult(source, workers, images, seconds, cpu, runs)
            print(f"{source:12s} workers={workers}: {result.rate:7.1f} images/s", flush=True)
            results.append(result)
    return results


def bench_training(steps: int) -> tuple[float, float, float]:
    """Best seconds per Xception training step (batch 16, 256 px, CPU), its CPU seconds, images/s."""
    import torch

    from fakescan.models import create

    torch.manual_seed(0)
    model = create("xception", num_classes=1, image_size=IMAGE_SIZE)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    images = torch.randn(TRAIN_BATCH, 3, IMAGE_SIZE, IMAGE_SIZE)
    labels = torch.randint(0, 2, (TRAIN_BATCH, 1)).float()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()

    step()  # warm-up: allocations, first-call dispatch
    best, best_cpu = float("inf"), 0.0
    for _ in range(steps):
        started, started_cpu = time.perf_counter(), time.process_time()
        step()
        elapsed = time.perf_counter() - started
        if elapsed < best:
            best, best_cpu = elapsed, time.process_time() - started_cpu
    return best, best_cpu, TRAIN_BATCH / best


# --------------------------------------------------------------------------------------------------
# Report


def folder_size(paths: list[Path]) -> int:
    return sum(path.stat().st_size for path in paths)


def report_section(
    results: list[LoadResult],
    train: tuple[float, float, float],
    pack_seconds: float,
    sizes: tuple[int, int, int],
    machine: list[str],
    args: argparse.Namespace,
    when: str,
) -> str:
    crops, folder_bytes, shard_bytes = sizes
    train_step, train_cpu, train_rate = train
    lines = [
        SECTION_START,
        "## Loading: crop folders vs shards, beside an Xception training step",
        "",
        f"What: images per second delivered by `make_loader` as batches of {LOAD_BATCH} with the default "
        f"`TrainTransform` at {IMAGE_SIZE} px (resize, flip, JPEG, blur, noise, normalise), from a "
        f"`CropFolderDataset` (one PNG per crop, shuffled) and from a `ShardDataset` over the same crops "
        f"packed {SHARD_SIZE} per shard (shuffle buffer {SHUFFLE_BUFFER}), with 0, 1 and 2 worker "
        f"processes; one epoch of all {crops} crops per run, worker start-up included, best of "
        f"{args.repeat}. Beside it, the images per second of an Xception training step on the CPU "
        f'(`create("xception", num_classes=1, image_size={IMAGE_SIZE})`, Adam, BCE-with-logits, batch '
        f"{TRAIN_BATCH}, best of {args.steps} steps after a warm-up). Crops: {IMAGE_SIZE} px PNG windows "
        "cut from the frames of the three sample videos and from the sample photos (no face detector).",
        "",
        "How: `.venv/bin/python benchmarks/bench_loading.py --write` (about 2 minutes).",
        "",
        f"Machine and date: {when}.",
        "",
        *[f"- {line}" for line in machine],
        "",
        "| source | workers | images/s | epoch wall, s | epoch CPU, s | epochs | vs training step |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        lines.append(
            f"| {result.source} | {result.workers} | **{result.rate:.0f}** | {result.seconds:.2f} "
            f"| {result.cpu:.2f} | {result.runs} | {result.rate / train_rate:.0f}× |"
        )
    lines += [
        f"| Xception training step (CPU) | – | **{train_rate:.1f}** | {train_step:.2f} per step of "
        f"{TRAIN_BATCH} | {train_cpu:.2f} | {args.steps} steps | 1× |",
        "",
        "*epoch CPU*: CPU seconds of the main process and its loader workers during the best epoch. It "
        "can exceed the wall time: OpenCV and torch use both cores even without workers, and workers run "
        "in parallel. CPU well below wall means another program took the cores during that epoch.",
        "",
        f"Packing: `pack_shards` wrote the {crops} crops ({folder_bytes / 1e6:.1f} MB of PNG files) into "
        f"{-(-crops // SHARD_SIZE)} shards of {shard_bytes / 1e6:.1f} MB in {pack_seconds:.2f} s "
        f"({crops / pack_seconds:.0f} crops/s, each crop decoded once to check it).",
        "",
        "Targets:",
        "",
    ]
    best = max(results, key=lambda r: r.rate)
    single = [r for r in results if r.workers == 0]
    worst_single = min(single, key=lambda r: r.rate)
    ratio = best.rate / train_rate
    verdict = "Met" if ratio >= TARGET_RATIO else "Not met"
    lines.append(
        f"- **{verdict}**: loading reaches {best.rate:.0f} images/s ({best.source}, {best.workers} "
        f"workers), {ratio:.0f}× the {train_rate:.1f} images/s of the Xception training step "
        f"(target ≥ {TARGET_RATIO:.0f}×). Even in the main process alone ({worst_single.source}, 0 "
        f"workers) it gives {worst_single.rate:.0f} images/s, {worst_single.rate / train_rate:.0f}×."
    )
    lines.append(
        "- On this CPU-only machine the training step and the loader workers share the same cores, so "
        "during real training the loader's share is smaller than measured here alone; on a GPU machine "
        "the training step is far faster and the workers have the CPU to themselves."
    )
    lines.append(SECTION_END)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed epochs per loader (best taken)")
    parser.add_argument("--steps", type=int, default=2, help="timed training steps (best taken)")
    parser.add_argument("--per-video", type=int, default=80, help="crops from each sample video")
    parser.add_argument("--per-photo", type=int, default=24, help="crops from each sample photo")
    parser.add_argument("--write", action="store_true", help=f"update the section in {BENCHMARKS_MD.name}")
    parser.add_argument("--output", type=Path, default=BENCHMARKS_MD, help="the file --write updates")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.steps < 1:
        parser.error("--repeat and --steps must be at least 1")

    from fakescan.data.packing import pack_shards
    from fakescan.data.samples import fetch_samples

    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = machine_lines()
    print(f"# bench_loading, {when}")
    for line in machine:
        print(line)

    samples = fetch_samples()  # no-op when cached
    with tempfile.TemporaryDirectory(prefix="fakescan-bench-loading-") as tmp:
        crops, out = Path(tmp) / "crops", Path(tmp) / "shards"
        started = time.perf_counter()
        records = make_crops(samples, crops, args.per_video, args.per_photo)
        print(f"{len(records)} crops made in {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        report = pack_shards(records, crops, out, shard_size=SHARD_SIZE)
        pack_seconds = time.perf_counter() - started
        shards = report.index.shard_paths("train")
        sizes = (
            len(records),
            folder_size([crops / record.crop for record in records]),
            folder_size(shards),
        )
        print(f"packed into {len(shards)} shards in {pack_seconds:.2f} s", flush=True)
        results = bench_loading(records, crops, shards, args.repeat)
    train = bench_training(args.steps)
    print(f"xception training step: {train[0]:.2f} s per {TRAIN_BATCH} images, {train[2]:.1f} images/s")

    section = report_section(results, train, pack_seconds, sizes, machine, args, when)
    publish(section, args.output, args.write, SECTION_START, SECTION_END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
