"""fakescan.predict.explain: Grad-CAM for every model, reconstruction error, and the files of --explain."""

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
from fakescan.predict.explain import grad_cam, reconstruction_error
from tests.models import TEST_OPTIONS
from tests.predict import make_checkpoint

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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


def test_explain_files(samples: Path, tmp_path: Path) -> None:
    import av
    import cv2

    predictor = load_predictor(make_checkpoint(tmp_path, "cnn", image_size=64))
    config = PredictConfig(extract=ExtractConfig(frames=4))
    inputs = [
        samples / "videos/single_face.mp4",
        samples / "images/obama.jpg",
        samples / "negatives/no_face.mp4",
    ]
    out = tmp_path / "explain"
    video, photo, cartoon = run_prediction(inputs, predictor, config, explain_dir=out).predictions
    names = {p.path.name: sorted(f.name for f in p.explanations) for p in (video, photo, cartoon)}
    assert names == {
        "single_face.mp4": ["annotated.mp4", "gradcam.png", "spectrum.png", "timeline.png"],
        "obama.jpg": ["gradcam.png", "spectrum.png"],
        "no_face.mp4": ["annotated.mp4", "timeline.png"],
    }
    for path in (*video.explanations, *photo.explanations, *cartoon.explanations):
        assert path.parent.parent == out and path.is_file()
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG_SIGNATURE
            picture = cv2.imread(str(path))
            assert picture is not None
            if path.stem != "timeline":
                assert picture.shape == (256, 256, 3)  # the face crop, at the extraction size
    for prediction in (video, cartoon):
        with av.open(str(out / prediction.key / "annotated.mp4")) as container:
            decoded = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
        assert len(decoded) == prediction.frames_read == 4
    assert not list(out.rglob("*.fakescan-tmp"))


def test_attention_net_explanations_include_the_reconstruction_error(samples: Path, tmp_path: Path) -> None:
    predictor = load_predictor(make_checkpoint(tmp_path, "attention_net", image_size=32))
    (photo,) = run_prediction(
        [samples / "images/obama.jpg"], predictor, explain_dir=tmp_path / "x"
    ).predictions
    assert sorted(p.name for p in photo.explanations) == ["gradcam.png", "reconstruction.png", "spectrum.png"]
    assert read_image(tmp_path / "x/obama/reconstruction.png").shape == (256, 256, 3)  # the crop's size
    face = resize(read_image(samples / "images/single_face.jpg"), 32)
    assert predictor.model is not None
    error = reconstruction_error(predictor.model, to_tensor(face, predictor.input_cfg))
    assert error is not None and error.shape == (32, 32) and error.std() > 1e-3
    cnn = create("cnn", num_classes=1, image_size=32).eval()
    assert reconstruction_error(cnn, to_tensor(face, predictor.input_cfg)) is None


def test_gradcam_overlay_differs_from_the_crop(samples: Path, tmp_path: Path) -> None:
    predictor = load_predictor(make_checkpoint(tmp_path, "cnn", image_size=64))
    run_prediction(
        [samples / "images/obama.jpg"],
        predictor,
        PredictConfig(),
        explain_dir=tmp_path / "x",
        crops_dir=tmp_path / "c",
    )
    overlay = read_image(tmp_path / "x/obama/gradcam.png").astype(int)
    crop = read_image(tmp_path / "c/obama/0.png").astype(int)
    assert overlay.shape == crop.shape == (256, 256, 3)  # the crop, cut at the extraction size
    assert np.abs(overlay - crop).mean() > 5
