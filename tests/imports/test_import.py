"""``fakescan import``: the sidecar it writes, and the one-line refusals."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from fakescan.checkpoints import load_checkpoint, read_checkpoint_meta
from fakescan.cli import app
from fakescan.errors import CheckpointMismatchError, ConfigError
from fakescan.imports import get_family, import_checkpoint, list_families, load_reference_file
from tests.imports._parity import load_fixture, seeded_state


@pytest.fixture(scope="module")
def xception_state() -> dict[str, torch.Tensor]:
    """DeepfakeBench's Xception detector layout (``backbone.*``), seeded."""
    fixture = load_fixture("deepfakebench-xception")
    return seeded_state(fixture["keys"], fixture["seed"])


def _save(state: object, path: Path) -> Path:
    torch.save(state, path)
    return path


def test_the_families_of_this_branch_are_listed() -> None:
    assert {"sbi", "deepfakebench-xception"} <= set(list_families())
    with pytest.raises(ConfigError, match="unknown checkpoint family 'nope'; choose one of: sbi"):
        get_family("nope")


def test_an_import_records_its_source_and_preprocessing(xception_state, tmp_path: Path) -> None:
    source = _save({"state_dict": {f"module.{k}": v for k, v in xception_state.items()}}, tmp_path / "x.pth")
    weights = import_checkpoint("deepfakebench-xception", source, tmp_path / "run")
    assert weights == tmp_path / "run" / "best.safetensors"
    meta = read_checkpoint_meta(tmp_path / "run")  # a run folder is its best checkpoint
    assert meta.model == "xception" and meta.threshold == 0.5
    assert meta.input_cfg.image_size == 256 and meta.input_cfg.mean == (0.5, 0.5, 0.5)
    assert meta.source["family"] == "deepfakebench-xception"
    assert meta.source["file"] == "x.pth"
    assert meta.source["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert "CC BY-NC 4.0" in meta.source["licence"]
    assert meta.face_crop["margin"] == 1.3
    model, _ = load_checkpoint(tmp_path / "run")
    assert torch.equal(model.fc.weight, xception_state["backbone.last_linear.weight"])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda s: s.pop("backbone.block3.rep.1.pointwise.weight"),
            "missing key 'backbone.block3.rep.1.pointwise.weight'",
        ),
        (
            lambda s: s.__setitem__("backbone.extra.weight", torch.zeros(1)),
            "unexpected key 'backbone.extra.weight'",
        ),
        (
            lambda s: s.__setitem__("backbone.last_linear.weight", torch.zeros(1, 2048)),
            r"key 'backbone.last_linear.weight' has shape \(1, 2048\), deepfakebench-xception needs",
        ),
    ],
)
def test_a_layout_that_does_not_fit_is_named_in_one_line(
    xception_state, tmp_path: Path, edit, message
) -> None:
    state = dict(xception_state)
    edit(state)
    source = _save(state, tmp_path / "x.pth")
    with pytest.raises(CheckpointMismatchError, match=message) as caught:
        import_checkpoint("deepfakebench-xception", source, tmp_path / "run")
    assert "\n" not in str(caught.value) and str(source) in str(caught.value)
    assert not (tmp_path / "run" / "best.json").exists()


def test_a_file_of_another_family_is_refused(xception_state, tmp_path: Path) -> None:
    source = _save(xception_state, tmp_path / "x.pth")
    with pytest.raises(
        CheckpointMismatchError, match=r"missing key 'net\._conv_stem\.weight': not a sbi checkpoint"
    ):
        import_checkpoint("sbi", source, tmp_path / "run")


class _Payload:
    """A pickled object: loading it would need this code."""


def test_files_that_are_not_plain_weights_are_refused(tmp_path: Path) -> None:
    pickled = _save({"net": _Payload()}, tmp_path / "object.pth")
    with pytest.raises(CheckpointMismatchError, match="holds pickled Python objects"):
        load_reference_file(pickled)
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointMismatchError, match=r"raw.pkl: not a weights file \(expected .pth"):
        load_reference_file(raw)
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointMismatchError, match=r"notes\.pth: not a readable weights file"):
        load_reference_file(text)
    counters = _save({"step": torch.tensor(1), "epoch": 3}, tmp_path / "counters.pth")
    with pytest.raises(CheckpointMismatchError, match="entry 'epoch' is not a tensor"):
        load_reference_file(counters)


def test_the_cli_imports_and_says_the_licence(xception_state, tmp_path: Path) -> None:
    source = _save(xception_state, tmp_path / "xception_best.pth")
    done = CliRunner().invoke(
        app, ["import", "deepfakebench-xception", str(source), "--out", str(tmp_path / "run")]
    )
    assert done.exit_code == 0, done.output
    assert "licence: CC BY-NC 4.0" in done.output
    assert json.loads((tmp_path / "run" / "best.json").read_text())["source"]["file"] == "xception_best.pth"


def test_the_cli_refuses_a_bad_file_with_one_line_and_exit_code_2(xception_state, tmp_path: Path) -> None:
    state = dict(xception_state)
    del state["backbone.conv2.weight"]
    source = _save(state, tmp_path / "x.pth")
    done = CliRunner().invoke(
        app, ["import", "deepfakebench-xception", str(source), "--out", str(tmp_path / "r")]
    )
    assert done.exit_code == 2
    lines = done.output.strip().splitlines()
    assert len(lines) == 1 and "missing key 'backbone.conv2.weight'" in lines[0]
    done = CliRunner().invoke(app, ["import", "sbi-v9", str(source), "--out", str(tmp_path / "r")])
    assert done.exit_code == 2 and "unknown checkpoint family 'sbi-v9'" in done.output


def test_the_help_states_each_licence() -> None:
    done = CliRunner().invoke(app, ["import", "--help"], env={"COLUMNS": "200"})
    assert done.exit_code == 0
    for name in list_families():
        assert name in done.output
    assert "CC BY-NC 4.0" in done.output and "noncommercial research use only" in done.output


def test_the_families_load_no_torch() -> None:
    """``fakescan import --help`` reads every family: none may import torch (or OpenCV) at import."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom fakescan.imports import get_family, list_families\n"
        "[get_family(n) for n in list_families()]\nprint(*(m for m in ('torch', 'cv2') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_a_training_checkpoint_and_a_safetensors_file_both_import(xception_state, tmp_path: Path) -> None:
    """SBI's ``train_sbi.py`` saves ``{"model", "optimizer", "epoch"}``: the weights are taken from
    ``model``, the optimiser state (plain tensors and numbers) is read safely and ignored."""
    from safetensors.torch import save_file

    optimiser = {
        "state": {0: {"momentum_buffer": torch.zeros(3)}},
        "param_groups": [{"lr": 1e-3, "params": [0]}],
    }
    wrapped = _save({"model": xception_state, "optimizer": optimiser, "epoch": 7}, tmp_path / "run.tar")
    flat = tmp_path / "x.safetensors"
    save_file({k: v.contiguous() for k, v in xception_state.items()}, str(flat))
    for source in (wrapped, flat):
        state = load_reference_file(source)
        assert state.keys() == xception_state.keys()
        assert torch.equal(state["backbone.conv1.weight"], xception_state["backbone.conv1.weight"])
    import_checkpoint("deepfakebench-xception", flat, tmp_path / "run")
    assert read_checkpoint_meta(tmp_path / "run").source["file"] == "x.safetensors"
