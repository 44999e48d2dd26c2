"""``deepfakebench-xception``: DeepfakeBench's Xception detector (Yan et al., "DeepfakeBench: A
Comprehensive Benchmark of Deepfake Detection", NeurIPS 2023 Datasets and Benchmarks, arXiv
2307.01426), published as ``xception_best.pth`` (release v1.0.1).

Read from github:SCLBD/DeepfakeBench (never copied):

- ``training/detectors/xception_detector.py``: the detector holds the network as ``backbone`` and
  reads ``softmax(cls, 1)[:, 1]`` as the fake probability; ``training/trainer/trainer.py`` saves
  ``model.state_dict()``, so the keys are ``backbone.conv1.weight`` … ``backbone.last_linear.bias``.
- ``training/networks/xception.py``: the FaceForensics++ Xception (``conv1/bn1/conv2/bn2``,
  ``block1``–``block12`` with ``rep``/``skip``/``skipbn``, ``conv3/bn3/conv4/bn4``, ``last_linear``),
  the same layout and computation as fakescan's ``xception`` (``last_linear`` is our ``fc``), plus an
  ``adjust_channel`` module that mode ``original`` builds but never runs (dropped on import).
- ``training/config/detector/xception.yaml``: ``resolution: 256``, ``mean``/``std`` 0.5, 2 classes.
- ``preprocessing/preprocess.py``: dlib frontal-face detector, 81-point landmarks, faces aligned
  and cut at scale 1.3, 256 px; the data set reads them as RGB (``training/dataset/abstract_dataset.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fakescan.imports._base import (
    ImportFamily,
    StateDict,
    drop_keys,
    rename_prefix,
    require_keys,
    strip_prefix,
)
from fakescan.imports._deepfakebench import DEEPFAKEBENCH_COMMON

if TYPE_CHECKING:
    import torch

__all__ = ["FAMILY"]


def convert(state: StateDict) -> dict[str, torch.Tensor]:
    """``backbone.*`` → fakescan ``xception`` keys: prefix removed, ``last_linear`` → ``fc``, the
    unused ``adjust_channel`` dropped."""
    require_keys(state, ("backbone.conv1.weight", "backbone.last_linear.weight"), "deepfakebench-xception")
    out = drop_keys(strip_prefix(state, "backbone."), "adjust_channel.")
    return rename_prefix(out, "last_linear.", "fc.")


def reference_key(key: str) -> str:
    """fakescan's key → DeepfakeBench's (for messages).

    >>> reference_key("fc.weight"), reference_key("block1.rep.0.conv1.weight")
    ('backbone.last_linear.weight', 'backbone.block1.rep.0.conv1.weight')
    """
    return "backbone." + ("last_linear." + key[3:] if key.startswith("fc.") else key)


FAMILY = ImportFamily(
    name="deepfakebench-xception",
    description="DeepfakeBench (Yan et al., NeurIPS 2023) Xception: 256 px, mean/std 0.5, 2-class",
    reference_files=(
        "training/detectors/xception_detector.py",
        "training/networks/xception.py",
        "training/config/detector/xception.yaml",
        "preprocessing/preprocess.py",
    ),
    published_files=("xception_best.pth",),
    model="xception",
    model_kwargs={"num_classes": 2, "image_size": 256},
    **DEEPFAKEBENCH_COMMON,
    convert=convert,
    reference_key=reference_key,
)
