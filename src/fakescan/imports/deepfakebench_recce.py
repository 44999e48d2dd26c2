"""``deepfakebench-recce``: DeepfakeBench's RECCE detector (Cao et al., "End-to-End
Reconstruction-Classification Learning for Face Forgery Detection", CVPR 2022; ported by Yan et al.,
"DeepfakeBench", NeurIPS 2023 Datasets and Benchmarks, arXiv 2307.01426), published as
``recce_best.pth`` (release v1.0.1).

Read from github:SCLBD/DeepfakeBench (never copied):

- ``training/detectors/recce_detector.py``: the detector holds the network as ``model`` (a ``Recce``:
  timm's ImageNet Xception as ``encoder``, ``decoder1``–``decoder6``, ``reasoning``, ``attention``,
  ``fc``) and, unused, a second Xception as ``backbone``; ``softmax(cls, 1)[:, 1]`` is the fake
  probability. ``training/trainer/trainer.py`` saves ``model.state_dict()``, so the keys are
  ``model.encoder.conv1.weight`` …, ``model.fc.bias`` and ``backbone.*``.
- fakescan's ``attention_net`` with ``fusion_blocks=0`` is RECCE, module for module: the encoder is
  the same Xception (timm's ``act1``/``fc`` aside), the decoder's steps are ``up1``/``block1``/
  ``up2``/``block2``/``up3``/``to_image``, and the graph reasoning and guided attention hold the same
  weights under other names (:data:`RENAMES`). Two resizes differ from fakescan's defaults: the
  reference resizes the reconstruction to the input and the reconstruction error to the feature map
  bilinearly with ``align_corners=True``; the import sets ``reference_resize=True``, which does the
  same. Dropped on import: ``backbone.*`` (built, never run) and ``model.encoder.fc.*`` (timm's unused
  1000-class ImageNet head).
- ``training/networks/xception.py``: the decoder's ``Block``/``SeparableConv2d`` (the same as fakescan's
  ``XceptionBlock``/``SeparableConv2d``).
- ``training/config/detector/recce.yaml``: ``resolution: 256``, ``mean``/``std`` 0.5, 2 classes.
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

__all__ = ["DROPPED", "FAMILY", "RENAMES", "convert", "reference_key"]

NAME = "deepfakebench-recce"

DROPPED: tuple[str, ...] = ("backbone.", "model.encoder.fc.")
"""Reference key prefixes with no counterpart in fakescan's model: modules built but never run."""

RENAMES: tuple[tuple[str, str], ...] = (
    ("model.encoder.", "encoder."),
    ("model.fc.", "encoder.fc."),
    ("model.decoder1.", "decoder.up1."),
    ("model.decoder2.", "decoder.block1."),
    ("model.decoder3.", "decoder.up2."),
    ("model.decoder4.", "decoder.block2."),
    ("model.decoder5.", "decoder.up3."),
    ("model.decoder6.", "decoder.to_image."),
    ("model.attention.gated.", "attention.gate."),
    ("model.attention.h.", "attention.transform."),
    ("model.reasoning.va_embedding.", "reasoning.node_embed."),
    ("model.reasoning.va_gated_b.", "reasoning.gate_mid."),
    ("model.reasoning.va_gated_c.", "reasoning.gate_fine."),
    ("model.reasoning.vb_embedding.", "reasoning.mid.embed."),
    ("model.reasoning.vc_embedding.", "reasoning.fine.embed."),
    ("model.reasoning.reweight_ab.0.", "reasoning.mid.score."),
    ("model.reasoning.reweight_ac.0.", "reasoning.fine.score."),
    ("model.reasoning.reproject.", "reasoning.reproject."),
)
"""Reference key prefix → fakescan ``attention_net`` (``fusion_blocks=0``) key prefix; the rest of
each key (module indices included) is the same on both sides."""


def fakescan_key(key: str) -> str | None:
    """The fakescan key of a reference key; ``None`` for a dropped one.

    >>> fakescan_key("model.reasoning.reweight_ab.0.weight"), fakescan_key("backbone.conv1.weight")
    ('reasoning.mid.score.weight', None)

    Raises:
        CheckpointMismatchError: a key that RECCE's layout does not have, named.
    """
    if key.startswith(DROPPED):
        return None
    for old, new in RENAMES:
        if key.startswith(old):
            return new + key[len(old) :]
    raise CheckpointMismatchError(f"unexpected key {key!r}: not a {NAME} checkpoint?")


def convert(state: StateDict) -> dict[str, torch.Tensor]:
    """DeepfakeBench ``RecceDetector`` keys → fakescan ``attention_net`` keys (:data:`RENAMES`),
    dropping :data:`DROPPED`; any other key is refused, naming it."""
    require_keys(
        state,
        (
            "model.encoder.conv1.weight",
            "model.decoder1.1.conv1.weight",
            "model.reasoning.va_embedding.0.weight",
        ),
        NAME,
    )
    out = {}
    for key, value in state.items():
        name = fakescan_key(key)
        if name is not None:
            out[name] = value
    return out


def reference_key(key: str) -> str:
    """fakescan's key → DeepfakeBench's (for messages); the longest matching prefix wins.

    >>> reference_key("encoder.fc.weight"), reference_key("decoder.block1.rep.1.conv1.weight")
    ('model.fc.weight', 'model.decoder2.rep.1.conv1.weight')
    """
    for old, new in sorted(RENAMES, key=lambda pair: -len(pair[1])):
        if key.startswith(new):
            return old + key[len(new) :]
    return key


FAMILY = ImportFamily(
    name=NAME,
    description=(
        "DeepfakeBench (Yan et al., NeurIPS 2023) RECCE (Cao et al., CVPR 2022): 256 px, mean/std 0.5, "
        "2-class"
    ),
    reference_files=(
        "training/detectors/recce_detector.py",
        "training/networks/xception.py",
        "training/config/detector/recce.yaml",
        "preprocessing/preprocess.py",
    ),
    published_files=("recce_best.pth",),
    model="attention_net",
    model_kwargs={"num_classes": 2, "image_size": 256, "fusion_blocks": 0, "reference_resize": True},
    **DEEPFAKEBENCH_COMMON,
    convert=convert,
    reference_key=reference_key,
)
