"""The attention network: RECCE's reconstruction-classification learning with M2TR's frequency fusion.

Papers:

- RECCE: J. Cao, C. Ma, T. Yao, S. Chen, S. Ding, X. Yang, "End-to-End Reconstruction-Classification
  Learning for Face Forgery Detection", CVPR 2022 — the decoder, multi-scale graph reasoning,
  reconstruction-guided attention and the three losses (``fakescan.train.losses``).
- M2TR: J. Wang, Z. Wu, W. Ouyang, X. Han, J. Chen, S.-N. Lim, Y.-G. Jiang, "M2TR: Multi-modal
  Multi-scale Transformers for Deepfake Detection", ICMR 2022, arXiv 2104.09770 — the learnable
  spectral filter and the cross-modality fusion (CMF) block.

Data flow (sizes at 256 px; ``h = w = 16`` there, 19 at 299 px, 8 at 128 px)::

    x ─ noise on ~half the batch (training only) ─ stem … block4 ─► embedding 728×h×w
    embedding ─ dropout ─ decoder ─► d2 256×2h×2w, d4 128×4h×4w, reconstruction 3×H×W (tanh)
    embedding ─ FrequencyStream (rfft2 · learned filter · irfft2, + FFN) ─► freq 728×h×w
    embedding ─ block5 … block7 ─► + GraphReasoning(·, d2, d4) ─ block8
              ─ GuidedAttention(|x − reconstruction|) ─► CMF(rgb, freq) × fusion_blocks
              ─ block9 … block12 ─ exit ─ global average pool ─ dropout ─ linear ─► logits

Where the two parts meet: the graph reasoning (after block7) and the guided attention (after block8)
sit where RECCE's reference puts them. The frequency stream taps the block4 embedding, the shallowest
728-wide map, so the spectrum it filters is the one closest to the pixels ("after a few encoder
layers"). The CMF blocks take the attended RGB map after block8 as queries and the frequency map as
keys/values; all middle-flow maps share the size ``h×w``, so the two streams line up. With
``fusion_blocks=0`` the frequency stream is not built and the model is RECCE.

Parameters (1 logit, 256 px, ``fusion_kernel_size=1``): 33,549,813 in all. The RECCE part
(``fusion_blocks=0``, any image size) has 23,781,509, matching the reference's ≈23.8M effective
parameters: Xception with a 1-logit head 20,809,001, decoder 496,856, graph reasoning 1,944,128,
guided attention 531,524. The reference also holds timm's unused 1000-class ImageNet ``fc``
(2,049,000, hence its 25.8M); ours has no unused head. The frequency stream adds 1,274,000 at 256 px
(its filter, ``h×(w//2+1)×728×2``, is the only size-dependent part: 209,664 at 256 px, 276,640 at
299 px, 58,240 at 128 px) and each CMF block 2,123,576 (``fusion_kernel_size=3`` adds 4,239,872 per
block, 50,509,301 in all).

Deliberate differences from the public code: the filter weight is a parameter drawn once (the seed
fork redraws random weights every forward, so it never learns and eval is random); four CMF blocks are
stacked (the fork builds one); outputs are returned in :class:`DetectorOutput` instead of being
stored on the module, so the losses are computed; graph reasoning is vectorised; no ``squeeze()``
without a dimension; noise is clipped only on the samples that receive it.

Weights: none are downloaded. ``pretrained`` loads ImageNet Xception weights that the user holds in a
local file into the encoder (:func:`fakescan.models.xception.load_pretrained`).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from fakescan.errors import ConfigError
from fakescan.models._registry import register_model
from fakescan.models.layers import (
    CrossModalityFusion,
    FrequencyStream,
    GraphReasoning,
    GuidedAttention,
    SeparableConv2d,
    XceptionBlock,
)
from fakescan.models.output import DetectorOutput, InputConfig
from fakescan.models.xception import STAGES, Xception, load_pretrained

__all__ = [
    "REFERENCE_NOISE_STD",
    "AttentionNet",
    "ReconstructionDecoder",
    "add_batch_noise",
    "attention_net",
    "embedding_side",
]

REFERENCE_NOISE_STD = 1e-6
"""RECCE's reference noise level, far below one 8-bit grey level (2/255 ≈ 7.8e-3 in ``[-1, 1]``)."""

EMBEDDING_STAGE = "block4"
"""Encoder stage whose output is the embedding (decoder, metric loss and frequency stream input)."""
GRAPH_AFTER = "block7"
"""Stage after which graph reasoning fuses the decoder maps into the encoder (as in RECCE)."""
ATTENTION_AFTER = "block8"
"""Stage after which the guided attention and then the CMF blocks act (as in RECCE)."""
EMBEDDING_CHANNELS = 728


def _next_stage(stage: str) -> str:
    return STAGES[STAGES.index(stage) + 1]


def embedding_side(image_size: int) -> int:
    """Side of the block4 embedding for a square input of ``image_size`` pixels.

    The stem's two unpadded 3×3 convs (the first of stride 2) and block1..block3 (stride 2, padded):

    >>> [embedding_side(s) for s in (128, 256, 299)]
    [8, 16, 19]
    """
    side = (image_size - 3) // 2 + 1 - 2
    for _ in range(3):
        side = (side - 1) // 2 + 1
    return side


def add_batch_noise(x: torch.Tensor, std: float, low: float = -1.0, high: float = 1.0) -> torch.Tensor:
    """Add white Gaussian noise of ``std`` to a random half of the batch, clipped to ``[low, high]``.

    Each sample is picked independently with probability 0.5 (so "half" on average, as in RECCE);
    samples not picked are returned unchanged. Uses the global torch RNG, which the engine seeds.

    Shapes: ``B×…`` in and out.
    """
    picked = torch.rand(x.shape[0], device=x.device) < 0.5
    picked = picked.reshape(-1, *([1] * (x.dim() - 1)))
    noisy = (x + std * torch.randn_like(x)).clamp(low, high)
    return torch.where(picked, noisy, x)


class _UpConv(nn.Sequential):
    """Nearest ×2 upsampling, separable 3×3 conv, BN, ReLU (one RECCE decoder step)."""

    def __init__(self, in_chs: int, out_chs: int) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="nearest"),
            SeparableConv2d(in_chs, out_chs),
            nn.BatchNorm2d(out_chs),
            nn.ReLU(),
        )


class ReconstructionDecoder(nn.Module):
    """RECCE's decoder from the block4 embedding back to an image.

    ``d1 = up(728→256)``, ``d2 = XceptionBlock(256, reps 3)``, ``d3 = up(256→128)``,
    ``d4 = XceptionBlock(128, reps 3)``, ``d5 = up(128→64)``, ``d6 = tanh(conv1x1(64→3))``.

    Shapes: ``B×728×h×w`` in; returns ``d2`` ``B×256×2h×2w``, ``d4`` ``B×128×4h×4w`` and the image
    ``B×3×8h×8w`` in ``(-1, 1)`` (the caller resizes it to the input).
    """

    def __init__(self, in_chs: int = EMBEDDING_CHANNELS) -> None:
        super().__init__()
        self.up1 = _UpConv(in_chs, 256)
        self.block1 = XceptionBlock(256, 256, reps=3)
        self.up2 = _UpConv(256, 128)
        self.block2 = XceptionBlock(128, 128, reps=3)
        self.up3 = _UpConv(128, 64)
        self.to_image = nn.Sequential(nn.Conv2d(64, 3, 1, bias=False), nn.Tanh())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        d2 = self.block1(self.up1(x))
        d4 = self.block2(self.up2(d2))
        return d2, d4, self.to_image(self.up3(d4))


class AttentionNet(nn.Module):
    """RECCE (reconstruction, graph reasoning, guided attention) on Xception, plus M2TR frequency fusion.

    Args:
        num_classes: 1 for a real/fake logit (positive = fake), K for K classes (class 0 = real).
        image_size: input side in pixels; fixes the spectral filter's size (any size ≥ 32 builds).
        drop_rate: dropout before the classifier, in the guided attention's identity path and at the
            end of the graph reasoning (RECCE uses one rate for all three).
        noise_std: std of the training-time input noise (see :func:`add_batch_noise`); the default is
            the reference code's value, which barely perturbs the input. 0 turns it off.
        fusion_blocks: number of stacked CMF blocks; 0 drops the frequency stream (plain RECCE).
        fusion_kernel_size: kernel of each CMF block's output conv (1: M2TR code; 3: the seed text).
        decoder_drop_rate: dropout on the embedding before the decoder.
        pretrained: a local ImageNet Xception weights file for the encoder.
        reference_resize: resize as RECCE's public code does (``VISION-SJTU/RECCE:
            model/network/Recce.py``, kept by ``SCLBD/DeepfakeBench:
            training/detectors/recce_detector.py``): the reconstruction up to the input and the
            reconstruction error down to the feature map, both bilinear with ``align_corners=True``.
            The default (``False``) resizes the reconstruction with ``align_corners=False`` and
            averages the error over each cell. Imported RECCE checkpoints set it, so that their
            logits are the reference's.

    Shapes: input ``B×3×image_size×image_size`` normalised to ``[-1, 1]`` (mean = std = 0.5); logits
    ``B×num_classes``. ``forward(x, return_aux=True)`` returns a :class:`DetectorOutput` whose ``aux``
    holds ``"reconstruction"`` (``B×3×H×W``), ``"embedding"`` (``B×728×h×w``), ``"decoder_d2"``,
    ``"decoder_d4"`` (the metric loss's three maps), ``"attention"`` (the guided-attention gate,
    ``B×1×h×w``) and ``"features"`` (the final ``B×2048×h'×w'`` map).
    """

    def __init__(
        self,
        num_classes: int = 1,
        image_size: int = 256,
        drop_rate: float = 0.2,
        noise_std: float = REFERENCE_NOISE_STD,
        fusion_blocks: int = 4,
        fusion_kernel_size: int = 1,
        decoder_drop_rate: float = 0.2,
        pretrained: str | Path | None = None,
        reference_resize: bool = False,
    ) -> None:
        super().__init__()
        if image_size < 32:
            raise ConfigError(f"attention_net needs images of at least 32 px, got image_size={image_size}")
        if fusion_blocks < 0:
            raise ConfigError(f"fusion_blocks must be ≥ 0, got {fusion_blocks}")
        self.input_cfg = InputConfig(image_size=image_size)
        self.num_classes = num_classes
        self.noise_std = noise_std
        self.reference_resize = reference_resize
        side = embedding_side(image_size)
        self.encoder = Xception(num_classes=num_classes, drop_rate=drop_rate, image_size=image_size)
        if pretrained is not None:
            load_pretrained(self.encoder, pretrained)
        self.decoder_drop = nn.Dropout(decoder_drop_rate)
        self.decoder = ReconstructionDecoder(EMBEDDING_CHANNELS)
        self.reasoning = GraphReasoning(
            EMBEDDING_CHANNELS, 256, 128, dim=256, ratios=(2, 4), drop_rate=drop_rate
        )
        self.attention = GuidedAttention(
            EMBEDDING_CHANNELS, drop_rate=drop_rate, error_resize="bilinear" if reference_resize else "area"
        )
        self.frequency = FrequencyStream(EMBEDDING_CHANNELS, side, side) if fusion_blocks > 0 else None
        self.fusion = nn.ModuleList(
            CrossModalityFusion(EMBEDDING_CHANNELS, kernel_size=fusion_kernel_size)
            for _ in range(fusion_blocks)
        )

    def _forward_body(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The final feature map and the named intermediate tensors."""
        noisy = add_batch_noise(x, self.noise_std) if self.training and self.noise_std > 0 else x
        embedding = self.encoder.forward_until(noisy, EMBEDDING_STAGE)
        d2, d4, image = self.decoder(self.decoder_drop(embedding))
        reconstruction = F.interpolate(
            image, size=x.shape[-2:], mode="bilinear", align_corners=self.reference_resize
        )

        rgb = self.encoder.forward_until(embedding, GRAPH_AFTER, first=_next_stage(EMBEDDING_STAGE))
        rgb = rgb + self.reasoning(rgb, d2, d4)
        rgb = self.encoder.forward_until(rgb, ATTENTION_AFTER, first=_next_stage(GRAPH_AFTER))
        # The error is measured against the clean input, as the reconstruction loss is.
        rgb, gate = self.attention(x, reconstruction, rgb)
        if self.frequency is not None:
            freq = self.frequency(embedding)
            for block in self.fusion:
                rgb = block(rgb, freq)
        features = self.encoder.forward_until(rgb, "exit", first=_next_stage(ATTENTION_AFTER))
        aux = {
            "reconstruction": reconstruction,
            "embedding": embedding,
            "decoder_d2": d2,
            "decoder_d4": d4,
            "attention": gate,
            "features": features,
        }
        return features, aux

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The final ``B×2048×h'×w'`` feature map."""
        return self._forward_body(x)[0]

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Global average pool, dropout and the classifier (``pre_logits``: stop before it)."""
        return self.encoder.forward_head(features, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor, return_aux: bool = False) -> torch.Tensor | DetectorOutput:
        """Logits ``B×num_classes``, or with ``return_aux`` a :class:`DetectorOutput` (see the class)."""
        features, aux = self._forward_body(x)
        logits = self.forward_head(features)
        return DetectorOutput(logits, aux) if return_aux else logits

    def get_classifier(self) -> nn.Module:
        return self.encoder.get_classifier()

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head with a fresh one of ``num_classes`` outputs."""
        self.num_classes = num_classes
        self.encoder.reset_classifier(num_classes)


@register_model
def attention_net(
    num_classes: int = 1,
    image_size: int = 256,
    drop_rate: float = 0.2,
    fusion_blocks: int = 4,
    fusion_kernel_size: int = 1,
    pretrained: str | Path | None = None,
    noise_std: float = REFERENCE_NOISE_STD,
    reference_resize: bool = False,
) -> AttentionNet:
    """RECCE + M2TR attention network; ``pretrained`` is a local ImageNet Xception file for the encoder
    (``fusion_blocks=0``: RECCE; ``reference_resize``: its public code's resizes, see
    :class:`AttentionNet`)."""
    return AttentionNet(
        num_classes=num_classes,
        image_size=image_size,
        drop_rate=drop_rate,
        noise_std=noise_std,
        fusion_blocks=fusion_blocks,
        fusion_kernel_size=fusion_kernel_size,
        pretrained=pretrained,
        reference_resize=reference_resize,
    )
