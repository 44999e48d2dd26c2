"""Exceptions raised by fakescan.

The tree::

    FakescanError                 base of everything fakescan raises on purpose
    ├── InputError                a file given by the user cannot be used (missing, unreadable, corrupt)
    │   ├── DecodeError           a media file opened but its frames could not be decoded
    │   └── FrameRangeError       the frame range asked for lies beyond the end of a video
    ├── OutputError               an output file or folder cannot be written (disk full, a file in the way)
    ├── DetectorError             a face detector cannot be built (missing package, bad weights file)
    ├── ConfigError               an option or config value is invalid
    │   └── UsageError            a command-line option value is invalid (exit code 2)
    ├── DatasetLayoutError        a data set folder does not match its official layout
    ├── SplitLeakError            a video (or source identity) appears in more than one split
    └── CheckpointMismatchError   a checkpoint does not fit the model or data it is used with

The library raises these with the offending path and what to do next; the CLI prints ``str(error)``
on one line and exits with code 1 (``--debug`` shows the traceback); a :class:`UsageError`, an
invalid option value, exits with code 2 as the command line's own usage errors do.
"""

from __future__ import annotations

import errno
from pathlib import Path

__all__ = [
    "CheckpointMismatchError",
    "ConfigError",
    "DatasetLayoutError",
    "DecodeError",
    "DetectorError",
    "FakescanError",
    "FrameRangeError",
    "InputError",
    "OutputError",
    "SplitLeakError",
    "UsageError",
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


class OutputError(FakescanError):
    """An output file or folder cannot be written: data the run produced would be lost.

    Attributes:
        path: the file or folder concerned.
        reason: a short, lower-case phrase saying what is wrong and what to do.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    @classmethod
    def from_os_error(cls, path: str | Path, error: OSError) -> OutputError:
        """The error for ``path`` when writing it raised ``error``, with what to do about it.

        >>> import errno
        >>> str(OutputError.from_os_error("out/a.csv", OSError(errno.ENOSPC, "No space left on device")))
        'out/a.csv: cannot write (no space left on device): free disk space, or choose another location'
        """
        hints = {
            errno.ENOSPC: "free disk space, or choose another location",
            errno.EDQUOT: "free disk space, or choose another location",
            errno.EISDIR: "a folder is in the way: remove it or choose another path",
            errno.ENOTDIR: "a file is in the way of a folder: remove it or choose another path",
            errno.EEXIST: "a file is in the way of a folder: remove it or choose another path",
            errno.EACCES: "choose a location you may write to",
            errno.EPERM: "choose a location you may write to",
            errno.EROFS: "the file system is read-only: choose another location",
        }
        what = (error.strerror or str(error) or type(error).__name__).lower()
        hint = hints.get(error.errno or 0, "check the path and the disk")
        return cls(path, f"cannot write ({what}): {hint}")


class FrameRangeError(InputError):
    """The frame range asked for (``--start-frame``) lies beyond the end of a video."""


class DetectorError(FakescanError):
    """A face detector could not be built."""


class ConfigError(FakescanError):
    """An option or configuration value is invalid."""


class UsageError(ConfigError):
    """A command-line option value is invalid (the CLI exits with code 2, as for a usage error)."""


class DatasetLayoutError(FakescanError):
    """A data set folder does not match its official layout."""


class SplitLeakError(FakescanError):
    """A video or source identity appears in more than one split."""


class CheckpointMismatchError(FakescanError):
    """A checkpoint does not fit the model or data it is used with."""
