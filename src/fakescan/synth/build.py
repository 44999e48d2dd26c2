"""A tiny synthetic FaceForensics++-style data set, made from real sample media in seconds.

For smoke tests and demos only: the "fakes" are made with two simple graphics manipulations
(:mod:`fakescan.synth.faceswap`) of a handful of people, so scores on it say nothing about how a
detector fares on real forgeries. What it gives is a real-looking tree that every FF++ code path
(indexing, leakage guard, extraction, training, evaluation) can run on end to end.

:func:`build_synthetic_ffpp` turns face videos and photographs into short square face clips:

- a video gives up to ``clips_per_video`` clips of ``frames`` frames, taken every few frames so
  that a clip spans about :data:`CLIP_SECONDS`; the face is detected in every frame, followed
  with :func:`~fakescan.data.faces.pick_face`, and the clip cut around its median box;
- a photograph gives one clip per face found (faces under :data:`MIN_FACE` pixels are skipped),
  animated with a slow random drift, zoom and tilt (:func:`animate_still`).

Each video file and each face of a photo is one identity; the files must show different people.
Identities, not clips, are split (:func:`plan_pairs`): two held out for validation, two for test,
the rest for training, so no person appears in two splits. Within a split, clips of different
people are paired; for a pair ``(a, b)`` each method writes the fakes ``a_b`` (clip ``a`` with
``b``'s face, or for re-synthesis ``a`` rebuilt) and ``b_a``. The tree::

    OUT/original_sequences/youtube/c23/videos/000.mp4 …         real clips
    OUT/manipulated_sequences/FaceSwap-lite/c23/videos/000_001.mp4 …  face-swap fakes
    OUT/manipulated_sequences/Resynth/c23/videos/…               re-synthesised fakes
    OUT/train.json, val.json, test.json                          the pairs of each split
    OUT/synth.json                                               what was made from what, and the boxes

Videos are H.264 at CRF 23, the compression FF++ calls c23. Each method's folder carries the
method's own name (:data:`METHOD_FOLDERS`; pass ``folders`` to choose others), which
:func:`fakescan.data.datasets.index_ffpp` reads when named in ``methods``. Everything but the
reading of the sources, the face detector and the writing of files is pure and seeded.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from fakescan._atomic import atomic_write_text
from fakescan.data.datasets.index import SPLITS, Split
from fakescan.data.faces.base import Box, FaceDetector, box_area, pick_face
from fakescan.data.faces.crop import square_crop_box
from fakescan.errors import ConfigError, InputError
from fakescan.synth.faceswap import FaceClip, FakeClip, resynthesize_clip, swap_face_clip
from fakescan.synth.families import colour_blend_clip, reenact_mouth_clip, upsample_artefacts_clip

__all__ = [
    "ALL_METHODS",
    "CLIP_SECONDS",
    "METHOD_FOLDERS",
    "MIN_FACE",
    "SYNTH_METHODS",
    "SynthReport",
    "animate_still",
    "build_synthetic_ffpp",
    "cut_clip",
    "default_sources",
    "every_sample_source",
    "plan_pairs",
    "synthetic_root_of",
]

METHOD_FOLDERS: dict[str, str] = {
    "FaceSwap-lite": "FaceSwap-lite",
    "Resynth": "Resynth",
    "MouthWarp": "MouthWarp",
    "Checkerboard": "Checkerboard",
    "ColourBlend": "ColourBlend",
}
"""Synthetic method → its folder under ``manipulated_sequences``: each method under its own name,
so that nobody mistakes these forgeries for FF++'s FaceSwap or NeuralTextures."""
ALL_METHODS: tuple[str, ...] = tuple(METHOD_FOLDERS)
"""Every synthetic method (:mod:`fakescan.synth.faceswap` and :mod:`fakescan.synth.families`)."""
SYNTH_METHODS: tuple[str, ...] = ("FaceSwap-lite", "Resynth")
"""The methods built by default (and by the demo): the face swap and the re-synthesis."""
CLIP_SECONDS = 2.5
"""A clip cut from a video spans about this long (it is sampled every few frames)."""
MIN_FACE = 80
"""Faces smaller than this (box side, pixels of the source) are not used."""
MARGIN = 1.8
"""A clip is a square of this many face-box sides around the face."""
HELD_OUT = 2
"""Identities held out for each of validation and test."""
_DEFAULT_SAMPLES = (
    "videos/WolfgangLanger_Pexels.mp4",
    "videos/single_face.mp4",
    "images/obama.jpg",
    "images/biden.jpg",
    "images/breakingbad.jpg",
    "images/multi_face.jpg",
)
SAME_PEOPLE: dict[str, str] = {
    "face_noface.mov": "single_face",
    "single_face.jpg": "single_face",
    "obama_32bit.png": "obama",
    "obama_partial_face.jpg": "obama",
}
"""Sample files that show a person already shown by another sample → that person's identity (the
man of ``single_face.mp4`` is also in ``face_noface.mov`` and ``single_face.jpg``; three photos
show Obama). Passed as ``identities`` so that one person never lands in two splits."""


@dataclass(frozen=True)
class SynthReport:
    """What :func:`build_synthetic_ffpp` wrote.

    Attributes:
        root: the data set folder.
        pairs: for each split, its ``(a, b)`` pairs of real clip ids.
        identities: real clip id → identity shown.
        folders: synthetic method → folder under ``manipulated_sequences``.
        skipped: sources (or parts of them) that gave no clip, with the reason.
        seconds: wall time of the build.
    """

    root: Path
    pairs: dict[Split, list[tuple[str, str]]]
    identities: dict[str, str]
    folders: dict[str, str]
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def reals(self) -> dict[Split, int]:
        """Number of real videos in each split."""
        return {split: 2 * len(self.pairs[split]) for split in SPLITS}

    @property
    def fakes(self) -> dict[Split, int]:
        """Number of fake videos in each split, per method."""
        return self.reals


def default_sources(samples: Path) -> list[Path]:
    """The sample media (see :func:`fakescan.data.samples.fetch_samples`) used by default.

    Two videos of two people and four photos with eight more faces: ten identities. (The third
    sample video shows the same man as ``single_face.mp4``, so it is left out.)
    """
    return [samples / name for name in _DEFAULT_SAMPLES]


def every_sample_source(samples: Path) -> list[Path]:
    """Every sample video and still photo with faces that ships (:data:`SAME_PEOPLE` names those
    that show someone twice): three videos and eight photos, about a dozen people."""
    return sorted((samples / "videos").glob("*")) + sorted((samples / "images").glob("*"))


def plan_pairs(
    clips: Mapping[str, str], seed: int, held_out: int = HELD_OUT
) -> dict[Split, list[tuple[str, str]]]:
    """Split identities, then pair clips of different people within each split.

    ``clips`` maps clip id → identity. The identity with the most clips goes to train; of the
    others, chosen by ``seed``, ``held_out`` go to val and ``held_out`` to test, the rest to train.
    In each split the two identities with the most unpaired clips give one clip each to a pair,
    until fewer than two identities have any left; leftover clips are not used.

    Raises:
        ConfigError: fewer than ``2 + 2 · held_out`` identities (every split needs two people).

    >>> people = ["ann", "ann", "bob", "cy", "di", "ed", "flo"]
    >>> clips = {f"{n:03d}": name for n, name in enumerate(people)}
    >>> plan = plan_pairs(clips, seed=0)
    >>> {split: len(pairs) for split, pairs in plan.items()}
    {'train': 1, 'val': 1, 'test': 1}
    """
    by_identity: dict[str, list[str]] = {}
    for clip_id in sorted(clips):
        by_identity.setdefault(clips[clip_id], []).append(clip_id)
    needed = 2 + 2 * held_out
    if len(by_identity) < needed:
        raise ConfigError(
            f"a synthetic data set needs at least {needed} different people (two per split), found"
            f" {len(by_identity)}: {', '.join(sorted(by_identity)) or 'none'}; add face videos or photos"
        )
    ranked = sorted(by_identity, key=lambda name: (-len(by_identity[name]), name))
    rest = [ranked[i] for i in np.random.default_rng(seed).permutation(np.arange(1, len(ranked)))]
    members: dict[Split, list[str]] = {
        "val": rest[:held_out],
        "test": rest[held_out : 2 * held_out],
        "train": [ranked[0], *rest[2 * held_out :]],
    }
    plan: dict[Split, list[tuple[str, str]]] = {}
    for split in SPLITS:
        left = {name: list(by_identity[name]) for name in members[split]}
        pairs = []
        while True:
            ready = sorted((name for name in left if left[name]), key=lambda name: (-len(left[name]), name))
            if len(ready) < 2:
                break
            pairs.append((left[ready[0]].pop(0), left[ready[1]].pop(0)))
        plan[split] = sorted(pairs)
    return plan


def _smooth_boxes(boxes: np.ndarray, window: int = 5) -> np.ndarray:
    """Moving average of boxes over time (edges padded), to steady the detector's jitter."""
    if len(boxes) < 3:
        return boxes.astype(np.float32)
    half = min(window // 2, (len(boxes) - 1) // 2)
    padded = np.pad(boxes, ((half, half), (0, 0)), mode="edge")
    kernel = np.ones(2 * half + 1) / (2 * half + 1)
    smooth = [np.convolve(padded[:, k], kernel, mode="valid") for k in range(4)]
    return np.stack(smooth, axis=1).astype(np.float32)


def cut_clip(
    frames: Sequence[np.ndarray],
    boxes: np.ndarray,
    size: int,
    identity: str,
    fps: Fraction,
    origin: str = "",
    margin: float = MARGIN,
) -> FaceClip:
    """A :class:`FaceClip` from full frames: one square window around the median face box.

    ``boxes`` (``T×4``) are the face boxes in frame pixels; the window (``margin`` box sides,
    shifted to stay inside the frame) is fixed for the clip, so the face moves as it did.
    """
    import cv2

    height, width = frames[0].shape[:2]
    median: Box = tuple(float(v) for v in np.median(boxes, axis=0))  # type: ignore[assignment]
    x1, y1, x2, y2 = square_crop_box(median, margin, width, height, border="clamp")
    scale = size / (x2 - x1)
    out = np.stack([
        cv2.resize(frame[y1:y2, x1:x2], (size, size), interpolation=cv2.INTER_AREA) for frame in frames
    ])  # fmt: skip
    moved = (_smooth_boxes(boxes) - np.array([x1, y1, x1, y1], np.float32)) * scale
    return FaceClip(out, moved.astype(np.float32), identity, fps, origin)


def animate_still(
    image: np.ndarray,
    box: Box,
    rng: np.random.Generator,
    frames: int,
    size: int,
    identity: str,
    fps: Fraction = Fraction(12),
    origin: str = "",
    margin: float = MARGIN,
) -> FaceClip:
    """A clip of a photo's face moving slightly: a slow random drift, zoom and tilt.

    Each motion is a sinusoid of random phase and of at most about one cycle over the clip:
    shifts up to 4 % of the window, zoom up to ±4 %, tilt up to ±3°.
    """
    import cv2

    side = max(box[2] - box[0], box[3] - box[1]) * margin
    # Shrink the photo first so that the warp below resamples at about 1:1 (no aliasing).
    pre = min(1.0, 1.25 * size / side)
    if pre < 1.0:
        image = cv2.resize(
            image, (max(1, round(image.shape[1] * pre)), max(1, round(image.shape[0] * pre))),
            interpolation=cv2.INTER_AREA,
        )  # fmt: skip
    cx, cy = (box[0] + box[2]) / 2.0 * pre, (box[1] + box[3]) / 2.0 * pre
    base = size / (side * pre)
    t = np.arange(frames) / max(frames, 1)
    phase = rng.uniform(0, 2 * np.pi, size=4)
    cycles = rng.uniform(0.3, 1.0, size=4)
    amp = rng.uniform(0.4, 1.0, size=4) * np.array([0.04 * size, 0.04 * size, 0.04, np.deg2rad(3.0)])
    motion = amp * np.sin(2 * np.pi * cycles * t[:, None] + phase)
    out, boxes = [], []
    half_w, half_h = (box[2] - box[0]) / 2.0 * pre, (box[3] - box[1]) / 2.0 * pre
    for dx, dy, zoom, tilt in motion:
        k = base * (1.0 + zoom)
        cos, sin = np.cos(tilt) * k, np.sin(tilt) * k
        # Photo → clip: rotate and scale about the face centre, which lands at the clip centre + drift.
        matrix = np.array(
            [
                [cos, -sin, size / 2 + dx - cos * cx + sin * cy],
                [sin, cos, size / 2 + dy - sin * cx - cos * cy],
            ],
            np.float32,
        )
        out.append(
            cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        )
        fx, fy = size / 2 + dx, size / 2 + dy
        boxes.append((fx - half_w * k, fy - half_h * k, fx + half_w * k, fy + half_h * k))
    return FaceClip(np.stack(out), np.asarray(boxes, np.float32), identity, fps, origin)


def _clip_windows(num_frames: int, frames: int, stride: int, count: int) -> list[list[int]]:
    """Frame indices of up to ``count`` clips spread evenly over a video, sampled every ``stride``."""
    stride = max(1, min(stride, (num_frames - 1) // max(frames - 1, 1)))
    span = (frames - 1) * stride + 1
    if span > num_frames:
        return []
    count = max(1, min(count, num_frames // span))
    segment = num_frames / count
    starts = [int(k * segment + (segment - span) / 2) for k in range(count)]
    return [list(range(start, start + span, stride)) for start in starts]


def _video_clips(
    path: Path, detector: FaceDetector, frames: int, size: int, count: int, skipped: list[str], person: str
) -> list[FaceClip]:
    from fakescan.data.video import probe_video, read_frames

    table = probe_video(path)
    fps = table.fps or 25.0
    stride = max(1, round(fps * CLIP_SECONDS / frames))
    windows = _clip_windows(table.num_frames, frames, stride, count)
    if not windows:
        skipped.append(f"{path.name}: shorter than {frames} frames")
    clips = []
    for window in windows:
        images, boxes = [], []
        previous: Box | None = None
        for frame in read_frames(table, window):
            found = pick_face(detector.detect(frame.image), previous)
            if (
                found is not None
                and min(found.box[2] - found.box[0], found.box[3] - found.box[1]) >= MIN_FACE
            ):
                previous = found.box
            images.append(frame.image)
            boxes.append(previous)
        known = [i for i, b in enumerate(boxes) if b is not None]
        where = f"{path.name} frames {window[0]}–{window[-1]}"
        if len(images) < frames or len(known) < 0.8 * frames:
            skipped.append(f"{where}: a face in only {len(known)} of {frames} frames")
            continue
        # Frames before the first detection take the first box; pick_face carries the rest forward.
        filled = np.asarray(
            [boxes[i] if boxes[i] is not None else boxes[known[0]] for i in range(len(boxes))]
        )
        step = window[1] - window[0] if len(window) > 1 else 1
        clips.append(
            cut_clip(images, filled, size, person, Fraction(fps / step).limit_denominator(1001), where)
        )
    return clips


def _photo_clips(
    path: Path, detector: FaceDetector, frames: int, size: int, seed: int, skipped: list[str], person: str
) -> list[FaceClip]:
    from fakescan.data.images import read_image

    image = read_image(path)
    faces = [
        d for d in detector.detect(image)
        if min(d.box[2] - d.box[0], d.box[3] - d.box[1]) >= MIN_FACE
        and d.box[0] >= 0 and d.box[1] >= 0 and d.box[2] <= image.shape[1] and d.box[3] <= image.shape[0]
    ]  # fmt: skip
    if not faces:
        skipped.append(f"{path.name}: no whole face of at least {MIN_FACE} px")
    faces.sort(key=lambda d: (d.box[0], -box_area(d.box)))
    clips = []
    for number, face in enumerate(faces):
        identity = person if len(faces) == 1 else f"{person}-{number}"
        rng = np.random.default_rng([seed, 1, number, *path.name.encode()])
        clips.append(
            animate_still(image, face.box, rng, frames, size, identity, origin=f"{path.name} face {number}")
        )
    return clips


MANIFEST_NAME = "synth.json"
"""The file :func:`build_synthetic_ffpp` writes at the root of every synthetic data set."""


def synthetic_root_of(source: str | Path, levels: int = 6) -> Path | None:
    """The synthetic data set (a folder with ``synth.json``) that ``source`` lies in, or ``None``.

    Looks at most ``levels`` folders up (a clip lies four below the root:
    ``manipulated_sequences/<method>/c23/videos/``).
    """
    for folder in list(Path(source).parents)[:levels]:
        manifest = folder / MANIFEST_NAME
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError):
                continue
            if isinstance(data, dict) and "clips" in data and "methods" in data:
                return folder
    return None


def _write_video(path: Path, frames: np.ndarray, fps: Fraction, crf: int = 23) -> None:
    """Encode ``frames`` (``T×H×W×3`` uint8 RGB) as H.264 at constant quality ``crf``.

    One thread and no macroblock-tree rate control: with either, the x264 builds we ship gave
    different bytes for the same frames from run to run, and a seed must reproduce the files.
    """
    import av

    tmp = path.with_name(f".{path.name}.tmp.mp4")
    with av.open(str(tmp), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        stream.options = {"preset": "veryfast", "crf": str(crf), "x264-params": "mbtree=0"}
        for number, pixels in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = number, Fraction(1) / fps
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)


def _check_out(out_dir: Path, overwrite: bool) -> bool:
    """Whether ``out_dir`` holds an earlier build to replace; raise if it holds anything else."""
    if not out_dir.exists() or not any(out_dir.iterdir()):
        return False
    if not overwrite:
        raise ConfigError(
            f"{out_dir}: folder is not empty; choose a new one or pass overwrite=True (--overwrite)"
        )
    if not (out_dir / MANIFEST_NAME).is_file():
        raise ConfigError(f"{out_dir}: not a synthetic data set (no synth.json); refusing to overwrite it")
    return True


def _prepare_out(out_dir: Path, overwrite: bool) -> None:
    if _check_out(out_dir, overwrite):
        for name in ("original_sequences", "manipulated_sequences"):
            shutil.rmtree(out_dir / name, ignore_errors=True)
        for name in ("train.json", "val.json", "test.json", "synth.json"):
            (out_dir / name).unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)


def _manipulate(method: str, target: FaceClip, source: FaceClip, rng: np.random.Generator) -> FakeClip:
    if method == "FaceSwap-lite":
        return swap_face_clip(target, source, rng)
    if method == "Resynth":
        return resynthesize_clip(target, rng)
    if method == "MouthWarp":
        return reenact_mouth_clip(target, rng)
    if method == "Checkerboard":
        return upsample_artefacts_clip(target, rng)
    if method == "ColourBlend":
        return colour_blend_clip(target, source, rng)
    raise ConfigError(f"unknown synthetic method {method!r}; choose from {', '.join(ALL_METHODS)}")


def build_synthetic_ffpp(
    sources: Sequence[str | Path],
    out_dir: str | Path,
    methods: Sequence[str] = SYNTH_METHODS,
    frames: int = 32,
    size: int = 192,
    seed: int = 0,
    *,
    clips_per_video: int = 3,
    folders: Mapping[str, str] | None = None,
    identities: Mapping[str, str] | None = None,
    held_out: int = HELD_OUT,
    detector: FaceDetector | None = None,
    overwrite: bool = False,
) -> SynthReport:
    """Write a small FF++-layout data set of real clips and their synthetic manipulations.

    Args:
        sources: face videos and photos; each video and each face of a photo is one person, and
            they must all be different people (at least six of them).
        out_dir: the data set folder to create (must be empty unless ``overwrite``).
        methods: synthetic methods, from :data:`ALL_METHODS` (default :data:`SYNTH_METHODS`).
        frames: frames per clip.
        size: side of the square clips, in pixels (even).
        seed: everything random — splits, motion of photos, masks, manipulation parameters.
        clips_per_video: at most this many clips are cut from each video.
        folders: method → folder under ``manipulated_sequences`` (default :data:`METHOD_FOLDERS`).
        identities: source file name → the person it shows, for files that show someone another
            file shows too (e.g. :data:`SAME_PEOPLE`); other files are people of their own, named
            after their stem.
        held_out: identities held out for each of validation and test (:func:`plan_pairs`).
        detector: face detector (default dlib's HOG, searching video frames at 320 px and photos
            at 800 px).
        overwrite: replace a synthetic data set already in ``out_dir`` (one with ``synth.json``).

    Then ``index_ffpp(out_dir, methods=[folders[m] for m in methods])`` reads it.

    Raises:
        ConfigError: bad arguments, a non-empty ``out_dir``, or fewer than six people found.
        InputError: a source cannot be read.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    chosen_folders = dict(METHOD_FOLDERS if folders is None else folders)
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown or not methods:
        raise ConfigError(f"unknown synthetic method(s) {unknown}; choose from {', '.join(ALL_METHODS)}")
    missing = [m for m in methods if m not in chosen_folders]
    if missing:
        raise ConfigError(f"no folder given for method(s) {missing}")
    if frames < 2 or size < 32 or size % 2:
        raise ConfigError(
            f"frames must be at least 2 and size an even number of at least 32 (got {frames}, {size})"
        )
    _check_out(out_dir, overwrite)
    from fakescan.data.faces import create_detector

    # Faces fill video frames but can be small in a group photo: search photos at a larger size.
    video_detector = detector or create_detector("hog", max_side=320)
    photo_detector = detector or create_detector("hog", max_side=800)

    from fakescan.data.media import media_kind

    skipped: list[str] = []
    clips: list[FaceClip] = []
    for source in map(Path, sources):
        kind = media_kind(source)
        if kind is None or not source.is_file():
            raise InputError(source, "not a video or image file" if source.exists() else "file not found")
        person = (identities or {}).get(source.name, source.stem)
        if kind == "video":
            clips += _video_clips(source, video_detector, frames, size, clips_per_video, skipped, person)
        else:
            clips += _photo_clips(source, photo_detector, frames, size, seed, skipped, person)
    names = {f"{n:03d}": clip for n, clip in enumerate(clips)}
    plan = plan_pairs({name: clip.identity for name, clip in names.items()}, seed, held_out)
    used = sorted({name for pairs in plan.values() for pair in pairs for name in pair})

    _prepare_out(out_dir, overwrite)
    reals_dir = out_dir / "original_sequences" / "youtube" / "c23" / "videos"
    reals_dir.mkdir(parents=True)
    for name in used:
        _write_video(reals_dir / f"{name}.mp4", names[name].frames, names[name].fps)
    for number, method in enumerate(methods):
        folder = out_dir / "manipulated_sequences" / chosen_folders[method] / "c23" / "videos"
        folder.mkdir(parents=True)
        for a, b in (pair for split in SPLITS for pair in plan[split]):
            for target, source in ((a, b), (b, a)):
                rng = np.random.default_rng([seed, 2, number, int(target), int(source)])
                fake = _manipulate(method, names[target], names[source], rng)
                _write_video(folder / f"{target}_{source}.mp4", fake.frames, names[target].fps)

    for split in SPLITS:
        atomic_write_text(out_dir / f"{split}.json", json.dumps([list(pair) for pair in plan[split]]) + "\n")
    split_of = {name: split for split in SPLITS for pair in plan[split] for name in pair}
    manifest = {
        "note": "synthetic data for smoke tests and demos; not a benchmark (fakescan docs/synth.md)",
        "seed": seed,
        "frames": frames,
        "size": size,
        "methods": {method: chosen_folders[method] for method in methods},
        "clips": {
            name: {
                "identity": names[name].identity,
                "origin": names[name].origin,
                "split": split_of[name],
                "fps": str(names[name].fps),
                "boxes": np.round(names[name].boxes, 1).tolist(),
            }
            for name in used
        },
        "skipped": skipped,
    }
    atomic_write_text(out_dir / MANIFEST_NAME, json.dumps(manifest, indent=1) + "\n")
    return SynthReport(
        root=out_dir,
        pairs=plan,
        identities={name: names[name].identity for name in used},
        folders={method: chosen_folders[method] for method in methods},
        skipped=skipped,
        seconds=time.perf_counter() - started,
    )
