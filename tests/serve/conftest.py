"""Fixtures of the serve tests: a checkpoint, an app under FastAPI's TestClient, a real server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fakescan.serve import PoolSettings, ServeSettings, create_app, resolve_models
from tests.predict import make_checkpoint

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
UPLOAD_LIMIT = 3_000_000


@pytest.fixture(scope="session")
def serve_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small CNN checkpoint (untrained, 64 px, threshold 0.3) in a run folder of its own."""
    return make_checkpoint(tmp_path_factory.mktemp("run"), "cnn", image_size=64, threshold=0.3)


@pytest.fixture(scope="module")
def client(serve_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app with one worker, a queue of one, a token and a 3 MB upload limit."""
    settings = ServeSettings(
        models=tuple(resolve_models([f"tiny={serve_checkpoint}"])),
        data_dir=tmp_path_factory.mktemp("serve-data"),
        token=TOKEN,
        pool=PoolSettings(workers=1, queue_limit=1, job_timeout_s=120),
        max_upload_bytes=UPLOAD_LIMIT,
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def wait_for(
    client: Any,
    job_id: str,
    until: tuple[str, ...] = ("done", "failed"),
    timeout: float = 120.0,
    headers: dict | None = None,
) -> dict:
    """Poll a job (``client``: a TestClient or an ``httpx.Client`` with a base URL) until its status
    is one of ``until`` (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/api/v1/jobs/{job_id}", headers=AUTH if headers is None else headers)
        assert response.status_code == 200, response.text
        job = response.json()
        if job["status"] in until:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not {' or '.join(until)} within {timeout} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(checkpoint: Path, data_dir: Path, port: int, *extra: str) -> subprocess.Popen:
    """``fakescan serve`` in a process of its own on 127.0.0.1; returns once /healthz answers (≤ 120 s)."""
    import httpx

    log = (data_dir.parent / f"server-{port}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "fakescan", "serve", "--model", str(checkpoint), "--port", str(port),
         "--data-dir", str(data_dir), "--workers", "1", *extra],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}: {log.name}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise AssertionError("the server did not answer /healthz within 120 s")


def stop_server(process: subprocess.Popen) -> None:
    """Terminate (then kill) the server, bounded."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
