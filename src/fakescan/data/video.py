"""Reading chosen frames of a video without decoding the rest.

The plan is in two steps. :func:`probe_video` demuxes the stream once — reading packets, decoding
nothing — to build a :class:`FrameTable`: the presentation timestamp of every frame and where the
keyframes are. That table is the truth about how many frames a video has, whatever its header says
(headers can omit the count, or count packets that an edit list drops). :func:`read_frames` then
visits the wanted frames in order, seeking to the keyframe before a target whenever that skips
decoding, and decoding forward otherwise.

The index arithmetic (:func:`even_frame_indices`, :func:`range_frame_indices`) is pure.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from fakescan.errors import DecodeError, InputError

__all__ = [
    "VIDEO_EXTENSIONS",
    "FrameTable",
    "VideoFrame",
    "even_frame_indices",
    "probe_video",
    "range_frame_indices",
    "read_frames",
    "snap_to_keyframes",
]

VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".gif"}
)


def even_frame_indices(num_frames: int, count: int, start: int = 0, end: int | None = None) -> list[int]:
    """``count`` frame indices spread evenly over ``[start, end)`` of a video of ``num_frames`` frames.

    The range is cut into ``count`` equal segments and the middle frame of each is taken, so the
    samples cover the whole range and avoid the first and last frames, which are often fades. When
    the range holds no more than ``count`` frames, every frame in it is returned.

    >>> even_frame_indices(100, 4)
    [12, 37, 62, 87]
    >>> even_frame_indices(3, 32)
    [0, 1, 2]
    >>> even_frame_indices(100, 2, start=10, end=20)
    [12, 17]
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    stop = num_frames if end is None else min(end, num_frames)
    span = stop - start
    if span <= 0:
        return []
    if span <= count:
        return list(range(start, stop))
    return [start + (2 * i + 1) * span // (2 * count) for i in range(count)]


def range_frame_indices(
    num_frames: int, start: int = 0, end: int | None = None, stride: int = 1
) -> list[int]:
    """Every ``stride``-th frame index of ``[start, end)``, clipped to the video's length.

    >>> range_frame_indices(10, start=2, end=9, stride=3)
    [2, 5, 8]
    >>> range_frame_indices(5, start=3, end=100)
    [3, 4]
    """
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    stop = num_frames if end is None else min(end, num_frames)
    return list(range(max(start, 0), stop, stride))


def snap_to_keyframes(indices: Sequence[int], keyframes: Sequence[int]) -> list[int]:
    """Each index moved to its nearest keyframe (the earlier one on a tie), de-duplicated, ascending.

    A keyframe decodes on its own, so reading these costs one frame each however far apart the
    keyframes are; the price is inexact sampling, and fewer frames when keyframes are sparser than
    the samples.

    >>> snap_to_keyframes([0, 100, 200, 310], [0, 250])
    [0, 250]
    >>> snap_to_keyframes([5, 60], [0, 48, 96])
    [0, 48]
    """
    if not keyframes:
        return sorted(set(indices))
    ordered = sorted(keyframes)
    snapped = set()
    for index in indices:
        at = bisect.bisect_left(ordered, index)
        before = ordered[at - 1] if at > 0 else None
        after = ordered[at] if at < len(ordered) else None
        if before is None or (after is not None and after - index < index - before):
            snapped.add(after)
        else:
            snapped.add(before)
    return sorted(snapped)


@dataclass(frozen=True)
class FrameTable:
    """What demuxing tells about a video stream, before any decoding.

    Attributes:
        path: the video file.
        pts: presentation timestamps of the frames in display order (stream time base), or ``None``
            when the container gives no timestamps; then frames are addressed by decode order.
        num_frames: number of displayable frames.
        keyframes: indices (into ``pts``) of the frames a decoder can start from, ascending.
        time_base: seconds per timestamp unit.
        start_pts: the stream's first displayed timestamp.
        fps: average frame rate, or ``None`` when unknown.
        width, height: frame size in pixels.
    """

    path: Path
    pts: tuple[int, ...] | None
    num_frames: int
    keyframes: tuple[int, ...]
    time_base: Fraction
    start_pts: int
    fps: float | None
    width: int
    height: int

    def timestamp(self, index: int) -> float:
        """Time of frame ``index`` in seconds from the start of the stream."""
        if self.pts is not None:
            return float((self.pts[index] - self.start_pts) * self.time_base)
        return index / self.fps if self.fps else 0.0

    def keyframe_before(self, index: int) -> int:
        """The last keyframe at or before frame ``index`` (0 when none is marked)."""
        at = bisect.bisect_right(self.keyframes, index) - 1
        return self.keyframes[at] if at >= 0 else 0

    def index_of_pts(self, pts: int) -> int:
        """Index of the first frame whose timestamp is at or after ``pts``."""
        assert self.pts is not None
        return bisect.bisect_left(self.pts, pts)


@dataclass(frozen=True)
class VideoFrame:
    """A decoded frame: its index in display order, time in seconds, and ``H×W×3`` uint8 RGB pixels."""

    index: int
    timestamp: float
    image: np.ndarray


def _open(path: Path):  # -> av.container.InputContainer
    import av

    av.logging.set_level(av.logging.PANIC)
    if not path.exists():
        raise InputError(path, "file not found")
    if path.is_file() and path.stat().st_size == 0:
        raise InputError(path, "file is empty (0 bytes)")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise InputError(path, f"not a readable video ({_ffmpeg_reason(error)})") from error
    if not container.streams.video:
        container.close()
        raise InputError(path, "contains no video stream")
    return container


def _ffmpeg_reason(error: Exception) -> str:
    text = getattr(error, "strerror", None) or str(error)
    return text.splitlines()[0] if text else type(error).__name__


def probe_video(path: str | Path) -> FrameTable:
    """Demux ``path`` once, decoding nothing, and return its :class:`FrameTable`.

    Raises:
        InputError: the file is missing, empty, not a media file, or has no video stream.
        DecodeError: the stream holds no frame.
    """
    import av

    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stamps: list[int] = []
        key_stamps: list[int] = []
        count = 0
        no_pts = False
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                count += 1
                if packet.pts is None:
                    no_pts = True
                    continue
                stamps.append(packet.pts)
                if packet.is_keyframe:
                    key_stamps.append(packet.pts)
        except av.FFmpegError:
            # A truncated file: keep the packets read before the damage.
            pass
        start = stream.start_time if stream.start_time is not None else (min(stamps) if stamps else 0)
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else None
        width, height = stream.codec_context.width, stream.codec_context.height
        time_base = stream.time_base or Fraction(1, 1)
    finally:
        container.close()

    if no_pts or not stamps:
        pts = None
        keyframes: tuple[int, ...] = (0,)
        num = count
    else:
        # An edit list can mark leading packets as not displayed: their timestamps precede the start.
        ordered = sorted(s for s in set(stamps) if s >= start)
        pts = tuple(ordered)
        num = len(ordered)
        keyframes = tuple(sorted({bisect.bisect_left(ordered, k) for k in key_stamps if k >= start} | {0}))
    if num == 0:
        raise DecodeError(path, "video stream holds no frames")
    return FrameTable(
        path=path,
        pts=pts,
        num_frames=num,
        keyframes=keyframes,
        time_base=Fraction(time_base),
        start_pts=int(start),
        fps=fps,
        width=int(width),
        height=int(height),
    )


def read_frames(table: FrameTable, indices: Sequence[int]) -> Iterator[VideoFrame]:
    """Decode the frames at ``indices`` (display order) of the video described by ``table``.

    Frames come back in ascending index order, each once. The reader seeks to the keyframe before a
    target when that skips frames, and decodes forward otherwise, so sampling 32 frames of a long
    video decodes a small fraction of it. A frame the decoder cannot produce (damaged data) is
    replaced by the next one it can; the returned ``index`` is always that of the pixels returned.

    Raises:
        InputError: the file can no longer be opened.
        DecodeError: decoding failed before all targets were read; frames already yielded stand.
    """
    import av

    targets = sorted({i for i in indices if 0 <= i < table.num_frames})
    if not targets:
        return
    container = _open(table.path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "SLICE"
        if table.pts is None:
            yield from _read_sequential(container, stream, table, targets)
            return
        wanted = frozenset(table.pts[t] for t in targets)
        decoder: Iterator | None = None
        position = -1  # index of the last frame the decoder produced
        for number, target in enumerate(targets):
            if target <= position:
                continue
            keyframe = table.keyframe_before(target)
            seeked = False
            if decoder is None and keyframe == 0:
                decoder = _decode_wanted(container, stream, wanted)  # from the start: no seek needed
            elif decoder is None or keyframe > position + 1:
                container.seek(table.pts[keyframe], stream=stream, backward=True, any_frame=False)
                decoder = _decode_wanted(container, stream, wanted)
                position, seeked = keyframe - 1, True
            produced = False
            for frame in decoder:
                produced = True
                # A frame without a timestamp (still images, some raw streams) follows the last one.
                position = position + 1 if frame.pts is None else table.index_of_pts(frame.pts)
                if position >= target:
                    yield VideoFrame(
                        position,
                        table.timestamp(min(position, table.num_frames - 1)),
                        frame.to_ndarray(format="rgb24"),
                    )
                    break
            else:
                if seeked and not produced:
                    # This demuxer cannot seek: read the remaining targets from the start instead.
                    container.close()
                    container = _open(table.path)
                    stream = container.streams.video[0]
                    yield from _read_sequential(container, stream, table, targets[number:])
                return  # otherwise the stream ended: it holds fewer frames than its packets promised
    except av.FFmpegError as error:
        raise DecodeError(table.path, f"decoding failed ({_ffmpeg_reason(error)})") from error
    finally:
        container.close()


def _decode_wanted(container, stream, wanted_pts: frozenset[int]) -> Iterator:
    """Frames decoded from the container's position, skipping the work no wanted frame depends on.

    A frame that no other frame references (most B-frames) and that is not wanted is dropped before
    it is decoded (FFmpeg's ``skip_frame = NONREF``, switched per packet), which spares about a
    third of the decoding on the way from a keyframe to a target; the frames returned are exact.
    Damaged packets are skipped rather than fatal.
    """
    import av

    context = stream.codec_context
    for packet in container.demux(stream):
        context.skip_frame = "DEFAULT" if packet.pts is None or packet.pts in wanted_pts else "NONREF"
        try:
            frames = packet.decode()
        except av.InvalidDataError:
            continue
        yield from frames


def _frames(decoder: Iterator) -> Iterator:
    """Frames from a PyAV decode iterator; damaged packets are skipped rather than fatal."""
    import av

    while True:
        try:
            frame = next(decoder)
        except StopIteration:
            return
        except av.InvalidDataError:
            continue
        yield frame


def _read_sequential(container, stream, table: FrameTable, targets: list[int]) -> Iterator[VideoFrame]:
    """Decode-order reading for containers without timestamps (no seeking possible)."""
    wanted = set(targets)
    last = targets[-1]
    for index, frame in enumerate(_frames(container.decode(stream))):
        if index in wanted:
            yield VideoFrame(index, table.timestamp(index), frame.to_ndarray(format="rgb24"))
        if index >= last:
            return
