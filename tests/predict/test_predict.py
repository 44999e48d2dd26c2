"""fakescan.predict.engine and the ``predict`` command, on the real sample media."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from fakescan.checkpoints import checkpoint_paths, read_checkpoint_meta
from fakescan.cli import app
from fakescan.data.extract import ExtractConfig
from fakescan.errors import ConfigError
from fakescan.predict import PredictConfig, Predictor, load_predictor, run_prediction
from fakescan.predict.engine import CSV_FIELDS, PROVENANCE_FIELDS
from tests.predict import make_checkpoint

FOUR = PredictConfig(extract=ExtractConfig(frames=4))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt"), "cnn", image_size=64, threshold=0.3)


class RecordingScorer:
    """A stand-in model: probability = mean pixel value mapped to [0, 1]; remembers its batch sizes."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        self.batches.append(images.shape[0])
        assert images.dtype == torch.float32 and images.shape[1:] == (3, 64, 64)
        return ((images.mean(dim=(1, 2, 3)) + 1) / 2).clamp(0, 1).numpy()


def test_verdicts_scores_and_counts_on_real_media(samples: Path, checkpoint: Path) -> None:
    predictor = load_predictor(checkpoint)
    inputs = [
        samples / "videos/single_face.mp4",
        samples / "negatives/no_face.mp4",
        samples / "images/obama.jpg",
    ]
    report = run_prediction(inputs, predictor, FOUR)
    video, cartoon, photo = report.predictions
    assert report.threshold == 0.3 and report.processed == 3
    for p in (video, photo):
        assert p.verdict == ("fake" if p.score >= 0.3 else "real")
        assert 0.0 <= p.score <= 1.0
        assert all(0.0 <= f.probability <= 1.0 for f in p.frames)
        assert p.score == pytest.approx(np.mean([f.probability for f in p.frames]))
    assert (video.frames_read, video.frames_used) == (4, 4) and video.faces_found >= 4
    assert [f.index for f in video.frames] == [9, 27, 45, 63]  # the frames `extract --frames 4` takes
    assert (photo.frames_read, photo.frames_used, photo.kind) == (1, 1, "image")
    assert cartoon.verdict == "no_face" and cartoon.score is None
    assert (cartoon.frames_read, cartoon.frames_used, cartoon.faces_found) == (4, 0, 0)


def test_batching_aggregation_and_threshold_reach_the_scores(samples: Path, checkpoint: Path) -> None:
    loaded = load_predictor(checkpoint)
    scorer = RecordingScorer()
    predictor = Predictor(meta=loaded.meta, scorer=scorer)
    video = [samples / "videos/WolfgangLanger_Pexels.mp4"]
    mean = run_prediction(video, predictor, replace(FOUR, batch_size=3)).predictions[0]
    assert scorer.batches == [3, 1]
    probs = np.array([f.probability for f in mean.frames])
    assert mean.score == pytest.approx(probs.mean())
    confident = run_prediction(video, predictor, replace(FOUR, aggregate="confident")).predictions[0]
    surest = probs[np.argsort(-np.abs(probs - 0.5), kind="stable")[:2]]
    assert confident.score == pytest.approx(surest.mean())
    high = Predictor(meta=replace(loaded.meta, threshold=0.999), scorer=scorer)
    assert run_prediction(video, high, FOUR).predictions[0].verdict == "real"
    low = Predictor(meta=replace(loaded.meta, threshold=0.0), scorer=scorer)
    assert run_prediction(video, low, FOUR).predictions[0].verdict == "fake"


def test_a_checkpoint_trained_on_gray_images_is_fed_gray_crops(samples: Path, tmp_path: Path) -> None:
    loaded = load_predictor(make_checkpoint(tmp_path, "cnn", image_size=64, grayscale=True))
    assert loaded.meta.grayscale
    cfg = loaded.input_cfg
    spreads: list[float] = []

    def scorer(images: torch.Tensor) -> np.ndarray:
        pixels = images * torch.tensor(cfg.std)[:, None, None] + torch.tensor(cfg.mean)[:, None, None]
        spreads.append(float((pixels.amax(dim=1) - pixels.amin(dim=1)).max()))
        return np.full(len(images), 0.5)

    gray = run_prediction([samples / "images/obama.jpg"], Predictor(meta=loaded.meta, scorer=scorer), FOUR)
    assert gray.predictions[0].verdict in ("fake", "real") and spreads and max(spreads) < 1e-5
    spreads.clear()
    colour_meta = replace(loaded.meta, grayscale=False)
    run_prediction([samples / "images/obama.jpg"], Predictor(meta=colour_meta, scorer=scorer), FOUR)
    assert max(spreads) > 0.05  # the same crop in colour


def test_crops_are_written_only_when_asked(samples: Path, checkpoint: Path, tmp_path: Path) -> None:
    predictor = load_predictor(checkpoint)
    run_prediction([samples / "images/obama.jpg"], predictor, FOUR)
    assert not any(tmp_path.iterdir())
    run_prediction([samples / "images/obama.jpg"], predictor, FOUR, crops_dir=tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png")] == ["obama/0.png"]


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="--batch-size"):
        PredictConfig(batch_size=0)
    with pytest.raises(ConfigError, match="--aggregate"):
        PredictConfig(aggregate="median")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unknown backend"):
        load_predictor("x", backend="tf")  # type: ignore[arg-type]


# -- the command ------------------------------------------------------------------------------------


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def test_cli_json_and_csv_schema(samples: Path, checkpoint: Path, tmp_path: Path) -> None:
    table = tmp_path / "out.csv"
    done = invoke(
        "predict", samples / "images/obama.jpg", samples / "negatives/no_face.mp4", "--model", checkpoint,
        "--frames", "2", "--json", "-", "--csv", table,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    document = json.loads(done.stdout)
    assert document["model"] == "cnn" and document["threshold"] == 0.3 and document["aggregate"] == "mean"
    photo, cartoon = document["results"]
    assert set(CSV_FIELDS) <= set(photo) and {"frames", "explanations"} <= set(photo)
    assert photo["verdict"] in ("fake", "real") and 0 <= photo["score"] <= 1
    assert set(photo["frames"][0]) == {
        "index",
        "timestamp",
        "box",
        "detection_score",
        "probability",
        "faces",
        "crop",
    }
    assert cartoon["verdict"] == "no_face" and cartoon["score"] is None and cartoon["frames_read"] == 2
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert list(rows[0]) == [*CSV_FIELDS, *PROVENANCE_FIELDS]
    assert [r["verdict"] for r in rows] == [photo["verdict"], "no_face"] and rows[1]["score"] == ""
    assert "no face" in done.stderr and "frames used" in done.stderr


def test_cli_bad_inputs_one_line_each_others_still_processed(
    samples: Path, checkpoint: Path, tmp_path: Path
) -> None:
    import cv2

    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes((samples / "videos/single_face.mp4").read_bytes()[:3000])
    text = tmp_path / "notes.txt"
    text.write_text("not media")
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), np.full((6, 6, 3), 128, np.uint8))
    huge = tmp_path / "huge.jpg"
    photo = cv2.imread(str(samples / "images/obama.jpg"))
    cv2.imwrite(str(huge), cv2.resize(photo, None, fx=6000 / max(photo.shape), fy=6000 / max(photo.shape)))
    missing = tmp_path / "gone.mov"
    done = invoke("predict", corrupt, text, tiny, huge, missing, "--model", checkpoint, "--json", "-")
    assert done.exit_code == 0, done.output
    verdicts = {Path(r["path"]).name: (r["verdict"], r["reason"]) for r in json.loads(done.stdout)["results"]}
    assert verdicts["huge.jpg"][0] in ("fake", "real")
    assert verdicts["tiny.png"][0] == "no_face"
    assert verdicts["gone.mov"] == ("error", "file not found")
    assert verdicts["notes.txt"][0] == "error" and "not a readable video" in verdicts["notes.txt"][1]
    assert verdicts["corrupt.mp4"][0] == "error"
    for name in ("corrupt.mp4", "notes.txt", "gone.mov"):
        lines = [line for line in done.stderr.splitlines() if f"{name}:" in line]
        assert len(lines) == 1 and lines[0].startswith("error "), done.stderr


def test_cli_exit_1_when_nothing_could_be_processed(checkpoint: Path, tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_text("nope")
    done = invoke("predict", tmp_path / "a.mp4", tmp_path / "b.jpg", "--model", checkpoint)
    assert done.exit_code == 1
    assert error_lines(done.stderr) == ["error: no input could be processed (2 files, all failed)"]


def test_cli_checkpoint_of_another_model_or_truncated(
    samples: Path, checkpoint: Path, tmp_path: Path
) -> None:
    weights, sidecar = checkpoint_paths(checkpoint)
    other = tmp_path / "other"
    checkpoint_paths(other)[0].write_bytes(weights.read_bytes())
    meta = json.loads(sidecar.read_text())
    checkpoint_paths(other)[1].write_text(json.dumps({**meta, "model": "xception"}))
    done = invoke("predict", samples / "images/obama.jpg", "--model", other)
    assert done.exit_code == 1 and len(error_lines(done.stderr)) == 1
    assert "weights do not fit model 'xception'" in done.stderr
    cut = tmp_path / "cut"
    checkpoint_paths(cut)[0].write_bytes(weights.read_bytes()[:1000])
    checkpoint_paths(cut)[1].write_text(sidecar.read_text())
    done = invoke("predict", samples / "images/obama.jpg", "--model", cut)
    assert done.exit_code == 1 and len(error_lines(done.stderr)) == 1 and "truncated" in done.stderr
    assert read_checkpoint_meta(checkpoint).model == "cnn"


def test_cli_options_reach_the_run(samples: Path, checkpoint: Path) -> None:
    done = invoke(
        "predict", samples / "videos/single_face.mp4", "--model", checkpoint, "--frames", "3",
        "--aggregate", "confident", "--margin", "1.6", "--border", "pad", "--detector", "haar",
        "--detect-size", "320", "--batch-size", "2", "--no-channels-last", "--json", "-",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    document = json.loads(done.stdout)
    assert document["aggregate"] == "confident"
    assert document["results"][0]["frames_read"] == 3
    plain = invoke(
        "predict", samples / "videos/single_face.mp4", "--model", checkpoint, "--frames", "3", "--json", "-"
    )
    default = json.loads(plain.stdout)["results"][0]["frames"]
    changed = document["results"][0]["frames"]
    assert [f["box"] for f in changed] != [f["box"] for f in default]  # another detector
    assert [f["probability"] for f in changed] != [f["probability"] for f in default]
    bad = invoke("predict", samples / "images/obama.jpg", "--model", checkpoint, "--border", "wrap")
    assert bad.exit_code == 2 and "--border must be clamp or pad" in bad.stderr


def test_predict_resizes_crops_as_training_does(samples: Path, checkpoint: Path, tmp_path: Path) -> None:
    """A face is cut at the extraction size (256 px) and resized to the model's 64 px, as the training
    crops of ``fakescan extract`` are: the probabilities are those of the extracted crops, scored as
    ``fakescan test`` scores them."""
    from fakescan.data.extract import run_extraction
    from fakescan.data.images import read_image
    from fakescan.data.transforms import EvalTransform

    video = samples / "videos/single_face.mp4"
    predictor = load_predictor(checkpoint, channels_last=False)
    predicted = run_prediction([video], predictor, FOUR, crops_dir=tmp_path / "seen").predictions[0]
    extracted = run_extraction([video], tmp_path / "crops", ExtractConfig(frames=4))
    rows = sorted((r for r in extracted.rows if r.crop), key=lambda r: int(r.frame_index))
    crops = [read_image(tmp_path / "crops" / r.crop) for r in rows]
    assert {c.shape for c in crops} == {(256, 256, 3)}
    images = torch.stack([EvalTransform(predictor.input_cfg)(c).image for c in crops])
    expected = predictor.scorer(images)
    got = [f.probability for f in predicted.frames]
    assert [f.index for f in predicted.frames] == [int(r.frame_index) for r in rows]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    saved = sorted((tmp_path / "seen").rglob("*.png"))
    assert len(saved) == 4 and read_image(saved[0]).shape == (256, 256, 3)


def test_an_efficientnet_checkpoint_predicts_with_its_own_normalisation(
    samples: Path, tmp_path: Path
) -> None:
    """AdvProp weights want ``x·2 − 1``: a model started from an AdvProp file records it in the
    checkpoint's ``input_cfg`` (the file itself is not needed again), and the crops follow it."""
    from efficientnet_pytorch import EfficientNet as PackageEfficientNet

    from fakescan.models.efficientnet import NORMALIZATIONS

    imagenet = tmp_path / "adv-efficientnet-b0-b64d5a18.pth"
    torch.save(PackageEfficientNet.from_name("efficientnet-b0", image_size=64).state_dict(), imagenet)
    stem = make_checkpoint(tmp_path, "efficientnet_b0", image_size=64, pretrained=str(imagenet))
    imagenet.unlink()
    predictor = load_predictor(stem)
    assert (predictor.input_cfg.mean, predictor.input_cfg.std) == NORMALIZATIONS["advprop"]
    crop = np.full((64, 64, 3), 255, np.uint8)
    assert torch.allclose(predictor.transform(crop).image, torch.ones(3, 64, 64))
    photo = run_prediction([samples / "images/obama.jpg"], predictor, FOUR).predictions[0]
    assert photo.frames_used == 1 and 0.0 <= photo.score <= 1.0
    assert photo.verdict == ("fake" if photo.score >= predictor.threshold else "real")
