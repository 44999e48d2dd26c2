"""``deepfakebench-efficientnetb4``: parity with DeepfakeBench's own EfficientNet-B4 code, the key
mapping, and wrong files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fakescan.errors import CheckpointMismatchError
from fakescan.imports import import_checkpoint
from fakescan.imports.deepfakebench_efficientnetb4 import FAMILY, convert, reference_key
from tests.imports._parity import (
    TOLERANCE,
    check_parity,
    load_fixture,
    sample_crops,
    write_reference_checkpoint,
)

NAME = "deepfakebench-efficientnetb4"


@pytest.fixture(scope="module")
def parity(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[float, Path]:
    """:func:`check_parity` once for the module: the max logit difference, and the imported checkpoint."""
    folder = tmp_path_factory.mktemp("effnb4")
    diff = check_parity(NAME, samples, folder)
    return diff, folder / "imported" / "best.safetensors"


def test_import_matches_the_reference_logits(parity: tuple[float, Path]) -> None:
    assert parity[0] <= TOLERANCE


def test_the_fixture_logits_depend_on_the_image() -> None:
    """Seeded weights that made every crop score alike would let a wrong input path pass."""
    logits = np.asarray(load_fixture(NAME)["logits"])
    assert np.abs(logits - logits.mean(axis=0)).max() > 100 * TOLERANCE


@pytest.mark.parametrize("change", [{"stem_padding": "same"}, {"padding_size": None}])
def test_deepfakebench_padding_is_what_makes_it_match(
    samples: Path, parity: tuple[float, Path], change: dict[str, object]
) -> None:
    """The same weights in a B4 with the package's padded stem, or with paddings computed for the
    256 px input, give other logits: both options are needed."""
    from safetensors.torch import load_file

    from fakescan.data.transforms import EvalTransform
    from fakescan.models import create

    fixture = load_fixture(NAME)
    model = create(FAMILY.model, **{**FAMILY.model_kwargs, **change}).eval()
    model.load_state_dict(load_file(str(parity[1])))
    pixels = sample_crops(samples, fixture["crops"][:1], fixture["size"])  # one crop is enough
    batch = torch.stack([EvalTransform(FAMILY.input_cfg())(p).image for p in pixels])
    with torch.inference_mode():
        got = model(batch).double().numpy()
    assert np.abs(got - np.asarray(fixture["logits"][:1])).max() > 10 * TOLERANCE


def test_every_reference_key_maps_and_back() -> None:
    keys = [name for name, _, _ in load_fixture(NAME)["keys"]]
    out = convert({name: torch.zeros(1) for name in keys})
    assert len(out) == len(keys) and "net._fc.weight" in out
    assert {reference_key(k) for k in out} == set(keys)


def test_a_recce_file_is_refused_naming_the_key(tmp_path: Path) -> None:
    keys = load_fixture("deepfakebench-recce")["keys"][:8]
    wrong = write_reference_checkpoint(tmp_path / "recce_best.pth", keys, 0)
    with pytest.raises(CheckpointMismatchError) as caught:
        import_checkpoint(NAME, wrong, tmp_path / "out")
    message = str(caught.value)
    assert "\n" not in message and str(wrong) in message
    assert "'backbone.efficientnet._conv_stem.weight'" in message
    assert not (tmp_path / "out").exists()


def test_the_adjust_channel_mode_is_refused_naming_the_key() -> None:
    """DeepfakeBench's ``adjust_channel`` mode runs an extra conv this family does not build."""
    state = {
        "backbone.efficientnet._conv_stem.weight": torch.zeros(48, 3, 3, 3),
        "backbone.last_layer.weight": torch.zeros(2, 512),
        "backbone.adjust_channel.0.weight": torch.zeros(512, 1792, 1, 1),
    }
    with pytest.raises(
        CheckpointMismatchError, match=r"unexpected key 'backbone\.adjust_channel\.0\.weight'"
    ):
        convert(state)
