"""Scoring a model over batches: devices, fake probabilities from logits, and a pass over a loader.

What training's validation, ``fakescan test`` and ``fakescan predict`` share, so that none of them
imports another: :func:`resolve_device`, :func:`fake_scores` (torch) and :func:`fake_probability`
(numpy) turn logits into the fake probability (one logit: sigmoid; K class logits:
``1 − P(class 0 = real)``), and :func:`predict_loader` runs a model in eval mode over a loader of
:class:`~fakescan.data.loading.Batch` es and keeps a few numbers per crop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fakescan.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

    from fakescan.data.loading import Batch

__all__ = ["Predictions", "fake_probability", "fake_scores", "predict_loader", "resolve_device"]


def resolve_device(spec: str) -> torch.device:
    """``"auto"``: the first CUDA device when there is one, else the CPU.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {spec!r} asked for, but torch sees no CUDA device")
    return device


def fake_scores(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Fake probabilities from logits (one logit: sigmoid; K: ``1 − softmax[:, 0]``) and the softmax.

    >>> fake_scores(torch.zeros(1, 1))[0].tolist()
    [0.5]
    """
    if logits.shape[1] == 1:
        return torch.sigmoid(logits[:, 0].float()), None
    probs = torch.softmax(logits.float(), dim=1)
    return 1.0 - probs[:, 0], probs


def fake_probability(logits: np.ndarray) -> np.ndarray:
    """Fake probability per row of ``B×1`` logits (sigmoid) or ``B×K`` class logits (1 − P(class 0 = real)).

    >>> fake_probability(np.array([[0.0], [100.0]])).tolist()
    [0.5, 1.0]
    >>> fake_probability(np.array([[0.0, 0.0, 0.0]])).round(4).tolist()
    [0.6667]
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[1] < 1:
        raise ValueError(f"expected B×1 or B×K logits, got shape {logits.shape}")
    if logits.shape[1] == 1:
        return 0.5 * (1.0 + np.tanh(0.5 * logits[:, 0]))  # a sigmoid that never overflows
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return 1.0 - exp[:, 0] / exp.sum(axis=1)


@dataclass(frozen=True)
class Predictions:
    """Scores of a pass over a loader, one row per crop.

    Attributes:
        scores: fake probability (``1 − p(real)`` for a K-class model).
        probs: ``N×K`` class probabilities for a K-class model, else None.
        labels, class_labels: the truth.
        video_ids, frame_indices: where each crop comes from.
        loss: mean of the ``loss`` given to :func:`predict_loader` (NaN when none was given).
    """

    scores: np.ndarray
    probs: np.ndarray | None
    labels: np.ndarray
    class_labels: np.ndarray
    video_ids: list[str]
    frame_indices: np.ndarray
    loss: float


BatchLoss = Callable[[torch.Tensor, "Batch"], torch.Tensor]
"""``(logits, batch) → mean loss of the batch`` (training passes its classification loss)."""


@torch.inference_mode()
def predict_loader(
    model: nn.Module, loader: Any, device: torch.device, loss: BatchLoss | None = None
) -> Predictions:
    """Run ``model`` in eval mode over ``loader`` and collect scores; memory grows by a few numbers
    per crop only.

    Args:
        loader: yields :class:`~fakescan.data.loading.Batch` es.
        loss: if given, the mean of this batch loss over all crops becomes ``Predictions.loss``.

    Raises:
        ConfigError: the loader yielded no crop.
    """
    model.eval()
    scores, probs, labels, classes, frames = [], [], [], [], []
    video_ids: list[str] = []
    loss_sum, count = 0.0, 0
    for cpu_batch in loader:
        batch = cpu_batch.to(device, non_blocking=True)
        logits = model(batch.images)
        if loss is not None:
            loss_sum += loss(logits.float(), batch).item() * len(batch)
        count += len(batch)
        score, prob = fake_scores(logits)
        scores.append(score.cpu().numpy())
        if prob is not None:
            probs.append(prob.cpu().numpy())
        labels.append(batch.labels.cpu().numpy())
        classes.append(batch.class_labels.cpu().numpy())
        frames.append(batch.frame_indices.cpu().numpy())
        video_ids.extend(batch.video_ids)
    if count == 0:
        raise ConfigError("the evaluation data yielded no crops")
    return Predictions(
        scores=np.concatenate(scores),
        probs=np.concatenate(probs) if probs else None,
        labels=np.concatenate(labels),
        class_labels=np.concatenate(classes),
        video_ids=video_ids,
        frame_indices=np.concatenate(frames),
        loss=loss_sum / count if loss is not None else math.nan,
    )
