"""Atomic file writes: a temporary file in the target's folder, flushed, then renamed over it.

A reader (or a re-run after ``kill -9``) sees the old file or the new one, never a partial one.
A write that fails (disk full, a folder in the way, a read-only location) raises
:class:`~fakescan.errors.OutputError` naming the file, and leaves no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from fakescan.errors import OutputError

__all__ = ["TMP_MARK", "atomic_write_bytes", "atomic_write_text", "check_output_file", "make_output_dir"]

TMP_MARK = ".fakescan-tmp"
"""Part of every temporary file name, so that leftovers of a killed run can be found and removed."""


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """A temporary file name in ``path``'s folder, removed afterwards in any case; an ``OSError``
    raised inside becomes an :class:`OutputError` naming ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_MARK}")
    try:
        yield tmp
    except OSError as error:
        raise OutputError.from_os_error(path, error) from error
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically.

    Raises:
        OutputError: the file cannot be written.
    """
    path = Path(path)
    with _temporary_beside(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def make_output_dir(path: str | Path) -> Path:
    """Create the output folder ``path`` (and its parents) if needed, and return it.

    Raises:
        OutputError: ``path`` (or a parent) is a file, or the folder cannot be created.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(path, "is a file, not a folder: choose another output folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError.from_os_error(path, error) from error
    return path


def check_output_file(path: str | Path) -> Path:
    """Make sure the file ``path`` can be written later, before any work is done; return it.

    Creates its folder if needed, and creates and removes a temporary file beside it.

    Raises:
        OutputError: ``path`` is a folder, its folder cannot be made, or nothing can be written there.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(path, "is a folder: give the path of a file to write")
    make_output_dir(path.parent)
    with _temporary_beside(path) as probe, open(probe, "wb"):
        pass
    return path
