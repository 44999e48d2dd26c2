"""What kind of media a file is, by its name: the one rule that extraction, the data set adapters and
the forgery generator share."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fakescan.data.images import IMAGE_EXTENSIONS
from fakescan.data.video import VIDEO_EXTENSIONS

__all__ = ["MediaKind", "media_kind"]

MediaKind = Literal["video", "image"]


def media_kind(path: Path) -> MediaKind | None:
    """``"video"`` or ``"image"`` by extension (the sets ``fakescan extract`` reads), else ``None``.

    >>> media_kind(Path("a/B.MP4")), media_kind(Path("x.png")), media_kind(Path("notes.txt"))
    ('video', 'image', None)
    """
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    return None
