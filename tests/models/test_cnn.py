"""Tests of fakescan.models.cnn: the MD-CSD reference's shallow CNN baseline."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fakescan.errors import ConfigError
from fakescan.models import create
from fakescan.models.cnn import SmallCNN


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_parameter_counts_match_the_docstring() -> None:
    assert count(create("cnn")) == 38_944
    assert count(create("cnn", image_size=256)) == 137_248
    assert count(create("cnn", image_size=299)) == 181_408
    assert count(create("cnn", num_classes=5)) == 170_020
    assert count(create("cnn", batch_norm=False)) == 38_885  # the reference's Keras layout


@pytest.mark.parametrize("size", [128, 256, 299])
@pytest.mark.parametrize("num_classes", [1, 5])
def test_shapes(size: int, num_classes: int) -> None:
    model = create("cnn", num_classes=num_classes, image_size=size).eval()
    assert model.input_cfg.image_size == size
    with torch.no_grad():
        for batch in (1, 2):
            out = model(torch.randn(batch, 3, size, size), return_aux=True)
            assert out.logits.shape == (batch, num_classes)
            assert out.aux["features"].shape == (batch, 32, size // 4, size // 4)
            assert torch.isfinite(out.logits).all()


def test_image_size_is_used_and_enforced() -> None:
    model = create("cnn", image_size=128)
    with pytest.raises(ConfigError, match="image_size=256"):
        model(torch.randn(1, 3, 256, 256))
    assert create("cnn").input_cfg.image_size == 128


def test_single_channel_input() -> None:
    model = SmallCNN(in_chans=1, image_size=64).eval()
    assert model(torch.randn(2, 1, 64, 64)).shape == (2, 1)


def test_every_parameter_gets_a_gradient_and_dropout_is_applied() -> None:
    model = create("cnn").train()
    x = torch.randn(2, 3, 128, 128)
    model(x).sum().backward()
    params = list(model.parameters())
    assert sum(p.grad is not None for p in params) == len(params)
    assert all(p.grad.abs().sum() > 0 for p in params)
    with torch.no_grad():
        features = model.forward_features(x)
        assert not torch.equal(model.forward_head(features), model.forward_head(features))
        model.eval()
        assert torch.equal(model(x), model(x))


def test_safetensors_round_trip(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    torch.manual_seed(0)
    model = create("cnn", num_classes=5).eval()
    path = tmp_path / "cnn.safetensors"
    save_file(model.state_dict(), str(path))
    torch.manual_seed(1)
    other = create("cnn", num_classes=5).eval()
    other.load_state_dict(load_file(str(path)), strict=True)
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(model(x), other(x))


def test_reset_classifier_and_pre_logits() -> None:
    model = create("cnn").eval()
    model.reset_classifier(5)
    x = torch.randn(1, 3, 128, 128)
    assert model(x).shape == (1, 5)
    assert model.forward_head(model.forward_features(x), pre_logits=True).shape == (1, 32 * 32 * 32)
