"""fakescan.predict.explain: Grad-CAM for every model, reconstruction error, figures, files of --explain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fakescan.data.extract import ExtractConfig
from fakescan.data.faces.crop import crop_face
from fakescan.data.images import read_image
from fakescan.data.transforms import resize, to_tensor
from fakescan.models import create, list_models
from fakescan.models.output import InputConfig
from fakescan.predict import PredictConfig, load_predictor, run_prediction
from fakescan.predict.explain import (
    crop_matrix,
    face_evidence,
    grad_cam,
    grad_cam_signed,
    heatmap_figure,
    reconstruction_error,
    spectrum_figure,
    timeline_figure,
    timeline_series,
)
from fakescan.predict.results import FrameScore, Prediction
from tests.models import TEST_OPTIONS
from tests.predict import make_checkpoint

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def texts(figure) -> str:
    """Every text of a figure (titles, labels, colour-bar labels, legends, notes), joined."""
    from matplotlib.text import Text

    return " | ".join(t.get_text() for t in figure.findobj(Text) if t.get_text())


@pytest.fixture(scope="module")
def face(samples: Path) -> np.ndarray:
    """A real 64 px face crop."""
    image = read_image(samples / "images/single_face.jpg")
    return crop_face(image, (150.0, 100.0, 420.0, 420.0), size=64)


@pytest.mark.parametrize("name", list_models())
def test_grad_cam_has_the_crop_size_and_varies(name: str, face: np.ndarray) -> None:
    torch.manual_seed(0)
    model = create(name, num_classes=1, image_size=64, **TEST_OPTIONS.get(name, {})).eval()
    heat = grad_cam(model, to_tensor(face, InputConfig(image_size=64)))
    assert heat.shape == (64, 64) and heat.dtype == np.float32
    assert 0.0 <= heat.min() and heat.max() <= 1.0
    assert heat.std() > 1e-3


def test_grad_cam_of_a_multiclass_model(face: np.ndarray) -> None:
    torch.manual_seed(0)
    model = create("cnn", num_classes=5, image_size=64).eval()
    assert grad_cam(model, to_tensor(face, InputConfig(image_size=64))).shape == (64, 64)


def test_grad_cam_is_the_positive_part_of_the_signed_map(face: np.ndarray) -> None:
    torch.manual_seed(0)
    model = create("cnn", num_classes=1, image_size=64).eval()
    image = to_tensor(face, InputConfig(image_size=64))
    signed = grad_cam_signed(model, image)
    assert signed.min() < 0 < signed.max()  # evidence both ways
    np.testing.assert_allclose(grad_cam(model, image), np.maximum(signed, 0) / signed.max(), atol=1e-6)


def test_explain_files(samples: Path, tmp_path: Path) -> None:
    import av
    import cv2

    predictor = load_predictor(make_checkpoint(tmp_path, "cnn", image_size=64))  # no reference spectrum
    config = PredictConfig(extract=ExtractConfig(frames=4))
    inputs = [
        samples / "videos/single_face.mp4",
        samples / "images/obama.jpg",
        samples / "negatives/no_face.mp4",
    ]
    out = tmp_path / "explain"
    video, photo, cartoon = run_prediction(inputs, predictor, config, explain_dir=out).predictions
    names = {p.path.name: sorted(f.name for f in p.explanations) for p in (video, photo, cartoon)}
    heat = ["gradcam.png", "gradcam_frame.png", "spectrum.png"]
    assert names == {
        "single_face.mp4": sorted(["annotated.mp4", *heat, "timeline.png"]),
        "obama.jpg": heat,
        "no_face.mp4": ["annotated.mp4", "timeline.png"],
    }
    for path in (*video.explanations, *photo.explanations, *cartoon.explanations):
        assert path.parent.parent == out and path.is_file()
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG_SIGNATURE
            picture = cv2.imread(str(path))
            assert picture is not None
            if path.name == "gradcam.png":  # three panels of the 256 px crop, drawn 1:1
                assert picture.shape[1] >= 3 * 256 and picture.shape[0] >= 256
    for prediction in (video, cartoon):
        with av.open(str(out / prediction.key / "annotated.mp4")) as container:
            decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
        assert len(decoded) == prediction.frames_read == 4
    assert not list(out.rglob("*.fakescan-tmp"))


def test_the_heat_maps_are_drawn_over_the_crop_at_its_full_resolution(samples: Path, tmp_path: Path) -> None:
    predictor = load_predictor(make_checkpoint(tmp_path, "cnn", image_size=64))
    (photo,) = run_prediction(
        [samples / "images/obama.jpg"], predictor, crops_dir=tmp_path / "c", explain_dir=tmp_path / "x"
    ).predictions
    crop = read_image(tmp_path / "c/obama/0.png")
    assert predictor.model is not None
    evidence = face_evidence(predictor.model, crop, predictor.input_cfg)
    assert evidence.fake.shape == evidence.real.shape == (256, 256) and evidence.error is None
    assert max(evidence.fake.max(), evidence.real.max()) == pytest.approx(1.0, abs=0.02)  # one scale
    figure = heatmap_figure(
        evidence, "obama.jpg — verdict: real (score 0.49 < threshold 0.50)", "P(fake) 0.49"
    )
    shown = [image.get_array() for axes in figure.axes for image in axes.get_images()]
    assert [a.shape[:2] for a in shown] == [(256, 256)] * 5  # the crop, then the crop and a map twice
    assert np.array_equal(np.asarray(shown[0]), crop)
    words = texts(figure)
    for text in (
        "verdict: real",
        "threshold 0.50",
        "P(fake) 0.49",
        'evidence for "fake"',
        'evidence for "real"',
    ):
        assert text in words
    assert "Grad-CAM, relative" in words  # the colour bar
    assert "gradcam.png" in {p.name for p in photo.explanations}


def test_the_crop_matrix_maps_the_frame_onto_the_crop(samples: Path) -> None:
    import cv2

    from fakescan.data.faces.base import Detection

    frame = read_image(samples / "images/single_face.jpg")
    box = (150.0, 100.0, 420.0, 420.0)
    extract = ExtractConfig(size=128)
    crop = crop_face(frame, box, size=128, margin=extract.margin)
    matrix = crop_matrix(Detection(box, 1.0), frame.shape, extract)
    warped = cv2.warpAffine(frame, matrix, (128, 128), flags=cv2.INTER_AREA)
    assert np.abs(warped.astype(int) - crop.astype(int)).mean() < 4


def test_attention_net_shows_its_reconstruction_error_beside_grad_cam(samples: Path, tmp_path: Path) -> None:
    predictor = load_predictor(make_checkpoint(tmp_path, "attention_net", image_size=32))
    (photo,) = run_prediction(
        [samples / "images/obama.jpg"], predictor, explain_dir=tmp_path / "x", crops_dir=tmp_path / "c"
    ).predictions
    assert sorted(p.name for p in photo.explanations) == ["gradcam.png", "gradcam_frame.png", "spectrum.png"]
    assert predictor.model is not None
    evidence = face_evidence(predictor.model, read_image(tmp_path / "c/obama/0.png"), predictor.input_cfg)
    assert evidence.error is not None and evidence.error.shape == (256, 256)  # the crop's size
    assert 0.0 <= evidence.error.min() and evidence.error.max() <= 1.0 and evidence.error.std() > 1e-3
    figure = heatmap_figure(evidence, "obama.jpg", "P(fake) 0.50")
    assert len([axes for axes in figure.axes if axes.get_images()]) == 4
    assert "reconstruction error |x − x̂|" in texts(figure) and "pixel values, 0–1" in texts(figure)
    face = resize(read_image(samples / "images/single_face.jpg"), 32)
    error = reconstruction_error(predictor.model, to_tensor(face, predictor.input_cfg))
    assert error is not None and error.shape == (32, 32) and error.std() > 1e-3
    cnn = create("cnn", num_classes=1, image_size=32).eval()
    assert reconstruction_error(cnn, to_tensor(face, predictor.input_cfg)) is None


def _video_prediction() -> Prediction:
    frames = (
        FrameScore(0, 0.0, (1, 1, 9, 9), 0.9, 0.10),
        FrameScore(10, 0.4, None, None, None),
        FrameScore(20, 0.8, None, None, None),
        FrameScore(30, 1.2, (1, 1, 9, 9), 0.9, 0.85),
    )
    return Prediction(Path("clip.mp4"), "video", "clip", "fake", 0.475, threshold=0.4, frames=frames)


def test_frames_without_a_face_are_gaps_in_the_timeline(face: np.ndarray) -> None:
    prediction = _video_prediction()
    times, probs = timeline_series(prediction)
    assert times.tolist() == [0.0, 0.4, 0.8, 1.2]
    assert probs[0] == 0.1 and probs[3] == 0.85 and np.isnan(probs[1:3]).all()
    figure = timeline_figure(prediction, {0: face, 30: face})
    (line,) = [
        line for axes in figure.axes for line in axes.get_lines() if line.get_label() == "P(fake) per frame"
    ]
    assert np.isnan(np.asarray(line.get_ydata(), dtype=float)[1:3]).all()  # a break, not a line across
    words = texts(figure)
    assert "clip.mp4 — verdict: fake (score 0.47 ≥ threshold 0.40)" in words
    assert words.count("no face") >= 3  # two tiles and the legend
    assert "#30  0.85" in words and "#10" in words and "threshold 0.40" in words
    assert "border colour = the frame's P(fake)" in words  # the colour bar
    tiles = [image.get_array().shape for axes in figure.axes for image in axes.get_images()]
    assert tiles == [(96, 96, 3)] * 2


def test_the_spectrum_is_shown_against_the_real_faces_mean_or_says_there_is_none(face: np.ndarray) -> None:
    from fakescan.ops.spectrum import LogSpectrum, log_spectrum_grid

    grid = log_spectrum_grid(torch.from_numpy(face).permute(2, 0, 1)[None].float() / 255)[0].numpy()
    reference = LogSpectrum.from_array(grid - 0.5, count=12, image_size=64)
    with_reference = spectrum_figure(grid, reference, "a.jpg — verdict: real", image_size=64)
    words = texts(with_reference)
    assert "mean of 12 real training faces" in words and "difference: this face − real mean" in words
    assert "No reference" not in words
    difference = [
        i for axes in with_reference.axes for i in axes.get_images() if i.get_cmap().name == "RdBu_r"
    ]
    (shown,) = difference
    np.testing.assert_allclose(shown.get_array(), np.full((64, 64), 0.5), atol=1e-3)
    assert shown.get_clim()[0] == -shown.get_clim()[1]  # diverging, centred on 0
    alone = spectrum_figure(grid, None, "a.jpg — verdict: real", image_size=64)
    assert "No reference" in texts(alone) and len([a for a in alone.axes if a.get_images()]) == 1
