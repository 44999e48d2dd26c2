"""``deepfakebench-recce``: parity with DeepfakeBench's own RECCE code, the key mapping, wrong files,
and ``predict`` on an imported checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from fakescan.cli import app
from fakescan.errors import CheckpointMismatchError
from fakescan.imports.deepfakebench_recce import convert, reference_key
from tests.imports._parity import (
    TOLERANCE,
    check_parity,
    load_fixture,
    sample_crops,
    seeded_state,
    write_reference_checkpoint,
)

NAME = "deepfakebench-recce"


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})


@pytest.fixture(scope="module")
def parity(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[float, Path]:
    """:func:`check_parity` once for the module: the max logit difference, and the imported
    checkpoint (``recce_best.pth`` in DeepfakeBench's exact layout with the fixture's seeded weights,
    through ``fakescan import``)."""
    folder = tmp_path_factory.mktemp("recce")
    diff = check_parity(NAME, samples, folder)
    return diff, folder / "imported" / "best.safetensors"


@pytest.fixture(scope="module")
def imported(parity: tuple[float, Path]) -> Path:
    return parity[1]


def test_import_matches_the_reference_logits(parity: tuple[float, Path]) -> None:
    assert parity[0] <= TOLERANCE


def test_the_reference_resizes_are_what_makes_it_match(samples: Path, imported: Path) -> None:
    """Built with fakescan's default resizes, the same weights give other logits: the option matters."""
    from fakescan.checkpoints import load_checkpoint
    from fakescan.data.transforms import EvalTransform

    fixture = load_fixture(NAME)
    pixels = sample_crops(samples, fixture["crops"][:1], fixture["size"])  # one crop is enough
    model, meta = load_checkpoint(imported)
    model.attention.error_resize, model.reference_resize = "area", False
    batch = torch.stack([EvalTransform(meta.input_cfg)(p).image for p in pixels])
    with torch.inference_mode():
        got = model(batch).double().numpy()
    assert np.abs(got - np.asarray(fixture["logits"][:1])).max() > 10 * TOLERANCE


def test_every_reference_key_maps_and_back() -> None:
    keys = [name for name, _, _ in load_fixture(NAME)["keys"]]
    state = {name: torch.zeros(1) for name in keys}
    out = convert(state)
    dropped = [k for k in keys if k.startswith(("backbone.", "model.encoder.fc."))]
    assert len(out) == len(keys) - len(dropped)
    assert {reference_key(k) for k in out} == set(keys) - set(dropped)


def test_the_sidecar_records_the_reference_preprocessing_and_licence(imported: Path) -> None:
    meta = json.loads(imported.with_suffix(".json").read_text())
    assert meta["model"] == "attention_net"
    assert meta["model_kwargs"] == {
        "num_classes": 2,
        "image_size": 256,
        "fusion_blocks": 0,
        "reference_resize": True,
    }
    assert meta["input_cfg"]["image_size"] == 256 and meta["input_cfg"]["mean"] == [0.5, 0.5, 0.5]
    assert meta["source"]["family"] == NAME and meta["source"]["fake_index"] == 1
    assert meta["source"]["licence"].startswith("CC BY-NC 4.0")
    assert meta["face_crop"]["margin"] == 1.3


def test_an_xception_file_is_refused_naming_the_key(tmp_path: Path) -> None:
    """DeepfakeBench's ``xception_best.pth`` layout (``backbone.*`` only: RECCE's unused backbone is
    that very Xception) given as RECCE: one line, exit 2, nothing written."""
    fixture = load_fixture(NAME)
    xception_keys = [key for key in fixture["keys"] if key[0].startswith("backbone.")]
    wrong = write_reference_checkpoint(tmp_path / "xception_best.pth", xception_keys, 0)
    out = tmp_path / "out"
    done = invoke("import", NAME, wrong, "--out", out)
    assert done.exit_code == 2, done.output
    lines = [line for line in done.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "'model.encoder.conv1.weight'" in lines[0] and str(wrong) in lines[0]
    assert not out.exists()


def test_a_key_recce_does_not_have_is_named(tmp_path: Path) -> None:
    fixture = load_fixture(NAME)
    state = seeded_state(fixture["keys"][:3], 0) | {
        "model.encoder.conv1.weight": torch.zeros(32, 3, 3, 3),
        "model.decoder1.1.conv1.weight": torch.zeros(728, 1, 3, 3),
        "model.reasoning.va_embedding.0.weight": torch.zeros(256, 728, 1, 1),
        "model.frequency.filter": torch.zeros(1),
    }
    with pytest.raises(CheckpointMismatchError, match=r"unexpected key 'model\.frequency\.filter'"):
        convert(state)


@pytest.mark.slow
def test_predict_gives_a_verdict_with_the_imported_checkpoint(samples: Path, imported: Path) -> None:
    video = samples / "videos/single_face.mp4"
    done = invoke("predict", video, "--model", imported.parent, "--frames", "2", "--json", "-")
    assert done.exit_code == 0, done.output
    (result,) = json.loads(done.stdout)["results"]
    assert result["verdict"] in ("real", "fake"), result
    assert 0.0 <= result["score"] <= 1.0
