"""fakescan.serve.store: jobs survive a restart; interrupted ones fail with a reason; retention."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from fakescan.serve.store import INTERRUPTED, JobStore


def test_jobs_persist_and_a_restart_fails_the_running_ones(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    done = store.create("a.jpg", "image", "m", {"frames": 1})
    running = store.create("b.mp4", "video", "m", {"frames": 4})
    waiting = store.create("c.mp4", "video", "m", {"frames": 4})
    lost = store.create("d.mp4", "video", "m", {"frames": 4})
    for job in (running, waiting):
        store.folder(job.id).mkdir()
        store.upload_path(job.id).write_bytes(b"media")
    store.start(done.id)
    store.finish(done.id, {"results": [{"verdict": "real"}]}, ["frame-0.jpg"])
    store.start(running.id)
    store.progress(running.id, 0.4)
    (tmp_path / "jobs" / "stray").mkdir()

    reopened = JobStore(tmp_path)  # what a restarted server sees
    assert sqlite3.connect(reopened.db_path).execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert reopened.recover() == [waiting.id]
    assert reopened.get(done.id).result == {"results": [{"verdict": "real"}]}
    assert reopened.get(done.id).artifacts == ("frame-0.jpg",)
    interrupted = reopened.get(running.id)
    assert (interrupted.status, interrupted.error, interrupted.progress) == ("failed", INTERRUPTED, 0.4)
    assert not reopened.folder(running.id).exists()
    assert reopened.get(waiting.id).status == "queued"
    assert reopened.get(lost.id).status == "failed" and "lost" in reopened.get(lost.id).error
    assert not (tmp_path / "jobs" / "stray").exists()


def test_retention_deletes_finished_jobs_and_their_files_only(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    old = store.create("a.jpg", "image", "m", {})
    fresh = store.create("b.jpg", "image", "m", {})
    queued = store.create("c.jpg", "image", "m", {})
    for job in (old, fresh):
        store.artifacts_dir(job.id).mkdir(parents=True)
        store.start(job.id)
        store.finish(job.id, {}, [])
    with sqlite3.connect(store.db_path) as db:
        db.execute("UPDATE jobs SET finished = finished - 7200 WHERE id = ?", (old.id,))
    assert store.expire(3600) == [old.id]
    assert store.get(old.id) is None and not store.folder(old.id).exists()
    assert store.get(fresh.id).status == "done" and store.folder(fresh.id).exists()
    assert store.get(queued.id).status == "queued"


def test_a_deleted_job_cannot_start(tmp_path: Path) -> None:
    store = JobStore(tmp_path)
    job = store.create("a.jpg", "image", "m", {})
    assert store.delete(job.id) and not store.start(job.id) and not store.delete(job.id)
