"""Tests of fakescan.predict; :func:`make_checkpoint` builds a small untrained checkpoint on the spot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from fakescan.checkpoints import CheckpointMeta, TrainingProvenance, save_checkpoint
from fakescan.models import create


def make_checkpoint(
    folder: Path,
    model: str = "cnn",
    image_size: int = 64,
    threshold: float = 0.5,
    seed: int = 0,
    grayscale: bool = False,
    **kwargs: object,
) -> Path:
    """Save an untrained ``model`` at ``image_size`` px as ``folder/<model>`` and return that stem."""
    torch.manual_seed(seed)
    options = {"num_classes": 1, "image_size": image_size, **kwargs}
    net = create(model, **options)
    stem = folder / model
    save_checkpoint(
        stem, net, CheckpointMeta(model=model, model_kwargs=options, threshold=threshold, grayscale=grayscale)
    )
    return stem


def make_run(
    folder: Path,
    training_data: TrainingProvenance | None,
    threshold: float = 0.4,
    face_crop: dict[str, Any] | None = None,
) -> Path:
    """A training run folder (``best.safetensors`` + ``best.json``) of an untrained 64 px CNN whose
    sidecar records ``training_data`` (and ``face_crop``, as ``fakescan import`` writes it); return
    the folder."""
    torch.manual_seed(0)
    options = {"num_classes": 1, "image_size": 64}
    meta = CheckpointMeta(
        "cnn", model_kwargs=options, threshold=threshold, training_data=training_data, face_crop=face_crop
    )
    save_checkpoint(folder / "best", create("cnn", **options), meta)
    return folder
