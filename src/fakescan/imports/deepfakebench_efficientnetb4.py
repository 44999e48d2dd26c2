"""``deepfakebench-efficientnetb4``: DeepfakeBench's EfficientNet-B4 detector (Tan & Le, "EfficientNet",
ICML 2019; trained by Yan et al., "DeepfakeBench", NeurIPS 2023 Datasets and Benchmarks, arXiv
2307.01426), published as ``effnb4_best.pth`` (release v1.0.1).

Read from github:SCLBD/DeepfakeBench (never copied):

- ``training/detectors/efficientnetb4_detector.py``: the detector holds the network as ``backbone``
  and reads ``softmax(cls, 1)[:, 1]`` as the fake probability; ``training/trainer/trainer.py`` saves
  ``model.state_dict()``, so the keys are ``backbone.efficientnet._conv_stem.weight`` …
  ``backbone.efficientnet._bn1.*`` and ``backbone.last_layer.{weight,bias}``.
- ``training/networks/efficientnetb4.py``: ``EfficientNet.from_name("efficientnet-b4")`` of
  ``efficientnet-pytorch`` (so its static "same" paddings are computed for the package's default
  380 px), the package's head replaced by ``nn.Identity`` and a ``last_layer = Linear(1792, 2)`` after
  the average pool, and — what changes the numbers — its padded stem replaced by a plain
  ``nn.Conv2d(3, 48, 3, stride=2, bias=False)`` (no padding). On 256 px crops that gives other
  values than a B4 built for 256 px; the import builds fakescan's ``efficientnet_b4`` with
  ``padding_size=380, stem_padding="none"``, which computes the same. ``last_layer`` is fakescan's
  ``net._fc``. Mode ``adjust_channel`` (an extra 1792→512 conv) is not this detector's config and is
  refused (its keys are unexpected).
- ``training/config/detector/efficientnetb4.yaml``: ``resolution: 256``, ``mean``/``std`` 0.5,
  2 classes, no dropout.
- ``preprocessing/preprocess.py``: dlib frontal-face detector, 81-point landmarks, faces aligned
  and cut at scale 1.3, 256 px; the data set reads them as RGB (``training/dataset/abstract_dataset.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fakescan.errors import CheckpointMismatchError
from fakescan.imports._base import ImportFamily, StateDict, require_keys
from fakescan.imports._deepfakebench import DEEPFAKEBENCH_COMMON

if TYPE_CHECKING:
    import torch

__all__ = ["FAMILY", "convert", "reference_key"]

NAME = "deepfakebench-efficientnetb4"
_TRUNK, _HEAD = "backbone.efficientnet.", "backbone.last_layer."


def convert(state: StateDict) -> dict[str, torch.Tensor]:
    """``backbone.efficientnet.*`` → ``net.*`` and ``backbone.last_layer.*`` → ``net._fc.*`` (fakescan's
    ``efficientnet_b4``); any other key is refused, naming it."""
    require_keys(state, (_TRUNK + "_conv_stem.weight", _HEAD + "weight"), NAME)
    out = {}
    for key, value in state.items():
        if key.startswith(_HEAD):
            out["net._fc." + key[len(_HEAD) :]] = value
        elif key.startswith(_TRUNK) and not key.startswith(_TRUNK + "_fc."):
            out["net." + key[len(_TRUNK) :]] = value
        else:
            raise CheckpointMismatchError(f"unexpected key {key!r}: not a {NAME} checkpoint?")
    return out


def reference_key(key: str) -> str:
    """fakescan's key → DeepfakeBench's (for messages).

    >>> reference_key("net._fc.weight"), reference_key("net._blocks.0._bn1.bias")
    ('backbone.last_layer.weight', 'backbone.efficientnet._blocks.0._bn1.bias')
    """
    if key.startswith("net._fc."):
        return _HEAD + key[len("net._fc.") :]
    return _TRUNK + key.removeprefix("net.")


FAMILY = ImportFamily(
    name=NAME,
    description="DeepfakeBench (Yan et al., NeurIPS 2023) EfficientNet-B4: 256 px, mean/std 0.5, 2-class",
    reference_files=(
        "training/detectors/efficientnetb4_detector.py",
        "training/networks/efficientnetb4.py",
        "training/config/detector/efficientnetb4.yaml",
        "preprocessing/preprocess.py",
    ),
    published_files=("effnb4_best.pth",),
    model="efficientnet_b4",
    model_kwargs={
        "num_classes": 2,
        "image_size": 256,
        "padding_size": 380,
        "stem_padding": "none",
        "normalization": "advprop",
        "drop_rate": 0.0,
    },
    **DEEPFAKEBENCH_COMMON,
    convert=convert,
    reference_key=reference_key,
)
