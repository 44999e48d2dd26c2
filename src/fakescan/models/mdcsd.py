"""MD-CSDNetwork: a multi-domain cross-stitched network for deepfake detection (IEEE FG 2021).

Two Xception trunks (Chollet, CVPR 2017) of identical shape run side by side: a *spatial* one on the
RGB face and a *frequency* one on a spectrum image of the same face — ``log(eps + |2-D DCT|)`` of
its luminance by default (or of each colour channel, or the FFT magnitude; see
:func:`fakescan.ops.spectrum`), normalised with per-channel statistics of the training set. After
chosen stages (block2, block3, block4 and block12 by default) a cross-stitch unit (Misra et al.,
"Cross-stitch Networks for Multi-task Learning", CVPR 2016, eq. 1) lets the streams exchange
information: ``a' = α_aa·a + α_ab·b``, ``b' = α_ba·a + α_bb·b``, α initialised to
``[[0.9, 0.1], [0.1, 0.9]]`` and trained at ``alpha_lr_mult`` (5) × the base learning rate. Head:
each stream is globally pooled → dropout 0.5 → dense 256 → ReLU; the two are concatenated →
dropout 0.2 → linear to 1 logit (real/fake) or K classes (FaceForensics++ real + 4 methods = 5).

Defects of the public reference code that this implementation does not reproduce:

- its cross-stitch layer computes the cross terms after a ``continue``, so they never apply and the
  two streams never mix; here both cross terms always apply and receive gradients (tested);
- its ``--image_size`` option is parsed and ignored (the input is fixed at 299); here
  ``image_size`` is recorded in ``input_cfg`` for the data side, and the model runs at any size
  (128, the classic default, 256 and 299 are tested);
- its spectrum preparation crashes with ``--log`` (a flag named ``log`` shadows the function) and
  happens offline with hard-coded paths; here the model computes its own spectrum in ``forward``,
  and the normalisation statistics live in buffers, so they travel inside the checkpoint.

Weights: none are bundled or downloaded. The spatial trunk (and the frequency trunk when it takes
3-channel colour spectra) can start from a local ImageNet Xception file in the ``legacy_xception``
layout (the builder's ``pretrained``); a 1-channel frequency trunk starts from scratch, as in the
reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fakescan.errors import ConfigError
from fakescan.models._registry import register_model
from fakescan.models.layers import CrossStitch, cross_stitch_parameters
from fakescan.models.output import DetectorOutput, InputConfig
from fakescan.models.xception import STAGES, Xception, load_pretrained
from fakescan.ops.spectrum import (
    SPECTRUM_KINDS,
    SPECTRUM_MODES,
    SPECTRUM_SCALES,
    SpectrumKind,
    SpectrumMode,
    SpectrumScale,
    SpectrumStats,
    spectrum,
)

__all__ = ["DEFAULT_STITCH_AFTER", "MDCSDNet", "mdcsd"]

DEFAULT_STITCH_AFTER: tuple[str, ...] = ("block2", "block3", "block4", "block12")
"""Stages of :data:`fakescan.models.xception.STAGES` followed by a cross-stitch unit in MD-CSD."""


class MDCSDNet(nn.Module):
    """Spatial and frequency Xception streams joined by cross-stitch units, with a fused head.

    Args:
        num_classes: 1 (a real/fake logit, positive = fake) or K classes (class 0 = real).
        image_size: input side the model is meant for (``input_cfg``); any size runs.
        stitch_after: names of trunk stages (:data:`~fakescan.models.xception.STAGES`) after which a
            cross-stitch unit mixes the streams; order does not matter; empty for two separate streams.
        per_channel: one α per channel (``2×2×C``) instead of one scalar per pair (``2×2``).
        spectrum_kind: ``"dct"`` or ``"fft"`` (see :func:`fakescan.ops.spectrum`).
        spectrum_scale: ``"log"`` or ``"raw"`` magnitudes.
        spectrum_mode: ``"gray"`` (a 1-channel frequency trunk) or ``"color"`` (3 channels).
        alpha_lr_mult: learning-rate multiplier of the α, used by :meth:`param_groups`.
        branch_drop_rate: dropout on each pooled stream (0.5).
        fusion_drop_rate: dropout on the concatenated stream embeddings (0.2).
        hidden_dim: width of each stream's dense layer (256).

    Input: ``B×3×H×W`` RGB normalised with mean = std = 0.5 (``input_cfg``). The spectrum is computed
    inside :meth:`forward` from the un-normalised ``[0, 1]`` image, then standardised with the buffers
    ``spectrum_mean`` / ``spectrum_std`` (``C``-vectors, 0 and 1 until :meth:`set_spectrum_stats`).

    Output: logits ``B×num_classes``; with ``return_aux=True`` a :class:`DetectorOutput` whose aux
    holds ``"spectrum"`` (the normalised ``B×C×H×W`` frequency input) and ``"spatial_features"`` /
    ``"frequency_features"`` (each stream's final ``B×2048×⌈H/32⌉×⌈W/32⌉`` map, after any stitch).
    """

    def __init__(
        self,
        num_classes: int = 1,
        image_size: int = 128,
        stitch_after: Sequence[str] = DEFAULT_STITCH_AFTER,
        per_channel: bool = False,
        spectrum_kind: SpectrumKind = "dct",
        spectrum_scale: SpectrumScale = "log",
        spectrum_mode: SpectrumMode = "gray",
        alpha_lr_mult: float = 5.0,
        branch_drop_rate: float = 0.5,
        fusion_drop_rate: float = 0.2,
        hidden_dim: int = 256,
    ) -> None:
        super().__init__()
        _check_option("spectrum_kind", spectrum_kind, SPECTRUM_KINDS)
        _check_option("spectrum_scale", spectrum_scale, SPECTRUM_SCALES)
        _check_option("spectrum_mode", spectrum_mode, SPECTRUM_MODES)
        if isinstance(stitch_after, str):
            raise ConfigError(
                f"stitch_after must be a sequence of stage names, got the string {stitch_after!r}"
            )
        unknown = [name for name in stitch_after if name not in STAGES]
        if unknown:
            raise ConfigError(f"stitch_after: unknown stage {unknown[0]!r}; stages are: {', '.join(STAGES)}")
        if len(set(stitch_after)) != len(stitch_after):
            raise ConfigError(f"stitch_after names a stage twice: {list(stitch_after)}")
        self.input_cfg = InputConfig(image_size=image_size)
        self.num_classes = num_classes
        self.stitch_after = tuple(name for name in STAGES if name in stitch_after)
        self.per_channel = per_channel
        self.spectrum_kind = spectrum_kind
        self.spectrum_scale = spectrum_scale
        self.spectrum_mode = spectrum_mode
        self.alpha_lr_mult = alpha_lr_mult
        self.spectrum_chans = 1 if spectrum_mode == "gray" else 3

        self.spatial = Xception(num_classes=0, in_chans=3, image_size=image_size)
        self.frequency = Xception(num_classes=0, in_chans=self.spectrum_chans, image_size=image_size)
        stage_chans = {info["module"]: info["num_chs"] for info in self.spatial.feature_info}
        self.stitches = nn.ModuleDict(
            {name: CrossStitch(stage_chans[name] if per_channel else None) for name in self.stitch_after}
        )
        self.num_features = self.spatial.num_features
        self.spatial_head = _stream_head(self.num_features, hidden_dim, branch_drop_rate)
        self.frequency_head = _stream_head(self.num_features, hidden_dim, branch_drop_rate)
        self.head_drop = nn.Dropout(fusion_drop_rate)
        self.hidden_dim = hidden_dim
        self.fc: nn.Module = nn.Linear(2 * hidden_dim, num_classes) if num_classes > 0 else nn.Identity()
        self.register_buffer("spectrum_mean", torch.zeros(self.spectrum_chans))
        self.register_buffer("spectrum_std", torch.ones(self.spectrum_chans))

    # -- the frequency input ---------------------------------------------------------------------

    def compute_spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """The un-normalised spectrum (``B×C×H×W``, float32) of model input ``x``.

        Feed this, over the training split, to :func:`fakescan.ops.spectrum_stats`, then pass the
        result to :meth:`set_spectrum_stats`.
        """
        mean = torch.tensor(self.input_cfg.mean, dtype=x.dtype, device=x.device)[:, None, None]
        std = torch.tensor(self.input_cfg.std, dtype=x.dtype, device=x.device)[:, None, None]
        images = x * std + mean
        return spectrum(images, kind=self.spectrum_kind, scale=self.spectrum_scale, mode=self.spectrum_mode)

    def spectrum_input(self, x: torch.Tensor) -> torch.Tensor:
        """The frequency stream's input: :meth:`compute_spectrum` standardised with the stored stats."""
        spec = self.compute_spectrum(x)
        mean = self.spectrum_mean.to(spec.dtype)[:, None, None]
        std = self.spectrum_std.to(spec.dtype)[:, None, None]
        return (spec - mean) / std

    def set_spectrum_stats(self, stats: SpectrumStats) -> None:
        """Store training-set spectrum statistics in the ``spectrum_mean`` / ``spectrum_std`` buffers.

        Raises:
            ConfigError: the channel count differs from the model's, or a std is not positive.
        """
        if stats.channels != self.spectrum_chans:
            raise ConfigError(
                f"spectrum stats have {stats.channels} channel(s); this model's {self.spectrum_mode!r} "
                f"spectrum has {self.spectrum_chans}"
            )
        if not all(s > 0 for s in stats.std):
            raise ConfigError(f"spectrum stats need positive std values, got {stats.std}")
        with torch.no_grad():
            self.spectrum_mean.copy_(torch.tensor(stats.mean, dtype=self.spectrum_mean.dtype))
            self.spectrum_std.copy_(torch.tensor(stats.std, dtype=self.spectrum_std.dtype))

    def get_spectrum_stats(self) -> SpectrumStats:
        """The statistics held in the buffers (``count`` is not stored: 0)."""
        return SpectrumStats(mean=tuple(self.spectrum_mean.tolist()), std=tuple(self.spectrum_std.tolist()))

    # -- streams and head ------------------------------------------------------------------------

    def forward_streams(
        self, x: torch.Tensor, spectrum_input: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run both trunks stage by stage on ``x`` and a given (normalised) ``spectrum_input``,
        cross-stitching after each stage in ``stitch_after``; the two final ``B×2048×h×w`` maps."""
        a, b = x, spectrum_input
        for name in STAGES:
            a = self.spatial.forward_stage(name, a)
            b = self.frequency.forward_stage(name, b)
            if name in self.stitches:
                a, b = self.stitches[name](a, b)
        return a, b

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The spatial and frequency streams' final feature maps for model input ``x``."""
        return self.forward_streams(x, self.spectrum_input(x))

    def forward_head(
        self, spatial: torch.Tensor, frequency: torch.Tensor, pre_logits: bool = False
    ) -> torch.Tensor:
        """Pool, embed and fuse both streams; ``pre_logits`` stops before the classifier
        (``B×2·hidden_dim``, after the fusion dropout)."""
        fused = torch.cat(
            [self.spatial_head(spatial.mean(dim=(2, 3))), self.frequency_head(frequency.mean(dim=(2, 3)))],
            dim=1,
        )
        fused = self.head_drop(fused)
        return fused if pre_logits else self.fc(fused)

    def forward(self, x: torch.Tensor, return_aux: bool = False) -> torch.Tensor | DetectorOutput:
        """Logits ``B×num_classes``, or a :class:`DetectorOutput` with ``return_aux`` (see the class)."""
        spec = self.spectrum_input(x)
        spatial, frequency = self.forward_streams(x, spec)
        logits = self.forward_head(spatial, frequency)
        if not return_aux:
            return logits
        aux = {"spectrum": spec, "spatial_features": spatial, "frequency_features": frequency}
        return DetectorOutput(logits, aux)

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the final layer with a fresh one of ``num_classes`` outputs (0: none)."""
        self.num_classes = num_classes
        self.fc = nn.Linear(2 * self.hidden_dim, num_classes) if num_classes > 0 else nn.Identity()

    # -- weights and optimisation ----------------------------------------------------------------

    def load_backbone_weights(self, path: str | Path) -> None:
        """Load a local ImageNet Xception file into the spatial trunk, and into the frequency trunk
        when it takes 3-channel spectra (a 1-channel trunk keeps its random initialisation).

        Raises:
            CheckpointMismatchError: the file is not an Xception state_dict.
        """
        load_pretrained(self.spatial, path)
        if self.spectrum_chans == 3:
            load_pretrained(self.frequency, path)

    def param_groups(self, base_lr: float, weight_decay: float = 0.0) -> list[dict[str, Any]]:
        """Optimiser parameter groups: everything at ``base_lr`` (with ``weight_decay``), and the
        cross-stitch α at ``alpha_lr_mult × base_lr`` without weight decay (decay would pull every α,
        the diagonal included, towards zero)."""
        alphas = cross_stitch_parameters(self)
        alpha_ids = {id(p) for p in alphas}
        rest = [p for p in self.parameters() if id(p) not in alpha_ids]
        groups: list[dict[str, Any]] = [
            {"name": "base", "params": rest, "lr": base_lr, "weight_decay": weight_decay}
        ]
        if alphas:
            groups.append(
                {
                    "name": "cross_stitch",
                    "params": alphas,
                    "lr": self.alpha_lr_mult * base_lr,
                    "weight_decay": 0.0,
                }
            )
        return groups


def _stream_head(in_features: int, hidden_dim: int, drop_rate: float) -> nn.Sequential:
    """Pooled stream → dropout → dense → ReLU (MD-CSD's per-stream head)."""
    return nn.Sequential(nn.Dropout(drop_rate), nn.Linear(in_features, hidden_dim), nn.ReLU())


def _check_option(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name}: unknown value {value!r}; choose one of: {', '.join(choices)}")


@register_model
def mdcsd(
    num_classes: int = 1,
    image_size: int = 128,
    per_channel: bool = False,
    spectrum_kind: SpectrumKind = "dct",
    spectrum_scale: SpectrumScale = "log",
    spectrum_mode: SpectrumMode = "gray",
    stitch_after: Sequence[str] = DEFAULT_STITCH_AFTER,
    alpha_lr_mult: float = 5.0,
    pretrained: str | Path | None = None,
) -> MDCSDNet:
    """MD-CSDNetwork (FG 2021); ``pretrained`` is a local ImageNet Xception weights file."""
    model = MDCSDNet(
        num_classes=num_classes,
        image_size=image_size,
        stitch_after=stitch_after,
        per_channel=per_channel,
        spectrum_kind=spectrum_kind,
        spectrum_scale=spectrum_scale,
        spectrum_mode=spectrum_mode,
        alpha_lr_mult=alpha_lr_mult,
    )
    if pretrained is not None:
        model.load_backbone_weights(pretrained)
    return model
