"""Xception (Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017,
arXiv 1610.02357), the backbone of FaceForensics++ (Rössler et al., ICCV 2019) and of both designs
fakescan implements.

The trunk is a list of named stages — ``stem``, ``block1`` … ``block12``, ``exit`` — that can be run
one at a time (:meth:`Xception.forward_stage`), so that other models can read an intermediate
embedding (RECCE takes ``block4``) or interleave two trunks (MD-CSD's cross-stitch units).

Weights: none are bundled or downloaded. ImageNet weights that a user holds in the common
``legacy_xception`` / "pretrainedmodels" key layout load with :func:`load_pretrained`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from fakescan.errors import CheckpointMismatchError
from fakescan.models._registry import register_model
from fakescan.models._weights import load_matching
from fakescan.models.layers import SeparableConv2d, XceptionBlock
from fakescan.models.output import DetectorOutput, InputConfig

__all__ = ["STAGES", "Xception", "load_pretrained", "load_state_file", "remap_legacy_xception", "xception"]

# (name, in, out, reps, stride, start_with_relu, grow_first) for block1..block12: entry, middle, exit flow.
_BLOCKS: tuple[tuple[str, int, int, int, int, bool, bool], ...] = (
    ("block1", 64, 128, 2, 2, False, True),
    ("block2", 128, 256, 2, 2, True, True),
    ("block3", 256, 728, 2, 2, True, True),
    *((f"block{i}", 728, 728, 3, 1, True, True) for i in range(4, 12)),
    ("block12", 728, 1024, 2, 2, True, False),
)
STAGES: tuple[str, ...] = ("stem", *(b[0] for b in _BLOCKS), "exit")
"""Names of the trunk's stages, in order."""

_STAGE_CHANNELS = {"stem": 64, **{b[0]: b[2] for b in _BLOCKS}, "exit": 2048}
_STAGE_REDUCTION = {"stem": 2, "block1": 4, "block2": 8, "block3": 16, "block12": 32, "exit": 32}


class Xception(nn.Module):
    """The Xception classifier.

    Args:
        num_classes: outputs of the head: 1 (a real/fake logit), K for K classes, 0 for no head.
        in_chans: input channels (3 for RGB; 1 for a grayscale spectrum).
        drop_rate: dropout before the classifier.
        image_size: the input side the model is meant for (recorded in ``input_cfg``; any size runs).

    Shapes: input ``B×in_chans×H×W``; features ``B×2048×⌈H/32⌉×⌈W/32⌉`` (10×10 at 299 px, 8×8 at 256);
    logits ``B×num_classes``.
    """

    def __init__(
        self, num_classes: int = 1, in_chans: int = 3, drop_rate: float = 0.0, image_size: int = 299
    ) -> None:
        super().__init__()
        self.input_cfg = InputConfig(image_size=image_size)
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.num_features = 2048
        self.conv1 = nn.Conv2d(in_chans, 32, 3, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        for name, in_chs, out_chs, reps, stride, start_relu, grow_first in _BLOCKS:
            self.add_module(name, XceptionBlock(in_chs, out_chs, reps, stride, start_relu, grow_first))
        self.conv3 = SeparableConv2d(1024, 1536)
        self.bn3 = nn.BatchNorm2d(1536)
        self.conv4 = SeparableConv2d(1536, 2048)
        self.bn4 = nn.BatchNorm2d(2048)
        self.act = nn.ReLU()
        self.head_drop = nn.Dropout(drop_rate)
        self.fc: nn.Module = nn.Linear(2048, num_classes) if num_classes > 0 else nn.Identity()
        self.feature_info = [
            {"num_chs": _STAGE_CHANNELS[s], "reduction": _STAGE_REDUCTION.get(s, 16), "module": s}
            for s in STAGES
        ]
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward_stage(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Run one stage of :data:`STAGES` on ``x``."""
        if name == "stem":
            x = self.act(self.bn1(self.conv1(x)))
            return self.act(self.bn2(self.conv2(x)))
        if name == "exit":
            x = self.act(self.bn3(self.conv3(x)))
            return self.act(self.bn4(self.conv4(x)))
        return getattr(self, name)(x)

    def forward_until(self, x: torch.Tensor, last: str, first: str = "stem") -> torch.Tensor:
        """Run the stages from ``first`` through ``last`` (inclusive)."""
        start, stop = STAGES.index(first), STAGES.index(last)
        for name in STAGES[start : stop + 1]:
            x = self.forward_stage(name, x)
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The final ``B×2048×h×w`` feature map."""
        return self.forward_until(x, "exit")

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Global average pool, dropout and the classifier (``pre_logits``: stop before it)."""
        x = self.head_drop(x.mean(dim=(2, 3)))
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor, return_aux: bool = False) -> torch.Tensor | DetectorOutput:
        """Logits ``B×num_classes``; with ``return_aux``, a :class:`DetectorOutput` that also holds
        the final feature map as ``aux["features"]``."""
        features = self.forward_features(x)
        logits = self.forward_head(features)
        return DetectorOutput(logits, {"features": features}) if return_aux else logits

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head with a fresh one of ``num_classes`` outputs (0: none)."""
        self.num_classes = num_classes
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()


def load_state_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state_dict from ``.safetensors`` or a PyTorch file, never unpickling arbitrary objects.

    A checkpoint that wraps its weights (``{"state_dict": ...}`` or ``{"model": ...}``) is unwrapped.

    Raises:
        CheckpointMismatchError: the file is missing or holds no state_dict.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointMismatchError(f"{path}: weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: object = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CheckpointMismatchError(f"{path}: not a loadable weights file ({first})") from error
    for key in ("state_dict", "model"):
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointMismatchError(f"{path}: holds no state_dict of tensors")
    return dict(state)


def remap_legacy_xception(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a ``legacy_xception`` / pretrainedmodels state_dict onto :class:`Xception`'s names.

    Strips a ``module.`` prefix (DataParallel), renames ``last_linear`` to ``fc``, and gives 2-D
    pointwise weights (as stored in the original ImageNet file) their ``1×1`` kernel dimensions.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name = key.removeprefix("module.").replace("last_linear.", "fc.")
        is_flat_pointwise = name.endswith("pointwise.weight") and value.dim() == 2
        out[name] = value[:, :, None, None] if is_flat_pointwise else value
    return out


def load_pretrained(model: Xception, path: str | Path, strict_head: bool = False) -> None:
    """Load ImageNet (or other) Xception weights from a local file into ``model``.

    The classifier is taken only when its shape fits (``strict_head=True`` demands it); every trunk
    weight must be present with the right shape. Batch-norm ``num_batches_tracked`` counters, which
    files written before PyTorch 0.4.1 (the public ImageNet Xception among them) lack, are the one
    exception: a missing counter starts at 0, as PyTorch's own batch norm loads such files.

    Raises:
        CheckpointMismatchError: naming the file and the first missing, unexpected or misshapen key.
    """
    load_matching(
        model,
        remap_legacy_xception(load_state_file(path)),
        path,
        "fc.",
        "an Xception",
        strict_head=strict_head,
    )


@register_model
def xception(
    num_classes: int = 1,
    in_chans: int = 3,
    drop_rate: float = 0.0,
    image_size: int = 299,
    pretrained: str | Path | None = None,
) -> Xception:
    """Plain Xception classifier (the FaceForensics++ baseline); ``pretrained`` is a local weights file."""
    model = Xception(num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate, image_size=image_size)
    if pretrained is not None:
        load_pretrained(model, pretrained)
    return model
