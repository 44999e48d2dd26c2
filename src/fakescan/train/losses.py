"""Training losses, as pure functions of a model's output and the batch.

The three terms are those of RECCE (Cao et al., "End-to-End Reconstruction-Classification Learning for
Face Forgery Detection", CVPR 2022): a classification loss (here with optional "flooding", Ishida et
al., ICML 2020, which the RECCE code applies with b = 0.04), a reconstruction loss on real faces only,
and a metric loss that pulls real faces together and pushes fakes away in three feature spaces. The
reference total is ``classification + 0.1·reconstruction + 0.1·metric``, the metric term being the sum
of the three maps' losses (so each map weighs 0.1).

Models whose regularisers depend on their weights return them as scalars in ``aux``: Effort (Yan et
al., ICML 2025; :mod:`fakescan.models.effort`) returns its orthogonality and singular-value losses
(:data:`REGULARISER_KEYS`), added with weight 1 each.

Labels: ``0`` = real, ``1`` = fake; with K classes, class 0 is real and every other class is fake.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from fakescan.models.output import DetectorOutput

__all__ = [
    "METRIC_FEATURE_KEYS",
    "REGULARISER_KEYS",
    "LossWeights",
    "classification_loss",
    "detector_loss",
    "metric_loss",
    "reconstruction_loss",
]

METRIC_FEATURE_KEYS: tuple[str, ...] = ("embedding", "decoder_d2", "decoder_d4")
"""``DetectorOutput.aux`` keys whose maps enter the metric loss (RECCE's encoder embedding and two
decoder maps); any subset present is used."""

REGULARISER_KEYS: tuple[str, ...] = ("orthogonality", "singular_value")
"""``DetectorOutput.aux`` keys of scalar losses a model computes from its own weights (Effort's),
each added with its :class:`LossWeights` weight of the same name."""


def _empty_sum(tensor: torch.Tensor) -> torch.Tensor:
    """An exact 0 that is still attached to ``tensor``'s graph (and is never NaN, whatever it holds)."""
    return tensor.flatten()[:0].sum()


def classification_loss(
    logits: torch.Tensor, labels: torch.Tensor, flooding: float | None = None
) -> torch.Tensor:
    """BCE-with-logits for ``B×1`` logits, cross-entropy for ``B×K``; mean over the batch.

    With ``flooding = b`` the loss becomes ``|L − b| + b``: below ``b`` the gradient ascends, which
    keeps the training loss from reaching zero (RECCE trains with b = 0.04).

    Args:
        logits: ``B×1`` (positive = fake) or ``B×K`` (class 0 = real).
        labels: ``B`` integers (0 = real, 1 = fake; or the class index).
        flooding: the flood level ``b``, or None for the plain loss.

    >>> round(classification_loss(torch.zeros(2, 1), torch.tensor([0, 1])).item(), 4)  # ln 2
    0.6931
    >>> round(classification_loss(torch.zeros(2, 1), torch.tensor([0, 1]), flooding=1.0).item(), 4)
    1.3069
    """
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(
            f"expected B×K logits and B labels, got {tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    if logits.shape[1] == 1:
        loss = F.binary_cross_entropy_with_logits(logits[:, 0], labels.to(logits.dtype))
    else:
        loss = F.cross_entropy(logits, labels.long())
    if flooding is not None:
        loss = (loss - flooding).abs() + flooding
    return loss


def reconstruction_loss(
    reconstruction: torch.Tensor, images: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Mean absolute error between reconstruction and input over the real samples only (RECCE).

    The decoder learns to reproduce real faces; fakes contribute nothing, so their reconstructions
    stay free to fail. A batch with no real sample gives exactly 0 (still on the graph).

    Args:
        reconstruction, images: ``B×3×H×W`` in the same range (``[-1, 1]`` for fakescan models);
            ``images`` is the clean input, without the model's training noise.
        labels: ``B`` integers, 0 = real.

    >>> recon, images = torch.zeros(2, 1, 1, 2), torch.tensor([[[[1.0, 3.0]]], [[[9.0, 9.0]]]])
    >>> reconstruction_loss(recon, images, torch.tensor([0, 1])).item()  # only the real one: (1 + 3) / 2
    2.0
    """
    if reconstruction.shape != images.shape:
        raise ValueError(f"reconstruction {tuple(reconstruction.shape)} ≠ images {tuple(images.shape)}")
    real = labels == 0
    error = (reconstruction[real] - images[real]).abs()
    return error.mean() if error.numel() else _empty_sum(error)


def _similarity(features: torch.Tensor) -> torch.Tensor:
    """``B×…`` → ``B×B`` cosine similarities of the pooled, L2-normalised features, mapped to [0, 1]."""
    pooled = features.mean(dim=tuple(range(2, features.dim()))) if features.dim() > 2 else features
    unit = F.normalize(pooled.flatten(start_dim=1), p=2, dim=1)
    return (1 + unit @ unit.T) / 2


def metric_loss(features: Sequence[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    """RECCE's metric loss, summed over the given feature maps (as the reference sums its three, each
    then weighted by λ₂ = 0.1 in the total: :func:`detector_loss`).

    For each map: global average pool (maps ``B×C×H×W``; ``B×C`` vectors are used as they are),
    L2-normalise, similarity ``s = (1 + cos)/2`` in ``[0, 1]``, and
    ``max(0, 1 − mean s(real, real′) + mean s(real, fake))`` over distinct real pairs and all
    real–fake pairs. Undefined — fewer than two reals, or no fake, in the batch — means exactly 0:
    such a batch trains the attention network without its metric term. ``--balance weighted``
    draws every training batch half real, half fake
    (:class:`~fakescan.data.loading.ClassBalancedSampler`), so batches of 4 or more always have it.

    Args:
        features: one or more ``B×…`` tensors (RECCE: the embedding and decoder maps d2, d4).
        labels: ``B`` integers, 0 = real, anything else fake.

    >>> feats = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])  # real, real, fake
    >>> metric_loss([feats], torch.tensor([0, 0, 1])).item()  # 1 − 0.5 + (1 + 0.5) / 2
    1.25
    """
    if not features:
        raise ValueError("metric_loss needs at least one feature map")
    real = labels == 0
    n_real = int(real.sum())
    if n_real < 2 or n_real == labels.numel():
        return _empty_sum(features[0])
    off_diagonal = ~torch.eye(n_real, dtype=torch.bool, device=labels.device)
    losses = []
    for feature in features:
        rows = _similarity(feature)[real]
        same = rows[:, real][off_diagonal].mean()
        other = rows[:, ~real].mean()
        losses.append(F.relu(1 - same + other))
    return torch.stack(losses).sum()


@dataclass(frozen=True)
class LossWeights:
    """Weights of the auxiliary terms (RECCE's λ₁, λ₂; Effort's orthogonality and singular-value
    losses) and the optional flood level."""

    reconstruction: float = 0.1
    metric: float = 0.1
    flooding: float | None = None
    orthogonality: float = 1.0
    singular_value: float = 1.0


def detector_loss(
    output: DetectorOutput, images: torch.Tensor, labels: torch.Tensor, weights: LossWeights | None = None
) -> tuple[torch.Tensor, dict[str, float]]:
    """The total training loss of any fakescan model, and its parts for logging.

    Classification always; ``+ weights.reconstruction · reconstruction_loss`` when ``output.aux`` has
    ``"reconstruction"``; ``+ weights.metric · metric_loss`` over the :data:`METRIC_FEATURE_KEYS`
    present; ``+ weight · aux[key]`` for each of the :data:`REGULARISER_KEYS` present (Effort). So plain
    classifiers get plain classification, the attention network the RECCE total, and Effort
    classification plus its orthogonality and singular-value losses.

    Args:
        output: the model's ``forward(x, return_aux=True)``.
        images: the clean input batch ``B×3×H×W``.
        labels: ``B`` integers, 0 = real.
        weights: term weights (default :class:`LossWeights`).

    Returns:
        The scalar total, and a dict of floats: ``"classification"``, ``"total"`` and, where computed,
        ``"reconstruction"``, ``"metric"``, ``"orthogonality"`` and ``"singular_value"`` (unweighted).

    >>> out = DetectorOutput(torch.zeros(2, 1), {"reconstruction": torch.zeros(2, 3, 2, 2)})
    >>> total, parts = detector_loss(out, torch.ones(2, 3, 2, 2), torch.tensor([0, 1]))
    >>> sorted(parts), round(parts["total"], 4)  # ln 2 + 0.1 · 1
    (['classification', 'reconstruction', 'total'], 0.7931)
    """
    weights = weights or LossWeights()
    classification = classification_loss(output.logits, labels, weights.flooding)
    total = classification
    parts = {"classification": classification.item()}
    if "reconstruction" in output.aux:
        reconstruction = reconstruction_loss(output.aux["reconstruction"], images, labels)
        total = total + weights.reconstruction * reconstruction
        parts["reconstruction"] = reconstruction.item()
    metric_features = [output.aux[key] for key in METRIC_FEATURE_KEYS if key in output.aux]
    if metric_features:
        metric = metric_loss(metric_features, labels)
        total = total + weights.metric * metric
        parts["metric"] = metric.item()
    for key in REGULARISER_KEYS:
        if key in output.aux:
            total = total + getattr(weights, key) * output.aux[key]
            parts[key] = output.aux[key].item()
    parts["total"] = total.item()
    return total, parts
