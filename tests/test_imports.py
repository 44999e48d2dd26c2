"""``import fakescan`` and the command line's start stay light: no torch, OpenCV or dlib until needed."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "cv2", "dlib", "av", "ai_edge_litert", "sklearn", "matplotlib")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint('loaded:', *(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.strip().splitlines()[-1].split()[1:])


@pytest.mark.parametrize(
    "code",
    [
        "import fakescan",
        "import fakescan.cli",
        "import fakescan.data.faces",
        "from fakescan.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass",
    ],
)
def test_start_up_imports_no_heavy_library(code: str) -> None:
    assert _loaded_after(code) == set()


def test_a_detector_is_built_once_per_process_and_loads_only_its_backend() -> None:
    loaded = _loaded_after(
        "from fakescan.data.faces import shared_detector\n"
        "assert shared_detector('haar', max_side=320) is shared_detector('haar', max_side=320)\n"
        "assert shared_detector('haar', max_side=320) is not shared_detector('haar', max_side=480)"
    )
    assert "cv2" in loaded
    assert not loaded & {"torch", "dlib"}


def test_the_command_line_default_detector_is_the_library_one() -> None:
    from fakescan import cli
    from fakescan.data.faces import DEFAULT_DETECTOR

    assert cli._DEFAULT_DETECTOR == DEFAULT_DETECTOR
