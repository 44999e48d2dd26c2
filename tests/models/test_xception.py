"""Tests of fakescan.models.xception: shapes, size, stages, and loading legacy ImageNet weights."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch

from fakescan.errors import CheckpointMismatchError, ConfigError
from fakescan.models import create, list_models
from fakescan.models.xception import STAGES, Xception, load_pretrained

# Names and shapes in the public legacy_xception / pretrainedmodels ImageNet file (pointwise weights 2-D).
LEGACY_KEYS = {
    "conv1.weight": (32, 3, 3, 3),
    "bn1.running_var": (32,),
    "conv2.weight": (64, 32, 3, 3),
    "block1.skip.weight": (128, 64, 1, 1),
    "block1.skipbn.weight": (128,),
    "block1.rep.0.conv1.weight": (64, 1, 3, 3),
    "block1.rep.0.pointwise.weight": (128, 64),
    "block1.rep.1.weight": (128,),
    "block2.rep.1.conv1.weight": (128, 1, 3, 3),
    "block4.rep.7.pointwise.weight": (728, 728),
    "block4.rep.8.num_batches_tracked": (),
    "block12.rep.1.pointwise.weight": (728, 728),
    "block12.rep.4.pointwise.weight": (1024, 728),
    "conv3.conv1.weight": (1024, 1, 3, 3),
    "conv3.pointwise.weight": (1536, 1024),
    "bn4.running_mean": (2048,),
    "fc.weight": (1000, 2048),
    "fc.bias": (1000,),
}


@functools.cache
def _legacy_state() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    state = {}
    for key, tensor in Xception(num_classes=1000).state_dict().items():
        flat = tensor[:, :, 0, 0] if key.endswith("pointwise.weight") else tensor
        state[key] = torch.randn(flat.shape, generator=generator) if flat.is_floating_point() else flat
    return state


def legacy_state() -> dict[str, torch.Tensor]:
    """A random state_dict laid out like the public ImageNet Xception file (a fresh dict each call)."""
    return dict(_legacy_state())


def test_parameter_count_matches_the_reference() -> None:
    count = sum(p.numel() for p in create("xception").parameters())
    print(f"xception, 1 logit: {count:,} parameters")
    assert abs(count - 20.8e6) / 20.8e6 < 0.02
    assert sum(p.numel() for p in Xception(num_classes=1000).parameters()) == pytest.approx(22.86e6, rel=0.01)


@pytest.mark.parametrize(("size", "grid"), [(128, 4), (256, 8), (299, 10)])
@pytest.mark.parametrize("num_classes", [1, 5])
def test_shapes(size: int, grid: int, num_classes: int) -> None:
    model = create("xception", num_classes=num_classes, image_size=size).eval()
    x = torch.randn(1, 3, size, size)
    out = model(x, return_aux=True)
    assert out.logits.shape == (1, num_classes)
    assert out.aux["features"].shape == (1, 2048, grid, grid)
    assert model.input_cfg.image_size == size


def test_stages_compose_to_the_whole_trunk_with_spec_shapes() -> None:
    model = Xception().eval()
    x = torch.randn(1, 3, 299, 299)
    expected = {"stem": (64, 147), "block1": (128, 74), "block2": (256, 37), "block3": (728, 19),
                "block11": (728, 19), "block12": (1024, 10), "exit": (2048, 10)}  # fmt: skip
    with torch.no_grad():
        h = x
        for name in STAGES:
            h = model.forward_stage(name, h)
            if name in expected:
                assert tuple(h.shape[1:3]) == expected[name], name
        assert torch.equal(h, model.forward_features(x))
        assert torch.equal(model.forward_until(model.forward_until(x, "block4"), "exit", first="block5"), h)


def test_every_parameter_gets_a_gradient_and_dropout_is_applied() -> None:
    model = create("xception", drop_rate=0.5).train()
    x = torch.randn(2, 3, 128, 128)
    model(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    with torch.no_grad():
        features = model.forward_features(x)
        assert not torch.equal(model.forward_head(features), model.forward_head(features))
        model.eval()
        assert torch.equal(model(x), model(x))


def test_reset_classifier_and_pre_logits() -> None:
    model = Xception(num_classes=1)
    model.reset_classifier(5)
    assert model(torch.randn(1, 3, 96, 96)).shape == (1, 5)
    assert model.forward_head(torch.randn(1, 2048, 3, 3), pre_logits=True).shape == (1, 2048)


def test_legacy_imagenet_file_loads(tmp_path: Path) -> None:
    state = legacy_state()
    for key, shape in LEGACY_KEYS.items():
        assert tuple(state[key].shape) == shape, key
    path = tmp_path / "xception-imagenet.pth"
    torch.save({f"module.{k}": v for k, v in state.items()}, path)
    model = create("xception", num_classes=1, pretrained=path)  # ImageNet head dropped, trunk loaded
    assert torch.equal(
        model.block4.rep[7].pointwise.weight[:, :, 0, 0], state["block4.rep.7.pointwise.weight"]
    )
    assert torch.equal(model.bn4.running_mean, state["bn4.running_mean"])
    assert model.fc.weight.shape == (1, 2048)
    full = Xception(num_classes=1000)
    load_pretrained(full, path, strict_head=True)
    assert torch.equal(full.fc.weight, state["fc.weight"])


def test_legacy_file_without_batch_counters_loads(tmp_path: Path) -> None:
    # Files saved before PyTorch 0.4.1 have no num_batches_tracked; PyTorch itself accepts them.
    state = {k: v for k, v in legacy_state().items() if not k.endswith("num_batches_tracked")}
    assert len(state) < len(legacy_state())
    path = tmp_path / "xception-imagenet-old.pth"
    torch.save(state, path)
    model = create("xception", num_classes=1, pretrained=path)
    assert torch.equal(model.conv1.weight, state["conv1.weight"])
    assert torch.equal(model.bn4.running_var, state["bn4.running_var"])
    assert int(model.bn1.num_batches_tracked) == 0
    # Any other missing key is still refused, naming it.
    del state["bn4.running_mean"]
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError, match=r"missing key 'bn4\.running_mean'"):
        create("xception", pretrained=path)


def test_safetensors_weights_load(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "w.safetensors"
    save_file(legacy_state(), str(path))
    assert torch.equal(create("xception", pretrained=path).conv1.weight, legacy_state()["conv1.weight"])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("block7.rep.5.weight"), "missing key 'block7.rep.5.weight'"),
        (
            lambda s: s.update({"block13.rep.0.weight": torch.zeros(3)}),
            "unexpected key 'block13.rep.0.weight'",
        ),
        (lambda s: s.update({"conv2.weight": torch.zeros(64, 32, 5, 5)}), "key 'conv2.weight' has shape"),
    ],
)
def test_mismatched_weights_name_the_first_bad_key(tmp_path: Path, edit, message: str) -> None:
    state = legacy_state()
    edit(state)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointMismatchError, match=message) as caught:
        create("xception", pretrained=path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_unloadable_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointMismatchError, match="not found"):
        create("xception", pretrained=tmp_path / "none.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointMismatchError, match="not a loadable weights file"):
        create("xception", pretrained=garbage)

    class Evil:
        def __reduce__(self):
            return (print, ("unpickled!",))

    evil = tmp_path / "evil.pth"
    torch.save({"x": Evil()}, evil)
    with pytest.raises(CheckpointMismatchError, match="not a loadable weights file"):
        create("xception", pretrained=evil)


def test_registry_errors() -> None:
    assert {"cnn", "xception", "attention_net", "mdcsd"} <= set(list_models())
    with pytest.raises(ConfigError, match="unknown model 'resnet'; choose one of"):
        create("resnet")
    with pytest.raises(ConfigError, match="takes no option 'depth'"):
        create("xception", depth=3)
