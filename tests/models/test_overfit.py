"""Every model learns: it overfits a small batch of real face crops against manipulated copies.

The real crops come from the real sample videos, through ``fakescan extract``. The fakes are the
same crops with the face region re-synthesised (:func:`tests.fakes.resynthesise_face`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fakescan.data.extract import ExtractConfig, run_extraction
from fakescan.data.images import read_image
from fakescan.models import create
from fakescan.train.losses import detector_loss
from tests.fakes import resynthesise_face

SIZE = 128


@pytest.fixture(scope="module")
def face_batch(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.Tensor, torch.Tensor]:
    """8 real face crops (two videos) and their 8 manipulated copies, normalised to [-1, 1]."""
    out = tmp_path_factory.mktemp("crops")
    videos = [samples / "videos/WolfgangLanger_Pexels.mp4", samples / "videos/single_face.mp4"]
    report = run_extraction(videos, out, ExtractConfig(frames=4, size=SIZE))
    reals = [read_image(out / row.crop) for row in report.rows if row.crop]
    assert len(reals) == 8
    rng = np.random.default_rng(0)
    fakes = [resynthesise_face(crop, rng) for crop in reals]
    images = torch.from_numpy(np.stack(reals + fakes)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    labels = torch.tensor([0] * len(reals) + [1] * len(fakes))
    return images, labels


def test_fakes_differ_from_reals_only_around_the_face() -> None:
    crop = np.random.default_rng(1).integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
    fake = resynthesise_face(crop, np.random.default_rng(2))
    changed = np.abs(fake.astype(int) - crop.astype(int)).sum(axis=2) > 3
    assert changed[SIZE // 2, SIZE // 2] and not changed[:8, :8].any() and not changed[-8:, -8:].any()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "steps", "lr"),
    [("cnn", 60, 3e-3), ("xception", 25, 1e-3), ("attention_net", 25, 1e-3), ("mdcsd", 25, 1e-3)],
)
def test_model_overfits_real_versus_manipulated_faces(face_batch, name: str, steps: int, lr: float) -> None:
    torch.manual_seed(0)
    images, labels = face_batch
    model = create(name, num_classes=1, image_size=SIZE).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    history: list[float] = []
    for _ in range(steps):
        output = model(images, return_aux=True)
        loss, _ = detector_loss(output, images, labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        history.append(((output.logits[:, 0] > 0).long() == labels).float().mean().item())
        if len(history) >= 2 and min(history[-2:]) >= 0.95:
            break  # learned: two steps in a row classify (nearly) every sample right
    print(f"{name}: training accuracy {history[-1]:.2f} after {len(history)} steps, loss {loss.item():.3f}")
    assert min(history[-2:]) >= 0.95, f"{name} did not fit the batch: accuracy by step {history}"
