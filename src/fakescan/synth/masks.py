"""Soft face-region masks for blending one face into another image.

A blending mask starts as a hard region — the convex hull of facial landmarks when there are any,
else an ellipse inscribed in the face box — is deformed at random (a small affine warp plus a
smooth elastic displacement) so that no two masks share a boundary, and is then blurred into a
soft alpha map. This follows the mask generator of Self-Blended Images (Shiohara & Yamasaki,
"Detecting Deepfakes with Self-Blended Images", CVPR 2022, Sec. 3.2), with our own choice of
deformation and blur ranges.

Every function is pure: randomness comes only from the :class:`numpy.random.Generator` passed in,
so a seed reproduces a mask exactly. Masks are ``H×W`` float32 arrays with values in ``[0, 1]``.
The blur uses a finite kernel, so a soft mask is exactly 0 a few blur radii outside its region.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fakescan.data.faces.base import Box

__all__ = [
    "central_face_box",
    "deform_mask",
    "ellipse_mask",
    "face_mask",
    "hull_mask",
    "soften_mask",
]


def central_face_box(height: int, width: int, margin: float = 1.3) -> Box:
    """The face box of a crop cut with ``margin`` around it (the usual 1.3× square crop).

    Used when a face crop comes with neither landmarks nor a box.

    >>> central_face_box(130, 130)
    (15.0, 15.0, 115.0, 115.0)
    """
    if margin < 1.0:
        raise ValueError(f"margin must be at least 1, got {margin}")
    half_w, half_h = width / (2.0 * margin), height / (2.0 * margin)
    cx, cy = width / 2.0, height / 2.0
    return (cx - half_w, cy - half_h, cx + half_w, cy + half_h)


def ellipse_mask(
    shape: tuple[int, int],
    box: Box,
    scale: tuple[float, float] = (1.0, 1.0),
    offset: tuple[float, float] = (0, 0),
) -> np.ndarray:
    """A hard (0/1) ellipse inscribed in ``box``, its half-axes multiplied by ``scale``.

    ``offset`` moves the centre by a fraction of the box's width and height.

    >>> m = ellipse_mask((20, 20), (5, 5, 15, 15))
    >>> m.dtype, float(m[10, 10]), float(m[0, 0])
    (dtype('float32'), 1.0, 0.0)
    """
    import cv2

    height, width = shape
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    # Drawn at 4× sub-pixel precision: cv2.ellipse takes integer coordinates.
    shift, unit = 2, 4.0
    centre = (round((x1 + bw * (0.5 + offset[0])) * unit), round((y1 + bh * (0.5 + offset[1])) * unit))
    axes = (max(1, round(bw / 2 * scale[0] * unit)), max(1, round(bh / 2 * scale[1] * unit)))
    mask = np.zeros((height, width), np.uint8)
    cv2.ellipse(mask, centre, axes, 0.0, 0.0, 360.0, 1, thickness=-1, lineType=cv2.LINE_8, shift=shift)
    return mask.astype(np.float32)


def hull_mask(shape: tuple[int, int], points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """A hard (0/1) mask of the convex hull of ``points`` (``N×2`` array of ``(x, y)``).

    >>> m = hull_mask((10, 10), [(2, 2), (7, 2), (7, 7), (2, 7)])
    >>> int(m.sum())
    36
    """
    import cv2

    pts = np.asarray(points, np.float32).reshape(-1, 2)
    if len(pts) < 3:
        raise ValueError(f"a hull needs at least 3 points, got {len(pts)}")
    hull = cv2.convexHull(np.round(pts).astype(np.int32))
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(np.float32)


def _region_size(mask: np.ndarray) -> float:
    """Square root of the mask's area: the length scale of the region, at least 1 pixel."""
    return max(1.0, float(np.sqrt(mask.sum())))


def deform_mask(
    mask: np.ndarray,
    rng: np.random.Generator,
    affine: float = 0.05,
    elastic: float = 0.06,
    grid: int = 5,
) -> np.ndarray:
    """Deform a hard mask at random and return it hard again (0/1 float32).

    Two warps, both relative to the region's size ``s`` (square root of its area): an affine one
    (scale ``1 ± affine``, rotation up to ``affine`` radians, shift up to ``affine · s``) about the
    region's centroid, and an elastic one whose displacement field is noise drawn on a coarse
    ``grid × grid`` lattice, upsampled smoothly, of amplitude up to ``elastic · s``.
    """
    import cv2

    height, width = mask.shape
    if not mask.any():
        return mask.astype(np.float32)
    size = _region_size(mask)
    ys, xs = np.nonzero(mask)
    cx, cy = float(xs.mean()), float(ys.mean())
    scale = 1.0 + rng.uniform(-affine, affine, size=2)
    angle = rng.uniform(-affine, affine)
    shift = rng.uniform(-affine, affine, size=2) * size
    cos, sin = np.cos(angle), np.sin(angle)
    linear = np.array([[cos, -sin], [sin, cos]]) @ np.diag(scale)
    matrix = np.hstack([linear, (np.array([cx, cy]) + shift - linear @ np.array([cx, cy]))[:, None]])
    warped = cv2.warpAffine(
        mask.astype(np.float32), matrix.astype(np.float32), (width, height), flags=cv2.INTER_LINEAR
    )
    coarse = rng.uniform(-1.0, 1.0, size=(2, grid, grid)).astype(np.float32) * (elastic * size)
    dx = cv2.resize(coarse[0], (width, height), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(coarse[1], (width, height), interpolation=cv2.INTER_CUBIC)
    gx, gy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    elastic_warped = cv2.remap(warped, gx + dx, gy + dy, interpolation=cv2.INTER_LINEAR)
    return (elastic_warped > 0.5).astype(np.float32)


def soften_mask(
    mask: np.ndarray,
    rng: np.random.Generator,
    grow: tuple[float, float] = (-0.08, 0.04),
    blur: tuple[float, float] = (0.02, 0.08),
) -> np.ndarray:
    """Turn a hard mask into a soft alpha map in ``[0, 1]`` whose maximum is 1.

    The region is first eroded or dilated by a fraction drawn from ``grow`` of its size ``s``
    (negative erodes), then blurred twice with Gaussians of standard deviation drawn from
    ``blur`` (fractions of ``s``), as SBI blurs its mask with two random kernels. The result is
    rescaled so that its largest value is exactly 1.
    """
    import cv2

    if not mask.any():
        return np.zeros(mask.shape, np.float32)
    size = _region_size(mask)
    hard = mask.astype(np.uint8)
    radius = round(rng.uniform(*grow) * size)
    if radius != 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(radius) + 1, 2 * abs(radius) + 1))
        changed = cv2.dilate(hard, kernel) if radius > 0 else cv2.erode(hard, kernel)
        hard = changed if changed.any() else hard
    soft = hard.astype(np.float32)
    for _ in range(2):
        sigma = max(0.5, rng.uniform(*blur) * size)
        ksize = 2 * int(np.ceil(2.5 * sigma)) + 1
        soft = cv2.GaussianBlur(soft, (ksize, ksize), sigmaX=sigma, sigmaY=sigma)
    soft[soft < 1e-3] = 0.0
    return np.clip(soft / soft.max(), 0.0, 1.0).astype(np.float32)


def face_mask(
    shape: tuple[int, int],
    rng: np.random.Generator,
    landmarks: np.ndarray | None = None,
    box: Box | None = None,
    deform: bool = True,
) -> np.ndarray:
    """A soft, randomly deformed mask of the face region of an image of ``shape`` (``(H, W)``).

    The region is the convex hull of ``landmarks`` when given, else an ellipse inscribed in
    ``box`` (half-axes 0.85–1.0 of the box's, centre shifted a little down, since detector boxes
    run from the brows to the chin), else that ellipse in :func:`central_face_box`.
    """
    if landmarks is not None:
        hard = hull_mask(shape, landmarks)
    else:
        face = box if box is not None else central_face_box(*shape)
        scale = (float(rng.uniform(0.85, 1.0)), float(rng.uniform(0.9, 1.05)))
        hard = ellipse_mask(shape, face, scale=scale, offset=(0.0, float(rng.uniform(0.0, 0.08))))
    if deform:
        deformed = deform_mask(hard, rng)
        hard = deformed if deformed.any() else hard
    return soften_mask(hard, rng)
