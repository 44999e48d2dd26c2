"""What every benchmark script shares: naming the CPU, and printing or rewriting its own section of
BENCHMARKS.md.

Each script owns the text between its ``<!-- name:start -->`` and ``<!-- name:end -->`` markers in
BENCHMARKS.md; :func:`write_section` replaces that text, or appends the section when it is absent,
and leaves the rest of the file alone. Scripts import this module by its bare name, since they run
as ``python benchmarks/<script>.py`` (which puts this folder first on ``sys.path``).
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

__all__ = ["cpu_model", "publish", "usable_cores", "write_section"]


def cpu_model() -> str:
    """The CPU's model name (from ``/proc/cpuinfo`` on Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or platform.machine()
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.machine()


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def write_section(path: Path, section: str, start_marker: str, end_marker: str) -> None:
    """Replace the text from ``start_marker`` to ``end_marker`` in ``path`` by ``section`` (which
    carries both markers), or append ``section`` when the markers are absent."""
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    start, end = text.find(start_marker), text.find(end_marker)
    if start != -1 and end > start:
        text = text[:start] + section.rstrip("\n") + text[end + len(end_marker) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def publish(section: str, path: Path, write: bool, start_marker: str, end_marker: str) -> None:
    """Print ``section`` without its markers and, with ``write``, put it into ``path``
    (:func:`write_section`)."""
    print()
    print(section.replace(start_marker + "\n", "").replace(end_marker + "\n", ""))
    if write:
        write_section(path, section, start_marker, end_marker)
        print(f"updated {path}")
