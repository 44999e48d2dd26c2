"""Two classic graphics manipulations of face clips: a face swap and a face re-synthesis.

Both work on a :class:`FaceClip` — a short square video with the face box of every frame — and
return a :class:`FakeClip` — the manipulated frames and, per frame, the soft mask through which
the face region was replaced. Pixels where that mask is 0 are exactly the input's.

- :func:`swap_face_clip` puts the face of one person into a clip of another, frame by frame
  (:func:`swap_face_frame`): the source frame is aligned box-to-box onto the target, its colours
  are moved to the target's by matching the mean and standard deviation of each L*a*b* channel
  inside the face (Reinhard et al., "Color Transfer between Images", IEEE CG&A 2001), and it is
  merged by Poisson blending, which keeps the source's gradients and takes the target's values on
  the mask boundary (Pérez, Gangnet & Blake, "Poisson Image Editing", SIGGRAPH 2003; OpenCV's
  ``seamlessClone``). This is the recipe of graphics-based swaps such as FaceForensics++'s
  FaceSwap, with boxes instead of landmarks.
- :func:`resynthesize_clip` replaces a person's face by a reconstruction of itself: the face
  regions of the clip are aligned, shrunk to a few dozen pixels and projected onto their first
  principal components — a per-clip linear "autoencoder" — then enlarged and pasted back through
  a soft mask. It leaves the identity alone and leaves the traces of generated faces that
  detectors look for: lost detail, a resolution and colour mismatch at the boundary, a smoothed
  expression.

The mask of a clip is drawn once (:func:`mask_template`) in coordinates relative to the face box
and moved with the box, so it does not flicker. Everything here is a pure function of its inputs
and an explicit :class:`numpy.random.Generator`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from fakescan.data.faces.base import Box
from fakescan.synth.masks import face_mask

__all__ = [
    "TEMPLATE_PAD",
    "FaceClip",
    "FakeClip",
    "align_source",
    "composite",
    "mask_template",
    "place_mask",
    "resynthesize_clip",
    "swap_face_clip",
    "swap_face_frame",
    "transfer_colour",
]

TEMPLATE_PAD = 0.25
"""A mask template covers its face box enlarged by this fraction of the box on every side."""


@dataclass(frozen=True)
class FaceClip:
    """A short face video.

    Attributes:
        frames: ``T×S×S×3`` uint8 RGB frames.
        boxes: ``T×4`` float32 face boxes ``(x1, y1, x2, y2)`` in frame pixels, one per frame.
        identity: name of the person shown (clips of one identity must stay in one split).
        fps: frame rate to write the clip at.
        origin: where the clip came from (file name and frame range, or the photo), for the record.
    """

    frames: np.ndarray
    boxes: np.ndarray
    identity: str
    fps: Fraction = Fraction(12)
    origin: str = ""

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[3] != 3 or self.frames.dtype != np.uint8:
            raise ValueError(
                f"frames must be a T×H×W×3 uint8 array, got {self.frames.dtype} {self.frames.shape}"
            )
        if self.boxes.shape != (len(self.frames), 4):
            raise ValueError(f"boxes must be {len(self.frames)}×4, got {self.boxes.shape}")


@dataclass(frozen=True)
class FakeClip:
    """A manipulated clip: ``frames`` (``T×S×S×3`` uint8) and ``masks`` (``T×S×S`` float32 in [0, 1])."""

    frames: np.ndarray
    masks: np.ndarray


def mask_template(rng: np.random.Generator, size: int = 96) -> np.ndarray:
    """A soft, randomly deformed face mask drawn on a ``size × size`` canvas in box coordinates.

    The canvas spans the face box enlarged by :data:`TEMPLATE_PAD` on every side; the mask is made
    by :func:`fakescan.synth.masks.face_mask` around the box and stays inside the canvas.
    """
    inner = size / (1.0 + 2.0 * TEMPLATE_PAD)
    start = (size - inner) / 2.0
    box = (start, start, start + inner, start + inner)
    # A face box from a detector runs from the brows to the chin: keep the mask a little inside it.
    template = face_mask((size, size), rng, box=box, deform=True)
    edge = max(1, size // 32)
    template[:edge], template[-edge:], template[:, :edge], template[:, -edge:] = 0, 0, 0, 0
    return template


def _template_matrix(box: Box | np.ndarray, size: int) -> np.ndarray:
    """Affine map from template pixels to frame pixels for a face ``box``."""
    x1, y1, x2, y2 = (float(v) for v in box)
    span = 1.0 + 2.0 * TEMPLATE_PAD
    sx, sy = (x2 - x1) * span / size, (y2 - y1) * span / size
    return np.array(
        [[sx, 0.0, x1 - TEMPLATE_PAD * (x2 - x1)], [0.0, sy, y1 - TEMPLATE_PAD * (y2 - y1)]], np.float32
    )


def place_mask(template: np.ndarray, box: Box | np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The template warped onto the face ``box`` of a frame of ``shape`` (``(H, W)``); 0 elsewhere.

    >>> template = np.ones((8, 8), np.float32)
    >>> mask = place_mask(template, (10, 10, 20, 20), (40, 40))
    >>> float(mask[15, 15]), float(mask[2, 2])
    (1.0, 0.0)
    """
    import cv2

    height, width = shape
    matrix = _template_matrix(box, template.shape[0])
    placed = cv2.warpAffine(
        template, matrix, (width, height), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0.0,
    )  # fmt: skip
    placed[placed < 1e-3] = 0.0
    return placed


def transfer_colour(source: np.ndarray, target: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``source`` (uint8 RGB) with the L*a*b* mean and spread of ``target`` inside ``region``.

    Each L*a*b* channel of the source is shifted and scaled so that, over the pixels where
    ``region`` is true, its mean and standard deviation equal the target's (Reinhard et al. 2001).
    The spread ratio is bounded to ``[0.5, 2]`` so that a flat region cannot blow up the source.
    """
    import cv2

    inside = region.astype(bool)
    if not inside.any():
        return source.copy()
    src = cv2.cvtColor(source.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    dst = cv2.cvtColor(target.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    src_mean, src_std = src[inside].mean(axis=0), src[inside].std(axis=0)
    dst_mean, dst_std = dst[inside].mean(axis=0), dst[inside].std(axis=0)
    ratio = np.clip(dst_std / np.maximum(src_std, 1e-3), 0.5, 2.0)
    moved = (src - src_mean) * ratio + dst_mean
    rgb = cv2.cvtColor(moved.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def composite(base: np.ndarray, inserted: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``alpha · inserted + (1 − alpha) · base`` in uint8; exactly ``base`` where alpha is 0."""
    weight = alpha[..., None]
    blended = weight * inserted.astype(np.float32) + (1.0 - weight) * base.astype(np.float32)
    out = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    untouched = alpha == 0
    out[untouched] = base[untouched]
    return out


def align_source(
    source: np.ndarray, source_box: Box | np.ndarray, target_box: Box | np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """``source`` scaled and shifted so that its face box lands on ``target_box``, in a frame of
    ``shape`` (``(H, W)``; borders reflected)."""
    import cv2

    height, width = shape
    tx1, ty1, tx2, ty2 = (float(v) for v in target_box)
    sx1, sy1, sx2, sy2 = (float(v) for v in source_box)
    kx, ky = (tx2 - tx1) / max(sx2 - sx1, 1.0), (ty2 - ty1) / max(sy2 - sy1, 1.0)
    align = np.array([[kx, 0.0, tx1 - kx * sx1], [0.0, ky, ty1 - ky * sy1]], np.float32)
    return cv2.warpAffine(
        source, align, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )


def swap_face_frame(
    target: np.ndarray,
    target_box: Box | np.ndarray,
    source: np.ndarray,
    source_box: Box | np.ndarray,
    template: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Put the face of ``source`` into ``target``; return the new frame and the mask used.

    The source is scaled and shifted so that its face box lands on the target's, colour-matched
    inside the face (:func:`transfer_colour`), merged by Poisson blending (Pérez et al. 2003,
    ``cv2.seamlessClone``) over the region where the placed ``template`` exceeds 0.5, and finally
    composited through the soft placed template, so pixels outside its support are the target's.
    """
    import cv2

    height, width = target.shape[:2]
    warped = align_source(source, source_box, target_box, (height, width))
    soft = place_mask(template, target_box, (height, width))
    hard = (soft > 0.5).astype(np.uint8)
    hard[:2], hard[-2:], hard[:, :2], hard[:, -2:] = 0, 0, 0, 0
    if not hard.any():
        return target.copy(), np.zeros((height, width), np.float32)
    matched = transfer_colour(warped, target, hard)
    x, y, w, h = cv2.boundingRect(hard)
    cloned = cv2.seamlessClone(
        cv2.cvtColor(matched, cv2.COLOR_RGB2BGR), cv2.cvtColor(target, cv2.COLOR_RGB2BGR),
        hard * 255, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE,
    )  # fmt: skip
    return composite(target, cv2.cvtColor(cloned, cv2.COLOR_BGR2RGB), soft), soft


def swap_face_clip(target: FaceClip, source: FaceClip, rng: np.random.Generator) -> FakeClip:
    """``target`` with the face of ``source`` in every frame (frame t takes source frame t mod T').

    One mask template is drawn from ``rng`` for the whole clip.
    """
    template = mask_template(rng)
    frames, masks = [], []
    for t in range(len(target.frames)):
        s = t % len(source.frames)
        frame, mask = swap_face_frame(
            target.frames[t], target.boxes[t], source.frames[s], source.boxes[s], template
        )
        frames.append(frame)
        masks.append(mask)
    return FakeClip(np.stack(frames), np.stack(masks))


def _patch_matrix(box: np.ndarray, resolution: int) -> np.ndarray:
    """Affine map from a ``resolution²`` patch to the frame: the patch spans the padded face box."""
    return _template_matrix(box, resolution)


def resynthesize_clip(
    clip: FaceClip,
    rng: np.random.Generator,
    resolution: tuple[int, int] = (40, 56),
    components: tuple[int, int] = (3, 6),
) -> FakeClip:
    """``clip`` with each face replaced by a low-resolution, low-rank reconstruction of itself.

    The padded face region of every frame is resampled to ``r × r`` pixels (``r`` drawn from
    ``resolution``), the clip's patches are projected onto their first ``k`` principal components
    (``k`` drawn from ``components``; the mean patch plus ``k`` directions), and each
    reconstruction is enlarged back onto its frame and composited through the clip's soft mask.
    """
    import cv2

    count, height, width = clip.frames.shape[:3]
    size = int(rng.integers(resolution[0], resolution[1] + 1))
    rank = int(rng.integers(components[0], components[1] + 1))
    template = mask_template(rng)
    patches = []
    for frame, box in zip(clip.frames, clip.boxes, strict=True):
        matrix = _patch_matrix(box, size)
        shrink = float(matrix[0, 0])
        smooth = cv2.GaussianBlur(frame, (0, 0), sigmaX=max(0.5, 0.5 * shrink)) if shrink > 1.5 else frame
        patch = cv2.warpAffine(
            smooth, matrix, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )  # fmt: skip
        patches.append(patch.astype(np.float32).reshape(-1))
    data = np.stack(patches)
    mean = data.mean(axis=0)
    centred = data - mean
    # The top-k left singular vectors U_k of the centred data, from its small T×T Gram matrix;
    # projecting onto the first k principal directions is then U_k U_kᵀ X.
    # einsum, not BLAS: a threaded BLAS may sum in a different order from run to run, and the
    # same seed must give the same bytes.
    wide = centred.astype(np.float64)
    _, vectors = np.linalg.eigh(np.einsum("ik,jk->ij", wide, wide))
    basis = vectors[:, ::-1][:, : min(rank, count)]
    rebuilt = mean + np.einsum("ij,kj,kd->id", basis, basis, wide).astype(np.float32)
    rebuilt = np.clip(rebuilt, 0.0, 255.0).reshape(count, size, size, 3)

    frames, masks = [], []
    for frame, box, patch in zip(clip.frames, clip.boxes, rebuilt, strict=True):
        matrix = _patch_matrix(box, size)
        enlarged = cv2.warpAffine(
            patch, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
        )
        mask = place_mask(template, box, (height, width))
        frames.append(composite(frame, enlarged, mask))
        masks.append(mask)
    return FakeClip(np.stack(frames), np.stack(masks))
