"""``predict --all-faces``: a score for every face of a photo and for every person of a video.

Real media: the five-person group photo and the two-person still of the samples (faces counted by
hand in tests/data/faces/ground_truth.json), and a video panned across the group photo, so that five
real faces move through its frames.
"""

from __future__ import annotations

import json
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from fakescan.cli import app
from fakescan.data.extract import ExtractConfig, MediaItem
from fakescan.data.faces import DEFAULT_DETECTOR, Detection, FaceDetector, create_detector
from fakescan.data.faces.base import box_area
from fakescan.data.images import read_image
from fakescan.errors import ConfigError
from fakescan.predict import PredictConfig, Predictor, load_predictor, predict_item, run_prediction
from tests.data.faces.ground_truth import GROUND_TRUTH
from tests.predict import make_checkpoint

GROUP, PAIR = "images/multi_face.jpg", "images/breakingbad.jpg"
PAN_STEP = 4  # pixels the group photo moves per frame of the panned video


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt"), "cnn", image_size=64, threshold=0.5)


@pytest.fixture(scope="module")
def panned_group(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 frames at 8 fps: the group photo (halved) sliding right by PAN_STEP px a frame on black."""
    import av
    import cv2

    photo = read_image(samples / GROUP)
    photo = cv2.resize(photo, (photo.shape[1] // 2 // 2 * 2, photo.shape[0] // 2 // 2 * 2))
    frames = 16
    height, width = photo.shape[0], photo.shape[1] + PAN_STEP * frames
    path = tmp_path_factory.mktemp("pan") / "group_pan.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(8, 1))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18"}
        for i in range(frames):
            canvas = np.zeros((height, width, 3), np.uint8)
            canvas[:, i * PAN_STEP : i * PAN_STEP + photo.shape[1]] = photo
            for packet in stream.encode(av.VideoFrame.from_ndarray(canvas, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


class RecordingScorer:
    """Probability = mean pixel value in [0, 1] (differs between faces); remembers its batch sizes."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        self.batches.append(images.shape[0])
        return ((images.mean(dim=(1, 2, 3)) + 1) / 2).clamp(0, 1).numpy()


def test_every_face_of_a_photo_is_scored_in_shared_batches_and_the_photo_takes_the_highest(
    samples: Path, checkpoint: Path, tmp_path: Path
) -> None:
    scorer = RecordingScorer()
    predictor = Predictor(meta=load_predictor(checkpoint).meta, scorer=scorer)
    config = PredictConfig(batch_size=4)  # photos get every face by default
    inputs = [samples / GROUP, samples / PAIR]
    group, pair = run_prediction(inputs, predictor, config, crops_dir=tmp_path).predictions
    assert scorer.batches == [4, 1, 2]  # 5 faces, then 2: one forward per batch, not one per face
    for p, name in ((group, GROUP), (pair, PAIR)):
        (frame,) = p.frames
        assert p.all_faces and len(frame.faces) == len(p.people) == GROUND_TRUTH["images"][name]
        assert p.faces_found == len(frame.faces) and p.frames_used == 1
        probabilities = [f.probability for f in frame.faces]
        assert len(set(probabilities)) == len(probabilities)  # distinct faces, distinct crops
        assert p.score == frame.probability == max(probabilities) == max(q.score for q in p.people)
        top = frame.faces[int(np.argmax(probabilities))]
        assert frame.box == top.box and frame.detection_score == top.detection_score
        assert (
            [f.person for f in frame.faces] == [q.person for q in p.people] == list(range(len(frame.faces)))
        )
        assert all(q.counted and q.frames == (0,) for q in p.people)
        assert [q.verdict for q in p.people] == ["fake" if q.score >= 0.5 else "real" for q in p.people]
        areas = [box_area(f.box) for f in frame.faces]
        assert areas == sorted(areas, reverse=True)  # face 0 is the largest, as extract numbers them
        assert len({f.box for f in frame.faces}) == len(frame.faces)
    # face 0 keeps the one-face name, the others are numbered as extract --all-faces numbers them
    written = sorted(p.name for p in (tmp_path / "multi_face").iterdir())
    assert written == ["0.png", "0_1.png", "0_2.png", "0_3.png", "0_4.png"]


def test_one_face_keeps_the_largest_face_and_the_old_schema(samples: Path, checkpoint: Path) -> None:
    predictor = load_predictor(checkpoint)
    four = PredictConfig(extract=ExtractConfig(frames=4))
    one = run_prediction([samples / GROUP], predictor, PredictConfig(all_faces=False)).predictions[0]
    every = run_prediction([samples / GROUP], predictor, PredictConfig()).predictions[0]
    (frame,) = one.frames
    assert not one.all_faces and len(frame.faces) == len(one.people) == 1
    largest = every.frames[0].faces[0]
    assert frame.box == largest.box and frame.probability == pytest.approx(largest.probability, abs=1e-6)
    assert one.score == frame.probability and one.faces_found == 5
    # A video gets one followed face by default: the same result as --one-face, field for field.
    video = samples / "videos/single_face.mp4"
    default = run_prediction([video], predictor, four).predictions[0]
    followed = run_prediction([video], predictor, PredictConfig(ExtractConfig(frames=4), all_faces=False))
    assert default.to_dict() == followed.predictions[0].to_dict() and not default.all_faces
    assert default.score == pytest.approx(np.mean([f.probability for f in default.frames]))
    (person,) = default.people
    assert person.frames == tuple(f.index for f in default.frames) and person.score == default.score
    old = {"path", "kind", "key", "verdict", "score", "threshold", "frames_read", "frames_used"}
    old |= {"faces_found", "reason", "frames", "explanations"}
    document = default.to_dict()
    assert set(document) == old | {"all_faces", "people"}  # only added fields
    assert set(document["frames"][0]) == {
        "index",
        "timestamp",
        "box",
        "detection_score",
        "probability",
        "faces",
        "crop",
    }
    with pytest.raises(ConfigError, match=r"PredictConfig\.all_faces"):
        PredictConfig(extract=ExtractConfig(all_faces=True))


def test_each_person_of_a_video_is_followed_and_scored_on_its_own_frames(
    panned_group: Path, checkpoint: Path
) -> None:
    predictor = load_predictor(checkpoint)
    config = PredictConfig(extract=ExtractConfig(frames=6), all_faces=True)
    (p,) = run_prediction([panned_group], predictor, config).predictions
    indices = [f.index for f in p.frames]
    assert p.all_faces and p.frames_used == 6
    assert len(p.people) == GROUND_TRUTH["images"][GROUP]  # the five people, each once
    for person in p.people:
        assert person.frames == tuple(indices) and person.counted
        faces = [face for f in p.frames for face in f.faces if face.person == person.person]
        assert len(faces) == 6  # one face per frame, never two of the same person
        # the same face all along: where the pan took the first frame's box (within the detector's
        # jitter, a small part of the face), and the same size
        first, width = faces[0].box[0], faces[0].box[2] - faces[0].box[0]
        moved = first + PAN_STEP * (np.array(indices) - indices[0])
        assert np.abs(np.array([face.box[0] for face in faces]) - moved).max() < 0.15 * width
        areas = [box_area(face.box) for face in faces]
        assert max(areas) < 1.5 * min(areas)
        assert person.score == pytest.approx(np.mean([face.probability for face in faces]))
    assert p.score == max(q.score for q in p.people)
    assert all(f.probability == max(face.probability for face in f.faces) for f in p.frames)


def test_cli_all_faces_json_table_and_pictures(
    samples: Path, checkpoint: Path, panned_group: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    done = runner.invoke(
        app,
        ["predict", str(samples / GROUP), str(panned_group), "--model", str(checkpoint), "--frames", "3",
         "--all-faces", "--json", "-", "--explain", str(tmp_path / "why")],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    photo, video = json.loads(done.stdout)["results"]
    assert photo["all_faces"] and len(photo["people"]) == len(photo["frames"][0]["faces"]) == 5
    assert photo["score"] == max(person["score"] for person in photo["people"])
    assert set(photo["people"][0]) == {"person", "verdict", "score", "frames", "box", "counted"}
    assert set(photo["frames"][0]["faces"][0]) == {
        "face_index",
        "person",
        "box",
        "detection_score",
        "probability",
    }
    assert len(video["people"]) == 5 and all(len(q["frames"]) == 3 for q in video["people"])
    lines = done.stderr.splitlines()
    assert [line.split()[:2] for line in lines if line.strip().startswith("face ")] == [
        ["face", str(k)] for k in range(1, 6)
    ]
    assert sum(line.strip().startswith("person ") for line in lines) == 5
    # the explanation of the photo shows every face's box, labelled with its P(fake)
    written = {Path(p).name for p in photo["explanations"]}
    assert {"faces.png", "gradcam.png"} <= written
    drawn = read_image(tmp_path / "why" / "multi_face" / "faces.png").astype(int)
    original = read_image(samples / GROUP).astype(int)
    for face in photo["frames"][0]["faces"]:
        x1, y1, _, y2 = (round(v) for v in face["box"])
        colour = drawn[(y1 + y2) // 2, x1]  # on the box's left edge: red (fake) or green (real)
        expected = [255, 40, 40] if face["probability"] >= photo["threshold"] else [40, 220, 40]
        assert (
            np.abs(colour - expected).max() < 60 and np.abs(original[(y1 + y2) // 2, x1] - expected).max() > 0
        )
    one = runner.invoke(app, ["predict", str(samples / GROUP), "--model", str(checkpoint), "--one-face"])
    assert one.exit_code == 0 and not any(
        line.strip().startswith("face ") for line in one.stderr.splitlines()
    )


class FirstFrameCrowd(FaceDetector):
    """The default detector, but after the first frame it keeps only the leftmost face: the four
    others are seen once in six frames, as a detector's passing false hits or passers-by are."""

    name = "first-frame-crowd"

    def __init__(self) -> None:
        self.inner = create_detector(DEFAULT_DETECTOR)
        self.calls = 0

    def detect(self, image: np.ndarray) -> list[Detection]:
        self.calls += 1
        found = sorted(self.inner.detect(image), key=lambda d: d.box[0] + d.box[2])
        return found if self.calls == 1 else found[:1]


def test_a_person_seen_in_too_few_frames_is_listed_but_does_not_decide(
    panned_group: Path, checkpoint: Path
) -> None:
    predictor = Predictor(meta=load_predictor(checkpoint).meta, scorer=RecordingScorer())
    config = PredictConfig(extract=ExtractConfig(frames=6), all_faces=True)
    item = MediaItem(panned_group, "video", "group_pan")
    p = predict_item(item, predictor, config, FirstFrameCrowd())
    (main,) = [q for q in p.people if len(q.frames) > 1]
    passing = [q for q in p.people if q is not main]
    assert len(passing) == 4 and main.counted and len(main.frames) == 6
    assert all(not q.counted and len(q.frames) == 1 for q in passing)  # 1 of 6 < a quarter
    assert p.score == main.score and p.verdict == main.verdict
    everyone = predict_item(item, predictor, replace(config, min_person_share=0.0), FirstFrameCrowd())
    assert all(q.counted for q in everyone.people)
    assert everyone.score == max(q.score for q in everyone.people) >= p.score
