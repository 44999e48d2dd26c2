"""fakescan.models.efficientnet: the package's architecture and key layout, local weights, normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from efficientnet_pytorch import EfficientNet as PackageEfficientNet
from safetensors.torch import save_file

from fakescan.errors import CheckpointMismatchError, ConfigError
from fakescan.models import create
from fakescan.models.efficientnet import NORMALIZATIONS

SIZE = 64


def package_imagenet_state(variant: str = "b0", seed: int = 0) -> dict[str, torch.Tensor]:
    """A state_dict in the package's own layout with its 1000-class head (what its files hold)."""
    torch.manual_seed(seed)
    net = PackageEfficientNet.from_name(f"efficientnet-{variant}", image_size=SIZE)
    return {k: v.clone() for k, v in net.state_dict().items()}


def test_imagenet_head_sizes_are_the_published_ones() -> None:
    """Tan & Le 2019, Table 2: B0 5.3M … B4 19M parameters with the 1000-class head."""
    expected = {"b0": 5_288_548, "b4": 19_341_616}
    for variant, count in expected.items():
        model = create(f"efficientnet_{variant}", num_classes=1000, image_size=SIZE)
        assert sum(p.numel() for p in model.parameters()) == count


def test_outputs_are_the_packages_own_with_the_same_weights() -> None:
    torch.manual_seed(0)
    reference = PackageEfficientNet.from_name("efficientnet-b0", image_size=SIZE, num_classes=1).eval()
    model = create("efficientnet_b0", image_size=SIZE).eval()
    model.net.load_state_dict(reference.state_dict())
    images = torch.rand(2, 3, SIZE, SIZE)
    with torch.no_grad():
        torch.testing.assert_close(model(images), reference(images))


def test_feature_info_matches_the_feature_maps() -> None:
    model = create("efficientnet_b4", image_size=SIZE).eval()
    images = torch.rand(1, 3, SIZE, SIZE)
    with torch.no_grad():
        endpoints = model.net.extract_endpoints(images)
        features = model.forward_features(images)
    assert [e["reduction"] for e in model.feature_info] == [2, 4, 8, 16, 32, 32]
    got = [(e["num_chs"], SIZE // e["reduction"]) for e in model.feature_info]
    assert got == [(t.shape[1], t.shape[2]) for t in endpoints.values()]
    assert features.shape == (1, model.feature_info[-1]["num_chs"], 2, 2)
    assert model.forward_head(features, pre_logits=True).shape == (1, 1792)


def test_dropout_and_drop_connect_act_in_training_only() -> None:
    torch.manual_seed(0)
    model = create("efficientnet_b0", image_size=SIZE, drop_rate=0.5)
    images = torch.rand(2, 3, SIZE, SIZE)
    model.train()
    assert not torch.equal(model(images), model(images))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(images), model(images))


def test_eval_mode_uses_the_plain_swish_with_the_same_values() -> None:
    torch.manual_seed(0)
    model = create("efficientnet_b0", image_size=SIZE, drop_rate=0.0, drop_path_rate=0.0)
    images = torch.rand(2, 3, SIZE, SIZE)
    model.train()
    assert type(model.net._swish).__name__ == "MemoryEfficientSwish"
    for module in model.modules():  # batch statistics would differ between the two modes
        if isinstance(module, torch.nn.BatchNorm2d):
            module.eval()
    with torch.no_grad():
        training = model(images)
    model.eval()
    assert type(model.net._swish).__name__ != "MemoryEfficientSwish"
    with torch.no_grad():
        torch.testing.assert_close(model(images), training)


@pytest.mark.parametrize(
    ("name", "normalization"),
    [("efficientnet-b0-355c32eb.pth", "imagenet"), ("adv-efficientnet-b0-b64d5a18.pth", "advprop")],
)
def test_package_layout_files_load_with_their_normalisation(
    tmp_path: Path, name: str, normalization: str
) -> None:
    state = package_imagenet_state()
    path = tmp_path / name
    torch.save(state, path)
    model = create("efficientnet_b0", image_size=SIZE, pretrained=path)
    own = model.state_dict()
    assert all(torch.equal(own[f"net.{k}"], v) for k, v in state.items() if not k.startswith("_fc."))
    assert own["net._fc.weight"].shape == (1, 1280)  # the 1000-class head is dropped
    assert (model.input_cfg.mean, model.input_cfg.std) == NORMALIZATIONS[normalization]


def test_prefixed_safetensors_and_explicit_normalisation(tmp_path: Path) -> None:
    """SBI's reference checkpoints wrap the model as ``net``; a renamed AdvProp file needs the option."""
    state = {f"net.{k}": v for k, v in package_imagenet_state(seed=1).items()}
    save_file(state, tmp_path / "weights.safetensors")
    model = create(
        "efficientnet_b0",
        image_size=SIZE,
        pretrained=tmp_path / "weights.safetensors",
        normalization="advprop",
    )
    assert torch.equal(model.state_dict()["net._conv_stem.weight"], state["net._conv_stem.weight"])
    assert model.input_cfg.mean == (0.5, 0.5, 0.5)
    with pytest.raises(ConfigError, match="normalization"):
        create("efficientnet_b0", image_size=SIZE, normalization="caffe")


def test_other_layouts_name_the_first_bad_key(tmp_path: Path) -> None:
    state = package_imagenet_state()
    torch.save({k: v for k, v in state.items() if k != "_bn0.weight"}, tmp_path / "missing.pth")
    with pytest.raises(CheckpointMismatchError, match=r"missing\.pth: missing key 'net\._bn0\.weight'"):
        create("efficientnet_b0", image_size=SIZE, pretrained=tmp_path / "missing.pth")
    torch.save(package_imagenet_state("b1"), tmp_path / "b1.pth")
    with pytest.raises(CheckpointMismatchError, match=r"b1\.pth: (missing|unexpected) key|has shape"):
        create("efficientnet_b0", image_size=SIZE, pretrained=tmp_path / "b1.pth")


def test_a_briefly_trained_model_tells_images_apart_in_eval_mode() -> None:
    """With the reference initialisation and PyTorch's batch-norm momentum, running statistics
    settle within tens of steps; the package's TensorFlow momentum (0.01) leaves them at their
    initial values, and every image then gets the same eval-mode logit."""

    def eval_spread(bn_momentum: float) -> float:
        torch.manual_seed(0)
        model = create("efficientnet_b0", image_size=SIZE, bn_momentum=bn_momentum).train()
        with torch.no_grad():
            for _ in range(20):
                model(torch.rand(8, 3, SIZE, SIZE) * 2 - 1)
            return model.eval()(torch.rand(8, 3, SIZE, SIZE) * 2 - 1).std().item()

    assert eval_spread(0.1) > 1e-4
    assert eval_spread(0.01) < 1e-5
    assert create("efficientnet_b0", image_size=SIZE).net._bn0.momentum == pytest.approx(0.1)
