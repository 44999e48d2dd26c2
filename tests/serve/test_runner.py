"""fakescan.serve.runner in-process: content probing, and a job on an exported ONNX model."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakescan.data.extract import ExtractConfig
from fakescan.errors import InputError
from fakescan.predict import PredictConfig, load_predictor, run_prediction
from fakescan.serve.runner import JobRequest, JobRunner, ModelSpec, probe_media, resolve_models


def test_the_type_comes_from_the_content_not_the_name(samples: Path, tmp_path: Path) -> None:
    disguised = tmp_path / "photo.mp4"
    disguised.write_bytes((samples / "images/obama.jpg").read_bytes())
    movie = tmp_path / "movie.jpg"
    movie.write_bytes((samples / "videos/single_face.mp4").read_bytes())
    assert probe_media(disguised, "photo.mp4") == "image"
    assert probe_media(movie, "movie.jpg") == "video"
    assert probe_media(samples / "images/obama_32bit.png", "a.png") == "image"
    text = tmp_path / "notes"
    text.write_text("hello\n" * 10)
    with pytest.raises(InputError, match=r"^notes: not a readable video or image"):
        probe_media(text, "notes")


def test_run_folders_and_names(tmp_path: Path) -> None:
    (tmp_path / "cdf").mkdir()
    (tmp_path / "cdf/best.json").write_text("{}")  # a run folder means its best checkpoint
    specs = resolve_models([tmp_path / "cdf", tmp_path / "cdf", f"mine={tmp_path / 'x.onnx'}"])
    assert [(s.name, s.path, s.backend) for s in specs] == [
        ("cdf", tmp_path / "cdf/best", "torch"),
        ("cdf-2", tmp_path / "cdf/best", "torch"),
        ("mine", tmp_path / "x.onnx", "onnx"),
    ]


def test_an_onnx_model_gives_predicts_scores_without_heatmaps(
    samples: Path, serve_checkpoint: Path, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    from fakescan.predict.export import export_onnx

    onnx = tmp_path / "model.onnx"
    export_onnx(serve_checkpoint, onnx, verify=False)
    runner = JobRunner([ModelSpec("m", onnx, "onnx")])
    assert runner.describe()[0]["explanations"] is False
    video = samples / "videos/single_face.mp4"
    progress: list[float] = []
    request = JobRequest("id", video, "video", "clip.mp4", "m", 3, tmp_path / "out")
    outcome = runner.run(request, progress.append)
    assert outcome.status == "done" and progress == sorted(progress) and progress[-1] == 0.9
    got = outcome.result["results"][0]
    config = PredictConfig(extract=ExtractConfig(frames=3))
    want = run_prediction([video], load_predictor(onnx, backend="onnx"), config).predictions[0]
    assert outcome.result["backend"] == "onnx" and got["path"] == "clip.mp4"
    assert got["score"] == pytest.approx(want.score, abs=1e-6)
    assert not any("heatmap" in name for name in outcome.artifacts)
    assert {f"frame-{f.index}-crop.png" for f in want.frames} <= set(outcome.artifacts)
    assert all((tmp_path / "out" / name).is_file() for name in outcome.artifacts)


def test_each_model_finds_faces_as_its_training_crops_were_cut(samples: Path, tmp_path: Path) -> None:
    """A served model uses the detector, crop size and margin its sidecar records (else the
    defaults), and the result names the checkpoint file (not the server's folders) and its SHA-256."""
    import hashlib

    from fakescan.checkpoints import TrainingProvenance
    from tests.predict import make_run

    recorded = make_run(tmp_path / "recorded", TrainingProvenance(detector="haar", crop_size=96))
    old = make_run(tmp_path / "old", None)
    imported = make_run(tmp_path / "imported", None, face_crop={"margin": 1.25, "size": 80})  # as SBI's
    specs = [
        ModelSpec(name, path / "best")
        for name, path in (("recorded", recorded), ("old", old), ("imported", imported))
    ]
    runner = JobRunner(specs)
    described = {m["name"]: (m["detector"], m["crop_size"], m["margin"]) for m in runner.describe()}
    assert described == {
        "recorded": ("haar", 96, 1.3),
        "old": ("blazeface-full", 256, 1.3),
        "imported": ("blazeface-full", 80, 1.25),
    }
    photo = samples / "images/obama.jpg"
    for name in ("recorded", "old", "imported"):
        request = JobRequest("id", photo, "image", "obama.jpg", name, 1, tmp_path / name / "out")
        result = runner.run(request, lambda _: None).result
        settings = result["settings"]
        assert (settings["detector"], settings["crop_size"], settings["margin"]) == described[name]
        weights = tmp_path / name / "best.safetensors"
        assert result["checkpoint"]["path"] == "best.safetensors"
        assert result["checkpoint"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert (
        JobRunner([ModelSpec("recorded", recorded / "best")], detector="hog").describe()[0]["detector"]
        == "hog"
    )
