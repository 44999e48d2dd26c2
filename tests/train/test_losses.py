"""Tests of fakescan.train.losses against values worked out by hand on tiny tensors."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from fakescan.models.output import DetectorOutput
from fakescan.train.losses import (
    METRIC_FEATURE_KEYS,
    LossWeights,
    classification_loss,
    detector_loss,
    metric_loss,
    reconstruction_loss,
)


def test_binary_cross_entropy_by_hand() -> None:
    logits, labels = torch.tensor([[0.0], [2.0]]), torch.tensor([0, 1])
    expected = (math.log(2) + math.log(1 + math.exp(-2))) / 2
    assert classification_loss(logits, labels).item() == pytest.approx(expected, rel=1e-6)


def test_binary_loss_with_a_batch_of_one() -> None:
    loss = classification_loss(torch.tensor([[-1.0]]), torch.tensor([0]))
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)


def test_cross_entropy_by_hand() -> None:
    logits, labels = torch.tensor([[0.0, 0.0, 0.0], [math.log(2), 0.0, 0.0]]), torch.tensor([2, 0])
    expected = (math.log(3) + math.log(4 / 2)) / 2
    assert classification_loss(logits, labels).item() == pytest.approx(expected, rel=1e-6)


def test_flooding() -> None:
    logits, labels = torch.zeros(2, 1), torch.tensor([0, 1])
    plain = math.log(2)
    assert classification_loss(logits, labels, flooding=0.04).item() == pytest.approx(plain, rel=1e-6)
    # Below the flood level b the loss is reflected: |L − b| + b = 2b − L.
    assert classification_loss(logits, labels, flooding=1.0).item() == pytest.approx(2 - plain, rel=1e-6)


def test_classification_refuses_bad_shapes() -> None:
    with pytest.raises(ValueError, match="logits"):
        classification_loss(torch.zeros(2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="logits"):
        classification_loss(torch.zeros(3, 1), torch.tensor([0, 1]))


def test_reconstruction_counts_real_samples_only() -> None:
    images = torch.zeros(2, 3, 2, 2)
    reconstruction = torch.zeros(2, 3, 2, 2)
    reconstruction[0, 0, 0, 0] = 1.2  # the real sample: one error of 1.2 over 12 values
    reconstruction[1] = 0.9  # the fake sample: ignored
    labels = torch.tensor([0, 1])
    assert reconstruction_loss(reconstruction, images, labels).item() == pytest.approx(0.1, rel=1e-6)
    reconstruction[1] = -0.5
    assert reconstruction_loss(reconstruction, images, labels).item() == pytest.approx(0.1, rel=1e-6)


def test_reconstruction_treats_every_nonzero_class_as_fake() -> None:
    images, reconstruction = torch.zeros(2, 1, 1, 1), torch.tensor([0.5, 7.0]).reshape(2, 1, 1, 1)
    assert reconstruction_loss(reconstruction, images, torch.tensor([0, 3])).item() == pytest.approx(0.5)


def test_reconstruction_without_real_samples_is_zero_on_the_graph() -> None:
    reconstruction = torch.full((2, 3, 2, 2), float("inf"), requires_grad=True)
    loss = reconstruction_loss(reconstruction, torch.zeros(2, 3, 2, 2), torch.tensor([1, 1]))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert reconstruction.grad is not None
    assert torch.equal(reconstruction.grad, torch.zeros_like(reconstruction))


def test_metric_loss_by_hand() -> None:
    # real (1, 0), real (0, 1), fake (1, 0): s(real, real′) = (1 + 0)/2 = 0.5;
    # s(real, fake) = 1 and 0.5, mean 0.75; loss = 1 − 0.5 + 0.75.
    features = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert metric_loss([features], torch.tensor([0, 0, 1])).item() == pytest.approx(1.25)


def test_metric_loss_is_clipped_at_zero_and_pools_maps() -> None:
    # Identical reals, an opposite fake: 1 − 1 + 0 = 0. Constant 2×2 maps pool to the same vectors.
    vectors = torch.tensor([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0]])
    maps = vectors[:, :, None, None].expand(-1, -1, 2, 2)
    assert metric_loss([maps], torch.tensor([0, 0, 1])).item() == pytest.approx(0.0, abs=1e-7)


def test_metric_loss_sums_over_maps_as_the_reference_does() -> None:
    labels = torch.tensor([0, 0, 1])
    first = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])  # 1.25
    second = torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])  # 0
    assert metric_loss([first, second], labels).item() == pytest.approx(1.25)
    # Three maps, each weighted 0.1 in the total (RECCE: 0.1 · Σ over its three maps).
    aux = {key: first for key in METRIC_FEATURE_KEYS}
    total, parts = detector_loss(DetectorOutput(torch.zeros(3, 1), aux), torch.zeros(3, 3, 2, 2), labels)
    assert parts["metric"] == pytest.approx(3 * 1.25)
    assert total.item() == pytest.approx(math.log(2) + 0.1 * 3 * 1.25, rel=1e-6)


@pytest.mark.parametrize("labels", [[0, 1, 1], [0, 0, 0], [2, 1, 1]])
def test_metric_loss_undefined_is_zero(labels: list[int]) -> None:
    features = torch.randn(3, 4, requires_grad=True)
    loss = metric_loss([features], torch.tensor(labels))
    assert loss.item() == 0.0
    loss.backward()


def test_metric_loss_has_gradients() -> None:
    features = torch.randn(4, 5, 2, 2, requires_grad=True)
    metric_loss([features], torch.tensor([0, 0, 1, 2])).backward()
    assert features.grad is not None and features.grad.abs().sum() > 0


def test_detector_loss_for_a_plain_classifier() -> None:
    output = DetectorOutput(torch.zeros(2, 1), {"features": torch.randn(2, 8, 2, 2)})
    total, parts = detector_loss(output, torch.zeros(2, 3, 4, 4), torch.tensor([0, 1]))
    assert set(parts) == {"classification", "total"}
    assert total.item() == pytest.approx(math.log(2), rel=1e-6)


def test_detector_loss_adds_the_weighted_terms() -> None:
    images, labels = torch.zeros(3, 3, 2, 2), torch.tensor([0, 0, 1])
    aux = {
        "reconstruction": torch.full((3, 3, 2, 2), 0.5),
        "embedding": torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]),
    }
    output = DetectorOutput(torch.zeros(3, 1), aux)
    weights = LossWeights(reconstruction=0.2, metric=0.4, flooding=1.0)
    total, parts = detector_loss(output, images, labels, weights)
    classification = 2 - math.log(2)  # flooded
    assert parts["classification"] == pytest.approx(classification, rel=1e-6)
    assert parts["reconstruction"] == pytest.approx(0.5)
    assert parts["metric"] == pytest.approx(1.25)
    expected = classification + 0.2 * 0.5 + 0.4 * 1.25
    assert total.item() == pytest.approx(expected, rel=1e-6)
    assert parts["total"] == pytest.approx(expected, rel=1e-6)


def test_loss_weights_are_frozen_with_recce_defaults() -> None:
    weights = LossWeights()
    assert (weights.reconstruction, weights.metric, weights.flooding) == (0.1, 0.1, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        weights.metric = 1.0  # type: ignore[misc]
