"""fakescan.predict.export and ``predict --backend onnx``: parity with PyTorch on the sample media."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from fakescan.cli import app
from fakescan.data.extract import ExtractConfig, MediaItem, iter_frame_faces
from fakescan.data.faces import create_detector
from fakescan.errors import ConfigError
from fakescan.predict import PredictConfig, load_predictor, run_prediction
from fakescan.predict.export import export_onnx
from tests.predict import make_checkpoint

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

FOUR = PredictConfig(extract=ExtractConfig(frames=4))


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("name", ["cnn", "xception", "efficientnet_b0"])
def test_export_matches_pytorch_on_sample_media(name: str, samples: Path, tmp_path: Path) -> None:
    checkpoint = make_checkpoint(tmp_path, name, image_size=64, threshold=0.42)
    out = tmp_path / "onnx" / f"{name}.onnx"
    done = invoke("export", checkpoint, "--onnx", out)
    assert done.exit_code == 0, done.output
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert (
        sidecar["model"] == name and sidecar["threshold"] == 0.42 and sidecar["onnx"]["max_abs_diff"] <= 1e-4
    )

    onnx_predictor = load_predictor(out, backend="onnx")
    assert onnx_predictor.threshold == 0.42 and onnx_predictor.input_cfg.image_size == 64
    torch_predictor = load_predictor(checkpoint)
    if name == "cnn":  # the whole pipeline, both backends
        inputs = [samples / "videos/single_face.mp4", samples / "images/obama.jpg"]
        torch_run = run_prediction(inputs, torch_predictor, FOUR).predictions
        onnx_run = run_prediction(inputs, onnx_predictor, FOUR).predictions
        for a, b in zip(torch_run, onnx_run, strict=True):
            assert a.verdict == b.verdict and a.frames_used == b.frames_used > 0
            pa = np.array([f.probability for f in a.frames])
            pb = np.array([f.probability for f in b.frames])
            np.testing.assert_allclose(pa, pb, atol=1e-4, rtol=0)
            assert abs(a.score - b.score) < 1e-4
    else:  # the same real face crops through both backends (one detection pass)
        item = MediaItem(samples / "videos/single_face.mp4", "video", "v")
        detector = create_detector("hog")
        frames = list(iter_frame_faces(item, FOUR.extract, detector))
        crops = torch.stack([torch_predictor.transform(f.faces[0].crop).image for f in frames if f.faces])
        assert len(crops) == 4
        np.testing.assert_allclose(
            onnx_predictor.scorer.logits(crops),
            torch_predictor.scorer.logits(crops).numpy(),
            atol=1e-4,
            rtol=0,
        )
        np.testing.assert_allclose(
            onnx_predictor.scorer(crops), torch_predictor.scorer(crops), atol=1e-4, rtol=0
        )


def test_predict_with_the_onnx_backend_from_the_cli(samples: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.onnx"
    export_onnx(make_checkpoint(tmp_path, "cnn", image_size=64), out)
    done = invoke("predict", samples / "images/obama.jpg", "--model", out, "--backend", "onnx", "--json", "-")
    assert done.exit_code == 0, done.output
    document = json.loads(done.stdout)
    assert document["backend"] == "onnx" and document["results"][0]["verdict"] in ("fake", "real")
    refused = invoke(
        "predict", samples / "images/obama.jpg", "--model", out, "--backend", "onnx", "--explain", tmp_path
    )
    assert refused.exit_code == 1 and "--explain needs the PyTorch model" in refused.stderr

    out.write_bytes(out.read_bytes()[:500])
    truncated = invoke("predict", samples / "images/obama.jpg", "--model", out, "--backend", "onnx")
    assert truncated.exit_code == 1
    assert [line for line in truncated.stderr.splitlines() if line.startswith("error:")] == [
        f"error: {out}: SHA-256 does not match its sidecar model.json (the file was changed or truncated)"
    ]


def test_unexportable_model_fails_with_one_line(tmp_path: Path) -> None:
    checkpoint = make_checkpoint(tmp_path, "attention_net", image_size=32, fusion_blocks=1)
    done = invoke("export", checkpoint, "--onnx", tmp_path / "a.onnx")
    assert done.exit_code == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(
        "error: cannot export model 'attention_net' to ONNX: operator"
    )
    assert "scaled_dot_product_attention" in lines[0]
    assert not (tmp_path / "a.onnx").exists()


def test_export_needs_an_onnx_suffix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"must end in \.onnx"):
        export_onnx(tmp_path / "missing", tmp_path / "model.bin")


def test_export_beside_its_checkpoint_reuses_the_sidecar(tmp_path: Path) -> None:
    checkpoint = make_checkpoint(tmp_path, "cnn", image_size=64)
    before = checkpoint.with_suffix(".json").read_text()
    result = export_onnx(checkpoint, tmp_path / "cnn.onnx", verify=False)
    assert result.meta_path == checkpoint.with_suffix(".json") and result.max_abs_diff is None
    assert result.meta_path.read_text() == before
    assert load_predictor(result.onnx_path, backend="onnx").meta.model == "cnn"
