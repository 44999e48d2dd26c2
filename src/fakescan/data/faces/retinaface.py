"""RetinaFace, a single-stage dense face detector with five landmarks.

Deng, Guo, Zhou, Yu, Kotsia and Zafeiriou, "RetinaFace: Single-stage Dense Face Localisation in the
Wild", CVPR 2020 (arXiv:1905.00641).

The network here is written so that its ``state_dict`` has exactly the key names and shapes of the
widely shared PyTorch checkpoints ``mobilenet0.25_Final.pth`` (about 0.43 M parameters) and
``Resnet50_Final.pth`` (about 27.3 M), in the layout of the public ``Pytorch_Retinaface`` project:

* ``body.*`` the backbone: for ``mobilenet0.25`` a MobileNetV1 of width 0.25 cut into
  ``stage1``/``stage2``/``stage3``; for ``resnet50`` torchvision's ResNet-50 names without ``fc``;
* ``fpn.*`` a three-level feature pyramid, ``ssh1``..``ssh3`` one SSH context module per level;
* ``ClassHead``, ``BboxHead`` and ``LandmarkHead``, one 1×1 convolution per level, two anchors per
  feature-map cell.

Weights are never downloaded: the user passes a local file in that public layout (``.pth``/``.pt``
read with ``torch.load(weights_only=True)``, or ``.safetensors``). A leading ``module.`` on the keys
(as in the public files) and a ``{"state_dict": ...}`` wrapper are accepted; the keys must then match
the network exactly.

Inference follows the public weights' conventions: the image is fed at its own size (optionally
downscaled to ``max_side``) as BGR floats minus the per-channel means (104, 117, 123), anchors of
16/32, 64/128 and 256/512 px sit on the stride-8, 16 and 32 grids, and offsets are decoded with the
variances (0.1, 0.2). Boxes are not clipped: a face cut by the frame edge gets a box that overhangs it.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fakescan.data.faces.base import Detection, FaceDetector, downscale_for_detection, scale_detection
from fakescan.errors import DetectorError

__all__ = [
    "BACKBONES",
    "FPN",
    "SSH",
    "AnchorHead",
    "BackboneSpec",
    "MobileNetV1Body",
    "ResNet50Body",
    "RetinaFace",
    "RetinaFaceDetector",
    "decode_predictions",
    "infer_backbone",
    "load_state_dict",
    "nms",
    "prior_boxes",
]

MIN_SIZES: tuple[tuple[int, int], ...] = ((16, 32), (64, 128), (256, 512))
"""Anchor sizes in input pixels, two per pyramid level."""
STEPS: tuple[int, ...] = (8, 16, 32)
"""Stride of each pyramid level in input pixels."""
VARIANCES: tuple[float, float] = (0.1, 0.2)
"""Scales of the centre and of the log-size offsets in the box encoding."""
BGR_MEAN: tuple[float, float, float] = (104.0, 117.0, 123.0)
"""Per-channel means subtracted from the BGR input (0-255 scale) by the public weights."""


@dataclass(frozen=True)
class BackboneSpec:
    """What differs between the two public RetinaFace variants.

    Attributes:
        level_channels: channels of the three backbone outputs fed to the pyramid (strides 8, 16, 32).
        width: channels of the pyramid, the SSH modules and the heads' input.
    """

    level_channels: tuple[int, int, int]
    width: int

    @property
    def leaky(self) -> float:
        """Negative slope of the pyramid's and SSH's activations (the narrow model uses leaky ReLU)."""
        return 0.1 if self.width <= 64 else 0.0


BACKBONES: dict[str, BackboneSpec] = {
    "mobilenet0.25": BackboneSpec(level_channels=(64, 128, 256), width=64),
    "resnet50": BackboneSpec(level_channels=(512, 1024, 2048), width=256),
}
"""The supported backbones by name."""

# --------------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------------


def _conv_bn(
    cin: int, cout: int, kernel: int, stride: int = 1, *, groups: int = 1, slope: float | None = None
) -> list[nn.Module]:
    """A bias-free convolution, its batch norm and, unless ``slope`` is None, a leaky ReLU."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if slope is not None:
        layers.append(nn.LeakyReLU(slope, inplace=True))
    return layers


def _separable(cin: int, cout: int, stride: int) -> nn.Sequential:
    """MobileNetV1's depthwise 3×3 + pointwise 1×1 block (indices 0/1 and 3/4 carry weights)."""
    return nn.Sequential(
        *_conv_bn(cin, cin, 3, stride, groups=cin, slope=0.1), *_conv_bn(cin, cout, 1, slope=0.1)
    )


class MobileNetV1Body(nn.Module):
    """MobileNetV1 at width 0.25, returning its stride-8, 16 and 32 feature maps (64/128/256 ch)."""

    def __init__(self) -> None:
        super().__init__()
        self.stage1 = nn.Sequential(
            nn.Sequential(*_conv_bn(3, 8, 3, 2, slope=0.1)),
            _separable(8, 16, 1),
            _separable(16, 32, 2),
            _separable(32, 32, 1),
            _separable(32, 64, 2),
            _separable(64, 64, 1),
        )
        self.stage2 = nn.Sequential(_separable(64, 128, 2), *(_separable(128, 128, 1) for _ in range(5)))
        self.stage3 = nn.Sequential(_separable(128, 256, 2), _separable(256, 256, 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        c3 = self.stage1(x)
        c4 = self.stage2(c3)
        return [c3, c4, self.stage3(c4)]


class Bottleneck(nn.Module):
    """ResNet's 1×1-3×3-1×1 residual block, stride on the 3×3 (torchvision's "v1.5" naming)."""

    expansion: ClassVar[int] = 4

    def __init__(self, cin: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.downsample: nn.Module | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = F.relu(self.bn2(self.conv2(out)), inplace=True)
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut, inplace=True)


class ResNet50Body(nn.Module):
    """ResNet-50 without its classifier, returning ``layer2``..``layer4`` (512/1024/2048 ch)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for index, (planes, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))):
            layer = [Bottleneck(cin, planes, stride)]
            cin = planes * Bottleneck.expansion
            layer += [Bottleneck(cin, planes) for _ in range(blocks - 1)]
            self.add_module(f"layer{index + 1}", nn.Sequential(*layer))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x)), inplace=True))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        return [c3, c4, self.layer4(c4)]


class FPN(nn.Module):
    """Top-down feature pyramid: 1×1 lateral projections, nearest upsampling, 3×3 merges."""

    def __init__(self, level_channels: Sequence[int], width: int, slope: float) -> None:
        super().__init__()
        self.output1 = nn.Sequential(*_conv_bn(level_channels[0], width, 1, slope=slope))
        self.output2 = nn.Sequential(*_conv_bn(level_channels[1], width, 1, slope=slope))
        self.output3 = nn.Sequential(*_conv_bn(level_channels[2], width, 1, slope=slope))
        self.merge1 = nn.Sequential(*_conv_bn(width, width, 3, slope=slope))
        self.merge2 = nn.Sequential(*_conv_bn(width, width, 3, slope=slope))

    def forward(self, levels: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        p3, p4, p5 = self.output1(levels[0]), self.output2(levels[1]), self.output3(levels[2])
        p4 = self.merge2(p4 + F.interpolate(p5, size=p4.shape[-2:], mode="nearest"))
        p3 = self.merge1(p3 + F.interpolate(p4, size=p3.shape[-2:], mode="nearest"))
        return [p3, p4, p5]


class SSH(nn.Module):
    """SSH context module: 3×3, "5×5" and "7×7" branches (stacked 3×3s) concatenated, then ReLU.

    The branches carry half, a quarter and a quarter of the output channels; the 5×5 and 7×7
    branches share their first convolution.
    """

    def __init__(self, cin: int, cout: int, slope: float) -> None:
        super().__init__()
        if cout % 4:
            raise ValueError(f"SSH needs a channel count divisible by 4, got {cout}")
        quarter = cout // 4
        self.conv3X3 = nn.Sequential(*_conv_bn(cin, cout // 2, 3))
        self.conv5X5_1 = nn.Sequential(*_conv_bn(cin, quarter, 3, slope=slope))
        self.conv5X5_2 = nn.Sequential(*_conv_bn(quarter, quarter, 3))
        self.conv7X7_2 = nn.Sequential(*_conv_bn(quarter, quarter, 3, slope=slope))
        self.conv7x7_3 = nn.Sequential(*_conv_bn(quarter, quarter, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shared = self.conv5X5_1(x)
        branches = [self.conv3X3(x), self.conv5X5_2(shared), self.conv7x7_3(self.conv7X7_2(shared))]
        return F.relu(torch.cat(branches, dim=1))


class AnchorHead(nn.Module):
    """A 1×1 convolution predicting ``values`` numbers for each of ``anchors`` anchors per cell.

    Its output is flattened to ``(batch, cells × anchors, values)`` in row-major cell order, anchors
    innermost, the order of :func:`prior_boxes`.
    """

    def __init__(self, cin: int, anchors: int, values: int) -> None:
        super().__init__()
        self.values = values
        self.conv1x1 = nn.Conv2d(cin, anchors * values, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1x1(x).permute(0, 2, 3, 1)
        return out.reshape(out.shape[0], -1, self.values)


class RetinaFace(nn.Module):
    """The RetinaFace network in the public checkpoints' module layout.

    ``forward`` takes a ``(B, 3, H, W)`` BGR, mean-subtracted float tensor and returns the raw box
    offsets ``(B, N, 4)``, the face/background logits ``(B, N, 2)`` (index 1 = face) and the landmark
    offsets ``(B, N, 10)``, one row per prior of :func:`prior_boxes` for ``(H, W)``.
    """

    ANCHORS: ClassVar[int] = 2

    def __init__(self, backbone: str = "mobilenet0.25") -> None:
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"unknown RetinaFace backbone {backbone!r}; choose one of {sorted(BACKBONES)}")
        spec = BACKBONES[backbone]
        self.backbone = backbone
        self.body = MobileNetV1Body() if backbone == "mobilenet0.25" else ResNet50Body()
        self.fpn = FPN(spec.level_channels, spec.width, spec.leaky)
        self.ssh1 = SSH(spec.width, spec.width, spec.leaky)
        self.ssh2 = SSH(spec.width, spec.width, spec.leaky)
        self.ssh3 = SSH(spec.width, spec.width, spec.leaky)
        self.ClassHead = nn.ModuleList(AnchorHead(spec.width, self.ANCHORS, 2) for _ in STEPS)
        self.BboxHead = nn.ModuleList(AnchorHead(spec.width, self.ANCHORS, 4) for _ in STEPS)
        self.LandmarkHead = nn.ModuleList(AnchorHead(spec.width, self.ANCHORS, 10) for _ in STEPS)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pyramid = self.fpn(self.body(x))
        features = [ssh(level) for ssh, level in zip((self.ssh1, self.ssh2, self.ssh3), pyramid, strict=True)]
        boxes = torch.cat([head(f) for head, f in zip(self.BboxHead, features, strict=True)], dim=1)
        logits = torch.cat([head(f) for head, f in zip(self.ClassHead, features, strict=True)], dim=1)
        marks = torch.cat([head(f) for head, f in zip(self.LandmarkHead, features, strict=True)], dim=1)
        return boxes, logits, marks


# --------------------------------------------------------------------------------------------------
# Anchors, decoding, suppression
# --------------------------------------------------------------------------------------------------


def prior_boxes(
    height: int,
    width: int,
    min_sizes: Sequence[Sequence[int]] = MIN_SIZES,
    steps: Sequence[int] = STEPS,
) -> torch.Tensor:
    """The anchor boxes of an ``height × width`` input, as ``(N, 4)`` rows ``(cx, cy, w, h)``.

    Coordinates are fractions of the input's width (x, w) and height (y, h). Level ``k`` has a
    ``ceil(height / steps[k]) × ceil(width / steps[k])`` grid; each cell, in row-major order, holds one
    square anchor per size in ``min_sizes[k]``, centred on the cell.

    >>> prior_boxes(640, 640).shape
    torch.Size([16800, 4])
    """
    rows = []
    for sizes, step in zip(min_sizes, steps, strict=True):
        grid_h, grid_w = math.ceil(height / step), math.ceil(width / step)
        cy = (torch.arange(grid_h, dtype=torch.float32) + 0.5) * (step / height)
        cx = (torch.arange(grid_w, dtype=torch.float32) + 0.5) * (step / width)
        yy, xx = torch.meshgrid(cy, cx, indexing="ij")
        centres = torch.stack([xx, yy], dim=-1).reshape(-1, 1, 2).expand(-1, len(sizes), 2)
        extent = torch.tensor([[s / width, s / height] for s in sizes], dtype=torch.float32)
        rows.append(torch.cat([centres, extent.expand(centres.shape[0], -1, -1)], dim=-1).reshape(-1, 4))
    return torch.cat(rows)


def decode_predictions(
    offsets: torch.Tensor,
    landmark_offsets: torch.Tensor,
    priors: torch.Tensor,
    variances: tuple[float, float] = VARIANCES,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn the network's offsets into corner boxes ``(N, 4)`` and landmark points ``(N, 10)``.

    A box's centre is the prior's centre moved by ``offset × variances[0] × prior size``; its size is
    the prior's size times ``exp(offset × variances[1])``. Each landmark is the prior's centre moved
    like a box centre. Outputs are in the priors' fractional coordinates; multiply by the input's
    width and height for pixels. Zero offsets give the priors themselves in corner form.
    """
    centre, size = priors[:, :2], priors[:, 2:]
    box_centre = centre + offsets[:, :2] * variances[0] * size
    box_size = size * torch.exp(offsets[:, 2:] * variances[1])
    boxes = torch.cat([box_centre - box_size / 2, box_centre + box_size / 2], dim=1)
    points = centre.unsqueeze(1) + landmark_offsets.reshape(-1, 5, 2) * variances[0] * size.unsqueeze(1)
    return boxes, points.reshape(-1, 10)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns the kept indices, best score first.

    A box is dropped when its IoU with an already kept, higher-scoring box exceeds ``iou_threshold``.

    >>> nms(np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]]), np.array([0.9, 0.8, 0.7]), 0.4)
    array([0, 2])
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        lo = np.maximum(boxes[best, :2], boxes[rest, :2])
        hi = np.minimum(boxes[best, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
        union = areas[best] + areas[rest] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


# --------------------------------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------------------------------


def _first_line(error: BaseException, limit: int = 160) -> str:
    """``"ErrorType: first line of its message"``, shortened to ``limit`` characters."""
    text = str(error).strip().splitlines()
    line = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
    return line if len(line) <= limit else line[: limit - 1] + "…"


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a RetinaFace weights file into a plain ``{name: tensor}`` dict on the CPU.

    Accepts ``.safetensors`` files and PyTorch pickles (read with ``weights_only=True``), unwraps a
    ``{"state_dict": ...}`` checkpoint and removes a leading ``module.`` from the names.

    Raises:
        DetectorError: the file is missing, unreadable, unsafe to unpickle or not a state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise DetectorError(f"{path}: RetinaFace weights file not found")
    if path.suffix.lower() == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError as error:
            raise DetectorError(f"{path}: reading .safetensors needs the safetensors package") from error
        try:
            raw: object = load_file(str(path), device="cpu")
        except Exception as error:
            raise DetectorError(f"{path}: not a readable safetensors file ({_first_line(error)})") from None
    else:
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as error:
            if "weights only" in str(error).lower():
                raise DetectorError(
                    f"{path}: refused by the safe unpickler (it holds objects other than tensors); "
                    "re-save the weights as a plain state_dict"
                ) from None
            raise DetectorError(f"{path}: not a PyTorch checkpoint ({_first_line(error)})") from None
        except EOFError:
            raise DetectorError(f"{path}: not a PyTorch checkpoint (empty or truncated file)") from None
        except Exception as error:
            raise DetectorError(
                f"{path}: not a PyTorch checkpoint or a corrupt one (torch.load: {_first_line(error)})"
            ) from None
    if isinstance(raw, Mapping) and isinstance(raw.get("state_dict"), Mapping):
        raw = raw["state_dict"]
    if not isinstance(raw, Mapping) or not raw:
        raise DetectorError(f"{path}: holds no state_dict (a mapping of parameter names to tensors)")
    weights: dict[str, torch.Tensor] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise DetectorError(f"{path}: entry {key!r} is not a named tensor, so this is not a state_dict")
        weights[key.removeprefix("module.")] = value
    return weights


def infer_backbone(keys: Sequence[str] | Mapping[str, object]) -> str | None:
    """The backbone a RetinaFace state dict was saved from, judged by its key names, or None."""
    names = list(keys)
    if any(k.startswith("body.stage1.") for k in names):
        return "mobilenet0.25"
    if any(k.startswith("body.layer1.") for k in names):
        return "resnet50"
    return None


def _listing(keys: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def _load_into(model: RetinaFace, weights: dict[str, torch.Tensor], path: Path) -> None:
    """Strictly load ``weights`` into ``model``, or raise a one-line :class:`DetectorError`."""
    expected = model.state_dict()
    # A file saved before PyTorch 0.4.1 has no BN step counters; they do not affect inference.
    weights = dict(weights)
    for key, value in expected.items():
        if key.endswith(".num_batches_tracked") and key not in weights:
            weights[key] = value
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    problems = []
    if missing:
        problems.append(f"missing keys: {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listing(unexpected)}")
    if not problems:
        wrong = [
            f"{k} {tuple(weights[k].shape)} vs {tuple(v.shape)}"
            for k, v in expected.items()
            if weights[k].shape != v.shape
        ]
        if wrong:
            problems.append(f"shape mismatches (file vs model): {_listing(wrong)}")
    if problems:
        raise DetectorError(
            f"{path}: does not fit RetinaFace-{model.backbone} in the public layout; " + "; ".join(problems)
        )
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as error:  # e.g. a dtype that cannot be copied
        raise DetectorError(f"{path}: cannot be loaded into RetinaFace ({_first_line(error)})") from None


# --------------------------------------------------------------------------------------------------
# Detector
# --------------------------------------------------------------------------------------------------


class RetinaFaceDetector(FaceDetector):
    """RetinaFace with user-provided weights in the public ``Pytorch_Retinaface`` layout.

    Args:
        weights: local ``.pth``/``.pt``/``.safetensors`` file (e.g. ``mobilenet0.25_Final.pth``).
        backbone: ``"mobilenet0.25"`` or ``"resnet50"``; ``None`` infers it from the key names.
        score_threshold: minimum face probability (softmax, in ``[0, 1]``) of a detection.
        nms_threshold: IoU above which a lower-scoring overlapping box is suppressed.
        device: torch device to run on.
        max_side: images are searched at most this large (longer side, pixels); ``None`` = as given.

    Raises:
        DetectorError: the weights file is missing, unreadable, or does not fit the network.
    """

    name: ClassVar[str] = "retinaface"
    pre_nms_top_k: ClassVar[int] = 5000
    """At most this many of the best-scoring candidates go into the suppression."""

    def __init__(
        self,
        weights: str | Path,
        *,
        backbone: str | None = None,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.4,
        device: str = "cpu",
        max_side: int | None = None,
    ) -> None:
        path = Path(weights)
        state = load_state_dict(path)
        if backbone is None:
            backbone = infer_backbone(state)
            if backbone is None:
                raise DetectorError(
                    f"{path}: cannot tell the RetinaFace backbone from its keys (no body.stage1.* or "
                    "body.layer1.*); pass backbone='mobilenet0.25' or 'resnet50'"
                )
        backbone = backbone.lower()
        if backbone not in BACKBONES:
            raise DetectorError(
                f"unknown RetinaFace backbone {backbone!r}; choose one of: {', '.join(sorted(BACKBONES))}"
            )
        model = RetinaFace(backbone)
        _load_into(model, state, path)
        try:
            self.device = torch.device(device)
            self.model = model.to(self.device).eval()
        except (RuntimeError, AssertionError) as error:
            raise DetectorError(f"cannot run RetinaFace on device {device!r}: {_first_line(error)}") from None
        self.backbone = backbone
        self.weights = path
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self.max_side = max_side
        self._priors: dict[tuple[int, int], torch.Tensor] = {}
        self._mean = torch.tensor(BGR_MEAN, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)

    def _priors_for(self, height: int, width: int) -> torch.Tensor:
        key = (height, width)
        if key not in self._priors:
            if len(self._priors) >= 16:  # a few frame sizes at most in practice
                self._priors.clear()
            self._priors[key] = prior_boxes(height, width).to(self.device)
        return self._priors[key]

    def detect(self, image: np.ndarray) -> list[Detection]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an H×W×3 uint8 RGB image, got {image.dtype} {image.shape}")
        small, factor = downscale_for_detection(image, self.max_side)
        height, width = small.shape[:2]
        with torch.inference_mode():
            bgr = torch.from_numpy(np.ascontiguousarray(small[:, :, ::-1]))
            x = bgr.to(self.device).permute(2, 0, 1).unsqueeze(0).float() - self._mean
            offsets, logits, marks = self.model(x)
            scores = torch.softmax(logits[0], dim=-1)[:, 1]
            priors = self._priors_for(height, width)
            chosen = torch.nonzero(scores > self.score_threshold).squeeze(1)
            if chosen.numel() > self.pre_nms_top_k:
                chosen = chosen[torch.topk(scores[chosen], self.pre_nms_top_k).indices]
            boxes, points = decode_predictions(offsets[0, chosen], marks[0, chosen], priors[chosen])
            scale = torch.tensor([width, height], dtype=torch.float32, device=self.device)
            boxes = (boxes.view(-1, 2, 2) * scale).view(-1, 4)
            points = (points.view(-1, 5, 2) * scale).view(-1, 10)
            boxes_np = boxes.cpu().double().numpy()
            points_np = points.cpu().double().numpy()
            scores_np = scores[chosen].cpu().double().numpy()
        valid = (
            np.isfinite(boxes_np).all(axis=1)
            & np.isfinite(points_np).all(axis=1)
            & (boxes_np[:, 2] > boxes_np[:, 0])
            & (boxes_np[:, 3] > boxes_np[:, 1])
        )
        boxes_np, points_np, scores_np = boxes_np[valid], points_np[valid], scores_np[valid]
        found = []
        for i in nms(boxes_np, scores_np, self.nms_threshold):
            x1, y1, x2, y2 = boxes_np[i].tolist()
            marks_xy = points_np[i].reshape(5, 2).tolist()
            found.append(
                Detection(
                    box=(x1, y1, x2, y2),
                    score=float(scores_np[i]),
                    landmarks=tuple((x, y) for x, y in marks_xy),
                )
            )
        return [scale_detection(d, factor) for d in found] if factor != 1.0 else found
