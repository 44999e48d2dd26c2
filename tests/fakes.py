"""Manipulated face crops for tests: the real crop with its face region re-synthesised.

The face region is downsampled, upsampled and colour-shifted, then blended back through a soft
elliptical mask — the trace a face-swap pipeline leaves (a resampled, recoloured, blended face).
"""

from __future__ import annotations

import cv2
import numpy as np


def resynthesise_face(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``crop`` with its central face region replaced by a degraded, colour-shifted copy."""
    height, width = crop.shape[:2]
    small = cv2.resize(crop, (width // 4, height // 4), interpolation=cv2.INTER_AREA)
    degraded = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    degraded += rng.uniform(-12, 12, size=3).astype(np.float32)
    mask = np.zeros((height, width), np.float32)
    cv2.ellipse(mask, (width // 2, height // 2), (width // 4, height // 3), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=width / 32)[:, :, None]
    blended = mask * degraded + (1 - mask) * crop.astype(np.float32)
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)
