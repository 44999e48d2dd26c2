"""``effort``: Effort (Yan et al., "Orthogonal Subspace Decomposition for Generalizable AI-Generated
Image Detection", ICML 2025, arXiv 2411.15633), CLIP ViT-L/14 with SVD-split self-attention
linears; checkpoints published on the authors' Google Drive (README of the reference).

Read from github:YZY-stack/Effort-AIGI-Detection, commit 96f5dea2b534d400cfd7003f053c7e93c8e16461
(never copied):

- ``DeepfakeBench/training/detectors/effort_detector.py``: the detector holds CLIP's vision tower
  as ``backbone`` (``CLIPModel.from_pretrained(...).vision_model``) with every ``self_attn`` linear
  replaced by an ``SVDResidualLinear`` (``weight_main``, ``bias``, ``S_residual``, ``U_residual``,
  ``V_residual``, ``S_r``, ``U_r``, ``V_r``; ``r = 1024 − 1``) and a ``head = nn.Linear(1024, 2)``
  on ``pooler_output``; ``prob = softmax(cls, 1)[:, 1]``: class 1 is fake. fakescan's ``effort``
  model has the same keys, so the conversion drops only a ``backbone.embeddings.position_ids``
  buffer (saved by old transformers releases) and adds each split layer's
  ``weight_original_fnorm`` (the reference keeps it as a plain attribute, not in the file).
- ``DeepfakeBench/training/trainer/trainer.py``: ``torch.save(model.state_dict())`` (a ``module.``
  prefix, from DataParallel, is removed by the loader).
- ``DeepfakeBench/training/config/detector/effort.yaml``: ``resolution: 224``, CLIP's mean/std.
- ``DeepfakeBench/training/demo.py``: one image: dlib's frontal-face detector, the biggest face, 81
  landmarks, a 5-point similarity alignment at scale 1.3, 224 px; RGB, ``ToTensor`` + ``Normalize``.

The CLIP configuration is inferred from the file's shapes: width, depth, MLP width, patch size and
input side (from the position embeddings); heads = width / 64 and ``quick_gelu``, as in every
OpenAI CLIP tower (the published checkpoints are all ViT-L/14: 1024 wide, 16 heads, 24 layers,
14 px patches, 224 px).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from fakescan.errors import CheckpointMismatchError
from fakescan.imports._base import FaceCrop, ImportFamily, StateDict, require_keys

if TYPE_CHECKING:
    import torch

__all__ = ["FAMILY", "convert", "infer_model_kwargs"]

NAME = "effort"
HEAD_WIDTH = 64
"""Width of one attention head in OpenAI's CLIP towers (ViT-B: 768/12, ViT-L: 1024/16)."""

_LAYER = re.compile(r"^backbone\.encoder\.layers\.(\d+)\.")


def convert(state: StateDict) -> dict[str, torch.Tensor]:
    """The reference's keys are fakescan's: drop ``backbone.embeddings.position_ids``, add every
    split layer's ``weight_original_fnorm`` = ``‖weight_main + U_res Σ_res V_resᵀ‖_F`` (the
    weight's current norm, which the singular-value loss then keeps if the model is fine-tuned)."""
    import torch

    require_keys(
        state,
        (
            "backbone.embeddings.patch_embedding.weight",
            "backbone.encoder.layers.0.self_attn.q_proj.weight_main",
            "backbone.encoder.layers.0.self_attn.q_proj.U_residual",
            "head.weight",
        ),
        NAME,
    )
    out = {key: value for key, value in state.items() if key != "backbone.embeddings.position_ids"}
    for key in [k for k in out if k.endswith(".weight_main")]:
        stem = key.removesuffix("weight_main")
        try:
            u, s, v = (out[f"{stem}{part}_residual"] for part in ("U", "S", "V"))
        except KeyError as missing:
            name = missing.args[0]
            raise CheckpointMismatchError(f"missing key {name!r}: not an {NAME} checkpoint") from None
        merged = out[key].double() + (u.double() * s.double()) @ v.double()
        out[f"{stem}weight_original_fnorm"] = torch.linalg.matrix_norm(merged).to(out[key].dtype)
    return out


def infer_model_kwargs(state: StateDict) -> dict[str, Any]:
    """The ``effort`` arguments of a converted state: its CLIP tower's shape, the residual rank and
    the head's outputs; ``decompose=False`` (the file holds the factors)."""
    hidden = int(state["backbone.embeddings.class_embedding"].shape[0])
    patch = int(state["backbone.embeddings.patch_embedding.weight"].shape[-1])
    positions = int(state["backbone.embeddings.position_embedding.weight"].shape[0])
    grid = round((positions - 1) ** 0.5)
    layers = 1 + max(int(m.group(1)) for m in map(_LAYER.match, state) if m)
    key = "backbone.encoder.layers.0.mlp.fc1.weight"
    if key not in state:
        raise CheckpointMismatchError(f"missing key {key!r}: not an {NAME} checkpoint")
    vision_config = {
        "hidden_size": hidden,
        "intermediate_size": int(state[key].shape[0]),
        "num_hidden_layers": layers,
        "num_attention_heads": max(1, hidden // HEAD_WIDTH),
        "patch_size": patch,
        "image_size": grid * patch,
        "num_channels": int(state["backbone.embeddings.patch_embedding.weight"].shape[1]),
        "hidden_act": "quick_gelu",
        "layer_norm_eps": 1e-5,
    }
    return {
        "num_classes": int(state["head.weight"].shape[0]),
        "image_size": grid * patch,
        "vision_config": vision_config,
        "residual_rank": int(state["backbone.encoder.layers.0.self_attn.q_proj.U_residual"].shape[1]),
        "decompose": False,
    }


FAMILY = ImportFamily(
    name=NAME,
    description="Effort (Yan et al., ICML 2025): CLIP ViT-L/14 + orthogonal SVD residual, 224 px, CLIP "
    "mean/std, 2-class",
    licence=(
        "CC BY-NC 4.0 (Creative Commons Attribution-NonCommercial 4.0 International), as the "
        "Effort-AIGI-Detection README states (the repository has no LICENSE file): non-commercial use "
        "only, with attribution; the CLIP ViT-L/14 weights it adapts are OpenAI's, MIT"
    ),
    licence_url="https://github.com/YZY-stack/Effort-AIGI-Detection#readme",
    reference="github:YZY-stack/Effort-AIGI-Detection",
    reference_files=(
        "DeepfakeBench/training/detectors/effort_detector.py",
        "DeepfakeBench/training/trainer/trainer.py",
        "DeepfakeBench/training/config/detector/effort.yaml",
        "DeepfakeBench/training/demo.py",
    ),
    published_files=("the FaceForensics++-trained CLIP-L14 + Effort checkpoint (.pth, Google Drive)",),
    model="effort",
    model_kwargs={"num_classes": 2, "decompose": False},
    image_size=224,
    mean=(0.48145466, 0.4578275, 0.40821073),
    std=(0.26862954, 0.26130258, 0.27577711),
    output="softmax",
    fake_index=1,
    face_crop=FaceCrop(
        detector="dlib",
        margin=1.3,
        faces="one",
        note=(
            "DeepfakeBench/training/demo.py: dlib frontal-face detector, the biggest face, 81 landmarks, "
            "5 points (eyes, nose, mouth corners) aligned by a similarity transform to a template "
            "widened by scale 1.3, 224 px; fakescan cuts an unrotated square of 1.3× the box instead"
        ),
    ),
    video_score="mean of the frame probabilities (DeepfakeBench's test: 8 frames a video)",
    convert=convert,
    infer_model_kwargs=infer_model_kwargs,
)
