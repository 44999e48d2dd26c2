"""A server killed with SIGKILL during a job, restarted on the same data folder: the finished job is
still served, the interrupted one is reported failed with its reason, and new jobs run; a job past
the per-job timeout fails, and the next job runs on a fresh worker."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from fakescan.serve.store import INTERRUPTED
from tests.serve.conftest import free_port, start_server, stop_server


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def submit(base: str, path: Path, frames: int) -> str:
    files = {"file": (path.name, path.read_bytes())}
    answer = httpx.post(f"{base}/api/v1/jobs", files=files, data={"frames": str(frames)}, timeout=30)
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def wait_status(base: str, job_id: str, wanted: set[str], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(f"{base}/api/v1/jobs/{job_id}", timeout=10).json()
        if job["status"] in wanted:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not {wanted} within {timeout} s")


@pytest.mark.slow
def test_kill_9_during_a_job_then_restart(samples: Path, serve_checkpoint: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(serve_checkpoint, data, port)
    try:
        finished = wait_status(base, submit(base, samples / "images/obama.jpg", 1), {"done"})
        long_id = submit(base, samples / "videos/WolfgangLanger_Pexels.mp4", 96)
        wait_status(base, long_id, {"running"})
        workers = children(server.pid)
        assert workers
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        deadline = time.monotonic() + 20
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in workers), "a worker outlived its killed server"
    finally:
        if server.poll() is None:
            server.kill()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(serve_checkpoint, data, port, "--job-timeout", "5")
    try:
        again = httpx.get(f"{base}/api/v1/jobs/{finished['id']}", timeout=10).json()
        assert again["status"] == "done" and again["result"] == finished["result"]
        picture = httpx.get(base + again["artifacts"]["frame-0-heatmap.png"], timeout=10)
        assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
        interrupted = httpx.get(f"{base}/api/v1/jobs/{long_id}", timeout=10).json()
        assert interrupted["status"] == "failed" and interrupted["error"] == INTERRUPTED
        assert interrupted["result"] is None and not (data / "jobs" / long_id / "upload.bin").exists()
        slow = wait_status(base, submit(base, samples / "videos/WolfgangLanger_Pexels.mp4", 96), {"failed"})
        assert slow["error"] == "WolfgangLanger_Pexels.mp4: timed out after 5 s" and slow["result"] is None
        # the timed-out worker was killed; the next job gets a fresh one
        fresh = wait_status(base, submit(base, samples / "images/obama.jpg", 1), {"done", "failed"})
        assert fresh["status"] == "done" and fresh["result"]["results"][0]["score"] == pytest.approx(
            finished["result"]["results"][0]["score"], abs=1e-6
        )
    finally:
        stop_server(server)
