"""RetinaFace: the public checkpoint layouts, weight loading errors, anchors, decoding and NMS.

No real weights are used: state dicts of random tensors with the public key names and shapes stand
in for ``mobilenet0.25_Final.pth`` and ``Resnet50_Final.pth``.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from fakescan.data.faces.base import Detection
from fakescan.data.faces.retinaface import (
    RetinaFace,
    RetinaFaceDetector,
    decode_predictions,
    nms,
    prior_boxes,
)
from fakescan.errors import DetectorError

# Every entry of the public mobilenet0.25_Final.pth (Pytorch_Retinaface layout), without its
# ``module.`` prefix: name, then the shape (nothing for the scalar BN step counters).
MOBILENET_KEYS = """
body.stage1.0.0.weight 8 3 3 3
body.stage1.0.1.weight 8
body.stage1.0.1.bias 8
body.stage1.0.1.running_mean 8
body.stage1.0.1.running_var 8
body.stage1.0.1.num_batches_tracked
body.stage1.1.0.weight 8 1 3 3
body.stage1.1.1.weight 8
body.stage1.1.1.bias 8
body.stage1.1.1.running_mean 8
body.stage1.1.1.running_var 8
body.stage1.1.1.num_batches_tracked
body.stage1.1.3.weight 16 8 1 1
body.stage1.1.4.weight 16
body.stage1.1.4.bias 16
body.stage1.1.4.running_mean 16
body.stage1.1.4.running_var 16
body.stage1.1.4.num_batches_tracked
body.stage1.2.0.weight 16 1 3 3
body.stage1.2.1.weight 16
body.stage1.2.1.bias 16
body.stage1.2.1.running_mean 16
body.stage1.2.1.running_var 16
body.stage1.2.1.num_batches_tracked
body.stage1.2.3.weight 32 16 1 1
body.stage1.2.4.weight 32
body.stage1.2.4.bias 32
body.stage1.2.4.running_mean 32
body.stage1.2.4.running_var 32
body.stage1.2.4.num_batches_tracked
body.stage1.3.0.weight 32 1 3 3
body.stage1.3.1.weight 32
body.stage1.3.1.bias 32
body.stage1.3.1.running_mean 32
body.stage1.3.1.running_var 32
body.stage1.3.1.num_batches_tracked
body.stage1.3.3.weight 32 32 1 1
body.stage1.3.4.weight 32
body.stage1.3.4.bias 32
body.stage1.3.4.running_mean 32
body.stage1.3.4.running_var 32
body.stage1.3.4.num_batches_tracked
body.stage1.4.0.weight 32 1 3 3
body.stage1.4.1.weight 32
body.stage1.4.1.bias 32
body.stage1.4.1.running_mean 32
body.stage1.4.1.running_var 32
body.stage1.4.1.num_batches_tracked
body.stage1.4.3.weight 64 32 1 1
body.stage1.4.4.weight 64
body.stage1.4.4.bias 64
body.stage1.4.4.running_mean 64
body.stage1.4.4.running_var 64
body.stage1.4.4.num_batches_tracked
body.stage1.5.0.weight 64 1 3 3
body.stage1.5.1.weight 64
body.stage1.5.1.bias 64
body.stage1.5.1.running_mean 64
body.stage1.5.1.running_var 64
body.stage1.5.1.num_batches_tracked
body.stage1.5.3.weight 64 64 1 1
body.stage1.5.4.weight 64
body.stage1.5.4.bias 64
body.stage1.5.4.running_mean 64
body.stage1.5.4.running_var 64
body.stage1.5.4.num_batches_tracked
body.stage2.0.0.weight 64 1 3 3
body.stage2.0.1.weight 64
body.stage2.0.1.bias 64
body.stage2.0.1.running_mean 64
body.stage2.0.1.running_var 64
body.stage2.0.1.num_batches_tracked
body.stage2.0.3.weight 128 64 1 1
body.stage2.0.4.weight 128
body.stage2.0.4.bias 128
body.stage2.0.4.running_mean 128
body.stage2.0.4.running_var 128
body.stage2.0.4.num_batches_tracked
body.stage2.1.0.weight 128 1 3 3
body.stage2.1.1.weight 128
body.stage2.1.1.bias 128
body.stage2.1.1.running_mean 128
body.stage2.1.1.running_var 128
body.stage2.1.1.num_batches_tracked
body.stage2.1.3.weight 128 128 1 1
body.stage2.1.4.weight 128
body.stage2.1.4.bias 128
body.stage2.1.4.running_mean 128
body.stage2.1.4.running_var 128
body.stage2.1.4.num_batches_tracked
body.stage2.2.0.weight 128 1 3 3
body.stage2.2.1.weight 128
body.stage2.2.1.bias 128
body.stage2.2.1.running_mean 128
body.stage2.2.1.running_var 128
body.stage2.2.1.num_batches_tracked
body.stage2.2.3.weight 128 128 1 1
body.stage2.2.4.weight 128
body.stage2.2.4.bias 128
body.stage2.2.4.running_mean 128
body.stage2.2.4.running_var 128
body.stage2.2.4.num_batches_tracked
body.stage2.3.0.weight 128 1 3 3
body.stage2.3.1.weight 128
body.stage2.3.1.bias 128
body.stage2.3.1.running_mean 128
body.stage2.3.1.running_var 128
body.stage2.3.1.num_batches_tracked
body.stage2.3.3.weight 128 128 1 1
body.stage2.3.4.weight 128
body.stage2.3.4.bias 128
body.stage2.3.4.running_mean 128
body.stage2.3.4.running_var 128
body.stage2.3.4.num_batches_tracked
body.stage2.4.0.weight 128 1 3 3
body.stage2.4.1.weight 128
body.stage2.4.1.bias 128
body.stage2.4.1.running_mean 128
body.stage2.4.1.running_var 128
body.stage2.4.1.num_batches_tracked
body.stage2.4.3.weight 128 128 1 1
body.stage2.4.4.weight 128
body.stage2.4.4.bias 128
body.stage2.4.4.running_mean 128
body.stage2.4.4.running_var 128
body.stage2.4.4.num_batches_tracked
body.stage2.5.0.weight 128 1 3 3
body.stage2.5.1.weight 128
body.stage2.5.1.bias 128
body.stage2.5.1.running_mean 128
body.stage2.5.1.running_var 128
body.stage2.5.1.num_batches_tracked
body.stage2.5.3.weight 128 128 1 1
body.stage2.5.4.weight 128
body.stage2.5.4.bias 128
body.stage2.5.4.running_mean 128
body.stage2.5.4.running_var 128
body.stage2.5.4.num_batches_tracked
body.stage3.0.0.weight 128 1 3 3
body.stage3.0.1.weight 128
body.stage3.0.1.bias 128
body.stage3.0.1.running_mean 128
body.stage3.0.1.running_var 128
body.stage3.0.1.num_batches_tracked
body.stage3.0.3.weight 256 128 1 1
body.stage3.0.4.weight 256
body.stage3.0.4.bias 256
body.stage3.0.4.running_mean 256
body.stage3.0.4.running_var 256
body.stage3.0.4.num_batches_tracked
body.stage3.1.0.weight 256 1 3 3
body.stage3.1.1.weight 256
body.stage3.1.1.bias 256
body.stage3.1.1.running_mean 256
body.stage3.1.1.running_var 256
body.stage3.1.1.num_batches_tracked
body.stage3.1.3.weight 256 256 1 1
body.stage3.1.4.weight 256
body.stage3.1.4.bias 256
body.stage3.1.4.running_mean 256
body.stage3.1.4.running_var 256
body.stage3.1.4.num_batches_tracked
fpn.output1.0.weight 64 64 1 1
fpn.output1.1.weight 64
fpn.output1.1.bias 64
fpn.output1.1.running_mean 64
fpn.output1.1.running_var 64
fpn.output1.1.num_batches_tracked
fpn.output2.0.weight 64 128 1 1
fpn.output2.1.weight 64
fpn.output2.1.bias 64
fpn.output2.1.running_mean 64
fpn.output2.1.running_var 64
fpn.output2.1.num_batches_tracked
fpn.output3.0.weight 64 256 1 1
fpn.output3.1.weight 64
fpn.output3.1.bias 64
fpn.output3.1.running_mean 64
fpn.output3.1.running_var 64
fpn.output3.1.num_batches_tracked
fpn.merge1.0.weight 64 64 3 3
fpn.merge1.1.weight 64
fpn.merge1.1.bias 64
fpn.merge1.1.running_mean 64
fpn.merge1.1.running_var 64
fpn.merge1.1.num_batches_tracked
fpn.merge2.0.weight 64 64 3 3
fpn.merge2.1.weight 64
fpn.merge2.1.bias 64
fpn.merge2.1.running_mean 64
fpn.merge2.1.running_var 64
fpn.merge2.1.num_batches_tracked
ssh1.conv3X3.0.weight 32 64 3 3
ssh1.conv3X3.1.weight 32
ssh1.conv3X3.1.bias 32
ssh1.conv3X3.1.running_mean 32
ssh1.conv3X3.1.running_var 32
ssh1.conv3X3.1.num_batches_tracked
ssh1.conv5X5_1.0.weight 16 64 3 3
ssh1.conv5X5_1.1.weight 16
ssh1.conv5X5_1.1.bias 16
ssh1.conv5X5_1.1.running_mean 16
ssh1.conv5X5_1.1.running_var 16
ssh1.conv5X5_1.1.num_batches_tracked
ssh1.conv5X5_2.0.weight 16 16 3 3
ssh1.conv5X5_2.1.weight 16
ssh1.conv5X5_2.1.bias 16
ssh1.conv5X5_2.1.running_mean 16
ssh1.conv5X5_2.1.running_var 16
ssh1.conv5X5_2.1.num_batches_tracked
ssh1.conv7X7_2.0.weight 16 16 3 3
ssh1.conv7X7_2.1.weight 16
ssh1.conv7X7_2.1.bias 16
ssh1.conv7X7_2.1.running_mean 16
ssh1.conv7X7_2.1.running_var 16
ssh1.conv7X7_2.1.num_batches_tracked
ssh1.conv7x7_3.0.weight 16 16 3 3
ssh1.conv7x7_3.1.weight 16
ssh1.conv7x7_3.1.bias 16
ssh1.conv7x7_3.1.running_mean 16
ssh1.conv7x7_3.1.running_var 16
ssh1.conv7x7_3.1.num_batches_tracked
ssh2.conv3X3.0.weight 32 64 3 3
ssh2.conv3X3.1.weight 32
ssh2.conv3X3.1.bias 32
ssh2.conv3X3.1.running_mean 32
ssh2.conv3X3.1.running_var 32
ssh2.conv3X3.1.num_batches_tracked
ssh2.conv5X5_1.0.weight 16 64 3 3
ssh2.conv5X5_1.1.weight 16
ssh2.conv5X5_1.1.bias 16
ssh2.conv5X5_1.1.running_mean 16
ssh2.conv5X5_1.1.running_var 16
ssh2.conv5X5_1.1.num_batches_tracked
ssh2.conv5X5_2.0.weight 16 16 3 3
ssh2.conv5X5_2.1.weight 16
ssh2.conv5X5_2.1.bias 16
ssh2.conv5X5_2.1.running_mean 16
ssh2.conv5X5_2.1.running_var 16
ssh2.conv5X5_2.1.num_batches_tracked
ssh2.conv7X7_2.0.weight 16 16 3 3
ssh2.conv7X7_2.1.weight 16
ssh2.conv7X7_2.1.bias 16
ssh2.conv7X7_2.1.running_mean 16
ssh2.conv7X7_2.1.running_var 16
ssh2.conv7X7_2.1.num_batches_tracked
ssh2.conv7x7_3.0.weight 16 16 3 3
ssh2.conv7x7_3.1.weight 16
ssh2.conv7x7_3.1.bias 16
ssh2.conv7x7_3.1.running_mean 16
ssh2.conv7x7_3.1.running_var 16
ssh2.conv7x7_3.1.num_batches_tracked
ssh3.conv3X3.0.weight 32 64 3 3
ssh3.conv3X3.1.weight 32
ssh3.conv3X3.1.bias 32
ssh3.conv3X3.1.running_mean 32
ssh3.conv3X3.1.running_var 32
ssh3.conv3X3.1.num_batches_tracked
ssh3.conv5X5_1.0.weight 16 64 3 3
ssh3.conv5X5_1.1.weight 16
ssh3.conv5X5_1.1.bias 16
ssh3.conv5X5_1.1.running_mean 16
ssh3.conv5X5_1.1.running_var 16
ssh3.conv5X5_1.1.num_batches_tracked
ssh3.conv5X5_2.0.weight 16 16 3 3
ssh3.conv5X5_2.1.weight 16
ssh3.conv5X5_2.1.bias 16
ssh3.conv5X5_2.1.running_mean 16
ssh3.conv5X5_2.1.running_var 16
ssh3.conv5X5_2.1.num_batches_tracked
ssh3.conv7X7_2.0.weight 16 16 3 3
ssh3.conv7X7_2.1.weight 16
ssh3.conv7X7_2.1.bias 16
ssh3.conv7X7_2.1.running_mean 16
ssh3.conv7X7_2.1.running_var 16
ssh3.conv7X7_2.1.num_batches_tracked
ssh3.conv7x7_3.0.weight 16 16 3 3
ssh3.conv7x7_3.1.weight 16
ssh3.conv7x7_3.1.bias 16
ssh3.conv7x7_3.1.running_mean 16
ssh3.conv7x7_3.1.running_var 16
ssh3.conv7x7_3.1.num_batches_tracked
ClassHead.0.conv1x1.weight 4 64 1 1
ClassHead.0.conv1x1.bias 4
ClassHead.1.conv1x1.weight 4 64 1 1
ClassHead.1.conv1x1.bias 4
ClassHead.2.conv1x1.weight 4 64 1 1
ClassHead.2.conv1x1.bias 4
BboxHead.0.conv1x1.weight 8 64 1 1
BboxHead.0.conv1x1.bias 8
BboxHead.1.conv1x1.weight 8 64 1 1
BboxHead.1.conv1x1.bias 8
BboxHead.2.conv1x1.weight 8 64 1 1
BboxHead.2.conv1x1.bias 8
LandmarkHead.0.conv1x1.weight 20 64 1 1
LandmarkHead.0.conv1x1.bias 20
LandmarkHead.1.conv1x1.weight 20 64 1 1
LandmarkHead.1.conv1x1.bias 20
LandmarkHead.2.conv1x1.weight 20 64 1 1
LandmarkHead.2.conv1x1.bias 20
"""


def _parse(table: str) -> dict[str, tuple[int, ...]]:
    rows = (line.split() for line in table.strip().splitlines())
    return {name: tuple(int(d) for d in dims) for name, *dims in rows}


MOBILENET_LAYOUT = _parse(MOBILENET_KEYS)

# A transcribed sample of Resnet50_Final.pth (torchvision ResNet-50 names under ``body.``).
RESNET50_SAMPLE = {
    "body.conv1.weight": (64, 3, 7, 7),
    "body.bn1.running_mean": (64,),
    "body.layer1.0.conv1.weight": (64, 64, 1, 1),
    "body.layer1.0.downsample.0.weight": (256, 64, 1, 1),
    "body.layer1.0.downsample.1.num_batches_tracked": (),
    "body.layer2.0.conv2.weight": (128, 128, 3, 3),
    "body.layer2.3.bn3.weight": (512,),
    "body.layer3.5.conv3.weight": (1024, 256, 1, 1),
    "body.layer4.0.downsample.0.weight": (2048, 1024, 1, 1),
    "body.layer4.2.bn3.running_var": (2048,),
    "fpn.output1.0.weight": (256, 512, 1, 1),
    "fpn.output2.0.weight": (256, 1024, 1, 1),
    "fpn.output3.0.weight": (256, 2048, 1, 1),
    "fpn.merge2.0.weight": (256, 256, 3, 3),
    "ssh1.conv3X3.0.weight": (128, 256, 3, 3),
    "ssh2.conv5X5_1.0.weight": (64, 256, 3, 3),
    "ssh3.conv7x7_3.1.running_var": (64,),
    "ClassHead.0.conv1x1.weight": (4, 256, 1, 1),
    "ClassHead.2.conv1x1.bias": (4,),
    "BboxHead.0.conv1x1.weight": (8, 256, 1, 1),
    "LandmarkHead.0.conv1x1.weight": (20, 256, 1, 1),
    "LandmarkHead.1.conv1x1.bias": (20,),
}
RESNET50_KEY_COUNT = 456  # 318 torchvision resnet50 entries without fc, 138 for pyramid, SSH and heads
BN_ENTRIES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _torchvision_resnet50_names() -> set[str]:
    """torchvision's resnet50 state_dict names without ``fc``, written out from its block counts."""
    names = {"conv1.weight", *(f"bn1.{s}" for s in BN_ENTRIES)}
    for layer, blocks in enumerate((3, 4, 6, 3), start=1):
        for block in range(blocks):
            prefix = f"layer{layer}.{block}"
            for i in (1, 2, 3):
                names.add(f"{prefix}.conv{i}.weight")
                names.update(f"{prefix}.bn{i}.{s}" for s in BN_ENTRIES)
            if block == 0:
                names.add(f"{prefix}.downsample.0.weight")
                names.update(f"{prefix}.downsample.1.{s}" for s in BN_ENTRIES)
    return names


def _head_names() -> set[str]:
    """Names of everything after the backbone (same for both variants)."""
    names: set[str] = set()

    def conv_bn(prefix: str) -> None:
        names.add(f"{prefix}.0.weight")
        names.update(f"{prefix}.1.{s}" for s in BN_ENTRIES)

    for part in ("output1", "output2", "output3", "merge1", "merge2"):
        conv_bn(f"fpn.{part}")
    for ssh in ("ssh1", "ssh2", "ssh3"):
        for part in ("conv3X3", "conv5X5_1", "conv5X5_2", "conv7X7_2", "conv7x7_3"):
            conv_bn(f"{ssh}.{part}")
    for head in ("ClassHead", "BboxHead", "LandmarkHead"):
        for level in range(3):
            names.update({f"{head}.{level}.conv1x1.weight", f"{head}.{level}.conv1x1.bias"})
    return names


def _random_state(layout: dict[str, tuple[int, ...]], prefix: str = "module.") -> dict[str, torch.Tensor]:
    """Random tensors with the given names and shapes, tame enough to give finite outputs."""
    gen = torch.Generator().manual_seed(0)
    state = {}
    for name, shape in layout.items():
        if name.endswith("num_batches_tracked"):
            value = torch.tensor(1000, dtype=torch.long)
        elif name.endswith("running_var"):
            value = 0.5 + torch.rand(shape, generator=gen)
        elif name.endswith("running_mean") or name.endswith(".bias"):
            value = 0.05 * torch.randn(shape, generator=gen)
        elif len(shape) == 1:  # BN scale
            value = 1.0 + 0.1 * torch.randn(shape, generator=gen)
        else:  # convolution: unit-variance outputs for unit-variance inputs
            fan_in = shape[1] * shape[2] * shape[3]
            value = torch.randn(shape, generator=gen) / fan_in**0.5
        state[prefix + name] = value
    return state


@pytest.fixture(scope="module")
def mobilenet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "mobilenet0.25_Final.pth"
    torch.save(_random_state(MOBILENET_LAYOUT), path)
    return path


def _check_detections(found: list[Detection], width: int, height: int) -> None:
    assert isinstance(found, list)
    for det in found:
        assert isinstance(det, Detection)
        x1, y1, x2, y2 = det.box
        assert all(np.isfinite(det.box))
        assert x2 > x1 and y2 > y1
        # random weights: boxes stay near their anchors (up to 512 px, centred in the image)
        assert -width <= (x1 + x2) / 2 <= 2 * width and -height <= (y1 + y2) / 2 <= 2 * height
        assert x2 - x1 < 4 * 512 and y2 - y1 < 4 * 512
        assert 0.0 <= det.score <= 1.0
        assert det.landmarks is not None and len(det.landmarks) == 5
        assert all(len(p) == 2 and np.isfinite(p).all() for p in det.landmarks)


# --- the public layouts ---------------------------------------------------------------------------


def test_mobilenet_layout_has_every_public_key() -> None:
    assert len(MOBILENET_LAYOUT) == 300
    model = RetinaFace("mobilenet0.25")
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == MOBILENET_LAYOUT
    assert 420_000 < sum(p.numel() for p in model.parameters()) < 440_000  # "0.43 M"


def test_public_mobilenet_checkpoint_loads_and_detects(mobilenet_file: Path) -> None:
    detector = RetinaFaceDetector(mobilenet_file)
    assert detector.backbone == "mobilenet0.25"
    loaded = detector.model.state_dict()
    saved = torch.load(mobilenet_file, weights_only=True)
    assert torch.equal(loaded["fpn.merge1.0.weight"], saved["module.fpn.merge1.0.weight"])
    image = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    _check_detections(detector.detect(image), 320, 240)
    everything = RetinaFaceDetector(mobilenet_file, score_threshold=0.0)
    found = everything.detect(image)
    assert found  # with no threshold the suppression leaves at least the best box
    _check_detections(found, 320, 240)
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)


def test_max_side_maps_detections_back_to_the_full_image(mobilenet_file: Path) -> None:
    image = np.random.default_rng(1).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    full = RetinaFaceDetector(mobilenet_file, score_threshold=0.0).detect(image)
    small = RetinaFaceDetector(mobilenet_file, score_threshold=0.0, max_side=160).detect(image)
    assert small
    _check_detections(small, 320, 240)
    # searched at half size, the smallest anchors are 32 px of the original image
    assert min(d.box[2] - d.box[0] for d in small) > min(d.box[2] - d.box[0] for d in full)


def test_wrapped_and_safetensors_checkpoints_load(tmp_path: Path, mobilenet_file: Path) -> None:
    state = torch.load(mobilenet_file, weights_only=True)
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"state_dict": state, "epoch": 250}, wrapped)
    assert RetinaFaceDetector(wrapped, backbone="mobilenet0.25").backbone == "mobilenet0.25"
    from safetensors.torch import save_file

    plain = tmp_path / "mnet.safetensors"
    save_file({k.removeprefix("module."): v for k, v in state.items()}, str(plain))
    assert RetinaFaceDetector(plain).backbone == "mobilenet0.25"


def test_resnet50_layout_matches_torchvision_names_and_round_trips(tmp_path: Path) -> None:
    model = RetinaFace("resnet50")
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert len(shapes) == RESNET50_KEY_COUNT
    assert set(shapes) == {f"body.{n}" for n in _torchvision_resnet50_names()} | _head_names()
    for name, shape in RESNET50_SAMPLE.items():
        assert shapes[name] == shape, name
    assert 27_000_000 < sum(p.numel() for p in model.parameters()) < 27_600_000  # "27.3 M"

    path = tmp_path / "Resnet50_Final.pth"
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, path)
    detector = RetinaFaceDetector(path)
    assert detector.backbone == "resnet50"
    for name, value in detector.model.state_dict().items():
        assert torch.equal(value, model.state_dict()[name]), name
    image = np.random.default_rng(2).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    _check_detections(detector.detect(image), 96, 64)


# --- bad weights files ----------------------------------------------------------------------------


def test_a_wrong_key_names_the_file_and_the_key(tmp_path: Path) -> None:
    state = _random_state(MOBILENET_LAYOUT)
    state["module.fpn.merge9.0.weight"] = state.pop("module.fpn.merge1.0.weight")
    path = tmp_path / "renamed.pth"
    torch.save(state, path)
    with pytest.raises(DetectorError) as info:
        RetinaFaceDetector(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    assert "fpn.merge9.0.weight" in message and "fpn.merge1.0.weight" in message


def test_a_wrong_shape_is_reported(tmp_path: Path) -> None:
    state = _random_state(MOBILENET_LAYOUT)
    state["module.ClassHead.0.conv1x1.weight"] = torch.zeros(6, 64, 1, 1)
    path = tmp_path / "three_anchors.pth"
    torch.save(state, path)
    with pytest.raises(DetectorError, match=r"ClassHead\.0\.conv1x1\.weight"):
        RetinaFaceDetector(path)


def test_a_missing_file_is_a_detector_error(tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match="not found") as info:
        RetinaFaceDetector(tmp_path / "nowhere.pth")
    assert "nowhere.pth" in str(info.value)


def test_a_garbage_file_is_a_detector_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"this is not a checkpoint\n" * 20)
    with pytest.raises(DetectorError) as info:
        RetinaFaceDetector(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_file_the_safe_unpickler_refuses_is_a_detector_error(tmp_path: Path) -> None:
    path = tmp_path / "objects.pth"
    with path.open("wb") as f:
        pickle.dump({"body.stage1.0.0.weight": Path("/")}, f, protocol=2)
    with pytest.raises(DetectorError) as info:
        RetinaFaceDetector(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_state_dict_of_another_network_is_a_detector_error(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    with pytest.raises(DetectorError, match="backbone"):
        RetinaFaceDetector(path)


# --- anchors, decoding, suppression ---------------------------------------------------------------


def test_prior_count_and_layout_for_640() -> None:
    priors = prior_boxes(640, 640)
    assert priors.shape == ((80 * 80 + 40 * 40 + 20 * 20) * 2, 4)
    # first cell of the stride-8 level: two anchors of 16 and 32 px centred at (4, 4)
    torch.testing.assert_close(priors[:2] * 640, torch.tensor([[4.0, 4, 16, 16], [4, 4, 32, 32]]))
    # the last anchor is the 512 px one of the bottom-right stride-32 cell
    torch.testing.assert_close(priors[-1] * 640, torch.tensor([624.0, 624, 512, 512]))
    assert prior_boxes(240, 320).shape[0] == (30 * 40 + 15 * 20 + 8 * 10) * 2


def test_decoding_zero_offsets_gives_the_priors() -> None:
    priors = prior_boxes(240, 320)
    count = priors.shape[0]
    boxes, points = decode_predictions(torch.zeros(count, 4), torch.zeros(count, 10), priors)
    corners = torch.cat([priors[:, :2] - priors[:, 2:] / 2, priors[:, :2] + priors[:, 2:] / 2], dim=1)
    torch.testing.assert_close(boxes, corners)
    torch.testing.assert_close(points, priors[:, :2].repeat(1, 5))


def test_decoding_applies_the_variances() -> None:
    prior = torch.tensor([[0.5, 0.5, 0.2, 0.1]])
    offsets = torch.tensor([[1.0, -1.0, 0.0, 5.0]])  # centre moves 0.1 × size, height × e^(0.2 × 5)
    marks = torch.tensor([[1.0, 0, 0, 1, 0, 0, 0, 0, 0, 0]])
    boxes, points = decode_predictions(offsets, marks, prior)
    cx, cy, w, h = 0.5 + 0.1 * 0.2, 0.5 - 0.1 * 0.1, 0.2, 0.1 * np.e
    torch.testing.assert_close(boxes, torch.tensor([[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]]))
    torch.testing.assert_close(points[0, :4], torch.tensor([0.52, 0.5, 0.5, 0.51]))


def test_nms_drops_a_duplicate_and_keeps_a_disjoint_box() -> None:
    boxes = np.array([[10, 10, 50, 50], [12, 11, 51, 52], [100, 100, 140, 150]], dtype=float)
    scores = np.array([0.8, 0.9, 0.7])
    assert nms(boxes, scores, 0.4).tolist() == [1, 2]
    assert nms(boxes, scores, 0.99).tolist() == [1, 0, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.4).tolist() == []
