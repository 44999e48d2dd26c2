"""The hand-counted faces of the sample media (ground_truth.json) and scoring a detector on them.

Counts, not boxes: on a photograph a detector's hits up to the true count are taken as found faces
and the rest as false faces; on a video, a sampled frame is a hit when it shows a face and the
detector finds one, a false frame when it shows none and the detector finds one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fakescan.data.faces import FaceDetector
from fakescan.data.images import read_image
from fakescan.data.video import even_frame_indices, probe_video, read_frames

GROUND_TRUTH = json.loads((Path(__file__).parent / "ground_truth.json").read_text(encoding="utf-8"))
FRAMES = 32


@dataclass(frozen=True)
class Score:
    """A detector's hits on one file: ``found`` of ``truth`` faces (or face frames), ``false`` extra."""

    found: int
    truth: int
    false: int


def has_face(video: str, index: int) -> bool:
    return any(start <= index < end for start, end in GROUND_TRUTH["videos"][video])


def score_image(detector: FaceDetector, samples: Path, image: str) -> Score:
    truth = GROUND_TRUTH["images"][image]
    found = len(detector.detect(read_image(samples / image)))
    return Score(min(found, truth), truth, max(0, found - truth))


def score_video(detector: FaceDetector, samples: Path, video: str) -> Score:
    table = probe_video(samples / video)
    found = truth = false = 0
    for frame in read_frames(table, even_frame_indices(table.num_frames, FRAMES)):
        hit = bool(detector.detect(frame.image))
        if has_face(video, frame.index):
            truth += 1
            found += hit
        else:
            false += hit
    return Score(found, truth, false)
