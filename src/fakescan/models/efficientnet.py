"""EfficientNet (Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
ICML 2019, arXiv 1905.11946), B0–B4, the backbone of Self-Blended Images (Shiohara & Yamasaki, CVPR 2022:
an EfficientNet-B4 at 380 px) and of the DFDC winners.

The trunk is the ``efficientnet-pytorch`` package's ``EfficientNet``, built from its name
(``EfficientNet.from_name``: nothing is downloaded), so the architecture and the state-dict key layout
are the package's by construction. Ours is the wrapper around it: the 1-logit (or K-class) head, the
:class:`~fakescan.models.output.DetectorOutput` and feature API shared by every fakescan model
(``forward_features`` / ``forward_head`` / ``feature_info``), and the preprocessing cfg.

Weights: none are bundled or downloaded. ImageNet weights that a user holds in the package's key
layout (``_conv_stem.weight``, ``_bn0.*``, ``_blocks.0._depthwise_conv.weight``, …, ``_conv_head``,
``_bn1``, ``_fc``; the files the package itself would download, e.g. ``efficientnet-b4-6ed6700e.pth``
or the AdvProp ``adv-efficientnet-b4-44fb3a87.pth``) load with :func:`load_pretrained`; so do
checkpoints of SBI's reference code, which wraps the same model as ``net``. The package's ImageNet
weights expect ImageNet mean/std normalisation, its AdvProp weights inputs scaled to ``[-1, 1]``
(Xie et al., "Adversarial Examples Improve Image Recognition", CVPR 2020); the model's ``input_cfg``
says which, so training, ``fakescan test`` and ``predict`` (through the checkpoint) apply the right one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from fakescan.errors import ConfigError
from fakescan.models._registry import register_model
from fakescan.models._weights import load_matching
from fakescan.models.output import DetectorOutput, InputConfig
from fakescan.models.xception import load_state_file

__all__ = [
    "NORMALIZATIONS",
    "EfficientNet",
    "efficientnet_b0",
    "efficientnet_b1",
    "efficientnet_b2",
    "efficientnet_b3",
    "efficientnet_b4",
    "is_advprop_file",
    "load_pretrained",
]

Normalization = Literal["imagenet", "advprop", "none"]
NORMALIZATIONS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "advprop": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "none": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
}
"""Input normalisation → ``(mean, std)`` of RGB in ``[0, 1]``: ImageNet statistics for the package's
standard weights, ``x·2 − 1`` for its AdvProp weights, and ``"none"`` (RGB in ``[0, 1]`` as it is: what
SBI's reference inference feeds its AdvProp-initialised detector, ``src/inference/inference_video.py``)."""

# Published input side and dropout of each variant (Tan & Le 2019, Table 1 and Sec. 5.2; the
# package's ``efficientnet_params``).
_VARIANTS: dict[str, tuple[int, float]] = {
    "b0": (224, 0.2),
    "b1": (240, 0.2),
    "b2": (260, 0.3),
    "b3": (300, 0.3),
    "b4": (380, 0.4),
}


class EfficientNet(nn.Module):
    """An EfficientNet classifier on the ``efficientnet-pytorch`` trunk (kept as ``self.net``).

    Args:
        variant: ``"b0"`` … ``"b4"``.
        num_classes: outputs of the head: 1 (a real/fake logit), K for K classes, 0 for no head.
        in_chans: input channels.
        drop_rate: dropout before the classifier; ``None``: the variant's published rate
            (0.2 for B0/B1, 0.3 for B2/B3, 0.4 for B4).
        drop_path_rate: the package's drop-connect rate of the last block (scaled linearly from 0
            over the blocks; stochastic depth, Huang et al. 2016); 0.2 as published.
        image_size: the input side the model is meant for; the package pads its convolutions
            statically for it ("same" padding, export-friendly). Other sizes run too.
        normalization: the input normalisation recorded in ``input_cfg`` (:data:`NORMALIZATIONS`).
        bn_momentum: PyTorch momentum of the batch-norm running statistics. The package's (and
            TensorFlow's) value is 0.01, made for ImageNet-length runs: trained from scratch for a
            few hundred steps, its running statistics still hold their initial values and every
            image gets the same eval-mode score. 0.1, PyTorch's default, settles within tens of steps.
        padding_size: the input side that the package's static "same" paddings are computed for;
            ``None``: ``image_size``. A stride-2 convolution's padding depends on its input's parity,
            so a model built for one side and fed another computes other values; checkpoints trained
            that way (DeepfakeBench builds B4 for 380 px and feeds it 256 px crops) need this to match.
        stem_padding: ``"same"`` (the package's stem) or ``"none"``: a plain unpadded stride-2 stem
            convolution, as DeepfakeBench's B4 backbone puts in its place
            (``SCLBD/DeepfakeBench: training/networks/efficientnetb4.py``). Same weights, other output.

    Weights start as in the TensorFlow reference (Tan & Le 2019): convolutions ``N(0, 2/fan_out)``
    with ``fan_out = k·k·out/groups`` (so a depthwise convolution keeps its input's scale), biases
    zero; batch norm and the classifier as PyTorch initialises them.

    Shapes: input ``B×in_chans×H×W``; features ``B×C×⌈H/32⌉×⌈W/32⌉`` (C = 1280 for B0/B1, 1408 B2,
    1536 B3, 1792 B4; 12×12 at 380 px); logits ``B×num_classes``.
    """

    def __init__(
        self,
        variant: str = "b4",
        num_classes: int = 1,
        in_chans: int = 3,
        drop_rate: float | None = None,
        drop_path_rate: float = 0.2,
        image_size: int | None = None,
        normalization: Normalization = "imagenet",
        bn_momentum: float = 0.1,
        padding_size: int | None = None,
        stem_padding: Literal["same", "none"] = "same",
    ) -> None:
        super().__init__()
        from efficientnet_pytorch import EfficientNet as PackageEfficientNet

        if variant not in _VARIANTS:
            raise ConfigError(
                f"unknown EfficientNet variant {variant!r}; choose one of {', '.join(_VARIANTS)}"
            )
        if normalization not in NORMALIZATIONS:
            raise ConfigError(
                f"unknown normalization {normalization!r}; choose one of {', '.join(NORMALIZATIONS)}"
            )
        if stem_padding not in ("same", "none"):
            raise ConfigError(f"stem_padding must be 'same' or 'none', got {stem_padding!r}")
        default_size, default_drop = _VARIANTS[variant]
        image_size = default_size if image_size is None else image_size
        drop_rate = default_drop if drop_rate is None else drop_rate
        mean, std = NORMALIZATIONS[normalization]
        self.variant = variant
        self.normalization = normalization
        self.input_cfg = InputConfig(image_size=image_size, mean=mean, std=std)
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.net = PackageEfficientNet.from_name(
            f"efficientnet-{variant}",
            in_channels=in_chans,
            num_classes=max(num_classes, 1),
            image_size=image_size if padding_size is None else padding_size,
            dropout_rate=drop_rate,
            drop_connect_rate=drop_path_rate,
            batch_norm_momentum=1.0 - bn_momentum,  # the package stores TensorFlow's 1 − momentum
        )
        if stem_padding == "none":
            stem = self.net._conv_stem
            self.net._conv_stem = nn.Conv2d(in_chans, stem.out_channels, 3, stride=2, bias=False)
        self._init_weights()
        self.num_features = self.net._fc.in_features
        if num_classes == 0:
            self.net._fc = nn.Identity()
        self.feature_info = self._feature_info()

    def _init_weights(self) -> None:
        for module in self.net.modules():
            if isinstance(module, nn.Conv2d):
                fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels // module.groups
                nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def _feature_info(self) -> list[dict[str, object]]:
        """The deepest block at each reduction (the package's ``extract_endpoints`` levels), then the
        head convolution."""
        reduction, deepest = 2, {}
        for index, block in enumerate(self.net._blocks):
            reduction *= max(block._depthwise_conv.stride)
            chans = block._block_args.output_filters
            deepest[reduction] = {"num_chs": chans, "reduction": reduction, "module": f"net._blocks.{index}"}
        head = {"num_chs": self.num_features, "reduction": reduction, "module": "net._conv_head"}
        return [*deepest.values(), head]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The final ``B×C×h×w`` feature map (after the head convolution, BN and swish)."""
        return self.net.extract_features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Global average pool, dropout and the classifier (``pre_logits``: stop before it)."""
        x = self.net._dropout(x.mean(dim=(2, 3)))
        return x if pre_logits else self.net._fc(x)

    def forward(self, x: torch.Tensor, return_aux: bool = False) -> torch.Tensor | DetectorOutput:
        """Logits ``B×num_classes``; with ``return_aux``, a :class:`DetectorOutput` that also holds
        the final feature map as ``aux["features"]``."""
        features = self.forward_features(x)
        logits = self.forward_head(features)
        return DetectorOutput(logits, {"features": features}) if return_aux else logits

    def get_classifier(self) -> nn.Module:
        return self.net._fc

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head with a fresh one of ``num_classes`` outputs (0: none)."""
        self.num_classes = num_classes
        self.net._fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def set_swish(self, memory_efficient: bool = True) -> None:
        """The package's memory-efficient swish (a custom autograd function, for training) or the
        plain ``x·sigmoid(x)`` (for tracing and ONNX export); both compute the same values."""
        self.net.set_swish(memory_efficient=memory_efficient)

    def train(self, mode: bool = True) -> EfficientNet:
        """Set train/eval mode; eval mode also switches to the plain swish, so that an eval-mode
        model traces and exports to ONNX (the custom autograd function does not)."""
        super().train(mode)
        self.set_swish(memory_efficient=mode)
        return self


def is_advprop_file(path: str | Path) -> bool:
    """Whether a weights file is one of the package's AdvProp releases, by its name (they are
    published as ``adv-efficientnet-bN-<hash>.pth``; a name with ``advprop`` counts too).

    >>> is_advprop_file("adv-efficientnet-b4-44fb3a87.pth"), is_advprop_file("efficientnet-b4-6ed6700e.pth")
    (True, False)
    """
    name = Path(path).name.lower()
    return name.startswith("adv-") or "advprop" in name


def load_pretrained(model: EfficientNet, path: str | Path, strict_head: bool = False) -> None:
    """Load EfficientNet weights in the ``efficientnet-pytorch`` key layout from a local file.

    Keys may carry the ``net.`` prefix of our wrapper (and of SBI's reference checkpoints) or none
    (the package's own files); a ``module.`` prefix (DataParallel) is stripped. The classifier is
    taken only when its shape fits (``strict_head=True`` demands it); every trunk weight must be
    present with the right shape.

    Raises:
        CheckpointMismatchError: naming the file and the first missing, unexpected or misshapen key.
    """
    state = {}
    for key, value in load_state_file(path).items():
        name = key.removeprefix("module.")
        state[name if name.startswith("net.") else f"net.{name}"] = value
    load_matching(
        model, state, path, head_prefix="net._fc.", family="an EfficientNet", strict_head=strict_head
    )


def _register_variant(variant: str, summary: str) -> Callable[..., EfficientNet]:
    """Register ``efficientnet_<variant>``: a builder with the variant's published input size as
    its ``image_size`` default (timm's one small function per variant, made from the table)."""
    default_size = _VARIANTS[variant][0]

    def builder(
        num_classes: int = 1,
        in_chans: int = 3,
        drop_rate: float | None = None,
        drop_path_rate: float = 0.2,
        image_size: int = default_size,
        pretrained: str | Path | None = None,
        normalization: Normalization | None = None,
        bn_momentum: float = 0.1,
        padding_size: int | None = None,
        stem_padding: Literal["same", "none"] = "same",
    ) -> EfficientNet:
        if normalization is None:
            advprop = pretrained is not None and is_advprop_file(pretrained)
            normalization = "advprop" if advprop else "imagenet"
        model = EfficientNet(
            variant,
            num_classes=num_classes,
            in_chans=in_chans,
            drop_rate=drop_rate,
            drop_path_rate=drop_path_rate,
            image_size=image_size,
            normalization=normalization,
            bn_momentum=bn_momentum,
            padding_size=padding_size,
            stem_padding=stem_padding,
        )
        if pretrained is not None:
            load_pretrained(model, pretrained)
        return model

    builder.__name__ = builder.__qualname__ = f"efficientnet_{variant}"
    builder.__doc__ = (
        f"{summary}; ``pretrained`` is a local weights file in the ``efficientnet-pytorch`` layout, and "
        '``normalization=None`` picks ``"advprop"`` for an AdvProp file (by its name), else ``"imagenet"``.'
    )
    return register_model(builder)


efficientnet_b0 = _register_variant("b0", "EfficientNet-B0 (5.3M parameters with the ImageNet head), 224 px")
efficientnet_b1 = _register_variant("b1", "EfficientNet-B1, 240 px")
efficientnet_b2 = _register_variant("b2", "EfficientNet-B2, 260 px")
efficientnet_b3 = _register_variant("b3", "EfficientNet-B3, 300 px")
efficientnet_b4 = _register_variant(
    "b4", "EfficientNet-B4 at 380 px, the detector of Self-Blended Images (Shiohara & Yamasaki, CVPR 2022)"
)
