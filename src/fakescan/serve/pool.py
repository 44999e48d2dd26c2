"""The bounded worker pool of ``fakescan serve``: worker processes fed from a queue with a limit.

Each worker is a process (``spawn``) that loads the models once (:class:`JobRunner`) and then runs
one job at a time, sent over a pipe; a thread in the server waits for each worker's messages
(progress, result), so no work runs on the event loop. A job that runs past the timeout has its
worker killed and restarted and is marked failed; a worker that dies (a crash in a decoder) is
restarted too, and its job is failed with the exit code. A worker notices that the server is
gone (the pipe closes) and exits.

The queue holds at most ``queue_limit`` waiting jobs: :meth:`WorkerPool.submit` refuses more,
and the API answers 429 with :meth:`WorkerPool.retry_after` seconds.
"""

from __future__ import annotations

import math
import multiprocessing
import queue
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fakescan.errors import ConfigError, FakescanError
from fakescan.serve.runner import JobOutcome, JobRequest, JobRunner, ModelSpec
from fakescan.serve.store import INTERRUPTED, JobStore

__all__ = ["PoolSettings", "WorkerPool"]

_READY_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class PoolSettings:
    """How jobs run: ``workers`` processes, at most ``queue_limit`` jobs waiting, ``job_timeout_s``
    per job, torch models on ``device`` with ``torch_threads`` threads per worker, faces found by
    ``detector`` (a :data:`fakescan.data.faces.DETECTORS` name, as for ``fakescan predict``; ``None``:
    for each model the detector its training crops were cut with, else the default)."""

    workers: int = 2
    queue_limit: int = 16
    job_timeout_s: float = 600.0
    device: str = "cpu"
    torch_threads: int = 1
    detector: str | None = None

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {self.workers}")
        if self.queue_limit < 1:
            raise ConfigError(f"--queue-limit must be at least 1, got {self.queue_limit}")
        if self.job_timeout_s <= 0:
            raise ConfigError(f"--job-timeout must be positive, got {self.job_timeout_s}")


def _worker_main(
    conn: Any, specs: Sequence[ModelSpec], device: str, torch_threads: int, detector: str | None
) -> None:
    """A worker process: load the models, say ready (or why not), then run jobs until told to stop."""
    import torch

    torch.set_num_threads(torch_threads)
    try:
        runner = JobRunner(specs, device=device, detector=detector)
    except FakescanError as error:
        conn.send(("error", str(error)))
        return
    except Exception as error:
        conn.send(("error", f"cannot load the models ({type(error).__name__}: {error})".splitlines()[0]))
        return
    conn.send(("ready", runner.describe()))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        try:
            outcome = runner.run(request, lambda fraction: conn.send(("progress", fraction)))
        except Exception as error:  # a fault of ours or of a library: the job fails, the worker goes on
            first = f"{type(error).__name__}: {error}".splitlines()[0]
            outcome = JobOutcome("failed", error=f"{request.filename}: internal error ({first})")
        try:
            conn.send(("result", outcome))
        except (BrokenPipeError, OSError):
            return


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, specs: Sequence[ModelSpec], settings: PoolSettings) -> None:
        self.specs = specs
        self.settings = settings
        self.process: Any = None
        self.conn: Any = None
        self.models: list[dict[str, Any]] = []
        self.stopping = False

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main,
            args=(
                child,
                list(self.specs),
                self.settings.device,
                self.settings.torch_threads,
                self.settings.detector,
            ),
            daemon=True,
            name="fakescan-serve-worker",
        )
        self.process.start()
        child.close()
        self.conn = parent
        if not parent.poll(_READY_TIMEOUT_S):
            self.kill()
            raise ConfigError(f"a worker did not load the models within {_READY_TIMEOUT_S:.0f} s")
        try:
            kind, payload = parent.recv()
        except EOFError:
            code = self.process.exitcode
            self.kill()
            raise ConfigError(f"a worker exited while loading the models (exit code {code})") from None
        if kind != "ready":
            self.kill()
            raise ConfigError(payload)
        self.models = payload

    def kill(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
        if self.process is not None:
            self.process.join(5)
        if self.conn is not None:
            self.conn.close()

    def stop(self) -> None:
        """Stop the process now (a job it is running ends as interrupted)."""
        self.stopping = True
        self.kill()

    def run(self, request: JobRequest, store: JobStore) -> JobOutcome:
        """Send one job and wait for its result; on a timeout or a crash the worker is killed (and
        started afresh before the next job)."""
        if self.stopping:
            return JobOutcome("failed", error=INTERRUPTED)
        if self.process is None or not self.process.is_alive():
            self.start()  # killed after a timeout or a crash: a fresh worker for the next job
        timeout = self.settings.job_timeout_s
        deadline = time.monotonic() + timeout
        self.conn.send(request)
        while True:
            remaining = deadline - time.monotonic()
            try:
                ready = remaining > 0 and self.conn.poll(remaining)
                message = self.conn.recv() if ready else None
            except (EOFError, OSError):
                if self.stopping:
                    return JobOutcome("failed", error=INTERRUPTED)
                self.kill()
                code = self.process.exitcode
                return JobOutcome("failed", error=f"{request.filename}: the worker died (exit code {code})")
            if message is None:
                self.kill()
                return JobOutcome("failed", error=f"{request.filename}: timed out after {timeout:g} s")
            kind, payload = message
            if kind == "progress":
                store.progress(request.job_id, payload)
            else:
                return payload


class WorkerPool:
    """``settings.workers`` worker processes serving the jobs of ``store``.

    Call :meth:`start` (loads the models in every worker; raises :class:`ConfigError` with the
    first worker's reason when they cannot be loaded), :meth:`submit` job ids, :meth:`stop`.
    """

    def __init__(self, store: JobStore, specs: Sequence[ModelSpec], settings: PoolSettings) -> None:
        self.store = store
        self.specs = list(specs)
        self.settings = settings
        self._workers = [_Worker(self.specs, settings) for _ in range(settings.workers)]
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._waiting = 0
        self._busy = 0
        self._mean_s = 5.0
        self._threads: list[threading.Thread] = []
        self._stopping = False

    @property
    def models(self) -> list[dict[str, Any]]:
        """The served models as the workers loaded them."""
        return self._workers[0].models

    def start(self) -> None:
        """Start the workers (in parallel) and their dispatcher threads."""
        errors: list[Exception] = []

        def boot(worker: _Worker) -> None:
            try:
                worker.start()
            except Exception as error:
                errors.append(error)

        booting = [threading.Thread(target=boot, args=(w,)) for w in self._workers]
        for thread in booting:
            thread.start()
        for thread in booting:
            thread.join()
        if errors:
            for worker in self._workers:
                worker.kill()
            raise errors[0]
        for worker in self._workers:
            thread = threading.Thread(
                target=self._dispatch, args=(worker,), daemon=True, name="serve-dispatch"
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop the workers now: running jobs end as failed (interrupted), queued jobs stay queued in
        the store and run after the next start."""
        self._stopping = True
        for _ in self._threads:
            self._queue.put(None)
        for worker in self._workers:
            worker.stop()
        for thread in self._threads:
            thread.join(10)

    def has_room(self) -> bool:
        """Whether one more job may wait in the queue."""
        with self._lock:
            return self._waiting < self.settings.queue_limit

    def submit(self, job_id: str, force: bool = False) -> bool:
        """Queue a job; ``False`` (nothing queued) when the queue is full, unless ``force``."""
        with self._lock:
            if not force and self._waiting >= self.settings.queue_limit:
                return False
            self._waiting += 1
        self._queue.put(job_id)
        return True

    def retry_after(self) -> int:
        """Seconds after which a refused client may try again: the expected wait for a free place."""
        with self._lock:
            ahead = self._waiting - self.settings.queue_limit + 1 + self._busy
            return max(1, math.ceil(self._mean_s * max(ahead, 1) / self.settings.workers))

    def stats(self) -> dict[str, int]:
        """Jobs waiting and running now."""
        with self._lock:
            return {"queued": self._waiting, "running": self._busy, "workers": len(self._workers)}

    def _dispatch(self, worker: _Worker) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None or self._stopping:
                return
            with self._lock:
                self._waiting -= 1
            job = self.store.get(job_id)
            if job is None or not self.store.start(job_id):
                continue  # deleted while it waited
            with self._lock:
                self._busy += 1
            started = time.monotonic()
            request = JobRequest(
                job_id=job_id,
                upload=self.store.upload_path(job_id),
                kind=job.kind,  # type: ignore[arg-type]
                filename=job.filename,
                model=job.model,
                frames=int(job.options.get("frames", 32)),
                out_dir=self.store.artifacts_dir(job_id),
            )
            try:
                outcome = worker.run(request, self.store)
            except Exception as error:  # the worker could not be restarted: the job fails, say why
                outcome = JobOutcome("failed", error=f"{job.filename}: worker failure ({error})")
            self._record(job_id, outcome)
            with self._lock:
                self._busy -= 1
                self._mean_s = 0.8 * self._mean_s + 0.2 * (time.monotonic() - started)

    def _record(self, job_id: str, outcome: JobOutcome) -> None:
        self.store.upload_path(job_id).unlink(missing_ok=True)
        if self.store.get(job_id) is None:  # deleted while it ran
            shutil.rmtree(self.store.folder(job_id), ignore_errors=True)
            return
        if outcome.status == "done":
            self.store.finish(job_id, outcome.result or {}, list(outcome.artifacts))
        else:
            if not outcome.artifacts:
                shutil.rmtree(self.store.artifacts_dir(job_id), ignore_errors=True)
            self.store.fail(job_id, outcome.error or "failed", outcome.result, list(outcome.artifacts))
