"""Atomic file writes: a temporary file in the target's folder, flushed, then renamed over it.

A reader (or a re-run after ``kill -9``) sees the old file or the new one, never a partial one.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["TMP_MARK", "atomic_write_bytes", "atomic_write_text"]

TMP_MARK = ".fakescan-tmp"
"""Part of every temporary file name, so that leftovers of a killed run can be found and removed."""


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_MARK}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))
