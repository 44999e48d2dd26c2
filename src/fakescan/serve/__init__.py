"""``fakescan serve``: a detection service with a REST API and a web page.

``store`` keeps jobs in SQLite (WAL) beside a folder per job; ``upload`` streams a multipart upload
to disk under a size limit; ``runner`` is what a worker process does (the models loaded once, one
``predict`` per job plus per-frame pictures); ``pool`` runs the workers from a bounded queue with a
per-job timeout; ``app`` is the FastAPI application; ``static/`` the page. Needs the ``serve``
extra (FastAPI, uvicorn, python-multipart).
"""

from fakescan.serve.app import ServeSettings, create_app, open_service
from fakescan.serve.pool import PoolSettings
from fakescan.serve.runner import ModelSpec, resolve_models
from fakescan.serve.store import JobStore

__all__ = [
    "JobStore",
    "ModelSpec",
    "PoolSettings",
    "ServeSettings",
    "create_app",
    "open_service",
    "resolve_models",
]
