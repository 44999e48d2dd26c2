"""Checkpoints rebuild their model exactly, refuse anything that does not fit, and resume bit-exactly."""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from fakescan.checkpoints import (
    CheckpointMeta,
    capture_rng_state,
    checkpoint_paths,
    load_checkpoint,
    load_training_state,
    read_checkpoint_meta,
    restore_rng_state,
    save_checkpoint,
    save_training_state,
)
from fakescan.errors import CheckpointMismatchError, ConfigError, InputError
from fakescan.models import create
from fakescan.models.output import InputConfig
from fakescan.ops.spectrum import LogSpectrum, SpectrumStats

KWARGS = {"num_classes": 1, "image_size": 32, "drop_rate": 0.5}


def trained_model(seed: int = 0) -> torch.nn.Module:
    """A small CNN with non-default weights and batch-norm statistics."""
    torch.manual_seed(seed)
    model = create("cnn", **KWARGS)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(2):
        loss = model(torch.randn(4, 3, 32, 32)).square().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


def meta(**changes: object) -> CheckpointMeta:
    values: dict = {
        "model": "cnn",
        "model_kwargs": KWARGS,
        "spectrum_stats": SpectrumStats(mean=(1.5,), std=(0.25,), count=10),
        "train_videos_digest": "ab" * 32,
        "train_videos_list": "best.train-videos.txt",
        "threshold": 0.42,
        "val_metrics": {"auc": 0.91, "eer": float("nan")},
        "epoch": 3,
        "step": 120,
    }
    values.update(changes)
    return CheckpointMeta(**values)


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    model = trained_model()
    stem = tmp_path / "best"
    save_checkpoint(stem, model, meta())
    return stem, model


def test_round_trip_gives_identical_outputs(saved: tuple[Path, torch.nn.Module]) -> None:
    stem, model = saved
    x = torch.randn(3, 3, 32, 32)
    for path in (stem, stem.with_suffix(".json"), Path(f"{stem}.safetensors")):
        loaded, info = load_checkpoint(path)
        assert not loaded.training
        assert torch.equal(loaded(x), model(x))
    assert info.model == "cnn" and dict(info.model_kwargs) == KWARGS
    assert info.input_cfg == InputConfig(image_size=32)
    assert info.class_names == ("real", "fake")
    assert info.spectrum_stats == SpectrumStats(mean=(1.5,), std=(0.25,), count=10)
    assert (info.threshold, info.epoch, info.step) == (0.42, 3, 120)
    assert info.train_videos_digest == "ab" * 32 and info.train_videos_list == "best.train-videos.txt"
    assert info.val_metrics == {"auc": 0.91, "eer": None}
    assert len(info.weights_sha256) == 64
    assert read_checkpoint_meta(stem) == info
    assert sorted(p.name for p in stem.parent.iterdir()) == ["best.json", "best.safetensors"]


def test_sidecar_is_plain_json(saved: tuple[Path, torch.nn.Module]) -> None:
    stem, _ = saved
    data = json.loads(stem.with_suffix(".json").read_text())
    assert data["format"] == "fakescan-checkpoint/1"
    assert data["input_cfg"] == {"image_size": 32, "mean": [0.5] * 3, "std": [0.5] * 3, "kind": "rgb"}
    assert data["fakescan_version"]


def test_the_real_faces_spectrum_round_trips_and_old_sidecars_have_none(tmp_path: Path) -> None:
    model = trained_model()
    reference = LogSpectrum.from_array(np.linspace(-6, 2, 16).reshape(4, 4), count=7, image_size=32)
    save_checkpoint(tmp_path / "new", model, meta(real_log_spectrum=reference))
    assert read_checkpoint_meta(tmp_path / "new").real_log_spectrum == reference
    stored = json.loads((tmp_path / "new.json").read_text())["real_log_spectrum"]
    assert stored["count"] == 7 and stored["image_size"] == 32 and len(stored["values"]) == 4
    # A sidecar written before fakescan kept the reference: it loads, without one.
    save_checkpoint(tmp_path / "old", model, meta())
    data = json.loads((tmp_path / "old.json").read_text())
    del data["real_log_spectrum"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert load_checkpoint(tmp_path / "old")[1].real_log_spectrum is None


def one_line_error(path: Path, match: str, **kwargs: object) -> str:
    with pytest.raises(CheckpointMismatchError, match=match) as caught:
        load_checkpoint(path, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_truncated_weights(saved: tuple[Path, torch.nn.Module]) -> None:
    stem, _ = saved
    weights, _ = checkpoint_paths(stem)
    weights.write_bytes(weights.read_bytes()[:-100])
    assert str(weights) in one_line_error(stem, "SHA-256")


def test_truncated_weights_without_a_hash(saved: tuple[Path, torch.nn.Module]) -> None:
    stem, _ = saved
    weights, sidecar = checkpoint_paths(stem)
    data = json.loads(sidecar.read_text())
    data["weights_sha256"] = ""
    sidecar.write_text(json.dumps(data))
    weights.write_bytes(weights.read_bytes()[:40])
    one_line_error(stem, "not a readable safetensors file")


def test_flipped_byte(saved: tuple[Path, torch.nn.Module]) -> None:
    stem, _ = saved
    weights, _ = checkpoint_paths(stem)
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    one_line_error(stem, "SHA-256")


def test_sidecar_of_another_checkpoint(tmp_path: Path, saved: tuple[Path, torch.nn.Module]) -> None:
    stem, _ = saved
    other = tmp_path / "other"
    save_checkpoint(other, trained_model(seed=1), meta())
    shutil.copy(other.with_suffix(".json"), stem.with_suffix(".json"))
    one_line_error(stem, "does not match")


def test_sidecar_for_another_model(saved: tuple[Path, torch.nn.Module]) -> None:
    stem, _ = saved
    sidecar = stem.with_suffix(".json")
    data = json.loads(sidecar.read_text())
    data["model_kwargs"]["image_size"] = 64  # a dense layer of another size
    sidecar.write_text(json.dumps(data))
    message = one_line_error(stem, "do not fit model 'cnn'")
    assert "fc.weight" in message
    data["model"] = "no_such_model"
    sidecar.write_text(json.dumps(data))
    one_line_error(stem, "cannot rebuild")
    one_line_error(stem, "not of 'cnn'", expected_model="cnn")


def test_missing_keys(tmp_path: Path) -> None:
    model = trained_model()
    state = {k: v.contiguous() for k, v in model.state_dict().items() if not k.startswith("fc.")}
    stem = tmp_path / "partial"
    save_checkpoint(stem, model, meta())
    sidecar = stem.with_suffix(".json")
    save_file(state, f"{stem}.safetensors")
    data = json.loads(sidecar.read_text())
    data["weights_sha256"] = ""
    sidecar.write_text(json.dumps(data))
    message = one_line_error(stem, "missing keys")
    assert "fc.weight" in message and "fc.bias" in message


def test_bad_sidecars(saved: tuple[Path, torch.nn.Module]) -> None:
    stem, _ = saved
    sidecar = stem.with_suffix(".json")
    sidecar.write_text('{"format": "fakescan-checkpoint/1", "model": "cnn"')
    one_line_error(stem, "unreadable checkpoint sidecar")
    sidecar.write_text('{"format": "something-else", "model": "cnn"}')
    one_line_error(stem, "unreadable checkpoint sidecar")
    sidecar.unlink()
    with pytest.raises(InputError, match="not found"):
        load_checkpoint(stem)


def test_non_json_kwargs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model_kwargs"):
        save_checkpoint(tmp_path / "x", trained_model(), meta(model_kwargs={"act": torch.nn.ReLU}))


def test_shared_tensors_are_saved(tmp_path: Path) -> None:
    model = trained_model()
    state = model.state_dict()
    state["alias"] = state["fc.weight"]  # shares memory, which safetensors alone refuses

    class Wrapper(torch.nn.Module):
        def state_dict(self, *args: object, **kwargs: object) -> dict:  # type: ignore[override]
            return state

    save_checkpoint(tmp_path / "shared", Wrapper(), meta())


# ---- training state ------------------------------------------------------------------------------


def build(
    seed: int = 0,
) -> tuple[torch.nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    torch.manual_seed(seed)
    model = create("cnn", **KWARGS).train()  # dropout on: steps consume the RNG
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.8, 0.95), weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimiser, step_size=2, gamma=0.5)
    return model, optimiser, scheduler


def train_step(model: torch.nn.Module, optimiser: torch.optim.Optimizer, scheduler: object) -> None:
    x = torch.randn(4, 3, 32, 32)  # drawn from the global RNG, like a shuffled loader
    y = torch.randint(0, 2, (4, 1)).float()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    scheduler.step()  # type: ignore[attr-defined]


def test_resume_is_bit_identical(tmp_path: Path) -> None:
    model, optimiser, scheduler = build()
    for _ in range(5):
        train_step(model, optimiser, scheduler)
    uninterrupted = {k: v.clone() for k, v in model.state_dict().items()}

    model, optimiser, scheduler = build()
    for _ in range(3):
        train_step(model, optimiser, scheduler)
    random.seed(7)
    np.random.seed(7)
    early = {"best": 0.93, "worst": -math.inf, "patience_left": 2, "history": (0.9, 0.93)}
    save_training_state(
        tmp_path / "last.state",
        optimiser,
        scheduler,
        epoch=1,
        step=3,
        early_stopping=early,
        model=model,
        extra={"sampler": {"epoch": 1, "seen": np.arange(3)}, "by_id": {0: "a", 1: "b"}},
    )
    expected_python, expected_numpy = random.random(), np.random.rand()

    # A fresh process would start from scratch: other weights, other RNG positions.
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    model, optimiser, scheduler = build(seed=99)
    state = load_training_state(tmp_path / "last.state", optimiser, scheduler, model=model)
    assert (state.epoch, state.step) == (1, 3)
    assert state.early_stopping == early
    assert state.extra["by_id"] == {0: "a", 1: "b"}
    assert state.extra["sampler"]["seen"].tolist() == [0, 1, 2]
    assert (random.random(), np.random.rand()) == (expected_python, expected_numpy)
    assert optimiser.param_groups[0]["betas"] == (0.8, 0.95)
    assert scheduler.get_last_lr() == [1e-3 * 0.5]
    for _ in range(2):
        train_step(model, optimiser, scheduler)
    resumed = model.state_dict()
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in uninterrupted)


def test_rng_capture_and_restore() -> None:
    state = capture_rng_state()
    draws = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == draws


def test_training_state_mismatches(tmp_path: Path) -> None:
    model, optimiser, scheduler = build()
    train_step(model, optimiser, scheduler)
    path = tmp_path / "state"
    save_training_state(path, optimiser, None, epoch=0, step=1)
    with pytest.raises(CheckpointMismatchError, match="no scheduler"):
        load_training_state(path, optimiser, scheduler)
    with pytest.raises(CheckpointMismatchError, match="no model weights"):
        load_training_state(path, optimiser, model=model)
    other = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))])
    with pytest.raises(CheckpointMismatchError, match="optimiser state does not fit"):
        load_training_state(path, other)
    weights = Path(f"{path}.safetensors")
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(CheckpointMismatchError, match="SHA-256"):
        load_training_state(path, optimiser)
    with pytest.raises(ConfigError, match=r"early_stopping\.fn"):
        save_training_state(path, optimiser, None, 0, 0, early_stopping={"fn": print})


def test_a_crash_never_leaves_a_sidecar_without_its_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakescan import checkpoints as checkpoint

    def crash(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "atomic_write_text", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "ckpt", trained_model(), meta())
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.safetensors"]  # weights first, no sidecar
    monkeypatch.setattr(checkpoint, "atomic_write_bytes", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "second", trained_model(), meta())
    assert not list(tmp_path.glob("second*"))


def test_wrappers_are_looked_through(tmp_path: Path) -> None:
    model = trained_model()
    save_checkpoint(tmp_path / "wrapped", torch.nn.DataParallel(model), meta())
    loaded, _ = load_checkpoint(tmp_path / "wrapped")
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(loaded(x), model(x))
