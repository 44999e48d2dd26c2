"""The FastAPI application of ``fakescan serve``: the REST API under ``/api/v1`` and the web page.

Routes (see ``docs/serve.md`` for the JSON they answer):

- ``POST /api/v1/jobs`` — a multipart upload of one video or image (field ``file``; optional
  fields ``model`` and ``frames``) → ``202 {"id": ...}``; 429 with ``Retry-After`` when the queue
  is full, 413 past the size limit, 415/400 for a file that is not a readable video or image;
- ``GET /api/v1/jobs/{id}`` — status, progress and, when done, the ``predict --json`` document;
- ``GET /api/v1/jobs/{id}/artifacts/{name}`` — a picture or video the job wrote (only names in
  the job's own list);
- ``DELETE /api/v1/jobs/{id}``, ``GET /api/v1/models``, ``GET /healthz``;
- ``/`` — the page (static files shipped in the package, no external resource).

Every ``/api/v1`` call needs ``Authorization: Bearer <token>`` when the server has a token
(compared in constant time with :func:`secrets.compare_digest`). No CORS headers are sent, so
other sites' pages cannot read the API from a browser.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from fakescan.errors import ConfigError, InputError
from fakescan.serve.pool import PoolSettings, WorkerPool
from fakescan.serve.runner import ModelSpec, probe_media
from fakescan.serve.store import Job, JobStore, parse_job_id
from fakescan.serve.upload import UploadError, receive_upload

__all__ = ["LOOPBACK", "ServeSettings", "create_app", "job_document", "open_service"]

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_FRAMES = 128
_MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".mp4": "video/mp4"}


@dataclass(frozen=True)
class ServeSettings:
    """Everything ``fakescan serve`` is configured with.

    Attributes:
        models: the models to serve (the first is the default).
        data_dir: the job database and job folders.
        host: where the server binds (checked against ``token``/``no_auth``).
        token: the bearer token every API call must carry, or ``None``.
        no_auth: allow binding beyond loopback without a token.
        pool: workers, queue limit, job timeout, device.
        max_upload_bytes: upload size limit, enforced while streaming.
        retention_s: finished jobs and their files are deleted this long after they end.
        default_frames: frames per video when a request does not say.
    """

    models: tuple[ModelSpec, ...]
    data_dir: Path
    host: str = "127.0.0.1"
    token: str | None = None
    no_auth: bool = False
    pool: PoolSettings = field(default_factory=PoolSettings)
    max_upload_bytes: int = 500_000_000
    retention_s: float = 7 * 24 * 3600.0
    default_frames: int = 32

    def __post_init__(self) -> None:
        if self.host not in LOOPBACK and not self.token and not self.no_auth:
            raise ConfigError(
                f"--host {self.host} reaches beyond this machine: give --token T (clients send "
                "'Authorization: Bearer T') or --no-auth"
            )
        if self.token is not None and len(self.token) < 8:
            raise ConfigError("--token must be at least 8 characters")
        if self.max_upload_bytes < 1:
            raise ConfigError(f"--max-upload-mb must be positive, got {self.max_upload_bytes} bytes")
        if self.retention_s <= 0:
            raise ConfigError(f"--retention-hours must be positive, got {self.retention_s / 3600:g}")
        if not 1 <= self.default_frames <= MAX_FRAMES:
            raise ConfigError(f"--frames must be between 1 and {MAX_FRAMES}, got {self.default_frames}")


def _static_dir() -> Path:
    return Path(str(resources.files("fakescan.serve") / "static"))


def job_document(job: Job) -> dict[str, Any]:
    """The JSON of ``GET /api/v1/jobs/{id}``."""
    base = f"/api/v1/jobs/{job.id}/artifacts/"
    return {
        "id": job.id,
        "status": job.status,
        "progress": round(job.progress, 3),
        "filename": job.filename,
        "kind": job.kind,
        "model": job.model,
        "options": job.options,
        "created": job.created,
        "started": job.started,
        "finished": job.finished,
        "error": job.error,
        "result": job.result,
        "artifacts": {name: base + name for name in job.artifacts},
    }


def open_service(settings: ServeSettings) -> tuple[JobStore, WorkerPool]:
    """Open the job store, recover the jobs an earlier run left (running ones fail, queued ones are
    queued again), delete expired jobs, and start the worker pool (every worker loads the models).

    Raises:
        ConfigError: a model cannot be loaded (the first worker's one-line reason).
    """
    store = JobStore(settings.data_dir)
    requeue = store.recover()
    store.expire(settings.retention_s)
    pool = WorkerPool(store, settings.models, settings.pool)
    pool.start()
    for job_id in requeue:
        pool.submit(job_id, force=True)
    return store, pool


def create_app(settings: ServeSettings, service: tuple[JobStore, WorkerPool] | None = None) -> FastAPI:
    """The application. Its lifespan uses ``service`` (from :func:`open_service`) or opens one,
    runs the retention sweeper, and stops the workers at shutdown."""
    state: dict[str, Any] = {}
    model_names = [m.name for m in settings.models]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store, pool = service if service is not None else await asyncio.to_thread(open_service, settings)
        stop = threading.Event()
        interval = min(60.0, settings.retention_s / 10)

        def sweep() -> None:
            while not stop.wait(interval):
                store.expire(settings.retention_s)

        sweeper = threading.Thread(target=sweep, daemon=True, name="serve-retention")
        sweeper.start()
        state.update(store=store, pool=pool)
        app.state.store, app.state.pool = store, pool
        try:
            yield
        finally:
            stop.set()
            await asyncio.to_thread(pool.stop)

    app = FastAPI(
        title="fakescan serve",
        version="1",
        description="Deepfake detection: upload a video or image, get the verdict and its evidence.",
        lifespan=lifespan,
    )

    def authorise(request: Request) -> None:
        if settings.token is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        expected = settings.token.encode()
        if scheme.lower() != "bearer" or not secrets.compare_digest(value.strip().encode(), expected):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    def find(job_id: str) -> Job:
        canonical = parse_job_id(job_id)
        job = None if canonical is None else state["store"].get(canonical)
        if job is None:
            raise HTTPException(404, "no such job")
        return job

    auth = [Depends(authorise)]

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", **state["pool"].stats()}

    @app.get("/api/v1/models", dependencies=auth)
    def models() -> dict[str, Any]:
        return {"default": model_names[0], "models": state["pool"].models, "max_frames": MAX_FRAMES}

    @app.post("/api/v1/jobs", status_code=202, dependencies=auth)
    async def create_job(request: Request) -> Response:
        store: JobStore = state["store"]
        pool: WorkerPool = state["pool"]
        if not pool.has_room():
            return _too_busy(pool)
        declared = request.headers.get("content-length")
        if (
            declared is not None
            and declared.isdigit()
            and int(declared) > settings.max_upload_bytes + 64 * 1024
        ):
            raise HTTPException(
                413, f"the upload is larger than the limit ({settings.max_upload_bytes} bytes)"
            )
        job_id = _new_id(store)
        folder = store.folder(job_id)
        folder.mkdir(parents=True)
        target = store.upload_path(job_id)
        try:
            upload = await receive_upload(
                request.headers.get("content-type", ""), request.stream(), target, settings.max_upload_bytes
            )
            shown = Path((upload.filename or "upload").replace("\\", "/")).name or "upload"
            model = upload.fields.get("model") or model_names[0]
            if model not in model_names:
                raise UploadError(400, f"unknown model {model!r}; served: {', '.join(model_names)}")
            frames = _frames(upload.fields.get("frames"), settings.default_frames)
            try:
                kind = await asyncio.to_thread(probe_media, target, shown)
            except InputError as error:
                raise UploadError(415 if "not a readable" in error.reason else 400, str(error)) from None
        except UploadError as error:
            shutil.rmtree(folder, ignore_errors=True)
            raise HTTPException(error.status, error.message) from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        store.create(shown, kind, model, {"frames": frames}, job_id=job_id)
        if not pool.submit(job_id):
            store.delete(job_id)
            return _too_busy(pool)
        return JSONResponse(
            {"id": job_id, "status": "queued", "url": f"/api/v1/jobs/{job_id}"},
            status_code=202,
            headers={"Location": f"/api/v1/jobs/{job_id}"},
        )

    @app.get("/api/v1/jobs/{job_id}", dependencies=auth)
    def get_job(job_id: str) -> dict[str, Any]:
        return job_document(find(job_id))

    @app.delete("/api/v1/jobs/{job_id}", status_code=204, dependencies=auth)
    def delete_job(job_id: str) -> Response:
        job = find(job_id)
        state["store"].delete(job.id)
        return Response(status_code=204)

    @app.get("/api/v1/jobs/{job_id}/artifacts/{name}", dependencies=auth)
    def artifact(job_id: str, name: str) -> FileResponse:
        job = find(job_id)
        if name not in job.artifacts:
            raise HTTPException(404, "no such artefact for this job")
        path = state["store"].artifacts_dir(job.id) / name
        if not path.is_file():
            raise HTTPException(404, "no such artefact for this job")
        return FileResponse(path, media_type=_MEDIA_TYPES.get(path.suffix, "application/octet-stream"))

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(_static_dir() / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=_static_dir()), name="static")
    return app


def _new_id(store: JobStore) -> str:
    import uuid

    while True:
        job_id = str(uuid.uuid4())
        if not store.folder(job_id).exists():
            return job_id


def _frames(text: str | None, default: int) -> int:
    if text is None or text == "":
        return default
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_FRAMES:
        raise UploadError(400, f"frames must be a whole number from 1 to {MAX_FRAMES}, got {text!r}")
    return int(text)


def _too_busy(pool: WorkerPool) -> JSONResponse:
    seconds = pool.retry_after()
    return JSONResponse(
        {"detail": f"the queue is full; try again in {seconds} s"},
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )
