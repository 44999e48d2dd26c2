"""The training engine end to end on real faces: learning, early stopping, resume, integrity guards.

The crops (``crops_dir``, ``tests/train/conftest.py``) are real and manipulated faces of the sample
media; validation and test hold out people unseen in training.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from sklearn.metrics import roc_auc_score

from fakescan.errors import ConfigError, SplitLeakError
from fakescan.train.config import load_config
from fakescan.train.engine import EarlyStopping, fit, load_training_data, training_provenance
from tests.train.crops import SIZE, TEST_SOURCES, TRAIN_SOURCES


def _config(**overrides):
    values = {
        "model": "cnn",
        "epochs": 8,
        "early_stopping": 0,
        "seed": 0,
        "optim": {"lr": 3e-3, "scheduler": "none"},
        "data": {"image_size": SIZE, "batch_size": 16, "workers": 0},
    }
    for key, value in overrides.items():
        if isinstance(value, dict):
            values[key] = {**values.get(key, {}), **value}
        else:
            values[key] = value
    return load_config(overrides=values)


@pytest.mark.slow
def test_held_out_people_are_separated_after_training(crops_dir: Path, tmp_path: Path) -> None:
    data = load_training_data(crops_dir, crops_dir)
    val_people = {r.video_id.split("/")[1] for r in data.val}
    assert not val_people & (TRAIN_SOURCES | TEST_SOURCES) and len(data.val) >= 16

    result = fit(_config(), data, tmp_path / "run")

    meta = json.loads((tmp_path / "run/best.json").read_text())
    best_row = result.history[result.best_epoch]
    assert meta["val_metrics"]["auc"] == pytest.approx(best_row.val_auc)
    assert best_row.val_auc > 0.9, [row.val_auc for row in result.history]
    assert 0.0 < meta["threshold"] < 1.0
    train_videos = (tmp_path / "run/train_videos.txt").read_text().split()
    assert set(train_videos) == {f"{r.dataset}/{r.video_id}" for r in data.train}
    with open(tmp_path / "run/log.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == result.epochs_run == 8

    # The saved best checkpoint reproduces the AUC on the held-out people.
    from fakescan.checkpoints import load_checkpoint
    from fakescan.data.loading import CropFolderDataset, make_loader
    from fakescan.data.transforms import EvalTransform
    from fakescan.scoring import predict_loader

    model, loaded = load_checkpoint(tmp_path / "run/best")
    loader = make_loader(
        CropFolderDataset(data.val, crops_dir, EvalTransform(model.input_cfg)), 32, workers=0
    )
    predictions = predict_loader(model, loader, torch.device("cpu"))
    assert roc_auc_score(predictions.labels, predictions.scores) == pytest.approx(loaded.val_metrics["auc"])


def test_early_stopping_ends_a_run_that_stops_improving(crops_dir: Path, tmp_path: Path) -> None:
    data = load_training_data(crops_dir, crops_dir)
    # Learning rate 0 and no batch norm (whose running statistics move without the optimiser): the
    # validation loss never improves after the first epoch.
    config = _config(
        epochs=10,
        early_stopping=2,
        model_options={"batch_norm": False},
        optim={"lr": 0.0},
        data={"max_steps_per_epoch": 1},
    )
    result = fit(config, data, tmp_path / "run")
    assert result.stopped_early and result.epochs_run == 3 and result.best_epoch == 0
    from fakescan.checkpoints import read_checkpoint_meta

    # The default (pseudo_fakes auto) self-blends a real/fake model's crops, and the checkpoint says so.
    assert read_checkpoint_meta(tmp_path / "run").training_data == training_provenance(data, "sbi")


def test_training_provenance_reads_the_crops_and_their_extraction_records(crops_dir: Path) -> None:
    """Data set and methods from the crop table; detector and crop size from the ``_extract.json``
    of the real crops' folders (the manipulated twins have none); not a ``fakescan synth`` set."""
    from fakescan.data.faces import DEFAULT_DETECTOR

    data = load_training_data(crops_dir, crops_dir)
    seen = training_provenance(data, "sbi")
    assert (seen.datasets, seen.methods, seen.pseudo_fakes) == (("samples",), ("Resynth",), "sbi")
    assert (seen.detector, seen.crop_size, seen.synthetic) == (DEFAULT_DETECTOR, SIZE, False)
    assert (seen.videos, seen.crops) == (len(data.train_videos), len(data.train))


def test_resume_continues_to_the_same_result(crops_dir: Path, tmp_path: Path) -> None:
    data = load_training_data(crops_dir, crops_dir)
    steps = {"max_steps_per_epoch": 3}
    whole = fit(_config(epochs=3, data=steps), data, tmp_path / "whole")
    fit(_config(epochs=2, data=steps), data, tmp_path / "split")
    resumed = fit(_config(epochs=3, data=steps), data, tmp_path / "split", resume=True)

    def losses(history):
        return [(row.epoch, row.train_loss, row.val_loss) for row in history]

    assert losses(resumed.history) == losses(whole.history)
    a, b = (
        load_file(tmp_path / "whole/last_state.safetensors"),
        load_file(tmp_path / "split/last_state.safetensors"),
    )
    model_keys = [k for k in a if k.startswith("model/")]
    assert model_keys and all(torch.equal(a[k], b[k]) for k in model_keys)


def test_resume_without_a_saved_state_is_a_clear_error(crops_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nothing to resume"):
        fit(_config(), load_training_data(crops_dir, crops_dir), tmp_path / "empty", resume=True)


def test_validation_sharing_a_training_video_is_refused(crops_dir: Path, tmp_path: Path) -> None:
    leaky = tmp_path / "leaky"
    leaky.mkdir()
    rows = list(csv.DictReader(open(crops_dir / "crops.csv", newline="")))
    train_row = next(r for r in rows if r["split"] == "train")
    rows.append({**train_row, "split": "val"})
    with open(leaky / "crops.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(SplitLeakError, match="both the training and the validation"):
        load_training_data(crops_dir, leaky)


def test_the_test_split_is_never_used_for_training_or_selection(crops_dir: Path) -> None:
    with pytest.raises(SplitLeakError, match="checkpoint selection"):
        load_training_data(crops_dir, crops_dir, val_split="test")
    with pytest.raises(SplitLeakError, match="training"):
        load_training_data(crops_dir, crops_dir, train_split="test")


def test_early_stopping_counts_epochs_without_improvement() -> None:
    stopper = EarlyStopping(patience=3)
    for value in (1.0, 1.1, 1.2):
        stopper.update(value)
    assert not stopper.should_stop
    stopper.update(1.0)  # equal is not better
    assert stopper.should_stop and stopper.best == 1.0


@pytest.mark.slow
def test_cli_train_then_test_reports_metrics_scikit_learn_agrees_with(
    crops_dir: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from fakescan.cli import app
    from fakescan.evaluate.report import read_metrics_json, read_scores_csv, read_video_scores_csv

    runner = CliRunner()
    run = tmp_path / "run"
    trained = runner.invoke(
        app,
        [
            "train",
            "cnn",
            str(crops_dir),
            str(crops_dir),
            "--out",
            str(run),
            "--epochs",
            "4",
            "--image_size",
            f"{SIZE},{SIZE},3",
            "--batch_size",
            "16",
            "--lr",
            "3e-3",
            "--workers",
            "0",
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert "best checkpoint" in trained.output

    tested = runner.invoke(app, ["test", str(run / "best"), str(crops_dir), "--out", str(tmp_path / "res")])
    assert tested.exit_code == 0, tested.output
    folder = tmp_path / "res" / crops_dir.name
    metrics = read_metrics_json(folder / "metrics.json")
    frames = read_scores_csv(folder / "frames.csv")
    videos = read_video_scores_csv(folder / "videos.csv")
    assert set(np.unique(frames.video_ids).tolist()) <= {  # dataset/video_id, as training names them
        f"samples/{kind}/{source}/face{k}"
        for kind in ("real", "fake")
        for source in TEST_SOURCES
        for k in range(4)
    }
    assert metrics["frame"]["auc"] == pytest.approx(roc_auc_score(frames.labels, frames.scores))
    assert metrics["video"]["auc"] == pytest.approx(roc_auc_score(videos.labels, videos.scores))
    threshold = metrics["threshold"]
    accuracy = ((frames.scores >= threshold).astype(int) == frames.labels).mean()
    assert metrics["frame"]["acc"] == pytest.approx(accuracy)
    assert set(metrics["per_method"]) == {"Resynth"}
    assert (folder / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "res/summary.md").is_file()

    # Testing on the training videos is refused, and allowed only when forced.
    leaked = runner.invoke(
        app, ["test", str(run / "best"), str(crops_dir), "--split", "train", "--out", str(tmp_path / "x")]
    )
    assert leaked.exit_code == 1 and "refusing" in leaked.output
    forced = runner.invoke(
        app,
        [
            "test",
            str(run / "best"),
            str(crops_dir),
            "--split",
            "train",
            "--force",
            "--out",
            str(tmp_path / "y"),
        ],
    )
    assert forced.exit_code == 0, forced.output


@pytest.mark.slow
def test_mdcsd_spectrum_statistics_come_from_the_training_crops(crops_dir: Path, tmp_path: Path) -> None:
    from fakescan.checkpoints import load_checkpoint
    from fakescan.data.loading import CropFolderDataset
    from fakescan.data.transforms import EvalTransform
    from fakescan.ops.spectrum import spectrum_stats
    from fakescan.train.engine import TrainingData

    full = load_training_data(crops_dir, crops_dir)
    val = [r for r in full.val if r.label == 0][::6] + [r for r in full.val if r.label == 1][
        ::6
    ]  # both classes
    data = TrainingData(full.train[::4], val, crops_dir, crops_dir, full.class_names)
    config = _config(model="mdcsd", epochs=1, data={"batch_size": 4, "max_steps_per_epoch": 1})
    fit(config, data, tmp_path / "run")
    model, meta = load_checkpoint(tmp_path / "run/best")
    # What they should be: the spectra of the (unaugmented) training crops, as the model computes them.
    dataset = CropFolderDataset(data.train, crops_dir, EvalTransform(model.input_cfg))
    images = torch.stack([dataset[i].image for i in range(len(dataset))])
    with torch.inference_mode():
        expected = spectrum_stats([model.compute_spectrum(images)])
    assert expected.mean[0] != pytest.approx(0.0, abs=0.1) and expected.std[0] != pytest.approx(1.0, abs=0.05)
    stored = model.get_spectrum_stats()
    assert stored.mean == pytest.approx(expected.mean, rel=1e-5)
    assert stored.std == pytest.approx(expected.std, rel=1e-5)
    assert meta.spectrum_stats is not None and meta.spectrum_stats.count == expected.count
    assert meta.spectrum_stats.mean == pytest.approx(expected.mean, rel=1e-5)
    # Standardised with them, the training spectra have mean 0 and std 1.
    with torch.inference_mode():
        standard = model.spectrum_input(images)
    assert abs(float(standard.mean())) < 1e-3 and float(standard.std()) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.slow
def test_training_reads_packed_shards(crops_dir: Path, tmp_path: Path) -> None:
    """``fakescan train MODEL SHARDS_DIR SHARDS_DIR``: the same crops as the crops folder, streamed
    from tar shards; the checkpoint is chosen on the packed validation split."""
    from fakescan.checkpoints import load_checkpoint
    from fakescan.data.datasets.index import read_crop_table
    from fakescan.data.loading import CropFolderDataset, make_loader
    from fakescan.data.packing import pack_shards
    from fakescan.data.transforms import EvalTransform
    from fakescan.scoring import predict_loader
    from fakescan.train.engine import _loaders

    shards = tmp_path / "shards"
    pack_shards(
        read_crop_table(crops_dir / "crops.csv"), crops_dir, shards, shard_size=16, splits=["train", "val"]
    )
    packed = load_training_data(shards, shards)
    folder = load_training_data(crops_dir, crops_dir)
    assert packed.train == folder.train and packed.val == folder.val and packed.train_shards
    assert packed.class_names == folder.class_names and packed.train_videos == folder.train_videos
    config = _config(epochs=3, data={"augment": False})
    # Each epoch streams the training crops once each, in an order of its own.
    train_loader, _ = _loaders(packed, config, EvalTransform().input_cfg)
    seen = [
        v for batch in train_loader for v in zip(batch.video_ids, batch.frame_indices.tolist(), strict=True)
    ]
    assert len(set(seen)) == len(seen) and set(seen) <= {(r.video_id, r.frame_index) for r in packed.train}
    assert len(packed.train) - config.data.batch_size < len(seen) <= len(packed.train)  # a last part dropped

    result = fit(config, packed, tmp_path / "run")
    assert result.history[-1].train_loss < result.history[0].train_loss  # it learned
    assert (tmp_path / "run/train_videos.txt").read_text().split() == folder.train_videos
    # The validation numbers of the checkpoint are those of its crops, read from the crops folder.
    model, meta = load_checkpoint(tmp_path / "run/best")
    loader = make_loader(
        CropFolderDataset(folder.val, crops_dir, EvalTransform(model.input_cfg)), 32, workers=0
    )
    predictions = predict_loader(model, loader, torch.device("cpu"))
    assert roc_auc_score(predictions.labels, predictions.scores) == pytest.approx(meta.val_metrics["auc"])
    with pytest.raises(ConfigError, match="cannot be balanced"):
        fit(_config(epochs=1, data={"balance": "weighted"}), packed, tmp_path / "run2")


def test_the_checkpoint_keeps_the_mean_spectrum_of_the_real_training_crops(
    crops_dir: Path, tmp_path: Path
) -> None:
    from fakescan.checkpoints import read_checkpoint_meta
    from fakescan.data.loading import CropFolderDataset
    from fakescan.data.transforms import EvalTransform
    from fakescan.models.output import InputConfig
    from fakescan.ops.spectrum import mean_log_spectrum
    from fakescan.train.engine import TrainingData

    full = load_training_data(crops_dir, crops_dir)
    val = [r for r in full.val if r.label == 0][::6] + [r for r in full.val if r.label == 1][::6]
    data = TrainingData(full.train[::3], val, crops_dir, crops_dir, full.class_names)
    fit(_config(epochs=1, data={"max_steps_per_epoch": 1}), data, tmp_path / "run")
    reference = read_checkpoint_meta(tmp_path / "run/best").real_log_spectrum
    real = [r for r in data.train if r.label == 0]
    assert 0 < len(real) < len(data.train) and reference is not None
    assert reference.count == len(real) and reference.image_size == SIZE
    assert reference.array().shape == (64, 64)
    # The same mean, computed here from the real crops alone, as the model sees them, in [0, 1].
    cfg = InputConfig(image_size=SIZE)
    dataset = CropFolderDataset(real, crops_dir, EvalTransform(cfg))
    images = torch.stack([dataset[i].image for i in range(len(dataset))]) * 0.5 + 0.5
    expected = mean_log_spectrum([images]).array()
    np.testing.assert_allclose(reference.array(), expected, atol=2e-3)
    # Low frequencies carry more energy than high ones in real faces.
    assert reference.array()[32, 32] > reference.array()[0, 0] + 3
    stored = json.loads((tmp_path / "run/best.json").read_text())["real_log_spectrum"]
    assert stored["count"] == len(real) and len(stored["values"]) == 64
