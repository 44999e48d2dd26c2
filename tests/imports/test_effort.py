"""``fakescan import effort`` and fakescan's Effort model against the reference detector's numbers.

The fixture ``tests/fixtures/imports/effort.json`` is written by ``make_effort.py`` in that folder,
which runs github:YZY-stack/Effort-AIGI-Detection's ``effort_detector.py`` on a tiny CLIP tower.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fakescan.errors import CheckpointMismatchError
from tests.imports._parity import TOLERANCE, check_parity, load_fixture, sample_crops, seeded_state

transformers = pytest.importorskip("transformers")


def test_effort_import_matches_the_reference(samples: Path, tmp_path: Path) -> None:
    check_parity("effort", samples, tmp_path)
    from fakescan.checkpoints import read_checkpoint_meta

    meta = read_checkpoint_meta(tmp_path / "imported" / "best")
    fixture = load_fixture("effort")
    vision_config = meta.model_kwargs["vision_config"]
    assert vision_config == {**vision_config, **fixture["vision_config"]}  # inferred from the shapes
    assert meta.model_kwargs["decompose"] is False and meta.input_cfg.image_size == fixture["size"]
    assert meta.source["licence"].startswith("CC BY-NC 4.0") and meta.source["fake_index"] == 1


def test_the_svd_split_and_regularisers_match_the_reference(samples: Path) -> None:
    """The same CLIP weights, split by fakescan's SVD and by the reference's, then changed alike."""
    from fakescan.data.transforms import EvalTransform
    from fakescan.models.effort import Effort, SVDResidualLinear, clip_vision_config, effort_losses

    fixture = load_fixture("effort")
    case = fixture["svd"]
    backbone = transformers.CLIPVisionModel(clip_vision_config(fixture["vision_config"]))
    backbone.load_state_dict(seeded_state(case["keys"], case["seed"]))
    model = Effort(backbone, num_classes=2).eval()
    generator = torch.Generator().manual_seed(case["head_seed"])
    with torch.no_grad():
        model.head.weight.copy_(torch.randn(model.head.weight.shape, generator=generator) * 0.5)
        model.head.bias.copy_(torch.randn(model.head.bias.shape, generator=generator) * 0.1)
        for layer in model.modules():
            if isinstance(layer, SVDResidualLinear):
                layer.S_residual.fill_(case["s_value"])
                layer.U_residual.mul_(case["uv_scale"])
                layer.V_residual.mul_(case["uv_scale"])
    pixels = sample_crops(samples, fixture["crops"], fixture["size"])
    transform = EvalTransform(model.input_cfg)
    with torch.no_grad():
        logits = model(torch.stack([transform(p).image for p in pixels])).double().numpy()
        losses = effort_losses(model)
    assert np.abs(logits - np.asarray(case["logits"])).max() <= TOLERANCE
    assert losses["orthogonality"].item() == pytest.approx(case["orthogonality"], abs=1e-4)
    assert losses["singular_value"].item() == pytest.approx(case["singular_value"], rel=1e-4, abs=1e-4)
    assert case["orthogonality"] > 0.1 and case["singular_value"] > 0.1  # both cases are non-trivial


def test_a_checkpoint_of_another_family_is_one_line(tmp_path: Path) -> None:
    from fakescan.imports import import_checkpoint

    path = tmp_path / "other.pth"
    torch.save({"backbone.conv1.weight": torch.zeros(3, 3, 3, 3), "head.weight": torch.zeros(2, 8)}, path)
    with pytest.raises(
        CheckpointMismatchError,
        match=r"other\.pth: missing key 'backbone\.embeddings\.patch_embedding\.weight'",
    ):
        import_checkpoint("effort", path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
