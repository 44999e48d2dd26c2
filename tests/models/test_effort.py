"""fakescan.models.effort: the SVD split, what trains, the two regularisers, local CLIP folders.

Every model here is a tiny randomly initialised CLIP vision tower (2 layers of width 32, 3×3
patches of 16 px at 48 px); nothing is downloaded.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import pytest
import torch

from fakescan.errors import CheckpointMismatchError, ConfigError, InputError
from fakescan.models import create
from fakescan.models.effort import CLIP_MEAN, Effort, SVDResidualLinear, effort_losses, read_clip_folder
from fakescan.models.output import DetectorOutput
from tests.models import TINY_CLIP as TINY

transformers = pytest.importorskip("transformers")


TRAINABLE = ("U_residual", "S_residual", "V_residual")


def tiny_backbone(seed: int = 0) -> transformers.CLIPVisionModel:
    torch.manual_seed(seed)
    config = transformers.CLIPVisionConfig(**TINY)
    return transformers.CLIPVisionModel(config).eval()


def tiny_effort(num_classes: int = 1, seed: int = 0, **options: object) -> Effort:
    torch.manual_seed(seed)
    return create("effort", num_classes=num_classes, vision_config=TINY, **options)


def is_trainable(name: str) -> bool:
    return name.startswith("head.") or name.rsplit(".", 1)[-1] in TRAINABLE


def test_shapes_preprocessing_and_aux() -> None:
    model = tiny_effort(num_classes=2).eval()
    assert model.input_cfg.image_size == 48 and model.input_cfg.mean == CLIP_MEAN
    images = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        output = model(images, return_aux=True)
        single = model(images[:1])
    assert isinstance(output, DetectorOutput) and output.logits.shape == (2, 2) and single.shape == (1, 2)
    torch.testing.assert_close(single, output.logits[:1], atol=1e-5, rtol=0)
    assert output.aux["features"].shape == (2, 32, 3, 3) and output.aux["pooled"].shape == (2, 32)
    assert output.aux["orthogonality"].shape == () and output.aux["singular_value"].shape == ()
    layers = [m for m in model.modules() if isinstance(m, SVDResidualLinear)]
    assert len(layers) == 2 * 4  # q, k, v, out of each layer
    assert all(layer.S_residual.numel() == 1 and layer.S_r.numel() == 31 for layer in layers)


def test_the_split_reconstructs_every_attention_weight_and_the_plain_clip_output() -> None:
    backbone = tiny_backbone()
    images = torch.randn(3, 3, 48, 48)
    with torch.no_grad():
        pooled = backbone(pixel_values=images).pooler_output
    originals = {
        name: (module.weight.detach().clone(), module.bias.detach().clone())
        for name, module in backbone.named_modules()
        if name.endswith(("q_proj", "k_proj", "v_proj", "out_proj"))
    }
    model = Effort(backbone, num_classes=0).eval()
    for name, module in model.backbone.named_modules():
        if isinstance(module, SVDResidualLinear):
            weight, bias = originals.pop(name)
            torch.testing.assert_close(module.merged_weight(), weight, atol=1e-5, rtol=0)
            torch.testing.assert_close(module.weight_main, module.U_r @ torch.diag(module.S_r) @ module.V_r)
            assert torch.equal(module.bias, bias)
            assert module.S_residual.item() <= module.S_r.min().item()  # the smallest singular value
    assert not originals
    with torch.no_grad():
        torch.testing.assert_close(model(images), pooled, atol=1e-5, rtol=0)


def test_only_the_residual_and_the_head_get_gradients() -> None:
    model = tiny_effort().train()
    output = model(torch.randn(2, 3, 48, 48), return_aux=True)
    (output.logits.sum() + output.aux["orthogonality"] + output.aux["singular_value"]).backward()
    for name, parameter in model.named_parameters():
        assert parameter.requires_grad == is_trainable(name), name
        assert (parameter.grad is not None) == is_trainable(name), name
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == 8 * (32 + 1 + 32) + 33  # 8 rank-1 residuals and the 1-logit head


def test_the_regularisers_start_at_zero_grow_with_the_residual_and_have_gradients() -> None:
    model = tiny_effort()
    losses = effort_losses(model)
    assert losses["orthogonality"].item() < 1e-5 and losses["singular_value"].item() < 1e-4
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, SVDResidualLinear):
                for factor in (layer.U_residual, layer.S_residual, layer.V_residual):
                    factor.add_(0.1 * torch.randn(factor.shape, generator=generator))
    for key in ("orthogonality", "singular_value"):
        model.zero_grad()
        loss = effort_losses(model)[key]
        assert torch.isfinite(loss) and loss.item() > 1e-3, key
        loss.backward()
        for name, parameter in model.named_parameters():
            if name.rsplit(".", 1)[-1] in ("U_residual", "V_residual"):
                assert parameter.grad is not None and parameter.grad.abs().sum() > 0, (key, name)


def test_the_orthogonality_loss_is_the_full_gram_form() -> None:
    """The block form equals ``½‖ÛÛᵀ − I‖ + ½‖V̂ᵀV̂ − I‖`` of the concatenated factors."""
    layer = next(m for m in tiny_effort().modules() if isinstance(m, SVDResidualLinear))
    with torch.no_grad():
        layer.U_residual.add_(0.2)
        layer.V_residual.mul_(1.5)
    u = torch.cat([layer.U_r, layer.U_residual], dim=1).double()
    v = torch.cat([layer.V_r, layer.V_residual], dim=0).double()
    eye = torch.eye(32, dtype=torch.float64)
    full = 0.5 * torch.linalg.matrix_norm(u @ u.T - eye) + 0.5 * torch.linalg.matrix_norm(v @ v.T - eye)
    assert abs(layer.orthogonality_loss().item() - full.item()) < 1e-4


def test_rebuilt_from_its_init_kwargs_and_state_it_gives_the_same_logits() -> None:
    model = tiny_effort(num_classes=2).eval()
    kwargs = model.init_kwargs()
    assert kwargs["decompose"] is False and kwargs["vision_config"]["hidden_size"] == 32
    json.dumps(kwargs)  # what a sidecar records
    torch.manual_seed(5)
    rebuilt = create("effort", num_classes=2, **kwargs).eval()
    assert all(
        not p.any() for n, p in rebuilt.named_parameters() if n.endswith(("weight_main", "U_r"))
    )  # nothing decomposed
    rebuilt.load_state_dict(model.state_dict())
    images = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        assert torch.equal(rebuilt(images), model(images))


def test_a_local_clip_folder_is_read_without_a_download(tmp_path: Path) -> None:
    """A full CLIPModel folder (text tower and projections beside the vision tower), as published."""
    torch.manual_seed(0)
    config = transformers.CLIPConfig(
        vision_config=TINY,
        text_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
        },
        projection_dim=8,
    )
    transformers.CLIPModel(config).save_pretrained(tmp_path / "clip")
    architecture, state = read_clip_folder(tmp_path / "clip")
    assert architecture["hidden_size"] == 32 and architecture["patch_size"] == 16
    assert "encoder.layers.0.self_attn.q_proj.weight" in state and not any("text" in k for k in state)

    model = create("effort", num_classes=1, pretrained=tmp_path / "clip")
    assert model.vision_config() == {**model.vision_config(), **TINY}
    split = model.backbone.encoder.layers[1].self_attn.v_proj
    torch.testing.assert_close(
        split.merged_weight(), state["encoder.layers.1.self_attn.v_proj.weight"], atol=1e-5, rtol=0
    )

    resized = create("effort", num_classes=1, pretrained=tmp_path / "clip", image_size=64)
    assert resized.input_cfg.image_size == 64
    assert resized.backbone.embeddings.position_embedding.weight.shape == (1 + 4 * 4, 32)
    assert resized(torch.randn(1, 3, 64, 64)).shape == (1, 1)


def test_bad_clip_folders_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a folder"):
        read_clip_folder(tmp_path / "missing")
    backbone = tiny_backbone()
    backbone.save_pretrained(tmp_path / "vision")
    (tmp_path / "vision" / "model.safetensors").rename(tmp_path / "vision" / "weights.bin")
    with pytest.raises(InputError, match=r"no model\.safetensors here"):
        read_clip_folder(tmp_path / "vision")
    backbone.save_pretrained(tmp_path / "other")
    document = json.loads((tmp_path / "other" / "config.json").read_text())
    (tmp_path / "other" / "config.json").write_text(json.dumps({**document, "hidden_size": 48}))
    with pytest.raises(CheckpointMismatchError, match=r"embeddings\.class_embedding"):
        create("effort", pretrained=tmp_path / "other")


def test_without_transformers_one_line_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ConfigError, match=r"pip install fakescan\[clip\]"):
        create("effort", vision_config=TINY)


def test_bad_options_are_clear() -> None:
    with pytest.raises(ConfigError, match="no key 'hidden'"):
        create("effort", vision_config={"hidden": 32})
    with pytest.raises(ConfigError, match="residual_rank"):
        create("effort", vision_config=TINY, residual_rank=32)


@pytest.mark.slow
def test_train_from_a_clip_folder_moves_only_the_residual_and_head_then_exports(
    crops_dir: Path, tmp_path: Path
) -> None:
    """``fakescan train effort --backbone-weights DIR`` on real face crops, then ``fakescan export``."""
    from safetensors.torch import load_file
    from typer.testing import CliRunner

    from fakescan.checkpoints import load_checkpoint, read_checkpoint_meta
    from fakescan.cli import app

    folder = tmp_path / "clip"
    tiny_backbone().save_pretrained(folder)
    start = create("effort", num_classes=1, pretrained=folder).state_dict()
    run = tmp_path / "run"
    args = ["train", "effort", crops_dir, crops_dir, "--out", run, "--backbone-weights", folder]
    args += ["--image-size", "48", "--epochs", "2", "--batch-size", "16", "--lr", "1e-2", "--workers", "0"]
    trained = CliRunner().invoke(app, [str(a) for a in args])
    assert trained.exit_code == 0, trained.output

    with open(run / "log.csv", newline="") as handle:
        losses = [float(row["train_loss"]) for row in csv.DictReader(handle)]
    assert len(losses) == 2 and all(map(math.isfinite, losses)) and losses[1] != losses[0]
    best = load_file(run / "best.safetensors")
    assert set(best) == set(start)
    moved = {key for key in start if not torch.equal(best[key], start[key])}
    trainable = {key for key in start if is_trainable(key.removeprefix("backbone."))}
    assert moved <= trainable and {k for k in moved if "residual" in k} and {"head.weight"} <= moved

    meta = read_checkpoint_meta(run / "best")
    assert "pretrained" not in meta.model_kwargs and meta.model_kwargs["decompose"] is False
    assert meta.model_kwargs["vision_config"]["hidden_size"] == 32
    for path in folder.iterdir():  # the checkpoint alone rebuilds the model
        path.unlink()
    model, _ = load_checkpoint(run / "best")
    assert model(torch.zeros(1, 3, 48, 48)).shape == (1, 1)

    pytest.importorskip("onnxscript")
    exported = CliRunner().invoke(app, ["export", str(run / "best"), "--onnx", str(tmp_path / "e.onnx")])
    lines = [line for line in exported.stderr.splitlines() if line.strip()] if exported.exit_code else []
    assert exported.exit_code == 0 or (len(lines) == 1 and lines[0].startswith("error: cannot export")), (
        exported.output
    )
    if exported.exit_code == 0:
        sidecar = json.loads((tmp_path / "e.json").read_text())
        assert sidecar["onnx"]["max_abs_diff"] <= 1e-4
