"""Synthetic forgeries: pseudo-fakes for training and a tiny FF++-style data set for demos.

- :func:`self_blend` — Self-Blended Images (Shiohara & Yamasaki, "Detecting Deepfakes with
  Self-Blended Images", CVPR 2022): pseudo-fakes made from a single real face crop, for training.
- :func:`swap_face_clip`, :func:`resynthesize_clip` — two classic graphics manipulations of face
  clips: a box-aligned face swap with colour transfer and Poisson blending (Pérez et al.,
  "Poisson Image Editing", SIGGRAPH 2003), and a low-rank re-synthesis of the face region.
- :func:`reenact_mouth_clip`, :func:`upsample_artefacts_clip`, :func:`colour_blend_clip` — three
  forgeries of other kinds (:mod:`fakescan.synth.families`): a landmark-free mouth reenactment warp
  with no blending boundary, generator-style checkerboard upsampling (Odena et al., Distill 2016),
  and colour-mismatched blending through masks of varied shapes.
- :func:`build_synthetic_ffpp` — real clips cut from sample videos and photos plus their
  manipulations, written in the FaceForensics++ layout. For smoke tests and demos only, never a
  benchmark (see docs/synth.md).

Heavy libraries (OpenCV, PyAV, dlib) load inside the functions that use them.
"""

from fakescan.synth.build import (
    ALL_METHODS,
    METHOD_FOLDERS,
    SAME_PEOPLE,
    SYNTH_METHODS,
    SynthReport,
    build_synthetic_ffpp,
    default_sources,
    every_sample_source,
    plan_pairs,
)
from fakescan.synth.faceswap import FaceClip, FakeClip, resynthesize_clip, swap_face_clip, swap_face_frame
from fakescan.synth.families import colour_blend_clip, reenact_mouth_clip, upsample_artefacts_clip
from fakescan.synth.masks import face_mask
from fakescan.synth.sbi import SBIConfig, SBIResult, self_blend

__all__ = [
    "ALL_METHODS",
    "METHOD_FOLDERS",
    "SAME_PEOPLE",
    "SYNTH_METHODS",
    "FaceClip",
    "FakeClip",
    "SBIConfig",
    "SBIResult",
    "SynthReport",
    "build_synthetic_ffpp",
    "colour_blend_clip",
    "default_sources",
    "every_sample_source",
    "face_mask",
    "plan_pairs",
    "reenact_mouth_clip",
    "resynthesize_clip",
    "self_blend",
    "swap_face_clip",
    "swap_face_frame",
    "upsample_artefacts_clip",
]
