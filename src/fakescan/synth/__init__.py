"""Synthetic forgeries: pseudo-fakes for training and a tiny FF++-style data set for demos.

- :func:`self_blend` — Self-Blended Images (Shiohara & Yamasaki, "Detecting Deepfakes with
  Self-Blended Images", CVPR 2022): pseudo-fakes made from a single real face crop, for training.
- :func:`swap_face_clip`, :func:`resynthesize_clip` — two classic graphics manipulations of face
  clips: a box-aligned face swap with colour transfer and Poisson blending (Pérez et al.,
  "Poisson Image Editing", SIGGRAPH 2003), and a low-rank re-synthesis of the face region.
- :func:`build_synthetic_ffpp` — real clips cut from sample videos and photos plus their
  manipulations, written in the FaceForensics++ layout. For smoke tests and demos only, never a
  benchmark (see docs/synth.md).

Heavy libraries (OpenCV, PyAV, dlib) load inside the functions that use them.
"""

from fakescan.synth.build import (
    METHOD_FOLDERS,
    SYNTH_METHODS,
    SynthReport,
    build_synthetic_ffpp,
    default_sources,
    plan_pairs,
)
from fakescan.synth.faceswap import FaceClip, FakeClip, resynthesize_clip, swap_face_clip, swap_face_frame
from fakescan.synth.masks import face_mask
from fakescan.synth.sbi import SBIConfig, SBIResult, self_blend

__all__ = [
    "METHOD_FOLDERS",
    "SYNTH_METHODS",
    "FaceClip",
    "FakeClip",
    "SBIConfig",
    "SBIResult",
    "SynthReport",
    "build_synthetic_ffpp",
    "default_sources",
    "face_mask",
    "plan_pairs",
    "resynthesize_clip",
    "self_blend",
    "swap_face_clip",
    "swap_face_frame",
]
