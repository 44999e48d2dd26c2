"""Tests of fakescan.models.mdcsd and its cross-stitch layer.

The public MD-CSD code never applied its cross terms, so its streams never mixed; several tests
here would have caught that (gradients on the off-diagonal α, perturbing one stream only).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from fakescan.errors import ConfigError
from fakescan.models import create
from fakescan.models.layers import ALPHA_NAME, CrossStitch, cross_stitch_parameters
from fakescan.models.mdcsd import DEFAULT_STITCH_AFTER, MDCSDNet
from fakescan.models.xception import Xception
from fakescan.ops import SpectrumStats, spectrum

IDENTITY = ((1.0, 0.0), (0.0, 1.0))
SWAP = ((0.0, 1.0), (1.0, 0.0))


@pytest.fixture(scope="module")
def base_model() -> MDCSDNet:
    """One 128-px gray MD-CSD in eval mode; tests that change it take a deep copy."""
    torch.manual_seed(0)
    return create("mdcsd").eval()


@pytest.fixture
def model(base_model: MDCSDNet) -> MDCSDNet:
    return copy.deepcopy(base_model)


def images(batch: int = 2, size: int = 128, seed: int = 0) -> torch.Tensor:
    """Normalised RGB input (mean = std = 0.5), i.e. values in [-1, 1]."""
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# -- the cross-stitch unit -----------------------------------------------------------------------


def test_cross_stitch_swap_identity_and_default() -> None:
    a, b = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    swapped = CrossStitch(init=SWAP)(a, b)
    assert torch.equal(swapped[0], b) and torch.equal(swapped[1], a)
    kept = CrossStitch(init=IDENTITY)(a, b)
    assert torch.equal(kept[0], a) and torch.equal(kept[1], b)
    mixed = CrossStitch()(a, b)
    assert torch.allclose(mixed[0], 0.9 * a + 0.1 * b) and torch.allclose(mixed[1], 0.1 * a + 0.9 * b)


def test_cross_stitch_per_channel() -> None:
    unit = CrossStitch(channels=4, init=SWAP)
    assert unit.cross_stitch_alpha.shape == (2, 2, 4)
    with torch.no_grad():
        unit.cross_stitch_alpha[:, :, 1] = torch.eye(2)  # channel 1 keeps its streams, the others swap
    a, b = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    out_a, out_b = unit(a, b)
    assert torch.equal(out_a[:, 1], a[:, 1]) and torch.equal(out_b[:, 1], b[:, 1])
    assert torch.equal(out_a[:, [0, 2, 3]], b[:, [0, 2, 3]])
    with pytest.raises(ValueError, match="4 channels"):
        unit(torch.randn(1, 3, 2, 2), torch.randn(1, 3, 2, 2))
    with pytest.raises(ValueError, match="differ in shape"):
        unit(a, b[:, :, :2])


def test_cross_stitch_gradients_reach_every_alpha_entry() -> None:
    unit = CrossStitch(channels=3)
    a, b = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    out_a, out_b = unit(a, b)
    (out_a.sum() + 2 * out_b.sum()).backward()
    grad = unit.cross_stitch_alpha.grad
    assert grad is not None and (grad != 0).all()
    assert torch.allclose(grad[0, 1], b.sum(dim=(0, 2, 3)))  # ∂/∂α_ab of Σa' is Σb, per channel


# -- the model ---------------------------------------------------------------------------------------


def test_parameter_counts(base_model: MDCSDNet) -> None:
    trunk = count(Xception(num_classes=0))  # 20,806,952
    heads = 2 * (2048 * 256 + 256) + (512 + 1)
    gray = base_model
    assert count(gray) == 42_662_945 == 2 * trunk - 32 * 2 * 9 + heads + 4 * 4
    color = create("mdcsd", spectrum_mode="color")
    assert count(color) == 42_663_521 == 2 * trunk + heads + 4 * 4
    assert color.frequency.conv1.in_channels == 3 and gray.frequency.conv1.in_channels == 1


@pytest.mark.parametrize("size", [128, 256, 299])
@pytest.mark.parametrize("num_classes", [1, 5])
def test_shapes(size: int, num_classes: int) -> None:
    model = create("mdcsd", num_classes=num_classes, image_size=size).eval()
    assert model.input_cfg.image_size == size
    grid = -(-size // 32)
    batches = (1, 2) if size == 128 else (2,) if num_classes == 1 else (1,)  # each size sees 1 and 2
    with torch.no_grad():
        for batch in batches:
            out = model(images(batch, size), return_aux=True)
            assert out.logits.shape == (batch, num_classes)
            assert torch.isfinite(out.logits).all()
            assert out.aux["spectrum"].shape == (batch, 1, size, size)
            assert out.aux["spatial_features"].shape == (batch, 2048, grid, grid)
            assert out.aux["frequency_features"].shape == (batch, 2048, grid, grid)


def test_every_parameter_gets_a_gradient_including_cross_terms() -> None:
    torch.manual_seed(0)
    model = create("mdcsd").train()
    model(images()).sum().backward()
    params = dict(model.named_parameters())
    with_grad = [name for name, p in params.items() if p.grad is not None and p.grad.abs().sum() > 0]
    assert len(with_grad) == len(params), sorted(set(params) - set(with_grad))
    assert set(model.stitches) == set(DEFAULT_STITCH_AFTER)
    for name, unit in model.stitches.items():
        grad = unit.cross_stitch_alpha.grad
        assert grad.shape == (2, 2)
        assert grad[0, 1] != 0 and grad[1, 0] != 0, f"cross terms of the {name} stitch get no gradient"


def test_per_channel_variant() -> None:
    model = create("mdcsd", per_channel=True).train()
    widths = {"block2": 256, "block3": 728, "block4": 728, "block12": 1024}
    for name, unit in model.stitches.items():
        assert unit.cross_stitch_alpha.shape == (2, 2, widths[name])
        assert torch.equal(unit.cross_stitch_alpha[:, :, 0], torch.tensor([[0.9, 0.1], [0.1, 0.9]]))
    assert count(model) == 42_662_945 - 16 + 4 * sum(widths.values())
    model(images()).sum().backward()
    for unit in model.stitches.values():
        assert (unit.cross_stitch_alpha.grad != 0).any(dim=2).all()


def spatial_activations(model: MDCSDNet, x: torch.Tensor, freq_noise: torch.Tensor | None) -> dict:
    """Run ``model`` on ``x``, optionally adding ``freq_noise`` to the frequency trunk's input only,
    and record the spatial stream before (block2 output) and after (block3 input) the first stitch."""
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        model.spatial.block2.register_forward_hook(lambda m, i, o: seen.__setitem__("before", o)),
        model.spatial.block3.register_forward_pre_hook(lambda m, i: seen.__setitem__("after", i[0])),
        model.frequency.block3.register_forward_pre_hook(lambda m, i: seen.__setitem__("frequency", i[0])),
    ]
    if freq_noise is not None:
        hooks.append(model.frequency.conv1.register_forward_pre_hook(lambda m, i: (i[0] + freq_noise,)))
    try:
        with torch.no_grad():
            seen["logits"] = model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return seen


def test_streams_mix_after_the_first_stitch(model: MDCSDNet) -> None:
    x = images(1)
    noise = torch.randn(1, 1, 128, 128, generator=torch.Generator().manual_seed(3))
    clean, perturbed = spatial_activations(model, x, None), spatial_activations(model, x, noise)
    assert torch.equal(clean["before"], perturbed["before"])  # the noise reaches the spatial stream ...
    assert not torch.allclose(clean["after"], perturbed["after"])  # ... only through the stitch
    assert not torch.equal(clean["logits"], perturbed["logits"])


def test_identity_alpha_keeps_the_streams_apart(model: MDCSDNet) -> None:
    with torch.no_grad():
        for alpha in cross_stitch_parameters(model):
            alpha.copy_(torch.tensor(IDENTITY))
    x = images(1)
    noise = torch.randn(1, 1, 128, 128, generator=torch.Generator().manual_seed(3))
    clean, perturbed = spatial_activations(model, x, None), spatial_activations(model, x, noise)
    assert not torch.equal(clean["frequency"], perturbed["frequency"])
    assert torch.equal(clean["after"], perturbed["after"])
    spatial_clean, _ = model.forward_streams(x, model.spectrum_input(x))
    spatial_noisy, _ = model.forward_streams(x, model.spectrum_input(x) + noise)
    assert torch.equal(spatial_clean, spatial_noisy)


def test_no_stitches_means_two_separate_streams() -> None:
    model = create("mdcsd", stitch_after=())
    assert len(model.stitches) == 0 and cross_stitch_parameters(model) == []
    assert [g["name"] for g in model.param_groups(1e-3)] == ["base"]


def test_eval_is_deterministic_and_dropout_acts_in_training(model: MDCSDNet) -> None:
    x = images()
    with torch.no_grad():
        first = model(x, return_aux=True)
        assert torch.equal(first.logits, model(x))
        spatial, frequency = first.aux["spatial_features"], first.aux["frequency_features"]
        model.train()
        assert not torch.equal(model.forward_head(spatial, frequency), model.forward_head(spatial, frequency))


def test_spectrum_input_follows_the_options() -> None:
    model = create("mdcsd", spectrum_kind="fft", spectrum_scale="raw", spectrum_mode="color", stitch_after=[])
    x = images(1, 64)
    expected = spectrum((x + 1) / 2, kind="fft", scale="raw", mode="color")
    assert torch.allclose(model.spectrum_input(x), expected)
    assert model.frequency.conv1.in_channels == 3


def test_spectrum_stats_are_set_and_travel_in_the_checkpoint(model: MDCSDNet, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    x = images(1)
    with torch.no_grad():
        before = model(x)
        raw = model.compute_spectrum(x)
        model.set_spectrum_stats(SpectrumStats(mean=(-2.5,), std=(1.5,)))
        assert model.spectrum_mean.tolist() == [-2.5] and model.spectrum_std.tolist() == [1.5]
        assert torch.allclose(model.spectrum_input(x), (raw + 2.5) / 1.5)
        after = model(x)
    assert not torch.equal(before, after)
    state = model.state_dict()
    assert {"spectrum_mean", "spectrum_std"} <= set(state)

    path = tmp_path / "mdcsd.safetensors"
    save_file(state, str(path))
    torch.manual_seed(1)
    other = create("mdcsd").eval()
    assert other.spectrum_std.tolist() == [1.0]
    other.load_state_dict(load_file(str(path)), strict=True)
    assert other.get_spectrum_stats() == SpectrumStats(mean=(-2.5,), std=(1.5,))
    with torch.no_grad():
        assert torch.equal(other(x), after)

    with pytest.raises(ConfigError, match="3 channel"):
        model.set_spectrum_stats(SpectrumStats(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)))
    with pytest.raises(ConfigError, match="positive"):
        model.set_spectrum_stats(SpectrumStats(mean=(0.0,), std=(0.0,)))


def test_param_groups_put_exactly_the_alphas_in_the_fast_group(base_model: MDCSDNet) -> None:
    model = base_model  # read only
    groups = model.param_groups(2e-4, weight_decay=1e-5)
    base, fast = groups
    assert (base["lr"], fast["lr"]) == (2e-4, pytest.approx(1e-3))
    assert (base["weight_decay"], fast["weight_decay"]) == (1e-5, 0.0)
    alpha_ids = {id(p) for name, p in model.named_parameters() if name.endswith(ALPHA_NAME)}
    assert len(alpha_ids) == 4
    assert {id(p) for p in fast["params"]} == alpha_ids
    all_ids = [id(p) for g in groups for p in g["params"]]
    assert sorted(all_ids) == sorted(id(p) for p in model.parameters())  # each exactly once
    optimizer = torch.optim.Adam(groups)
    assert [g["lr"] for g in optimizer.param_groups] == [2e-4, pytest.approx(1e-3)]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"stitch_after": ("block2", "block13")}, "unknown stage 'block13'"),
        ({"stitch_after": ("block2", "block2")}, "names a stage twice"),
        ({"stitch_after": "block2"}, "sequence of stage names"),
        ({"spectrum_kind": "wavelet"}, "spectrum_kind: unknown value 'wavelet'"),
        ({"spectrum_mode": "rgb"}, "spectrum_mode: unknown value 'rgb'"),
    ],
)
def test_bad_options_are_config_errors(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MDCSDNet(**options)


def test_stitch_positions_are_data() -> None:
    model = create("mdcsd", stitch_after=["block12", "stem"])
    assert model.stitch_after == ("stem", "block12")
    assert set(model.stitches) == {"stem", "block12"}


@pytest.fixture
def legacy_weights(tmp_path: Path) -> Iterator[tuple[Path, dict[str, torch.Tensor]]]:
    """A random ImageNet-layout Xception file (1000-class head, 2-D pointwise weights)."""
    generator = torch.Generator().manual_seed(7)
    state = {}
    for key, value in Xception(num_classes=1000).state_dict().items():
        shape = value.shape[:2] if key.endswith("pointwise.weight") else value.shape
        state[key] = torch.randn(shape, generator=generator) if value.is_floating_point() else value
    path = tmp_path / "xception-imagenet.pth"
    torch.save(state, path)
    yield path, state


def test_pretrained_backbone_weights(legacy_weights: tuple[Path, dict[str, torch.Tensor]]) -> None:
    path, state = legacy_weights
    color = create("mdcsd", spectrum_mode="color", pretrained=path)
    for trunk in (color.spatial, color.frequency):
        assert torch.equal(trunk.conv1.weight, state["conv1.weight"])
        assert torch.equal(
            trunk.block4.rep[7].pointwise.weight[:, :, 0, 0], state["block4.rep.7.pointwise.weight"]
        )
    gray = create("mdcsd", pretrained=path)
    assert torch.equal(gray.spatial.bn4.running_mean, state["bn4.running_mean"])
    assert not torch.equal(
        gray.frequency.conv2.weight, state["conv2.weight"]
    )  # 1-channel trunk: from scratch
