"""Tests of fakescan.models.attention_net and its layers (frequency stream, CMF, graph reasoning)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch

from fakescan.models import create
from fakescan.models.attention_net import AttentionNet, add_batch_noise, embedding_side
from fakescan.models.layers import CrossModalityFusion, GraphReasoning, SpectralFilter
from fakescan.train.losses import detector_loss

AUX_KEYS = {"reconstruction", "embedding", "decoder_d2", "decoder_d4", "attention", "features"}
# Parameter counts at 256 px with one logit (documented in the module docstring): the RECCE part
# matches the reference's ≈23.8M; four CMF blocks and the frequency stream add ≈9.8M.
RECCE_PARAMS = (23_700_000, 23_900_000)
TOTAL_PARAMS_256 = (33_400_000, 33_700_000)


@functools.cache
def _model(image_size: int, num_classes: int = 1) -> AttentionNet:
    """One eval-mode model per configuration, built once (tests that train or edit build their own)."""
    torch.manual_seed(0)
    return AttentionNet(num_classes=num_classes, image_size=image_size).eval()


def _images(batch: int, size: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 3, size, size, generator=generator) * 2 - 1


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("size", [128, 256, 299])
def test_output_shapes(size: int) -> None:
    model, side = _model(size), embedding_side(size)
    with torch.no_grad():
        for batch in (1, 2):
            out = model(_images(batch, size), return_aux=True)
            assert out.logits.shape == (batch, 1)
            assert set(out.aux) == AUX_KEYS
            shapes = {key: tuple(value.shape) for key, value in out.aux.items()}
            assert shapes["reconstruction"] == (batch, 3, size, size)
            assert shapes["embedding"] == (batch, 728, side, side)
            assert shapes["decoder_d2"] == (batch, 256, 2 * side, 2 * side)
            assert shapes["decoder_d4"] == (batch, 128, 4 * side, 4 * side)
            assert shapes["attention"] == (batch, 1, side, side)
            assert torch.isfinite(out.logits).all()
            assert out.aux["reconstruction"].abs().max() <= 1
            assert 0 <= out.aux["attention"].min() and out.aux["attention"].max() <= 1
        # A 5-class head on the same trunk (the trunk does not depend on num_classes).
        head = torch.nn.Linear(2048, 5)
        assert head(model.forward_head(out.aux["features"], pre_logits=True)).shape == (2, 5)


@pytest.mark.parametrize("batch", [1, 2])
def test_five_classes(batch: int) -> None:
    model = _model(128, num_classes=5)
    with torch.no_grad():
        logits = model(_images(batch, 128))
    assert logits.shape == (batch, 5)


def test_create_from_registry() -> None:
    model = create("attention_net", num_classes=1, image_size=128)
    assert isinstance(model, AttentionNet)
    assert model.input_cfg.image_size == 128
    assert model.frequency is not None and model.frequency.filter.height == embedding_side(128)


def test_every_parameter_gets_a_gradient() -> None:
    torch.manual_seed(0)
    model = AttentionNet(image_size=64).train()
    images, labels = _images(4, 64), torch.tensor([0, 1, 0, 1])
    total, parts = detector_loss(model(images, return_aux=True), images, labels)
    assert set(parts) == {"classification", "reconstruction", "metric", "total"}
    total.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert missing == []
    assert len(model.fusion) == 4
    assert model.frequency is not None and model.frequency.filter.weight.grad.abs().sum() > 0
    for block in model.fusion:
        assert all(p.grad.abs().sum() > 0 for p in block.parameters())


def test_batch_of_one_trains() -> None:
    torch.manual_seed(0)
    model = AttentionNet(image_size=64).train()
    images = _images(1, 64)
    total, parts = detector_loss(model(images, return_aux=True), images, torch.tensor([0]))
    total.backward()
    assert parts["metric"] == 0.0
    assert torch.isfinite(total)


def test_eval_is_deterministic() -> None:
    model, images = _model(128), _images(2, 128)
    with torch.no_grad():
        assert torch.equal(model(images), model(images))


def test_noise_hits_about_half_the_batch() -> None:
    torch.manual_seed(0)
    x = torch.rand(2000, 1, 2, 2) * 2 - 1
    noisy = add_batch_noise(x, std=0.1)
    changed = (noisy != x).flatten(start_dim=1).any(dim=1)
    assert 0.45 < changed.float().mean() < 0.55
    assert noisy.abs().max() <= 1
    unchanged = ~changed
    assert torch.equal(noisy[unchanged], x[unchanged])


def test_model_noises_only_in_training() -> None:
    torch.manual_seed(3)
    model = AttentionNet(image_size=64, noise_std=0.05)
    seen: list[torch.Tensor] = []
    model.encoder.conv1.register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    images = _images(8, 64)
    with torch.no_grad():
        model.train()(images)
        model.eval()(images)
    changed = (seen[0] != images).flatten(start_dim=1).any(dim=1)
    assert 0 < int(changed.sum()) < 8
    assert torch.equal(seen[1], images)


def test_head_dropout_is_applied_in_training() -> None:
    torch.manual_seed(0)
    model = AttentionNet(image_size=64, drop_rate=0.5).train()
    seen: list[torch.Tensor] = []
    model.get_classifier().register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach()))
    with torch.no_grad():
        model(_images(2, 64))
    assert 0.3 < (seen[0] == 0).float().mean() < 0.7


def test_frequency_filter_is_used() -> None:
    torch.manual_seed(0)
    model, images = AttentionNet(image_size=64).eval(), _images(2, 64)
    assert model.frequency is not None
    with torch.no_grad():
        before = model(images)
        model.frequency.filter.weight.mul_(10)
        after = model(images)
    assert not torch.allclose(before, after)


def test_fusion_blocks_and_parameter_count() -> None:
    model = _model(256)
    recce = AttentionNet(image_size=256, fusion_blocks=0)
    assert len(model.fusion) == 4 and len(recce.fusion) == 0 and recce.frequency is None
    total = _count(model)
    recce_part = total - _count(model.frequency) - _count(model.fusion)
    print(f"attention_net @256: total {total:,}; RECCE part {recce_part:,}")
    assert TOTAL_PARAMS_256[0] < total < TOTAL_PARAMS_256[1]
    assert recce_part == _count(recce)
    assert RECCE_PARAMS[0] < recce_part < RECCE_PARAMS[1]


def test_wrong_input_size_is_refused() -> None:
    with torch.no_grad(), pytest.raises(ValueError, match="image size"):
        _model(128)(_images(1, 256))


def test_safetensors_round_trip(tmp_path: Path) -> None:
    from safetensors.torch import load_model, save_model

    model, images = _model(128), _images(2, 128)
    save_model(model, str(tmp_path / "net.safetensors"))
    torch.manual_seed(1)
    copy = AttentionNet(image_size=128).eval()
    load_model(copy, str(tmp_path / "net.safetensors"))
    with torch.no_grad():
        assert torch.equal(model(images), copy(images))


def test_pretrained_encoder_loads_from_a_local_file(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from fakescan.models.xception import Xception

    torch.manual_seed(2)
    imagenet = Xception(num_classes=1000).state_dict()
    save_file(imagenet, str(tmp_path / "xception.safetensors"))
    model = create("attention_net", image_size=64, pretrained=tmp_path / "xception.safetensors")
    own = model.encoder.state_dict()
    assert torch.equal(own["block4.rep.1.pointwise.weight"], imagenet["block4.rep.1.pointwise.weight"])
    assert own["fc.weight"].shape == (1, 2048)


def test_spectral_filter_with_unit_weight_is_identity() -> None:
    layer = SpectralFilter(3, 6, 5)
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[..., 0] = 1
    x = torch.randn(2, 3, 6, 5)
    torch.testing.assert_close(layer(x), x, atol=1e-5, rtol=1e-5)


def test_cross_modality_fusion_kernel_size() -> None:
    for kernel_size in (1, 3):
        block = CrossModalityFusion(8, kernel_size=kernel_size).eval()
        assert block.proj[0].kernel_size == (kernel_size, kernel_size)
        rgb, freq = torch.randn(1, 8, 5, 5), torch.randn(1, 8, 5, 5)
        assert block(rgb, freq).shape == (1, 8, 5, 5)


def test_graph_reasoning_checks_child_sizes() -> None:
    layer = GraphReasoning(node_chs=8, mid_chs=4, fine_chs=2, dim=6)
    nodes = torch.randn(1, 8, 3, 3)
    assert layer(nodes, torch.randn(1, 4, 6, 6), torch.randn(1, 2, 12, 12)).shape == (1, 8, 3, 3)
    with pytest.raises(ValueError, match="mid map"):
        layer(nodes, torch.randn(1, 4, 5, 5), torch.randn(1, 2, 12, 12))


def test_graph_aggregation_matches_a_per_node_loop() -> None:
    torch.manual_seed(0)
    layer = GraphReasoning(node_chs=8, mid_chs=4, fine_chs=2, dim=6).mid
    nodes, children = torch.randn(2, 6, 6), torch.randn(2, 4, 4, 6)  # 2×3 nodes, 2×2 children each
    fast = layer(nodes, children)
    for node in range(6):
        row, col = divmod(node, 3)
        patch = children[:, :, 2 * row : 2 * row + 2, 2 * col : 2 * col + 2].flatten(start_dim=2)
        child = layer.embed(patch.transpose(1, 2))  # B×4×dim
        parent = nodes[:, node, None, :].expand(-1, 4, -1)
        weight = torch.softmax(torch.relu(layer.score(torch.cat([parent, child], dim=-1))), dim=1)
        torch.testing.assert_close(fast[:, node], (weight * child).sum(dim=1))
