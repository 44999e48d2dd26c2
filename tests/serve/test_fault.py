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

from fakescan.serve.app import MAX_FRAMES
from fakescan.serve.store import INTERRUPTED
from tests.serve.conftest import free_port, start_server, stop_server, wait_for


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


def submit(client: httpx.Client, path: Path, frames: int) -> str:
    files = {"file": (path.name, path.read_bytes())}
    answer = client.post("/api/v1/jobs", files=files, data={"frames": str(frames)})
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def served(port: int) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)


@pytest.mark.slow
def test_kill_9_during_a_job_then_restart(samples: Path, serve_checkpoint: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    server = start_server(serve_checkpoint, data, port)
    try:
        with served(port) as client:
            finished = wait_for(client, submit(client, samples / "images/obama.jpg", 1), ("done",))
            long_id = submit(client, samples / "videos/WolfgangLanger_Pexels.mp4", 96)
            wait_for(client, long_id, ("running",))
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
    # A job of MAX_FRAMES frames takes several times the timeout on any machine; a one-frame photo
    # job takes a fraction of it.
    server = start_server(serve_checkpoint, data, port, "--job-timeout", "2")
    try:
        with served(port) as client:
            again = client.get(f"/api/v1/jobs/{finished['id']}").json()
            assert again["status"] == "done" and again["result"] == finished["result"]
            picture = client.get(again["artifacts"]["frame-0-heatmap.png"])
            assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
            interrupted = client.get(f"/api/v1/jobs/{long_id}").json()
            assert interrupted["status"] == "failed" and interrupted["error"] == INTERRUPTED
            assert interrupted["result"] is None and not (data / "jobs" / long_id / "upload.bin").exists()
            slow = wait_for(client, submit(client, samples / "videos/WolfgangLanger_Pexels.mp4", MAX_FRAMES))
            assert slow["status"] == "failed" and slow["result"] is None
            assert slow["error"] == "WolfgangLanger_Pexels.mp4: timed out after 2 s"
            # the timed-out worker was killed; the next job gets a fresh one
            fresh = wait_for(client, submit(client, samples / "images/obama.jpg", 1))
            assert fresh["status"] == "done", fresh
            score, before = fresh["result"]["results"][0]["score"], finished["result"]["results"][0]["score"]
            assert score == pytest.approx(before, abs=1e-6)
    finally:
        stop_server(server)
