"""The job store of ``fakescan serve``: one SQLite table (standard library ``sqlite3``, WAL mode) plus
one folder per job under the data folder.

A job moves ``queued → running → done | failed``. Every change is committed before the caller goes
on, so a server killed at any moment finds on restart every job it had accepted: finished ones with
their results, queued ones still queued (their upload is on disk), and the ones that were running
marked ``failed`` with the reason (:meth:`JobStore.recover`).

Each thread gets its own connection (``sqlite3`` connections are not shared between threads);
WAL lets the web handlers read while a worker thread writes.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["INTERRUPTED", "Job", "JobStatus", "JobStore", "parse_job_id"]

JobStatus = Literal["queued", "running", "done", "failed"]
INTERRUPTED = "interrupted: the server stopped while this job was running; upload the file again"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    filename TEXT NOT NULL,
    kind TEXT NOT NULL,
    model TEXT NOT NULL,
    options TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    progress REAL NOT NULL DEFAULT 0,
    result TEXT,
    error TEXT,
    artifacts TEXT NOT NULL DEFAULT '[]'
)
"""


def parse_job_id(text: str) -> str | None:
    """The canonical form of a UUID4 job id, or ``None`` for anything else.

    >>> parse_job_id("0b5c3d4e-8f1a-4b2c-9d3e-4f5a6b7c8d9e")
    '0b5c3d4e-8f1a-4b2c-9d3e-4f5a6b7c8d9e'
    >>> parse_job_id("../etc"), parse_job_id("00000000-0000-1000-8000-000000000000")
    (None, None)
    """
    try:
        value = uuid.UUID(text)
    except (ValueError, TypeError, AttributeError):
        return None
    return str(value) if value.version == 4 and str(value) == text.lower() else None


@dataclass(frozen=True)
class Job:
    """One job as stored.

    Attributes:
        id: UUID4; ``status``: queued, running, done or failed; ``filename``: the client's file name
            (shown, never used as a path); ``kind``: ``video`` or ``image`` (probed from the content);
        model: the model's name; ``options``: the request's options (e.g. ``frames``);
        created, started, finished: Unix times; ``progress``: 0–1;
        result: the ``predict --json`` document; ``error``: why it failed;
        artifacts: the names of the job's files (the only names ``/artifacts/{name}`` serves).
    """

    id: str
    status: JobStatus
    filename: str
    kind: str
    model: str
    options: dict[str, Any] = field(default_factory=dict)
    created: float = 0.0
    started: float | None = None
    finished: float | None = None
    progress: float = 0.0
    result: dict[str, Any] | None = None
    error: str | None = None
    artifacts: tuple[str, ...] = ()


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        status=row["status"],
        filename=row["filename"],
        kind=row["kind"],
        model=row["model"],
        options=json.loads(row["options"]),
        created=row["created"],
        started=row["started"],
        finished=row["finished"],
        progress=row["progress"],
        result=None if row["result"] is None else json.loads(row["result"]),
        error=row["error"],
        artifacts=tuple(json.loads(row["artifacts"])),
    )


class JobStore:
    """Jobs in ``data_dir/jobs.sqlite3``; job ``i``'s files in ``data_dir/jobs/i/``.

    >>> import tempfile
    >>> store = JobStore(tempfile.mkdtemp())
    >>> job = store.create("a.jpg", "image", "cnn", {"frames": 4})
    >>> store.get(job.id).status
    'queued'
    >>> store.start(job.id)
    True
    >>> store.finish(job.id, {"results": []}, ["timeline.png"])
    >>> store.get(job.id).status, store.get(job.id).artifacts
    ('done', ('timeline.png',))
    """

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        self.jobs_dir = self.data_dir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.data_dir / "jobs.sqlite3"
        self._local = threading.local()
        self._db().execute("PRAGMA journal_mode=WAL")
        with self._connect() as db:
            db.execute(_SCHEMA)

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def folder(self, job_id: str) -> Path:
        """The job's folder (its upload and artefacts)."""
        return self.jobs_dir / job_id

    def upload_path(self, job_id: str) -> Path:
        """Where the job's uploaded file is kept until the job ends."""
        return self.folder(job_id) / "upload.bin"

    def artifacts_dir(self, job_id: str) -> Path:
        """The folder of the job's artefacts."""
        return self.folder(job_id) / "artifacts"

    # -- changes --------------------------------------------------------------------------------

    def create(
        self, filename: str, kind: str, model: str, options: dict[str, Any], job_id: str | None = None
    ) -> Job:
        """Record a new queued job (its id a fresh UUID4 unless given)."""
        job_id = job_id or str(uuid.uuid4())
        with self._connect() as db:
            db.execute(
                "INSERT INTO jobs (id, status, filename, kind, model, options, created)"
                " VALUES (?,?,?,?,?,?,?)",
                (job_id, "queued", filename, kind, model, json.dumps(options), time.time()),
            )
        return self.get(job_id)  # type: ignore[return-value]

    def start(self, job_id: str) -> bool:
        """Mark a queued job running; ``False`` when it is no longer queued (deleted meanwhile)."""
        with self._connect() as db:
            done = db.execute(
                "UPDATE jobs SET status='running', started=?, progress=0 WHERE id=? AND status='queued'",
                (time.time(), job_id),
            )
        return done.rowcount == 1

    def progress(self, job_id: str, fraction: float) -> None:
        """Record a running job's progress (0–1)."""
        with self._connect() as db:
            db.execute(
                "UPDATE jobs SET progress=? WHERE id=? AND status='running'",
                (max(0.0, min(1.0, fraction)), job_id),
            )

    def finish(self, job_id: str, result: dict[str, Any], artifacts: list[str]) -> None:
        """Mark a job done with its result and artefact names."""
        with self._connect() as db:
            db.execute(
                "UPDATE jobs SET status='done', finished=?, progress=1, result=?, artifacts=? WHERE id=?",
                (time.time(), json.dumps(result), json.dumps(artifacts), job_id),
            )

    def fail(
        self,
        job_id: str,
        error: str,
        result: dict[str, Any] | None = None,
        artifacts: list[str] | None = None,
    ) -> None:
        """Mark a job failed with a one-line reason (and, e.g. for ``no_face``, the result so far)."""
        with self._connect() as db:
            db.execute(
                "UPDATE jobs SET status='failed', finished=?, error=?, result=?, artifacts=? WHERE id=?",
                (
                    time.time(),
                    error,
                    None if result is None else json.dumps(result),
                    json.dumps(artifacts or []),
                    job_id,
                ),
            )

    def delete(self, job_id: str) -> bool:
        """Forget a job and delete its files; ``False`` when there was no such job."""
        with self._connect() as db:
            gone = db.execute("DELETE FROM jobs WHERE id=?", (job_id,)).rowcount == 1
        shutil.rmtree(self.folder(job_id), ignore_errors=True)
        return gone

    def recover(self) -> list[str]:
        """After a restart: mark jobs that were running as failed (:data:`INTERRUPTED`) and delete
        their files, delete the folders of jobs no row knows, and return the queued jobs' ids
        (oldest first) to run again.

        A queued job whose upload is missing is failed too.
        """
        with self._connect() as db:
            running = [r["id"] for r in db.execute("SELECT id FROM jobs WHERE status='running'")]
            db.execute(
                "UPDATE jobs SET status='failed', finished=?, error=? WHERE status='running'",
                (time.time(), INTERRUPTED),
            )
            queued = [
                r["id"] for r in db.execute("SELECT id FROM jobs WHERE status='queued' ORDER BY created")
            ]
            known = {r["id"] for r in db.execute("SELECT id FROM jobs")}
        for job_id in running:  # its upload and half-written artefacts
            shutil.rmtree(self.folder(job_id), ignore_errors=True)
        for folder in self.jobs_dir.iterdir():
            if folder.name not in known:
                shutil.rmtree(folder, ignore_errors=True)
        ready = []
        for job_id in queued:
            if self.upload_path(job_id).is_file():
                ready.append(job_id)
            else:
                self.fail(job_id, "the uploaded file was lost before the job ran; upload it again")
        return ready

    def expire(self, older_than_s: float) -> list[str]:
        """Delete finished jobs (done or failed) that ended more than ``older_than_s`` ago, and
        their files; return their ids."""
        cutoff = time.time() - older_than_s
        with self._connect() as db:
            old = [
                r["id"]
                for r in db.execute(
                    "SELECT id FROM jobs WHERE status IN ('done','failed') AND finished < ?", (cutoff,)
                )
            ]
        for job_id in old:
            self.delete(job_id)
        return old

    # -- reads ----------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        """The job, or ``None``."""
        row = self._db().execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        return None if row is None else _job(row)

    def count(self, status: JobStatus) -> int:
        """How many jobs have this status."""
        return int(self._db().execute("SELECT COUNT(*) FROM jobs WHERE status=?", (status,)).fetchone()[0])
