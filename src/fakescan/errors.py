"""Exceptions raised by fakescan.

The tree::

    FakescanError                 base of everything fakescan raises on purpose
    ├── InputError                a file given by the user cannot be used (missing, unreadable, corrupt)
    │   └── DecodeError           a media file opened but its frames could not be decoded
    ├── DetectorError             a face detector cannot be built (missing package, bad weights file)
    ├── ConfigError               an option or config value is invalid
    ├── DatasetLayoutError        a data set folder does not match its official layout
    ├── SplitLeakError            a video (or source identity) appears in more than one split
    └── CheckpointMismatchError   a checkpoint does not fit the model or data it is used with

The library raises these with the offending path and what to do next; the CLI prints ``str(error)``
on one line and exits with code 1 (``--debug`` shows the traceback).
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CheckpointMismatchError",
    "ConfigError",
    "DatasetLayoutError",
    "DecodeError",
    "DetectorError",
    "FakescanError",
    "InputError",
    "SplitLeakError",
]


class FakescanError(Exception):
    """Base class of the errors fakescan raises on purpose."""


class InputError(FakescanError):
    """A user-given file cannot be used.

    Attributes:
        path: the file concerned.
        reason: a short, lower-case phrase saying what is wrong (e.g. ``"file not found"``).
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DecodeError(InputError):
    """A media file opened, but its frames could not be decoded."""


class DetectorError(FakescanError):
    """A face detector could not be built."""


class ConfigError(FakescanError):
    """An option or configuration value is invalid."""


class DatasetLayoutError(FakescanError):
    """A data set folder does not match its official layout."""


class SplitLeakError(FakescanError):
    """A video or source identity appears in more than one split."""


class CheckpointMismatchError(FakescanError):
    """A checkpoint does not fit the model or data it is used with."""
