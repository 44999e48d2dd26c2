"""Tests of fakescan.synth.families on real sample faces: forged faces out, changes only where
intended, the same bytes for the same seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fakescan.data.faces import create_detector
from fakescan.data.faces.base import pick_face
from fakescan.data.images import read_image
from fakescan.data.video import probe_video, read_frames
from fakescan.synth.build import animate_still, cut_clip
from fakescan.synth.faceswap import FaceClip, FakeClip, mask_template
from fakescan.synth.families import (
    MASK_SHAPES,
    colour_blend_clip,
    reenact_mouth_clip,
    shape_template,
    transposed_upsample,
    upsample_artefacts_clip,
)

SIZE = 128


@pytest.fixture(scope="module")
def clips(samples: Path) -> tuple[FaceClip, FaceClip]:
    """A clip of the man of single_face.mp4 (6 frames) and an animated clip of the Obama photo."""
    table = probe_video(samples / "videos" / "single_face.mp4")
    frames = [frame.image for frame in read_frames(table, range(0, 24, 4))]
    detector = create_detector("hog", max_side=320)
    boxes = []
    for frame in frames:
        face = pick_face(detector.detect(frame), None)
        assert face is not None
        boxes.append(face.box)
    video = cut_clip(frames, np.asarray(boxes), SIZE, "single_face", table.fps)
    photo = read_image(samples / "images" / "obama.jpg")
    face = pick_face(create_detector("hog", max_side=800).detect(photo), None)
    assert face is not None
    still = animate_still(photo, face.box, np.random.default_rng(0), 6, SIZE, "obama")
    return video, still


def _forge(kind: str, clips: tuple[FaceClip, FaceClip], seed: int) -> FakeClip:
    target, source = clips
    rng = np.random.default_rng(seed)
    if kind == "MouthWarp":
        return reenact_mouth_clip(target, rng)
    if kind == "Checkerboard":
        return upsample_artefacts_clip(target, rng)
    return colour_blend_clip(target, source, rng)


KINDS = ("MouthWarp", "Checkerboard", "ColourBlend")


@pytest.mark.parametrize("kind", KINDS)
def test_a_family_forges_the_face_and_leaves_the_rest_exactly(
    kind: str, clips: tuple[FaceClip, FaceClip]
) -> None:
    real = clips[0]
    fake = _forge(kind, clips, 0)
    assert fake.frames.shape == real.frames.shape and fake.frames.dtype == np.uint8
    assert fake.masks.shape == real.frames.shape[:3]
    assert fake.masks.min() >= 0.0 and fake.masks.max() <= 1.0
    untouched = fake.masks == 0
    assert 0.3 < untouched.mean() < 0.95
    np.testing.assert_array_equal(fake.frames[untouched], real.frames[untouched])
    diff = np.abs(fake.frames.astype(np.int16) - real.frames).max(axis=3)
    assert diff[fake.masks > 0.5].mean() > 2.0  # the face really changed
    for t, box in enumerate(real.boxes):  # and only around the face
        ys, xs = np.nonzero(diff[t])
        x1, y1, x2, y2 = box
        pad = 0.3 * (x2 - x1)
        assert xs.min() >= x1 - pad and xs.max() <= x2 + pad and ys.min() >= y1 - pad and ys.max() <= y2 + pad


def test_mouth_warp_moves_the_lower_face_only_and_over_time(clips: tuple[FaceClip, FaceClip]) -> None:
    real = clips[0]
    fake = reenact_mouth_clip(real, np.random.default_rng(1))
    diff = np.abs(fake.frames.astype(np.int16) - real.frames).max(axis=3)
    for t, (_, y1, _, y2) in enumerate(real.boxes):
        ys = np.nonzero(diff[t])[0]
        if len(ys):
            assert (ys.min() - y1) / (y2 - y1) > 0.5  # nothing above the nose moves
    # No pasted region: the warp keeps the colours, so the face's mean colour barely moves ...
    inside = fake.masks > 0.5
    assert np.abs(fake.frames[inside].mean(axis=0) - real.frames[inside].mean(axis=0)).max() < 3.0
    # ... and the strength of the warp changes from frame to frame (a new mouth motion).
    strength = [diff[t][fake.masks[t] > 0.5].mean() for t in range(len(diff))]
    assert max(strength) > 1.5 * min(strength)


def _checkerboard_power(image: np.ndarray, box: np.ndarray) -> float:
    """Spectral power at periods 2 and 4 (rows and columns) of the middle of the face, relative
    to the mean power."""
    x1, y1, x2, y2 = (int(v) for v in box)
    w, h = x2 - x1, y2 - y1
    gray = image[y1 + h // 4 : y2 - h // 4, x1 + w // 4 : x2 - w // 4].astype(float).mean(axis=2)
    gray = gray[: gray.shape[0] // 4 * 4, : gray.shape[1] // 4 * 4]
    power = np.abs(np.fft.fft2(gray - gray.mean())) ** 2
    n0, n1 = power.shape
    return float(
        (power[n0 // 2, 0] + power[0, n1 // 2] + power[n0 // 4, 0] + power[0, n1 // 4]) / power.mean()
    )


def test_upsampling_leaves_a_checkerboard_in_the_face(clips: tuple[FaceClip, FaceClip]) -> None:
    real = clips[0]
    fake = upsample_artefacts_clip(real, np.random.default_rng(2))
    for t in range(len(real.frames)):
        before = _checkerboard_power(real.frames[t], real.boxes[t])
        after = _checkerboard_power(fake.frames[t], real.boxes[t])
        assert after > 5.0 * before, (t, before, after)


def test_transposed_upsampling_has_uneven_overlap() -> None:
    kernel = np.outer([0.45, 1.0, 0.45], [0.45, 1.0, 0.45]).astype(np.float32)
    out = transposed_upsample(np.full((6, 6, 3), 100.0, np.float32), kernel)
    assert out.shape == (12, 12, 3)
    inner = out[2:-2, 2:-2, 0]
    # Rows and columns aligned with an input sample get weight 1; the others 2 · 0.45 per axis.
    assert np.allclose(inner[::2, ::2], 100.0) and np.allclose(inner[1::2, 1::2], 81.0)


def test_colour_blend_shifts_the_colour_inside_shapes_of_every_kind(clips: tuple[FaceClip, FaceClip]) -> None:
    import cv2

    real = clips[0]
    fake = colour_blend_clip(real, clips[1], np.random.default_rng(3))
    inside = fake.masks > 0.9
    lab = [
        cv2.cvtColor(f, cv2.COLOR_RGB2LAB)[inside[0]].astype(float).mean(axis=0)
        for f in (real.frames[0], fake.frames[0])
    ]
    assert np.abs(lab[1] - lab[0]).max() > 5.0  # another face, in mismatched colour

    # Every shape has a narrower feather than the swaps' masks, and the shapes differ.
    def feather(mask: np.ndarray) -> float:
        return float(((mask > 0.05) & (mask < 0.95)).sum() / (mask > 0.5).sum())

    templates = {shape: shape_template(shape, np.random.default_rng(0)) for shape in MASK_SHAPES}
    blended = feather(mask_template(np.random.default_rng(0)))  # the swaps' wide feather
    for shape, mask in templates.items():
        assert mask.max() == 1.0 and mask[0].max() == 0.0
        assert feather(mask) < 0.6 * blended, shape
    hard = [templates[shape] > 0.5 for shape in MASK_SHAPES]
    assert all((a != b).mean() > 0.05 for i, a in enumerate(hard) for b in hard[i + 1 :])
    with pytest.raises(ValueError, match="unknown mask shape"):
        shape_template("star", np.random.default_rng(0))


@pytest.mark.parametrize("kind", KINDS)
def test_a_family_is_deterministic_by_seed(kind: str, clips: tuple[FaceClip, FaceClip]) -> None:
    first, again, other = (_forge(kind, clips, seed) for seed in (5, 5, 6))
    np.testing.assert_array_equal(first.frames, again.frames)
    np.testing.assert_array_equal(first.masks, again.masks)
    assert not np.array_equal(first.frames, other.frames)
