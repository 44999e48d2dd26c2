"""Three more forgery families for the synthetic data set, each of a different kind from a face swap.

A generalisation benchmark needs forgeries that leave different traces, so that "trained on one
method, tested on another" means something. Besides the blended swap and the low-rank
re-synthesis of :mod:`fakescan.synth.faceswap`, fakescan makes:

- :func:`reenact_mouth_clip` — a landmark-free *reenactment*: the lower face of every frame is
  warped by a smooth displacement field centred on the mouth, whose strength follows a random
  speech-like rhythm, so the mouth opens, closes and widens as it never did. Nothing is pasted:
  the frame is resampled through a field that is continuous everywhere and exactly zero outside a
  compact window, so there is no blending boundary and no colour change — the traces are temporal
  and geometric only (the kind of fake, like FF++'s Face2Face or NeuralTextures' mouth, that
  blending-based detectors miss).
- :func:`upsample_artefacts_clip` — *generator-style upsampling artefacts*: the face region is
  shrunk by 4 and enlarged again by two stride-2 transposed convolutions whose 3×3 kernel does not
  divide evenly by the stride, which leaves the periodic checkerboard that decoders of GANs and
  autoencoders print on their output (Odena, Dumoulin & Olah, "Deconvolution and Checkerboard
  Artifacts", Distill 2016), then pasted back through a soft mask. Its trace is spectral: a peak at
  the Nyquist frequency and lost detail, with no identity or colour change.
- :func:`colour_blend_clip` — *colour-mismatched blending at varied mask shapes*: another person's
  face is aligned box to box and alpha-blended in through a mask that is an ellipse, a rectangle,
  the lower face, or the hull of random points, with a narrow feather and a deliberate colour and
  brightness offset (no colour transfer, no Poisson blending). Its trace is a visible seam whose
  shape varies from clip to clip.

Each returns a :class:`~fakescan.synth.faceswap.FakeClip` whose mask is 0 exactly where the
pixels are the input's, and is a pure function of its inputs and the generator.
"""

from __future__ import annotations

import numpy as np

from fakescan.synth.faceswap import (
    TEMPLATE_PAD,
    FaceClip,
    FakeClip,
    align_source,
    composite,
    mask_template,
    place_mask,
)
from fakescan.synth.masks import ellipse_mask, hull_mask, soften_mask

__all__ = [
    "MASK_SHAPES",
    "colour_blend_clip",
    "mouth_displacement",
    "reenact_mouth_clip",
    "shape_template",
    "transposed_upsample",
    "upsample_artefacts_clip",
]

MASK_SHAPES: tuple[str, ...] = ("ellipse", "rectangle", "lower", "hull")
"""The mask shapes of :func:`colour_blend_clip`, drawn equally often."""


def mouth_displacement(
    shape: tuple[int, int], box: np.ndarray, opening: float, widening: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The backward displacement field of one reenacted frame, and its window.

    The window is the compact bump ``(1 − r²)²`` (0 for ``r ≥ 1``) of an ellipse around the mouth:
    centre at 78 % of the face box's height, half-axes 0.34 and 0.24 of its width and height.
    Inside it, the frame is stretched vertically about the mouth by ``opening`` and horizontally by
    ``widening`` (fractions of the box; positive opens and widens) and the jaw below drops by half
    the opening. Returns ``(dx, dy, window)``; sampling the frame at ``(x − dx, y − dy)`` applies it.

    >>> dx, dy, w = mouth_displacement((64, 64), np.array([16, 8, 48, 56]), 0.1, 0.0)
    >>> float(w[0, 0]), bool(dy[0, 0] == 0), bool(w[45, 32] > 0.9)
    (0.0, True, True)
    """
    height, width = shape
    x1, y1, x2, y2 = (float(v) for v in box)
    bw, bh = x2 - x1, y2 - y1
    mx, my = (x1 + x2) / 2.0, y1 + 0.78 * bh
    rx, ry = 0.34 * bw, 0.24 * bh
    gx, gy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    ux, uy = (gx - mx) / rx, (gy - my) / ry
    window = np.clip(1.0 - (ux * ux + uy * uy), 0.0, None) ** 2
    jaw = np.clip(uy, 0.0, None)
    dy = window * (opening * bh * (0.5 * uy + 0.5 * jaw))
    dx = window * (widening * bw * 0.5 * ux)
    return dx.astype(np.float32), dy.astype(np.float32), window.astype(np.float32)


def reenact_mouth_clip(
    clip: FaceClip,
    rng: np.random.Generator,
    opening: tuple[float, float] = (0.08, 0.15),
    widening: tuple[float, float] = (0.03, 0.08),
) -> FakeClip:
    """``clip`` with a new mouth motion: the lower face warped by :func:`mouth_displacement`.

    Per frame, the opening is ``A · s(t)`` and the widening ``B · c(t)``, where ``A`` and ``B``
    are drawn from ``opening`` and ``widening`` and ``s``, ``c`` are sums of two sinusoids of
    random phase at 1.5–3.5 cycles per clip (a speech-like rhythm), clipped to ``[−0.3, 1]`` so
    the mouth closes a little less than it opens. The mask returned is the window of the warp.
    """
    import cv2

    count, height, width = clip.frames.shape[:3]
    t = np.arange(count) / max(count, 1)
    amp_open = float(rng.uniform(*opening))
    amp_wide = float(rng.uniform(*widening))
    cycles = rng.uniform(1.5, 3.5, size=4)
    phase = rng.uniform(0.0, 2.0 * np.pi, size=4)
    waves = np.sin(2.0 * np.pi * cycles[:, None] * t + phase[:, None])
    speech = np.clip(0.6 * waves[0] + 0.4 * waves[1], -0.3, 1.0)
    smile = np.clip(0.6 * waves[2] + 0.4 * waves[3], -0.3, 1.0)
    gx, gy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    frames, masks = [], []
    for frame, box, s, c in zip(clip.frames, clip.boxes, speech, smile, strict=True):
        dx, dy, window = mouth_displacement((height, width), box, amp_open * s, amp_wide * c)
        warped = cv2.remap(
            frame, gx - dx, gy - dy, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        window[window < 1e-4] = 0.0
        warped[window == 0] = frame[window == 0]
        frames.append(warped)
        masks.append(window)
    return FakeClip(np.stack(frames), np.stack(masks))


def transposed_upsample(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """A stride-2, 3×3 transposed convolution of each channel of ``image`` (``H×W×C`` float32).

    Zeros are inserted between the samples and the result is convolved with ``kernel``; since 3
    is not a multiple of the stride, output pixels on even and odd rows and columns receive
    different sums of kernel weights, which is the checkerboard of Odena et al. (2016). Output is
    ``2H×2W×C``.

    >>> flat = np.ones((4, 4, 1), np.float32)
    >>> out = transposed_upsample(flat, np.outer([0.4, 1.0, 0.4], [0.4, 1.0, 0.4]).astype(np.float32))
    >>> round(float(out[2, 2, 0]), 2), round(float(out[3, 3, 0]), 2)
    (1.0, 0.64)
    """
    import cv2

    height, width, channels = image.shape
    spread = np.zeros((2 * height, 2 * width, channels), np.float32)
    spread[::2, ::2] = image
    out = cv2.filter2D(spread, -1, kernel[::-1, ::-1], borderType=cv2.BORDER_REFLECT_101)
    return out.reshape(2 * height, 2 * width, channels)


def upsample_artefacts_clip(
    clip: FaceClip, rng: np.random.Generator, side_weight: tuple[float, float] = (0.44, 0.48)
) -> FakeClip:
    """``clip`` with each face region decoded as a generator would: shrunk by 4, then two
    stride-2 transposed convolutions (:func:`transposed_upsample`) and a per-channel gain that
    restores the mean level, pasted back through the clip's soft face mask.

    The kernel is the outer product of ``(a, 1, a)`` with itself, ``a`` drawn from
    ``side_weight``; ``a < 0.5`` makes odd rows and columns darker than even ones by ``1 − 2a``.
    """
    import cv2

    height, width = clip.frames.shape[1:3]
    side = float(rng.uniform(*side_weight))
    taps = np.array([side, 1.0, side], np.float32)
    kernel = np.outer(taps, taps).astype(np.float32)
    template = mask_template(rng)
    frames, masks = [], []
    for frame, box in zip(clip.frames, clip.boxes, strict=True):
        x1, y1, x2, y2 = (float(v) for v in box)
        pad_x, pad_y = TEMPLATE_PAD * (x2 - x1), TEMPLATE_PAD * (y2 - y1)
        left, top = max(0, int(np.floor(x1 - pad_x))), max(0, int(np.floor(y1 - pad_y)))
        right, bottom = min(width, int(np.ceil(x2 + pad_x))), min(height, int(np.ceil(y2 + pad_y)))
        region = frame[top:bottom, left:right].astype(np.float32)
        small_w, small_h = max(2, round((right - left) / 4)), max(2, round((bottom - top) / 4))
        small = cv2.resize(region, (small_w, small_h), interpolation=cv2.INTER_AREA)
        decoded = transposed_upsample(transposed_upsample(small, kernel), kernel)
        gain = region.mean(axis=(0, 1)) / np.maximum(decoded.mean(axis=(0, 1)), 1e-3)
        # Nearest keeps the 4×4 period of the pattern; the enlargement is at most a few pixels.
        decoded = cv2.resize(decoded * gain, (right - left, bottom - top), interpolation=cv2.INTER_NEAREST)
        enlarged = frame.astype(np.float32)
        enlarged[top:bottom, left:right] = decoded
        mask = place_mask(template, box, (height, width))
        frames.append(composite(frame, np.clip(enlarged, 0, 255), mask))
        masks.append(mask)
    return FakeClip(np.stack(frames), np.stack(masks))


def shape_template(shape: str, rng: np.random.Generator, size: int = 96) -> np.ndarray:
    """A soft mask of the given ``shape`` (one of :data:`MASK_SHAPES`) on a template canvas.

    The canvas is that of :func:`~fakescan.synth.faceswap.mask_template` (the face box padded by
    :data:`~fakescan.synth.faceswap.TEMPLATE_PAD`). Shapes, in face-box fractions: an ellipse of
    half-axes 0.42–0.5; a rectangle from 0.1–0.2 to 0.8–0.9; the lower face (an ellipse from the
    nose down, 0.45–0.55 to 1.0); the convex hull of 9 random points in the box. The feather is
    narrow (blur 1–3 % of the region), so the seam stays visible.
    """
    inner = size / (1.0 + 2.0 * TEMPLATE_PAD)
    start = (size - inner) / 2.0

    def at(fx: float, fy: float) -> tuple[float, float]:
        return start + fx * inner, start + fy * inner

    canvas = (size, size)
    if shape == "ellipse":
        k = float(rng.uniform(0.84, 1.0))
        hard = ellipse_mask(canvas, (*at(0.0, 0.05), *at(1.0, 1.0)), scale=(k, k))
    elif shape == "rectangle":
        lo, hi = rng.uniform(0.1, 0.2, size=2), rng.uniform(0.8, 0.9, size=2)
        hard = np.zeros(canvas, np.float32)
        (ax, ay), (bx, by) = at(lo[0], lo[1]), at(hi[0], hi[1])
        hard[round(ay) : round(by), round(ax) : round(bx)] = 1.0
    elif shape == "lower":
        top = float(rng.uniform(0.45, 0.55))
        hard = ellipse_mask(canvas, (*at(0.1, top), *at(0.9, 1.0)))
    elif shape == "hull":
        points = np.array([at(fx, fy) for fx, fy in rng.uniform(0.05, 0.95, size=(9, 2))], np.float32)
        hard = hull_mask(canvas, points)
    else:
        raise ValueError(f"unknown mask shape {shape!r}; choose from {', '.join(MASK_SHAPES)}")
    soft = soften_mask(hard, rng, grow=(0.0, 0.0), blur=(0.01, 0.03))
    edge = max(1, size // 32)
    soft[:edge], soft[-edge:], soft[:, :edge], soft[:, -edge:] = 0, 0, 0, 0
    return soft


def colour_blend_clip(
    target: FaceClip,
    source: FaceClip,
    rng: np.random.Generator,
    lightness: tuple[float, float] = (6.0, 16.0),
    chroma: tuple[float, float] = (3.0, 10.0),
) -> FakeClip:
    """``target`` with ``source``'s face alpha-blended in through a mask of a random shape.

    The shape is drawn from :data:`MASK_SHAPES` (:func:`shape_template`); the aligned source
    (:func:`~fakescan.synth.faceswap.align_source`) is offset in L*a*b* by a lightness of
    ``±lightness`` and a chroma of ``±chroma`` per channel (signs and sizes drawn once per clip), so
    the inserted face never quite matches its surroundings.
    """
    import cv2

    shape = MASK_SHAPES[int(rng.integers(len(MASK_SHAPES)))]
    template = shape_template(shape, rng)
    sizes = np.array([rng.uniform(*lightness), rng.uniform(*chroma), rng.uniform(*chroma)], np.float32)
    offset = sizes * rng.choice(np.array([-1.0, 1.0], np.float32), size=3)
    frames, masks = [], []
    height, width = target.frames.shape[1:3]
    for t in range(len(target.frames)):
        s = t % len(source.frames)
        aligned = align_source(source.frames[s], source.boxes[s], target.boxes[t], (height, width))
        lab = cv2.cvtColor(aligned.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB) + offset
        shifted = np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * 255.0, 0, 255)
        mask = place_mask(template, target.boxes[t], (height, width))
        frames.append(composite(target.frames[t], shifted, mask))
        masks.append(mask)
    return FakeClip(np.stack(frames), np.stack(masks))
