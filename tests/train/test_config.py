"""Training configs: presets, files, overrides and the errors for keys nobody reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakescan.errors import ConfigError
from fakescan.models import list_models
from fakescan.train.config import list_presets, load_config, parse_image_size, resolve_pseudo_fakes


def test_every_preset_builds_a_config_for_a_registered_model() -> None:
    presets = list_presets()
    assert {"celebdf-attention_net", "dfdc-attention_net", "ffpp-mdcsd"} <= set(presets)
    for name in presets:
        assert load_config(name).model in list_models()


def test_ffpp_mdcsd_preset_is_the_classic_five_class_setup() -> None:
    config = load_config("ffpp-mdcsd")
    assert (config.classes, config.num_outputs, config.data.image_size) == (5, 5, 128)
    assert (config.optim.scheduler, config.optim.plateau_factor, config.early_stopping) == ("plateau", 0.2, 5)


def test_command_line_overrides_the_file_and_unset_options_do_not(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("model: xception\nepochs: 7\ndata:\n  batch_size: 8\n  image_size: 128\n")
    config = load_config(path, {"epochs": 2, "data": {"batch_size": None, "image_size": 64}})
    assert (config.model, config.epochs, config.data.batch_size, config.data.image_size) == (
        "xception",
        2,
        8,
        64,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("modle: cnn\n", "run.yaml: unknown option 'modle'"),
        ("data:\n  batchsize: 3\n", "run.yaml: unknown option data.batchsize"),
        ("- a\n- b\n", "run.yaml: expected a mapping"),
        ("data: [1\n", "run.yaml, line"),
    ],
)
def test_bad_config_files_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
        load_config(path)


def test_unknown_preset_lists_the_presets() -> None:
    with pytest.raises(ConfigError, match="ffpp-mdcsd"):
        load_config("no-such-preset")


@pytest.mark.parametrize(
    ("text", "expected"), [("128,128,3", (128, False)), ("64,64,1", (64, True)), ("299", (299, False))]
)
def test_classic_image_size_forms(text: str, expected: tuple[int, bool]) -> None:
    assert parse_image_size(text) == expected


@pytest.mark.parametrize("text", ["128,64,3", "a", "128,128,4"])
def test_bad_image_sizes_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="image_size"):
        parse_image_size(text)


def test_pseudo_fakes_are_checked() -> None:
    assert load_config().data.pseudo_fakes == "auto"
    assert load_config(overrides={"classes": 5}).data.pseudo_fakes == "auto"  # auto is never refused
    assert load_config(overrides={"data": {"pseudo_fakes": "sbi"}}).data.pseudo_fakes == "sbi"
    with pytest.raises(ConfigError, match="unknown pseudo_fakes 'blend'"):
        load_config(overrides={"data": {"pseudo_fakes": "blend"}})
    with pytest.raises(ConfigError, match="real/fake model"):
        load_config(overrides={"classes": 5, "data": {"pseudo_fakes": "sbi"}})


def test_auto_pseudo_fakes_self_blend_a_real_fake_model_from_crops_only() -> None:
    auto = load_config()
    assert resolve_pseudo_fakes(auto, from_shards=False).data.pseudo_fakes == "sbi"
    assert resolve_pseudo_fakes(auto, from_shards=True).data.pseudo_fakes == "none"
    assert (
        resolve_pseudo_fakes(load_config(overrides={"classes": 5}), from_shards=False).data.pseudo_fakes
        == "none"
    )
    plain = load_config(overrides={"data": {"pseudo_fakes": "none"}})
    assert resolve_pseudo_fakes(plain, from_shards=False) is plain
    for preset in ("ffpp-attention_net", "ffpp-mdcsd", "celebdf-xception", "ffpp-effort"):
        assert load_config(preset).data.pseudo_fakes == "none", preset  # published recipes stay plain


def test_each_model_trains_with_its_own_recipe_without_a_config_file(tmp_path: Path) -> None:
    from fakescan.models import create
    from fakescan.train.engine import build_optimizer, build_scheduler

    recce = load_config(overrides={"model": "attention_net"})
    assert (recce.optim.weight_decay, recce.optim.scheduler, recce.optim.step_size) == (1e-5, "step", 10)
    assert recce.optim.step_gamma == 0.5
    # The same recipe as the shipped attention_net presets, apart from what they set for their data.
    preset = load_config("ffpp-attention_net")
    assert recce.optim == preset.optim
    mdcsd = load_config(overrides={"model": "mdcsd"})
    assert (mdcsd.optim.scheduler, mdcsd.optim.plateau_factor, mdcsd.optim.plateau_patience) == (
        "plateau",
        0.2,
        2,
    )
    plain = load_config(overrides={"model": "cnn"})
    assert (plain.optim.weight_decay, plain.optim.scheduler) == (0.0, "plateau")
    # A file naming the model gets the recipe too, and its own options and the command line win.
    path = tmp_path / "run.yaml"
    path.write_text("model: attention_net\noptim:\n  step_size: 4\n")
    config = load_config(path, {"optim": {"weight_decay": 0.001}})
    assert (config.optim.scheduler, config.optim.step_size, config.optim.weight_decay) == ("step", 4, 0.001)
    # ... and the engine builds what the recipe says.
    model = create("cnn", num_classes=1, image_size=64)
    optimizer = build_optimizer(model, recce)
    assert optimizer.param_groups[0]["weight_decay"] == 1e-5
    assert type(build_scheduler(optimizer, recce)).__name__ == "StepLR"


def test_the_sbi_preset_is_the_published_recipe() -> None:
    """Shiohara & Yamasaki, CVPR 2022, Sec. 4.1: EfficientNet-B4, 380 px, SAM over SGD (lr 0.001,
    momentum 0.9), batch 32, 100 epochs, linear decay in the second half, self-blends of reals only."""
    config = load_config("sbi-efficientnet_b4")
    assert (config.model, config.classes, config.epochs, config.early_stopping) == (
        "efficientnet_b4",
        2,
        100,
        0,
    )
    optim = config.optim
    assert (optim.optimizer, optim.lr, optim.momentum, optim.sam_rho) == ("sam", 0.001, 0.9, 0.05)
    assert (optim.scheduler, optim.linear_decay_start) == ("linear", 0.5)
    data = config.data
    assert (data.image_size, data.batch_size, data.pseudo_fakes, data.sbi_mask) == (
        380,
        32,
        "sbi",
        "mesh",  # the FaceMesh hull: the paper's landmark hull (81 points, forehead included)
    )
    assert data.augment == "sbi"  # the reference's whole-image augmentation on top of the self-blends
    quick = load_config("sbi-efficientnet_b4", {"epochs": 2, "data": {"image_size": 96}})
    assert (quick.epochs, quick.data.image_size, quick.optim.optimizer) == (2, 96, "sam")


def test_effort_trains_with_the_reference_recipe_and_its_preset_agrees() -> None:
    """The reference's effort.yaml: 224 px, Adam 2e-4, weight decay 5e-4, batch 32, 10 epochs."""
    recipe = load_config(overrides={"model": "effort"})
    preset = load_config("ffpp-effort")
    for config in (recipe, preset):
        assert (config.data.image_size, config.data.batch_size, config.epochs) == (224, 32, 10)
        assert (config.optim.optimizer, config.optim.lr, config.optim.weight_decay) == ("adam", 2e-4, 5e-4)
        assert (config.loss.orthogonality, config.loss.singular_value) == (1.0, 1.0)
    assert recipe.optim == preset.optim
    assert load_config(overrides={"model": "effort", "data": {"image_size": 336}}).data.image_size == 336
