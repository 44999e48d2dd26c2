"""``fakescan extract``: videos and images in, uniform face crops and a manifest out.

Layout of the output folder ``DIR``::

    DIR/<input path relative to its root, without extension>/<frame index>.png   one crop per frame
    DIR/<...>/<frame index>_<k>.png    with all_faces: face k of the frame, 0 being the largest
    DIR/<...>/_mesh.npz            with a detector that gives a dense mesh (blazeface): the 468
                                   FaceMesh points of every kept face (see :data:`MESH_NAME`)
    DIR/<...>/_extract.json        the file's record, written last: its presence means "finished"
    DIR/manifest.csv               one row per crop (or per frame without a face, or per bad file)

Resumability: every file is written under a temporary name and renamed. A file whose record exists
and was made with the same settings from the same source is skipped on a re-run; a file without a
record (the run died while it was being processed) is redone from scratch, its stale crops removed.
So a run killed at any moment and started again gives the same output as one that was never stopped.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import multiprocessing
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np

from fakescan._atomic import TMP_MARK, atomic_write_bytes, atomic_write_text, make_output_dir
from fakescan.data.faces import (
    DEFAULT_DETECTOR,
    DETECTORS,
    Detection,
    FaceDetector,
    pick_face,
    shared_detector,
)
from fakescan.data.faces.base import Box, box_area
from fakescan.data.faces.crop import BorderMode, align_face, crop_face, crop_matrix
from fakescan.data.faces.tracking import tween_detections
from fakescan.data.images import read_image, write_image
from fakescan.data.media import media_kind
from fakescan.data.video import (
    even_frame_indices,
    probe_video,
    range_frame_indices,
    read_frames,
    snap_to_keyframes,
)
from fakescan.errors import ConfigError, DecodeError, FrameRangeError, InputError, OutputError

__all__ = [
    "MESH_NAME",
    "RECORD_NAME",
    "ExtractConfig",
    "ExtractReport",
    "FaceCrop",
    "FrameFaces",
    "ManifestRow",
    "MediaItem",
    "Status",
    "build_detector",
    "collect_inputs",
    "cut_matrix",
    "describe_failure",
    "extract_item",
    "format_landmarks",
    "iter_frame_faces",
    "parse_landmarks",
    "read_record",
    "run_extraction",
    "select_shard",
    "write_manifest",
]

Status = Literal["ok", "no_face", "decode_error", "unreadable", "out_of_range", "error"]
"""Outcome of a file or frame. ``error`` marks a failed output write (disk full, ...) or a fault of
fakescan itself: no record is kept, so the next run retries the file."""

RECORD_NAME = "_extract.json"
MESH_NAME = "_mesh.npz"
"""Side file of the dense landmarks: arrays ``frame_index`` (N,), ``face_index`` (N,), ``points``
(N×468×3 float32, ``x, y`` in frame pixels and a relative depth ``z``) and ``crop_matrix`` (N×2×3
float64, each crop's frame-to-crop affine map, :func:`cut_matrix`), one entry per crop row.
:class:`fakescan.data.meshes.CropMeshes` reads it back into the crops' pixels."""
_MESH_VERSION = 2
"""1: no ``crop_matrix`` (the manifest's box is rounded and the frame size is not kept, so the crop's
map could not be rebuilt exactly); a record of an older mesh file makes its video be redone."""
_NO_LANDMARKS = frozenset({"hog", "haar"})
_RECORD_VERSION = 1
_CROP_NAME = re.compile(r"^\d+(_\d+)?\.(png|jpg)$")


@dataclass(frozen=True)
class ExtractConfig:
    """Settings of an extraction run (the options of ``fakescan extract``).

    Attributes:
        frames: frames per video, evenly spaced over ``[start_frame, end_frame)``.
        start_frame, end_frame: the frame range to sample (``end_frame=None``: to the end).
        stride: if set, take every ``stride``-th frame of the range instead of ``frames`` samples.
        size: side of the square output crops, pixels.
        margin: crop side as a multiple of the face box's longer side.
        border: ``"clamp"`` keeps crops inside the image; ``"pad"`` keeps them centred, padding black.
        image_format: ``"png"`` or ``"jpg"``.
        all_faces: keep every face of a frame instead of one followed person.
        detector: face detector backend name (see :data:`fakescan.data.faces.DETECTORS`).
        detector_weights: weights file for backends that need one.
        detect_max_side: frames are searched for faces at most this large (longer side).
        align: turn each crop so that the eyes are level (needs a detector with landmarks:
            ``blazeface``, ``blazeface-full``, ``retinaface``); the crop is centred on the face and
            black outside the frame.
        detect_every: run the detector on every k-th sampled frame only and place the faces of the
            frames between by interpolating the matched faces of the searched frames before and after
            (:mod:`fakescan.data.faces.tracking`); meant for dense sampling (``stride``).
        keyframes_only: read the keyframe nearest each sampled frame instead of the frame itself:
            much faster on long videos with sparse keyframes, but inexact, and fewer frames when
            keyframes are further apart than the samples (:func:`~fakescan.data.video.snap_to_keyframes`).
    """

    frames: int = 32
    start_frame: int = 0
    end_frame: int | None = None
    stride: int | None = None
    size: int = 256
    margin: float = 1.3
    border: BorderMode = "clamp"
    image_format: str = "png"
    all_faces: bool = False
    detector: str = DEFAULT_DETECTOR
    detector_weights: Path | None = None
    detect_max_side: int = 480
    keyframes_only: bool = False
    align: bool = False
    detect_every: int = 1

    def __post_init__(self) -> None:
        checks = [
            (self.frames >= 1, f"--frames must be at least 1, got {self.frames}"),
            (self.start_frame >= 0, f"--start-frame must be >= 0, got {self.start_frame}"),
            (
                self.end_frame is None or self.end_frame > self.start_frame,
                f"--end-frame ({self.end_frame}) must be greater than --start-frame ({self.start_frame})",
            ),
            (self.stride is None or self.stride >= 1, f"--stride must be at least 1, got {self.stride}"),
            (self.size >= 8, f"--size must be at least 8, got {self.size}"),
            (self.margin >= 1.0, f"--margin must be at least 1.0, got {self.margin}"),
            (self.border in ("clamp", "pad"), f"--border must be clamp or pad, got {self.border!r}"),
            (self.image_format in ("png", "jpg"), f"--format must be png or jpg, got {self.image_format!r}"),
            (self.detect_max_side >= 64, f"--detect-size must be at least 64, got {self.detect_max_side}"),
            (self.detect_every >= 1, f"--detect-every must be at least 1, got {self.detect_every}"),
            (
                self.detector in DETECTORS,
                f"unknown face detector {self.detector!r}; choose one of: {', '.join(sorted(DETECTORS))}",
            ),
            (
                not self.align or self.detector not in _NO_LANDMARKS,
                f"--align needs a detector with landmarks (blazeface, blazeface-full, retinaface), "
                f"not {self.detector!r}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def frame_indices(self, num_frames: int) -> list[int]:
        """The frame indices this configuration takes from a video of ``num_frames`` frames."""
        if self.stride is not None:
            return range_frame_indices(num_frames, self.start_frame, self.end_frame, self.stride)
        return even_frame_indices(num_frames, self.frames, self.start_frame, self.end_frame)

    def fingerprint(self) -> dict[str, object]:
        """The settings that shape the output, as JSON-ready values (compared on resume)."""
        values = asdict(self)
        values["detector_weights"] = None if self.detector_weights is None else str(self.detector_weights)
        if not self.keyframes_only:
            del values["keyframes_only"]  # records written before the option existed stay valid
        if not self.align:
            del values["align"]
        if self.detect_every == 1:
            del values["detect_every"]
        return values


@dataclass(frozen=True)
class MediaItem:
    """One input file and where its crops go.

    Attributes:
        path: the source file.
        kind: ``"video"`` or ``"image"`` by extension; ``"unknown"`` for an explicitly named file
            with another extension (tried as a video).
        key: output folder relative to ``DIR``, POSIX style, no extension.
    """

    path: Path
    kind: Literal["video", "image", "unknown"]
    key: str


@dataclass(frozen=True)
class ManifestRow:
    """A manifest line: one crop, one frame without a face, or one file that failed.

    ``crop`` is relative to the output folder; numbers that do not apply are ``None`` (empty in CSV).
    ``landmarks`` holds the detector's key points in frame pixels as ``"x y;x y;..."`` (for
    ``blazeface``: eyes, nose tip, mouth centre and ears, left and right as seen in the image; for
    ``retinaface``: eyes, nose tip and mouth corners), empty for detectors without landmarks.
    """

    source: str
    kind: str
    status: str
    frame_index: int | None = None
    timestamp: float | None = None
    face_index: int | None = None
    x1: float | None = None
    y1: float | None = None
    x2: float | None = None
    y2: float | None = None
    score: float | None = None
    crop: str | None = None
    reason: str = ""
    landmarks: str = ""


@dataclass
class ItemResult:
    """What processing one file gave: its rows, overall status, and whether it was already done."""

    item: MediaItem
    status: Status
    rows: list[ManifestRow]
    reason: str = ""
    skipped: bool = False
    frames_read: int = 0

    @property
    def row_statuses(self) -> set[str]:
        """The statuses of its rows (a readable file has a ``decode_error`` row if frames were lost)."""
        return {row.status for row in self.rows}


@dataclass
class ExtractReport:
    """The outcome of a run.

    Attributes:
        results: one per input file, in input order.
        ignored: files inside the given folders that are neither videos nor images.
        manifest: path of the manifest written.
    """

    results: list[ItemResult]
    ignored: int = 0
    manifest: Path | None = None
    status_counts: Counter[str] = field(default_factory=Counter)

    @property
    def rows(self) -> list[ManifestRow]:
        return [row for result in self.results for row in result.rows]

    @property
    def crops(self) -> int:
        return sum(row.crop is not None for row in self.rows)

    @property
    def processed(self) -> int:
        """Files that could be read (with or without a face)."""
        return self.status_counts["ok"] + self.status_counts["no_face"]


# --------------------------------------------------------------------------------------------------
# Planning: which files, and where their crops go


def collect_inputs(
    inputs: Sequence[str | Path | MediaItem],
    exclude: str | Path | None = None,
) -> tuple[list[MediaItem], list[ItemResult], int]:
    """Expand files and folders (recursively) into media items with unique output keys.

    A file given directly keeps its stem as key; a file found in a folder keeps its path relative
    to that folder. Keys that would collide (``a.mp4`` beside ``a.avi``) get the extension appended,
    then a counter if still needed. A :class:`MediaItem` keeps its key exactly (the caller makes
    those keys unique, e.g. the video ids of a data set index). Nothing inside the folder
    ``exclude`` (the output folder) is read.

    Returns:
        ``(items, failed, ignored)``: the items in a stable order, a failed result for every input
        path that does not exist or cannot be read (a sub-folder that cannot be listed included),
        and the number of non-media files skipped inside folders.
    """
    planned: list[tuple[Path, Literal["video", "image", "unknown"], str] | MediaItem] = []
    missing: list[ItemResult] = []
    ignored = 0
    skip = None if exclude is None else Path(exclude).resolve()
    for given in inputs:
        if isinstance(given, MediaItem):
            problem = _unusable(given.path)
            if problem is None:
                planned.append(given)
            else:
                missing.append(_failed(given, "unreadable", problem))
            continue
        path = Path(given)
        problem = _unusable(path, folder_ok=True)
        if problem is not None:
            missing.append(
                _failed(MediaItem(path, media_kind(path) or "unknown", path.stem), "unreadable", problem)
            )
        elif path.is_dir():
            found, unlistable = _walk(path, skip)
            for folder, reason in unlistable:
                missing.append(_failed(MediaItem(folder, "unknown", folder.name), "unreadable", reason))
            for file in found:
                kind = media_kind(file)
                if kind is None:
                    ignored += 1
                    continue
                planned.append((file, kind, file.relative_to(path).with_suffix("").as_posix()))
        else:
            planned.append((path, media_kind(path) or "unknown", path.stem))

    stems = Counter(entry[2] for entry in planned if not isinstance(entry, MediaItem))
    items: list[MediaItem] = []
    taken = {entry.key for entry in planned if isinstance(entry, MediaItem)}
    for entry in planned:
        if isinstance(entry, MediaItem):
            items.append(entry)
            continue
        path, kind, stem_key = entry
        key = f"{stem_key}_{path.suffix.lstrip('.').lower()}" if stems[stem_key] > 1 else stem_key
        unique, counter = key, 2
        while unique in taken:
            unique, counter = f"{key}_{counter}", counter + 1
        taken.add(unique)
        items.append(MediaItem(path, kind, unique))
    return items, missing, ignored


def _unusable(path: Path, folder_ok: bool = False) -> str | None:
    """Why ``path`` cannot be read as an input (``None``: it can). Never raises."""
    try:
        if path.is_dir():
            if not folder_ok:
                return "a folder, not a file"
            os.listdir(path)
        elif not path.is_file():
            return "file not found" if not path.exists() else "not a regular file"
        else:
            with open(path, "rb"):
                pass
    except OSError as error:
        return f"cannot read ({(error.strerror or str(error)).lower()})"
    return None


def _walk(folder: Path, skip: Path | None) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The visible files below ``folder`` (sorted), and the sub-folders that could not be listed.

    Hidden files are left out, and so is everything inside ``skip``.
    """
    files: list[Path] = []
    unlistable: list[tuple[Path, str]] = []

    def failed(error: OSError) -> None:
        where = Path(error.filename) if error.filename else folder
        unlistable.append((where, f"folder cannot be read ({(error.strerror or str(error)).lower()})"))

    for top, dirs, names in os.walk(folder, onerror=failed):
        here = Path(top)
        dirs[:] = sorted(d for d in dirs if skip is None or (here / d).resolve() != skip)
        files += [here / name for name in names if not name.startswith(".") and (here / name).is_file()]
    return sorted(files), unlistable


def select_shard(items: Sequence[MediaItem], index: int, count: int) -> list[MediaItem]:
    """The items of shard ``index`` of ``count`` (0-based), assigned by a hash of the output key.

    The assignment of a file does not depend on which other files exist, so shards stay disjoint and
    complete when run on different machines with the same inputs.
    """
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"--shard must be i/n with 0 <= i < n, got {index}/{count}")
    return [it for it in items if int(hashlib.sha1(it.key.encode()).hexdigest(), 16) % count == index]


# --------------------------------------------------------------------------------------------------
# One file


def _failed(item: MediaItem, status: Status, reason: str) -> ItemResult:
    row = ManifestRow(source=str(item.path), kind=item.kind, status=status, reason=reason)
    return ItemResult(item=item, status=status, rows=[row], reason=reason)


_SAMPLE_BYTES = 1 << 16


def _source_stamp(path: Path) -> dict[str, object]:
    """What ties a record to its source: full path, size, mtime and a digest of its first and last 64 KiB.

    The path keeps two same-named files of different folders from trading records when their
    output keys swap between runs; the digest catches a file replaced by another of equal size and
    time (``cp -p``) at the cost of reading 128 KiB.
    """
    stat = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read(_SAMPLE_BYTES))
        if stat.st_size > 2 * _SAMPLE_BYTES:
            handle.seek(-_SAMPLE_BYTES, os.SEEK_END)
        digest.update(handle.read(_SAMPLE_BYTES))
    return {
        "path": str(path.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "sample_sha256": digest.hexdigest(),
    }


def _load_record(out_dir: Path, item: MediaItem, config: ExtractConfig) -> ItemResult | None:
    """The finished result of ``item`` from its record, if it is valid for these settings."""
    record_path = out_dir / item.key / RECORD_NAME
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if (
            record.get("version") != _RECORD_VERSION
            or record.get("config") != config.fingerprint()
            or record.get("source_stamp") != _source_stamp(item.path)
        ):
            return None
        rows = [ManifestRow(**{**row, "source": str(item.path)}) for row in record["rows"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if any(row.crop is not None and not (out_dir / row.crop).is_file() for row in rows):
        return None
    if record.get("mesh") and (
        record.get("mesh_version") != _MESH_VERSION or not (out_dir / item.key / MESH_NAME).is_file()
    ):
        return None
    return ItemResult(item, record["status"], rows, reason=record.get("reason", ""), skipped=True)


def read_record(folder: str | Path) -> dict[str, Any] | None:
    """The extraction record (``_extract.json``) of one file's crop folder, or ``None`` when there is
    none or it cannot be read. Its ``config`` holds the settings the crops were cut with
    (:meth:`ExtractConfig.fingerprint`: ``detector``, ``size``, ...), its ``source_stamp`` the source
    file's full ``path``."""
    try:
        record = json.loads((Path(folder) / RECORD_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("config"), dict) else None


def _clear_folder(folder: Path) -> None:
    """Remove crops, the record and temporary files left by an earlier, unfinished attempt."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.is_file() and (
            _CROP_NAME.match(entry.name) or TMP_MARK in entry.name or entry.name in (RECORD_NAME, MESH_NAME)
        ):
            entry.unlink()


def _faces_to_keep(detections: Sequence[Detection], previous: Box | None, all_faces: bool) -> list[Detection]:
    if all_faces:
        return sorted(detections, key=lambda d: -box_area(d.box))
    chosen = pick_face(detections, previous)
    return [] if chosen is None else [chosen]


def _frames_of(item: MediaItem, config: ExtractConfig) -> Iterator[tuple[int, float, object, int]]:
    """Yield ``(frame index, timestamp, RGB image, frames sampled)`` for the frames to search in ``item``.

    Raises:
        FrameRangeError: the video ends before ``config.start_frame``.
    """
    if item.kind == "image":
        yield 0, 0.0, read_image(item.path), 1
        return
    table = probe_video(item.path)
    indices = config.frame_indices(table.num_frames)
    if not indices and 0 < table.num_frames <= config.start_frame:
        raise FrameRangeError(
            item.path,
            f"--start-frame {config.start_frame} is past the end (the video has {table.num_frames} frames)",
        )
    if config.keyframes_only and indices:
        end = table.num_frames if config.end_frame is None else config.end_frame
        in_range = [k for k in table.keyframes if config.start_frame <= k < end]
        indices = snap_to_keyframes(indices, in_range) if in_range else indices
    for frame in read_frames(table, indices):
        yield frame.index, frame.timestamp, frame.image, len(indices)


@dataclass(frozen=True)
class FaceCrop:
    """One face kept in one frame, cut out exactly as ``extract`` writes it.

    Attributes:
        face_index: 0 for the followed (or, with ``all_faces``, the largest) face, then by size.
        detection: the face's box in the frame's pixels and the detector's score.
        crop: ``size×size×3`` uint8 RGB (:func:`fakescan.data.faces.crop.crop_face`).
    """

    face_index: int
    detection: Detection
    crop: np.ndarray


@dataclass(frozen=True)
class FrameFaces:
    """A searched frame and the faces kept in it.

    Attributes:
        index, timestamp: frame index (display order; 0 for an image) and time in seconds.
        image: the whole ``H×W×3`` uint8 RGB frame.
        faces: the kept faces (one followed person, or every face with ``all_faces``); empty when
            the detector found none.
        detections: how many faces the detector found in the frame (kept or not).
        sampled: how many frames the sampling took from the file (1 for an image); fewer are
            yielded when some could not be decoded (a truncated or damaged video).
    """

    index: int
    timestamp: float
    image: np.ndarray
    faces: tuple[FaceCrop, ...]
    detections: int
    sampled: int = 1


def _detect_frames(
    frames: Iterable[tuple[int, float, np.ndarray, int]], detector: FaceDetector, every: int
) -> Iterator[tuple[int, float, np.ndarray, int, list[Detection]]]:
    """Add the faces of each frame of :func:`_frames_of` (``index, timestamp, image, sampled``):
    detected on every ``every``-th frame, interpolated between."""
    if every <= 1:
        for index, timestamp, image, sampled in frames:
            yield index, timestamp, image, sampled, detector.detect(image)
        return
    pending: list[tuple[int, float, np.ndarray, int]] = []
    last: tuple[int, list[Detection]] | None = None
    for n, (index, timestamp, image, sampled) in enumerate(frames):
        if n % every:
            pending.append((index, timestamp, image, sampled))
            continue
        found = detector.detect(image)
        if last is not None:
            for between, stamp, frame, count in pending:
                yield between, stamp, frame, count, tween_detections(last[1], found, last[0], index, between)
        pending = []
        yield index, timestamp, image, sampled, found
        last = (index, found)
    for between, stamp, frame, count in pending:  # after the last searched frame: hold its faces
        yield between, stamp, frame, count, list(last[1]) if last else []


def _cut(image: np.ndarray, face: Detection, config: ExtractConfig) -> np.ndarray:
    if config.align and face.landmarks is not None and len(face.landmarks) >= 2:
        left, right = face.landmarks[0], face.landmarks[1]
        return align_face(image, face.box, left, right, config.size, config.margin)
    return crop_face(image, face.box, config.size, config.margin, config.border)


def cut_matrix(face: Detection, image_width: int, image_height: int, config: ExtractConfig) -> np.ndarray:
    """The 2×3 frame-to-crop affine map of the crop ``extract`` cuts of ``face`` from a frame of
    ``image_width × image_height`` pixels with ``config`` (aligned or square, as the crop itself:
    :func:`~fakescan.data.faces.crop.crop_matrix`)."""
    eyes = None
    if config.align and face.landmarks is not None and len(face.landmarks) >= 2:
        eyes = (face.landmarks[0], face.landmarks[1])
    return crop_matrix(
        face.box, image_width, image_height, config.size, config.margin, config.border, eyes=eyes
    )


def format_landmarks(points: Sequence[tuple[float, float]] | None) -> str:
    """Key points as the manifest writes them.

    >>> format_landmarks([(1.234, 5.0), (7.0, 8.06)])
    '1.2 5.0;7.0 8.1'
    >>> format_landmarks(None)
    ''
    """
    return "" if not points else ";".join(f"{x:.1f} {y:.1f}" for x, y in points)


def parse_landmarks(text: str) -> list[tuple[float, float]]:
    """The key points of a manifest cell (:func:`format_landmarks`); ``[]`` for an empty cell.

    >>> parse_landmarks("1.2 5.0;7.0 8.1")
    [(1.2, 5.0), (7.0, 8.1)]
    """
    return [(float(x), float(y)) for x, y in (p.split() for p in text.split(";") if p.strip())]


def iter_frame_faces(item: MediaItem, config: ExtractConfig, detector: FaceDetector) -> Iterator[FrameFaces]:
    """Search the frames ``config`` samples from ``item`` and yield each with its face crops, in memory.

    The same sampling, face choice (one person followed from frame to frame with
    :func:`~fakescan.data.faces.pick_face`, or all faces), margin, border and crop size as
    :func:`extract_item`, which writes what this yields.

    Raises:
        InputError: the file cannot be opened or is not an image/video.
        FrameRangeError: the video ends before the frame range starts.
        DecodeError: decoding failed; the frames yielded before stand.
    """
    previous: Box | None = None
    frames = _frames_of(item, config)
    for index, timestamp, image, sampled, detections in _detect_frames(frames, detector, config.detect_every):
        kept = _faces_to_keep(detections, previous, config.all_faces)
        if kept:
            previous = kept[0].box
        faces = tuple(FaceCrop(k, face, _cut(image, face, config)) for k, face in enumerate(kept))
        yield FrameFaces(index, timestamp, image, faces, len(detections), sampled)


def _write_meshes(path: Path, meshes: Sequence[tuple[int, int, np.ndarray, np.ndarray]]) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        frame_index=np.array([m[0] for m in meshes], np.int64),
        face_index=np.array([m[1] for m in meshes], np.int64),
        points=np.stack([m[2] for m in meshes]).astype(np.float32),
        crop_matrix=np.stack([m[3] for m in meshes]).astype(np.float64),
    )
    atomic_write_bytes(path, buffer.getvalue())


def extract_item(item: MediaItem, config: ExtractConfig, detector: FaceDetector, out_dir: Path) -> ItemResult:
    """Extract the face crops of one file into ``out_dir / item.key``, or reuse a finished record.

    Bad input never raises: the result carries status and reason. A failed output write (disk
    full, ...) and errors of fakescan's own making get status ``error`` and no record, so that the
    next run retries them.
    """
    folder = out_dir / item.key
    if item.path.is_file():
        done = _load_record(out_dir, item, config)
        if done is not None:
            return done
    try:
        return _extract_anew(item, config, detector, folder)
    except OutputError as error:  # the output, not the input, is at fault
        reason = str(error)
    except Exception as error:  # a fault of ours: report it on one line
        reason = f"{type(error).__name__}: {error}".splitlines()[0]
    with contextlib.suppress(OSError):
        _clear_folder(folder)
    return _failed(item, "error", reason)


def _extract_anew(item: MediaItem, config: ExtractConfig, detector: FaceDetector, folder: Path) -> ItemResult:
    """:func:`extract_item` without a finished record: bad input is a status; OutputError raises."""
    _clear_folder(folder)
    make_output_dir(folder)
    rows: list[ManifestRow] = []
    status: Status = "no_face"
    reason = ""
    frames_read = sampled = 0
    source = str(item.path)
    meshes: list[tuple[int, int, np.ndarray, np.ndarray]] = []
    try:
        for frame in iter_frame_faces(item, config, detector):
            frames_read, sampled = frames_read + 1, frame.sampled
            index, timestamp = frame.index, frame.timestamp
            if not frame.faces:
                rows.append(
                    ManifestRow(
                        source, item.kind, "no_face", index, round(timestamp, 4), reason="no face found"
                    )
                )
                continue
            status = "ok"
            for face in frame.faces:
                k = face.face_index
                name = (
                    f"{index}_{k}.{config.image_format}"
                    if config.all_faces
                    else f"{index}.{config.image_format}"
                )
                write_image(folder / name, face.crop)
                if face.detection.mesh is not None:
                    height, width = frame.image.shape[:2]
                    matrix = cut_matrix(face.detection, width, height, config)
                    meshes.append((index, k, face.detection.mesh, matrix))
                x1, y1, x2, y2 = (round(v, 1) for v in face.detection.box)
                rows.append(
                    ManifestRow(
                        source,
                        item.kind,
                        "ok",
                        index,
                        round(timestamp, 4),
                        k,
                        x1,
                        y1,
                        x2,
                        y2,
                        round(face.detection.score, 4),
                        f"{item.key}/{name}",
                        landmarks=format_landmarks(face.detection.landmarks),
                    )
                )
        if frames_read == 0:
            raise DecodeError(item.path, "no frame could be decoded")
        if frames_read < sampled:
            raise DecodeError(
                item.path,
                f"{sampled - frames_read} of {sampled} sampled frames could not be decoded"
                " (truncated or damaged video)",
            )
    except DecodeError as error:
        if frames_read == 0:
            status = "decode_error"
        reason = error.reason
        rows.append(ManifestRow(source, item.kind, "decode_error", reason=error.reason))
    except FrameRangeError as error:
        status, reason = "out_of_range", error.reason
        rows = [ManifestRow(source, item.kind, status, reason=reason)]
    except InputError as error:
        _clear_folder(folder)
        status, reason = "unreadable", error.reason
        rows = [ManifestRow(source, item.kind, "unreadable", reason=error.reason)]
    if status == "no_face" and not reason:
        reason = "no face found in any searched frame"

    if meshes:
        _write_meshes(folder / MESH_NAME, meshes)
    record = {
        "mesh": bool(meshes),
        **({"mesh_version": _MESH_VERSION} if meshes else {}),
        "version": _RECORD_VERSION,
        "config": config.fingerprint(),
        "source_stamp": _source_stamp(item.path),
        "status": status,
        "reason": reason,
        "rows": [asdict(row) for row in rows],
    }
    atomic_write_text(folder / RECORD_NAME, json.dumps(record))
    return ItemResult(item, status, rows, reason=reason, frames_read=frames_read)


# --------------------------------------------------------------------------------------------------
# A whole run


def write_manifest(path: Path, rows: Iterable[ManifestRow]) -> None:
    """Write manifest rows as CSV (header = :class:`ManifestRow` fields), atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = [f.name for f in fields(ManifestRow)]
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if getattr(row, n) is None else getattr(row, n) for n in names])
    atomic_write_text(path, buffer.getvalue())


_worker_detector: FaceDetector | None = None


def build_detector(config: ExtractConfig) -> FaceDetector:
    """The face detector ``config`` names, built once per process
    (:func:`~fakescan.data.faces.shared_detector`).

    Raises:
        DetectorError: the detector cannot be built (missing weights, ...).
    """
    return shared_detector(config.detector, weights=config.detector_weights, max_side=config.detect_max_side)


def _worker_init(config: ExtractConfig) -> None:
    global _worker_detector  # one detector per worker process, built once
    import cv2

    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    _worker_detector = build_detector(config)


def _worker_run(item: MediaItem, config: ExtractConfig, out_dir: Path) -> ItemResult:
    assert _worker_detector is not None
    return extract_item(item, config, _worker_detector, out_dir)


def _remove_stale_temporaries(out_dir: Path) -> None:
    for entry in out_dir.glob(f".*{TMP_MARK}"):
        entry.unlink(missing_ok=True)


def run_extraction(
    inputs: Sequence[str | Path | MediaItem],
    out_dir: str | Path,
    config: ExtractConfig | None = None,
    workers: int = 1,
    shard: tuple[int, int] | None = None,
    on_result: Callable[[ItemResult, int], None] | None = None,
) -> ExtractReport:
    """Extract face crops from every video and image in ``inputs`` into ``out_dir``.

    Args:
        inputs: files and folders (searched recursively), mixed; or :class:`MediaItem` s whose
            crops go exactly to their ``key``.
        out_dir: output folder; created if needed.
        config: extraction settings.
        workers: processes to use; each builds its own detector.
        shard: ``(i, n)`` to process only the i-th of n disjoint parts (for job arrays).
        on_result: called with each file's result and the number of files planned, as they finish.

    Returns:
        The report. The manifest (``manifest.csv``, or ``manifest.shard-i-of-n.csv``) covers every
        file of this run, including those finished by an earlier run.

    Raises:
        DetectorError: the detector cannot be built.
        ConfigError: invalid settings.
    """
    config = config or ExtractConfig()
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    out_dir = Path(out_dir)
    items, missing, ignored = collect_inputs(inputs, exclude=out_dir)
    if shard is not None:
        items = select_shard(items, *shard)
    make_output_dir(out_dir)
    _remove_stale_temporaries(out_dir)
    total = len(items) + len(missing)

    results: list[ItemResult] = []
    for result in missing:
        results.append(result)
        if on_result:
            on_result(result, total)
    if workers <= 1 or len(items) <= 1:
        detector = build_detector(config)  # raise DetectorError before touching any file
        for item in items:
            result = extract_item(item, config, detector, out_dir)
            results.append(result)
            if on_result:
                on_result(result, total)
    else:
        build_detector(config)  # fail fast here rather than in every worker
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_worker_init, initargs=(config,)
        ) as pool:
            futures = {pool.submit(_worker_run, item, config, out_dir): n for n, item in enumerate(items)}
            finished: dict[int, ItemResult] = {}
            for future in as_completed(futures):
                finished[futures[future]] = result = future.result()
                if on_result:
                    on_result(result, total)
            results.extend(finished[n] for n in range(len(items)))

    name = "manifest.csv" if shard is None else f"manifest.shard-{shard[0]}-of-{shard[1]}.csv"
    report = ExtractReport(results=results, ignored=ignored, manifest=out_dir / name)
    report.status_counts.update(result.status for result in results)
    write_manifest(report.manifest, report.rows)
    return report


def describe_failure(result: ItemResult) -> str:
    """One line for a file that gave no crops: ``path: status (reason)``."""
    return f"{result.item.path}: {result.status} ({result.reason})"
