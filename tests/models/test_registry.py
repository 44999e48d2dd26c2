"""Checks every registered model passes, driven by the registry (new models are covered on arrival)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from fakescan.errors import ConfigError
from fakescan.models import create, list_models
from fakescan.models.output import DetectorOutput
from tests.models import TEST_OPTIONS, trains

MODELS_MD = Path(__file__).resolve().parents[2] / "docs" / "models.md"
SIZE = 128


def documented_parameter_counts() -> dict[tuple[str, int, int], int]:
    """``(model, image size, classes) -> parameters`` from the table in docs/models.md."""
    text = MODELS_MD.read_text(encoding="utf-8")
    table = text.split("<!-- parameter-counts:start -->")[1].split("<!-- parameter-counts:end -->")[0]
    header, _, *rows = [line for line in table.strip().splitlines() if line.startswith("|")]
    columns = [
        (int(size), 1 if logits == "1 logit" else int(logits.split()[0]))
        for size, logits in re.findall(r"(\d+) px, (1 logit|\d+ classes)", header)
    ]
    counts = {}
    for row in rows:
        name, *cells = [cell.strip() for cell in row.strip("|").split("|")]
        for (size, classes), cell in zip(columns, cells, strict=True):
            counts[(name, size, classes)] = int(cell.replace(",", ""))
    return counts


def test_the_four_designs_are_registered() -> None:
    assert set(list_models()) >= {"cnn", "xception", "attention_net", "mdcsd"}


def test_unknown_names_and_options_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="xception"):
        create("xceptoin")
    with pytest.raises(ConfigError, match="no_such_option"):
        create("xception", no_such_option=1)


@pytest.mark.parametrize("name", list_models())
def test_parameter_counts_are_the_documented_ones(name: str) -> None:
    documented = {key: value for key, value in documented_parameter_counts().items() if key[0] == name}
    assert documented, f"docs/models.md lists no parameter count for {name}"
    for (_, size, classes), expected in documented.items():
        if name == "effort":  # ViT-L/14 as published: counted on the meta device, not decomposed
            with torch.device("meta"):
                model = create(name, num_classes=classes, image_size=size, decompose=False)
        else:
            model = create(name, num_classes=classes, image_size=size)
        assert sum(p.numel() for p in model.parameters()) == expected, (name, size, classes)


@pytest.mark.parametrize("name", list_models())
def test_shapes_gradients_determinism_and_safetensors_round_trip(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    options = TEST_OPTIONS.get(name, {})
    model = create(name, num_classes=5, image_size=SIZE, **options)
    assert model.input_cfg.image_size == SIZE
    images = torch.rand(2, 3, SIZE, SIZE) * 2 - 1

    output = model.train()(images, return_aux=True)
    assert isinstance(output, DetectorOutput)
    assert output.logits.shape == (2, 5)
    output.logits.sum().backward()
    for key, parameter in model.named_parameters():  # all but the parts a model freezes by design
        assert parameter.requires_grad == trains(name, key), key
        assert (parameter.grad is not None) == trains(name, key), key

    model.eval()
    with torch.no_grad():
        single = model(images[:1])
        first, second = model(images), model(images)
    assert single.shape == (1, 5)
    assert torch.equal(first, second)

    save_file(model.state_dict(), tmp_path / "model.safetensors")
    torch.manual_seed(1)
    reloaded = create(name, num_classes=5, image_size=SIZE, **options).eval()
    reloaded.load_state_dict(load_file(tmp_path / "model.safetensors"))
    with torch.no_grad():
        assert torch.equal(reloaded(images), first)


@pytest.mark.parametrize("name", list_models())
def test_channels_last_gives_the_same_outputs(name: str) -> None:
    """The fast inference layout must not change results (the FFT filter once broke under it)."""
    torch.manual_seed(0)
    model = create(name, num_classes=1, image_size=SIZE, **TEST_OPTIONS.get(name, {})).eval()
    images = torch.rand(2, 3, SIZE, SIZE) * 2 - 1
    with torch.no_grad():
        expected = model(images)
        model = model.to(memory_format=torch.channels_last)
        got = model(images.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
