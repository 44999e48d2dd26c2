"""Benchmark of ``fakescan serve`` under load, on loopback only.

A real server (``fakescan serve --workers 2``, its own process, 127.0.0.1) gets:

* **concurrent** — ``--concurrent`` (20) uploads sent at once from as many client threads, cycling
  through four sample files (two videos, two photos) at ``--frames`` (8) frames per video. Each
  job's result must equal ``fakescan predict --frames N --json`` on the same file (verdict, score
  within 1e-6, per-frame probabilities and boxes), and no job may be lost. Latency is upload →
  ``done`` as the client sees it (polling every 0.1 s); p50/p95 and the wall time of the batch.
* **sequential** — ``--sequential`` (100) jobs one after another (a photo), with the server's
  resident memory (the server process plus its worker processes, summed from ``/proc``) after
  jobs 1, 10, 25, 50, 75, 100: flat means no leak per job.

The peak RSS is sampled every 0.1 s over each phase. CPU time is that of the server and its
workers (``/proc/<pid>/stat``), beside the wall time: on a shared machine the CPU time is well
below wall time × cores when other programs take the cores.

Model: an untrained ``cnn`` at 64 px (the test suite's size; speed hardly depends on the weights)
unless ``--model RUN_DIR`` is given.

Run it from the repository root (a few minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_serve.py           # print the results as Markdown
    .venv/bin/python benchmarks/bench_serve.py --write   # and update its section of BENCHMARKS.md
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
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _report import cpu_model, publish, usable_cores

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
SECTION_START = "<!-- bench_serve:start -->"
SECTION_END = "<!-- bench_serve:end -->"
FILES = ("videos/single_face.mp4", "images/obama.jpg", "videos/WolfgangLanger_Pexels.mp4", "images/biden.jpg")
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """``pid`` and its child processes."""
    found = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of the process tree, MB."""
    total = 0
    for p in tree(pid):
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
        except OSError:
            pass
    return total / 1e6


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of the process tree so far."""
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / TICKS


class PeakRss:
    """Samples the tree's RSS every 0.1 s in a thread; ``peak`` in MB."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run_job(base: str, path: Path, frames: int) -> tuple[dict, float]:
    """Upload, retrying on 429 after Retry-After; poll until the job ends; (job, seconds)."""
    import httpx

    started = time.perf_counter()
    with httpx.Client(base_url=base, timeout=60) as client:
        while True:
            files = {"file": (path.name, path.read_bytes())}
            answer = client.post("/api/v1/jobs", files=files, data={"frames": str(frames)})
            if answer.status_code != 429:
                break
            time.sleep(float(answer.headers["retry-after"]))
        answer.raise_for_status()
        job_id = answer.json()["id"]
        while True:
            job = client.get(f"/api/v1/jobs/{job_id}").json()
            if job["status"] in ("done", "failed"):
                return job, time.perf_counter() - started
            time.sleep(0.1)


def predicted(path: Path, checkpoint: Path, frames: int) -> dict:
    """``fakescan predict --frames N --json -`` on one file."""
    done = subprocess.run(
        [sys.executable, "-m", "fakescan", "predict", str(path), "--model", str(checkpoint),
         "--frames", str(frames), "--json", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)["results"][0]


def close(a: float | None, b: float | None) -> bool:
    """Both missing, or both present and within 1e-6."""
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= 1e-6)


def same(got: dict, want: dict) -> bool:
    """A job's result equals predict's (verdict, score within 1e-6, frames)."""
    head = got["verdict"] == want["verdict"] and got["frames_read"] == want["frames_read"]
    frames = all(
        a["index"] == b["index"] and a["box"] == b["box"] and close(a["probability"], b["probability"])
        for a, b in zip(got["frames"], want["frames"], strict=True)
    )
    return head and frames and close(got["score"], want["score"])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a run folder or checkpoint (default: untrained cnn)")
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--sequential", type=int, default=100)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write", action="store_true", help=f"update the section in {BENCHMARKS_MD.name}")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from tests.predict import make_checkpoint
    from tests.serve.conftest import free_port, start_server, stop_server

    from fakescan.data.samples import fetch_samples

    samples = fetch_samples()
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    checkpoint = args.model or make_checkpoint(work, "cnn", image_size=64, threshold=0.3)
    files = [samples / name for name in FILES]
    print("predict on each file ...", flush=True)
    expected = {f.name: predicted(f, checkpoint, args.frames) for f in files}

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    extra = ("--workers", str(args.workers), "--queue-limit", str(max(args.concurrent, 1)))
    started = time.perf_counter()
    server = start_server(checkpoint, work / "data", port, *extra)
    boot_s = time.perf_counter() - started
    try:
        idle_mb = rss_mb(server.pid)
        print(
            f"server up in {boot_s:.1f} s ({idle_mb:.0f} MB); {args.concurrent} concurrent jobs ...",
            flush=True,
        )
        batch = [files[i % len(files)] for i in range(args.concurrent)]
        cpu0, wall0 = cpu_s(server.pid), time.perf_counter()
        with PeakRss(server.pid) as peak_concurrent, ThreadPoolExecutor(args.concurrent) as pool:
            outcomes = list(pool.map(lambda f: run_job(base, f, args.frames), batch))
        wall_c, cpu_c = time.perf_counter() - wall0, cpu_s(server.pid) - cpu0
        latencies = [seconds for _, seconds in outcomes]
        done = sum(job["status"] == "done" for job, _ in outcomes)
        equal = sum(
            job["result"] is not None and same(job["result"]["results"][0], expected[f.name])
            for (job, _), f in zip(outcomes, batch, strict=True)
        )
        ids = {job["id"] for job, _ in outcomes}

        print(f"{args.sequential} sequential jobs ...", flush=True)
        photo = samples / "images/obama.jpg"
        marks = sorted({1, 10, 25, 50, 75, args.sequential} & set(range(1, args.sequential + 1)))
        memory: dict[int, float] = {}
        seq_latencies: list[float] = []
        cpu0, wall0 = cpu_s(server.pid), time.perf_counter()
        with PeakRss(server.pid) as peak_sequential:
            for n in range(1, args.sequential + 1):
                job, seconds = run_job(base, photo, args.frames)
                assert job["status"] == "done", job
                seq_latencies.append(seconds)
                if n in marks:
                    memory[n] = rss_mb(server.pid)
        wall_s, cpu_seq = time.perf_counter() - wall0, cpu_s(server.pid) - cpu0
    finally:
        stop_server(server)

    import fastapi
    import torch
    import uvicorn

    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cores = usable_cores()
    load = os.getloadavg()
    model_text = f"`{args.model}`" if args.model else "an untrained `cnn` at 64 px"
    lines = [
        SECTION_START,
        "## `fakescan serve`: concurrent uploads, latency and memory",
        "",
        "What: a real `fakescan serve` on 127.0.0.1 with "
        f"{args.workers} worker processes and {model_text}; {args.concurrent} uploads sent at once "
        f"(cycling through {', '.join(f.name for f in files)}; {args.frames} frames per video), then "
        f"{args.sequential} jobs one after another (obama.jpg). Each concurrent job's result is "
        f"compared with `fakescan predict --frames {args.frames} --json` on the same file. Latency: "
        "upload → `done` as the client sees it (429 answers retried after their Retry-After). RSS: "
        "the server process plus its workers, summed from /proc (pages the processes share, such as "
        "torch's libraries, count once per process).",
        "",
        "How: `.venv/bin/python benchmarks/bench_serve.py --write` (a few minutes).",
        "",
        f"Machine and date: {when}.",
        "",
        f"- CPU: {cpu_model()}, {cores} cores available; **shared**: other engineers' jobs ran on the"
        f" same cores (load average {load[0]:.1f} at the end, on {cores} cores), so wall times are"
        " inflated; the CPU time of the server and its workers is given beside them",
        f"- OS: {platform.system()} {platform.release()} ({platform.machine()})",
        f"- Python {platform.python_version()}, torch {torch.__version__}, FastAPI {fastapi.__version__},"
        f" uvicorn {uvicorn.__version__}",
        "",
        "| phase | jobs | done | same result as `predict` | lost | p50 latency, s | p95 latency, s |"
        " wall, s | server CPU, s | peak RSS, MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {args.concurrent} at once | {args.concurrent} | {done} | {equal} |"
        f" {args.concurrent - len(ids)} | {statistics.median(latencies):.2f} |"
        f" {percentile(latencies, 0.95):.2f} | {wall_c:.1f} | {cpu_c:.1f} | {peak_concurrent.peak:.0f} |",
        f"| {args.sequential} in a row | {args.sequential} | {args.sequential} | — | 0 |"
        f" {statistics.median(seq_latencies):.2f} | {percentile(seq_latencies, 0.95):.2f} | {wall_s:.1f} |"
        f" {cpu_seq:.1f} | {peak_sequential.peak:.0f} |",
        "",
        f"Server start (both workers load the model): {boot_s:.1f} s; idle RSS {idle_mb:.0f} MB.",
        "",
        "RSS of the server and its workers over the sequential jobs:",
        "",
        "| after job | " + " | ".join(str(n) for n in memory) + " |",
        "|---|" + "---:|" * len(memory),
        "| RSS, MB | " + " | ".join(f"{memory[n]:.0f}" for n in memory) + " |",
        "",
    ]
    if len(memory) >= 2:
        keys = list(memory)
        base_mark = 10 if 10 in memory else keys[0]
        growth = memory[keys[-1]] - memory[base_mark]
        lines += [
            f"From job {base_mark} to job {keys[-1]} the RSS moved by {growth:+.0f} MB "
            f"({growth / max(keys[-1] - base_mark, 1) * 1000:+.0f} kB per job).",
            "",
        ]
    flat = len(memory) >= 2 and abs(memory[list(memory)[-1]] - memory[10 if 10 in memory else 1]) < 50
    verdict = "**Met**" if done == equal == args.concurrent and len(ids) == args.concurrent else "**Not met**"
    lines += [
        "Targets:",
        "",
        f"- {verdict}: every concurrent job completes with the same result as `fakescan predict`"
        f" ({equal} of {args.concurrent}), none lost ({args.concurrent - len(ids)}).",
        f"- {'**Met**' if flat else '**Not met**'}: RSS flat over {args.sequential} sequential jobs"
        " (within 50 MB after the first 10 jobs warmed the workers up).",
        "",
        SECTION_END,
    ]
    publish("\n".join(lines) + "\n", BENCHMARKS_MD, args.write, SECTION_START, SECTION_END)


if __name__ == "__main__":
    main()
