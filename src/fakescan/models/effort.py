"""Effort: a CLIP vision transformer adapted through an orthogonal residual subspace.

Z. Yan, J. Wang, P. Jin, K.-Y. Zhang, C. Liu, S. Chen, T. Yao, S. Ding, B. Wu, L. Yuan,
"Orthogonal Subspace Decomposition for Generalizable AI-Generated Image Detection", ICML 2025,
arXiv 2411.15633. Reference code: github:YZY-stack/Effort-AIGI-Detection,
``DeepfakeBench/training/detectors/effort_detector.py`` (read, never copied).

The detector is the vision tower of CLIP ViT-L/14 (Radford et al., ICML 2021) at 224 px, with CLIP's
input normalisation, and a linear head on its pooled output (the ``post_layernorm`` of the class
token). Every linear layer of every self-attention block (the q, k, v and out projections) is split
by a singular value decomposition of its weight ``W = U Σ Vᵀ`` (Sec. 3.2 of the paper):

- the **principal part** ``W_r = U_r Σ_r V_rᵀ`` of the top ``r`` singular values is frozen
  (``weight_main``, with its factors ``U_r``, ``S_r``, ``V_r`` kept for the orthogonality loss);
- the **residual** ``U_res Σ_res V_resᵀ`` of the remaining ``residual_rank`` singular values
  (``U_residual``, ``S_residual``, ``V_residual``) is trainable. The reference keeps
  ``r = 1023`` of ViT-L's 1024, so the residual has rank 1.

Everything else (embeddings, layer norms, MLPs, the attention biases) is frozen; training updates
only the residual factors and the head (``requires_grad`` says which). Two regularisers keep the
adapted weights close to the pretrained ones (Sec. 3.3): an **orthogonality loss** on the
concatenated factors ``Û = [U_r U_res]`` and ``V̂ = [V_r; V_res]``,
``½‖ÛᵀÛ − I‖_F + ½‖V̂V̂ᵀ − I‖_F`` (Frobenius norms, not squared, as the reference code computes
them), and a **singular-value loss** ``|‖W_r + U_res Σ_res V_resᵀ‖_F² − ‖W‖_F²|`` that keeps the
weight's energy (the sum of its squared singular values). :func:`effort_losses` averages each over
the split layers; the model returns both in ``aux`` and :func:`fakescan.train.losses.detector_loss`
adds them to the classification loss. The reference's training code leaves both terms commented
out (its released ``get_losses`` is cross-entropy alone); fakescan adds them with weight 1 each,
as that commented recipe does, and ``loss.orthogonality: 0`` / ``loss.singular_value: 0`` in a
config give the released recipe.

Computing the orthogonality loss: ``U_r`` and ``V_r`` are orthonormal and frozen, so only the
blocks that involve the residual change: ``‖ÛᵀÛ − I‖_F² = 2‖U_rᵀU_res‖_F² + ‖U_resᵀU_res − I‖_F²``
(plus ``‖U_rᵀU_r − I‖_F²``, which is float rounding and is left out). That costs ``O(out·r·k)``
instead of ``O(out²·n)``. For the square projections of CLIP, ``‖ÛᵀÛ − I‖_F = ‖ÛÛᵀ − I‖_F``, the
form the reference writes.

Weights: nothing is downloaded. ``pretrained`` (``fakescan train --backbone-weights DIR``) is a
local Hugging Face–format folder of a CLIP model or its vision tower (``config.json`` +
``model.safetensors``, e.g. a copy of ``openai/clip-vit-large-patch14``); the SVD split is made at
build time from those weights. A model built without weights has a randomly initialised trunk
(Hugging Face's CLIP initialisation), so its principal parts are random too; that is only useful
for tests and speed measurements, and for models whose weights come from a checkpoint
(``decompose=False`` then skips the decomposition, which takes minutes for ViT-L on a CPU).

Key layout: the model's ``state_dict`` is the reference detector's: ``backbone.`` + the keys of
Hugging Face's CLIP vision tower (``embeddings.patch_embedding.weight``, …,
``encoder.layers.N.self_attn.q_proj.{weight_main,bias,U_r,S_r,V_r,U_residual,S_residual,V_residual}``,
…, ``post_layernorm.*``) and ``head.weight``/``head.bias``; plus one buffer per split layer,
``weight_original_fnorm`` (``‖W‖_F`` of the weight it was split from, which the reference keeps as a
plain attribute), so that fine-tuning a saved model keeps the same singular-value loss.

Needs the optional ``transformers`` package (``pip install fakescan[clip]``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from fakescan.errors import CheckpointMismatchError, ConfigError, InputError
from fakescan.models._registry import register_model
from fakescan.models.output import DetectorOutput, InputConfig

if TYPE_CHECKING:
    from transformers import CLIPVisionConfig, CLIPVisionModel

__all__ = [
    "CLIP_MEAN",
    "CLIP_STD",
    "VIT_L14",
    "Effort",
    "SVDResidualLinear",
    "effort",
    "effort_losses",
    "read_clip_folder",
]

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
"""CLIP's input normalisation of RGB in ``[0, 1]`` (Radford et al. 2021; the Effort reference's
``effort.yaml`` and ``demo.py``)."""

VIT_L14: dict[str, Any] = {
    "hidden_size": 1024,
    "intermediate_size": 4096,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "patch_size": 14,
    "image_size": 224,
    "num_channels": 3,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
}
"""The vision tower of OpenAI's CLIP ViT-L/14 (``openai/clip-vit-large-patch14``), Effort's
backbone; also the keys of a ``vision_config`` (any not given take these values)."""

_INSTALL_HINT = "the effort model needs the transformers package: pip install fakescan[clip]"


def _transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise ConfigError(_INSTALL_HINT) from None
    if int(transformers.__version__.split(".")[0]) < 5:
        raise ConfigError(f"{_INSTALL_HINT} (transformers ≥ 5; found {transformers.__version__})")
    return transformers


# --------------------------------------------------------------------------------------------------
# The split linear layer


def _frozen(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.zeros(shape), requires_grad=False)


def _norm(*parts: torch.Tensor) -> torch.Tensor:
    """The Euclidean norm of all entries of ``parts`` together (zero gradient at zero, not NaN)."""
    return torch.linalg.vector_norm(torch.cat([p.reshape(-1) for p in parts]))


class SVDResidualLinear(nn.Module):
    """A linear layer ``y = x (W_r + U_res Σ_res V_resᵀ)ᵀ + b`` whose principal part is frozen.

    ``W_r = U_r Σ_r V_rᵀ`` holds the top ``r = min(in, out) − residual_rank`` singular values of
    the weight the layer was made from (:meth:`decompose_`); the residual factors hold the others
    and are the only trainable parameters. Built directly, every factor is zero (a layer whose
    values come from a checkpoint).

    Args:
        in_features, out_features: as :class:`torch.nn.Linear`.
        residual_rank: singular values in the trainable residual (the reference: 1).
        bias: whether the layer has a (frozen) bias.
    """

    def __init__(
        self, in_features: int, out_features: int, residual_rank: int = 1, bias: bool = True
    ) -> None:
        super().__init__()
        rank = min(in_features, out_features)
        if not 1 <= residual_rank < rank:
            raise ConfigError(
                f"residual_rank must be in [1, {rank - 1}] for a {out_features}×{in_features} weight"
            )
        kept = rank - residual_rank
        self.in_features, self.out_features = in_features, out_features
        self.residual_rank = residual_rank
        self.weight_main = _frozen(out_features, in_features)
        self.bias = _frozen(out_features) if bias else None
        self.U_r = _frozen(out_features, kept)
        self.S_r = _frozen(kept)
        self.V_r = _frozen(kept, in_features)
        self.U_residual = nn.Parameter(torch.zeros(out_features, residual_rank))
        self.S_residual = nn.Parameter(torch.zeros(residual_rank))
        self.V_residual = nn.Parameter(torch.zeros(residual_rank, in_features))
        self.register_buffer("weight_original_fnorm", torch.zeros(()))

    @classmethod
    def from_linear(
        cls, linear: nn.Linear, residual_rank: int = 1, decompose: bool = True
    ) -> SVDResidualLinear:
        """The split layer of ``linear`` (its weight decomposed now; zeros if not ``decompose``)."""
        layer = cls(linear.in_features, linear.out_features, residual_rank, bias=linear.bias is not None)
        layer.to(device=linear.weight.device, dtype=linear.weight.dtype)
        if decompose:
            layer.decompose_(linear.weight.detach(), None if linear.bias is None else linear.bias.detach())
        return layer

    @torch.no_grad()
    def decompose_(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        """Set every factor from ``weight`` (``out×in``) by its SVD (``torch.linalg.svd``, in the
        weight's dtype, as the reference), and the bias from ``bias``."""
        U, S, Vh = torch.linalg.svd(weight, full_matrices=False)
        kept = self.S_r.numel()
        self.U_r.copy_(U[:, :kept])
        self.S_r.copy_(S[:kept])
        self.V_r.copy_(Vh[:kept])
        self.weight_main.copy_(U[:, :kept] @ torch.diag(S[:kept]) @ Vh[:kept])
        self.U_residual.copy_(U[:, kept:])
        self.S_residual.copy_(S[kept:])
        self.V_residual.copy_(Vh[kept:])
        self.weight_original_fnorm.copy_(torch.linalg.matrix_norm(weight))
        if bias is not None and self.bias is not None:
            self.bias.copy_(bias)

    def residual_weight(self) -> torch.Tensor:
        """``U_res Σ_res V_resᵀ`` (``out×in``)."""
        return (self.U_residual * self.S_residual) @ self.V_residual

    def merged_weight(self) -> torch.Tensor:
        """The weight the layer applies: principal part plus residual."""
        return self.weight_main + self.residual_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.merged_weight(), self.bias)

    def orthogonality_loss(self) -> torch.Tensor:
        """``½‖ÛᵀÛ − I‖_F + ½‖V̂V̂ᵀ − I‖_F`` over the blocks that involve the residual (see the
        module docstring)."""
        eye = torch.eye(self.residual_rank, device=self.U_residual.device, dtype=self.U_residual.dtype)
        u_cross = self.U_r.T @ self.U_residual
        u_self = self.U_residual.T @ self.U_residual - eye
        v_cross = self.V_r @ self.V_residual.T
        v_self = self.V_residual @ self.V_residual.T - eye
        sqrt2 = 2.0**0.5
        return 0.5 * _norm(sqrt2 * u_cross, u_self) + 0.5 * _norm(sqrt2 * v_cross, v_self)

    def singular_value_loss(self) -> torch.Tensor:
        """``|‖W_r + U_res Σ_res V_resᵀ‖_F² − ‖W‖_F²|``: the change in the sum of squared singular
        values from the weight the layer was split from."""
        current = torch.linalg.matrix_norm(self.merged_weight()).square()
        return (current - self.weight_original_fnorm.square()).abs()

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"residual_rank={self.residual_rank}, bias={self.bias is not None}"
        )


def _split_layers(module: nn.Module) -> Iterator[SVDResidualLinear]:
    return (m for m in module.modules() if isinstance(m, SVDResidualLinear))


def effort_losses(model: nn.Module) -> dict[str, torch.Tensor]:
    """``{"orthogonality": …, "singular_value": …}``: each loss averaged over the model's split
    layers (empty for a model without any)."""
    layers = list(_split_layers(model))
    if not layers:
        return {}
    return {
        "orthogonality": torch.stack([layer.orthogonality_loss() for layer in layers]).mean(),
        "singular_value": torch.stack([layer.singular_value_loss() for layer in layers]).mean(),
    }


# --------------------------------------------------------------------------------------------------
# The detector


class Effort(nn.Module):
    """Effort: a CLIP vision tower with SVD-split self-attention linears and a linear head.

    Args:
        backbone: a Hugging Face ``CLIPVisionModel`` (kept as ``self.backbone``); its q/k/v/out
            projections are replaced in place by :class:`SVDResidualLinear` layers.
        num_classes: outputs of the head: 1 (a real/fake logit), K for K classes (the published
            checkpoints: 2, softmax, class 1 = fake), 0 for no head.
        residual_rank: trainable singular values per split linear (the reference: 1).
        decompose: split the backbone's current weights now (False: leave every factor at zero,
            for a model whose weights then come from a checkpoint).

    Shapes: input ``B×3×S×S`` with ``S`` the backbone's ``image_size`` (224), CLIP-normalised;
    ``aux["features"]`` is the ``B×C×S/p×S/p`` map of patch tokens entering the last encoder layer
    (the last tokens the class token attends to, so Grad-CAM sees them); ``aux["pooled"]`` the
    ``B×C`` pooled output; logits ``B×num_classes``. ``aux`` also holds the two losses of
    :func:`effort_losses`.
    """

    def __init__(
        self, backbone: CLIPVisionModel, num_classes: int = 1, residual_rank: int = 1, decompose: bool = True
    ) -> None:
        super().__init__()
        config = backbone.config
        self.backbone = backbone
        self.num_classes = num_classes
        self.residual_rank = residual_rank
        self.num_features = config.hidden_size
        self.patch_size = config.patch_size
        self.input_cfg = InputConfig(image_size=config.image_size, mean=CLIP_MEAN, std=CLIP_STD)
        for layer in backbone.encoder.layers:
            attention = layer.self_attn
            for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
                linear = getattr(attention, name)
                setattr(attention, name, SVDResidualLinear.from_linear(linear, residual_rank, decompose))
        for name, parameter in backbone.named_parameters():
            parameter.requires_grad = name.rsplit(".", 1)[-1] in ("U_residual", "S_residual", "V_residual")
        self.head: nn.Module = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        self.feature_info = [
            {
                "num_chs": self.num_features,
                "reduction": self.patch_size,
                "module": f"backbone.encoder.layers.{i}",
            }
            for i in range(config.num_hidden_layers)
        ]

    def vision_config(self) -> dict[str, Any]:
        """The backbone's architecture (:data:`VIT_L14`'s keys), JSON values."""
        config = self.backbone.config
        return {key: getattr(config, key) for key in VIT_L14}

    def init_kwargs(self) -> dict[str, Any]:
        """Arguments that rebuild this architecture with :func:`effort` (what a checkpoint records:
        the backbone's config, and ``decompose=False`` since the checkpoint holds the factors)."""
        return {
            "vision_config": self.vision_config(),
            "image_size": self.input_cfg.image_size,
            "residual_rank": self.residual_rank,
            "decompose": False,
        }

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Final tokens ``B×(1+N)×C`` and the patch-token map entering the last layer."""
        backbone = self.backbone
        hidden = backbone.pre_layrnorm(backbone.embeddings(x))
        layers = backbone.encoder.layers
        for layer in layers[:-1]:
            hidden = layer(hidden, None)
        batch, _, channels = hidden.shape
        side = x.shape[-1] // self.patch_size
        features = hidden[:, 1:].transpose(1, 2).reshape(batch, channels, side, side)
        hidden = torch.cat([hidden[:, :1], features.flatten(2).transpose(1, 2)], dim=1)
        return layers[-1](hidden, None), features

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The final tokens ``B×(1+N)×C`` (class token first), before ``post_layernorm``."""
        return self._encode(x)[0]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """``post_layernorm`` of the class token (CLIP's pooled output), then the head."""
        pooled = self.backbone.post_layernorm(x[:, 0])
        return pooled if pre_logits else self.head(pooled)

    def forward(self, x: torch.Tensor, return_aux: bool = False) -> torch.Tensor | DetectorOutput:
        """Logits ``B×num_classes``; with ``return_aux``, a :class:`DetectorOutput` (see the class)."""
        tokens, features = self._encode(x)
        pooled = self.forward_head(tokens, pre_logits=True)
        logits = self.head(pooled)
        if not return_aux:
            return logits
        return DetectorOutput(logits, {"features": features, "pooled": pooled, **effort_losses(self)})

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head with a fresh one of ``num_classes`` outputs (0: none)."""
        self.num_classes = num_classes
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()


# --------------------------------------------------------------------------------------------------
# Local Hugging Face folders


def _resolve_folder(folder: Path) -> Path:
    """A model folder, or the one snapshot of a Hugging Face cache entry (``models--org--name``)."""
    if not folder.is_dir():
        raise InputError(folder, "not a folder (expected a Hugging Face model folder with config.json)")
    snapshots = folder / "snapshots"
    if not (folder / "config.json").is_file() and snapshots.is_dir():
        found = sorted(p for p in snapshots.iterdir() if (p / "config.json").is_file())
        if len(found) == 1:
            return found[0]
    return folder


def read_clip_folder(folder: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The vision config (:data:`VIT_L14`'s keys) and vision-tower weights of a local Hugging Face
    CLIP folder (a full ``CLIPModel`` or a ``CLIPVisionModel``), read with safetensors only.

    Weight keys are returned without their ``vision_model.`` prefix; the text tower and projections
    are not read. Nothing is downloaded.

    Raises:
        InputError: no folder, no ``config.json``, no ``model.safetensors`` (or its sharded index),
            or a file that cannot be read; one line naming the file.
    """
    from safetensors import safe_open

    transformers = _transformers()
    path = _resolve_folder(Path(folder))
    config_path = path / "config.json"
    if not config_path.is_file():
        raise InputError(config_path, "not found (expected a Hugging Face CLIP folder)")
    try:
        document = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(config_path, f"not a readable JSON config ({error})") from None
    vision = document.get("vision_config") or document.get("vision_config_dict") or document
    options = {key: value for key, value in vision.items() if key in VIT_L14}
    config = transformers.CLIPVisionConfig(**options)
    architecture = {key: getattr(config, key) for key in VIT_L14}

    index = path / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        files = sorted({path / name for name in weight_map.values()})
    elif (path / "model.safetensors").is_file():
        files = [path / "model.safetensors"]
    else:
        found = ", ".join(sorted(p.name for p in path.iterdir())) or "nothing"
        raise InputError(
            path,
            f"no model.safetensors here (found: {found}); fakescan reads weights with safetensors only",
        )
    state: dict[str, torch.Tensor] = {}
    text_model = "text_model" in document or "text_config" in document
    for file in files:
        try:
            with safe_open(str(file), framework="pt") as handle:
                for key in handle.keys():
                    name = key.removeprefix("vision_model.")
                    if key.startswith(("text_model.", "text_projection", "visual_projection", "logit_scale")):
                        continue
                    if text_model and not key.startswith("vision_model."):
                        continue
                    state[name] = handle.get_tensor(key)
        except (OSError, RuntimeError, ValueError) as error:
            raise InputError(file, f"not a readable safetensors file ({error})") from None
    return architecture, state


def _resample_positions(weight: torch.Tensor, grid: int) -> torch.Tensor:
    """Position embeddings ``(1 + g²)×C`` resampled to ``(1 + grid²)×C``: the class position kept,
    the patch grid resized bicubically (as timm and Hugging Face interpolate ViT positions)."""
    old = round((weight.shape[0] - 1) ** 0.5)
    patches = weight[1:].reshape(1, old, old, -1).permute(0, 3, 1, 2).float()
    patches = F.interpolate(patches, size=(grid, grid), mode="bicubic", align_corners=False)
    return torch.cat([weight[:1], patches.permute(0, 2, 3, 1).reshape(grid * grid, -1).to(weight.dtype)])


def _load_backbone(backbone: nn.Module, state: Mapping[str, torch.Tensor], folder: str | Path) -> None:
    """Strictly load CLIP vision weights (position embeddings resampled to the model's grid)."""
    state = {k: v for k, v in state.items() if k != "embeddings.position_ids"}
    own = backbone.state_dict()
    key = "embeddings.position_embedding.weight"
    if key in state and key in own and state[key].shape != own[key].shape:
        state[key] = _resample_positions(state[key], round((own[key].shape[0] - 1) ** 0.5))
    for name in own:
        if name not in state:
            raise CheckpointMismatchError(f"{folder}: missing key {name!r} (not a CLIP vision model?)")
        if state[name].shape != own[name].shape:
            got, need = tuple(state[name].shape), tuple(own[name].shape)
            raise CheckpointMismatchError(
                f"{folder}: key {name!r} has shape {got}, its config.json says {need}"
            )
    extra = next((name for name in state if name not in own), None)
    if extra is not None:
        raise CheckpointMismatchError(f"{folder}: unexpected key {extra!r} (not a CLIP vision model?)")
    backbone.load_state_dict(state, strict=True)


def clip_vision_config(
    options: Mapping[str, Any] | None = None, image_size: int | None = None
) -> CLIPVisionConfig:
    """A ``CLIPVisionConfig`` of ``options`` over :data:`VIT_L14` (``image_size`` overriding)."""
    transformers = _transformers()
    unknown = sorted(set(options or {}) - set(VIT_L14))
    if unknown:
        raise ConfigError(f"vision_config takes no key {unknown[0]!r}; it takes: {', '.join(VIT_L14)}")
    values = {**VIT_L14, **(options or {})}
    if image_size is not None:
        values["image_size"] = image_size
    config = transformers.CLIPVisionConfig(**values)
    config._attn_implementation = "sdpa"
    return config


@register_model
def effort(
    num_classes: int = 1,
    image_size: int | None = None,
    pretrained: str | Path | None = None,
    vision_config: Mapping[str, Any] | None = None,
    residual_rank: int = 1,
    decompose: bool = True,
) -> Effort:
    """Effort (Yan et al., ICML 2025) on CLIP ViT-L/14 at 224 px.

    Args:
        num_classes: 1 (one real/fake logit), or K classes.
        image_size: input side; None: the backbone's (224). Another side resamples the pretrained
            position embeddings bicubically.
        pretrained: a local Hugging Face CLIP folder (``config.json`` + ``model.safetensors``;
            ``--backbone-weights``): its architecture and weights, split by SVD at build time.
        vision_config: the backbone's architecture (:data:`VIT_L14`'s keys, the others ViT-L/14's);
            None: the folder's, else ViT-L/14. Tests use a tiny one.
        residual_rank: trainable singular values per self-attention linear (the reference: 1).
        decompose: split the weights by SVD now; False leaves the factors at zero (for loading a
            checkpoint, which holds them).
    """
    transformers = _transformers()
    state = None
    if pretrained is not None:
        folder_config, state = read_clip_folder(pretrained)
        vision_config = folder_config if vision_config is None else vision_config
    config = clip_vision_config(vision_config, image_size)
    backbone = transformers.CLIPVisionModel(config)
    if state is not None:
        _load_backbone(backbone, state, pretrained)
    return Effort(backbone, num_classes=num_classes, residual_rank=residual_rank, decompose=decompose)
