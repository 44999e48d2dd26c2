"""What ``fakescan predict`` says about one input file: its verdict, score and per-frame detail.

With every face scored (``predict --all-faces``, the default for images), each frame lists its
faces (:class:`FaceScore`) and each file its people (:class:`PersonScore`): one per face in a photo,
one per followed person in a video. The frame's probability is the highest of its faces' and the
file's score the highest of its people's (the convention of Shiohara & Yamasaki, "Detecting
Deepfakes with Self-Blended Images", CVPR 2022, whose inference takes the maximum over faces).
With one followed face, both lists have that face and that one person alone.

Records only, so that the engine (:mod:`fakescan.predict.engine`), the explanations
(:mod:`fakescan.predict.explain`) and the CLI share them without importing each other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["DIGITS", "FaceScore", "FrameScore", "PersonScore", "Prediction", "Verdict"]

DIGITS = 6
"""Decimal places of every probability, score and threshold in the JSON and CSV results."""

Verdict = Literal["fake", "real", "no_face", "error"]
"""``fake``/``real``: compared with the threshold; ``no_face``: no face found; ``error``: unreadable."""


@dataclass(frozen=True)
class FaceScore:
    """One scored face in one frame.

    Attributes:
        face_index: its place among the frame's kept faces (0: the followed face, or with every
            face the largest, then by size); the ``_k`` of ``extract --all-faces`` crop names.
        person: the person it belongs to (:attr:`PersonScore.person`).
        box: ``(x1, y1, x2, y2)`` in frame pixels; ``detection_score``: the detector's confidence.
        probability: the model's fake probability for this face.
    """

    face_index: int
    person: int
    box: tuple[float, float, float, float]
    detection_score: float
    probability: float


@dataclass(frozen=True)
class FrameScore:
    """One searched frame.

    Attributes:
        index, timestamp: frame index (0 for an image) and time in seconds.
        box: the box ``(x1, y1, x2, y2)`` in frame pixels of the face that gives the frame its
            probability (the followed face, or with every face the most fake-looking one), or
            ``None`` (no face).
        detection_score: the detector's confidence for that face, or ``None``.
        probability: the model's fake probability for the face — the highest over ``faces`` —
            or ``None`` (no face).
        faces: every scored face of the frame, in ``face_index`` order.
        crop: the crop file of the face that gives the frame its probability, when ``--save-crops``
            wrote it; else ``None``.
    """

    index: int
    timestamp: float
    box: tuple[float, float, float, float] | None = None
    detection_score: float | None = None
    probability: float | None = None
    faces: tuple[FaceScore, ...] = ()
    crop: str | None = None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), DIGITS)


@dataclass(frozen=True)
class PersonScore:
    """One person of a file: a face of a photo, or a person followed through a video's frames.

    Attributes:
        person: the person's number, from 0 in order of first appearance.
        verdict: ``fake`` or ``real``, the person's score against the threshold.
        score: the person's fake probability (a video: its frames' probabilities aggregated as the
            file's are, ``mean`` by default).
        frames: the indices of the frames the person was scored in.
        box: the person's box in the frame of its highest probability.
        counted: whether the person takes part in the file's verdict (the file's score is the
            highest score of the counted people); a person seen in too few of a video's frames
            is listed but not counted (see :class:`~fakescan.predict.engine.PredictConfig`).
    """

    person: int
    verdict: Verdict
    score: float
    frames: tuple[int, ...]
    box: tuple[float, float, float, float]
    counted: bool = True


@dataclass(frozen=True)
class Prediction:
    """The result for one input file.

    Attributes:
        path: the file; ``kind``: ``"video"``, ``"image"`` or ``"unknown"``; ``key``: its unique name
            in this run (used for explanation folders).
        verdict: ``fake``, ``real``, ``no_face`` or ``error``.
        score: aggregated fake probability, ``None`` for ``no_face``/``error``.
        threshold: the threshold the score was compared with.
        frames_read: frames decoded and searched; ``frames_used``: frames with a scored face;
            ``faces_found``: faces the detector found over all searched frames.
        reason: why there is no score, or a note (e.g. decoding stopped early).
        frames: per-frame detail.
        explanations: files written by ``--explain`` for this input.
        all_faces: every face was scored (``True``), or one followed face (``False``).
        people: the file's people, by number (empty without a face).
    """

    path: Path
    kind: str
    key: str
    verdict: Verdict
    score: float | None = None
    threshold: float = 0.5
    frames_read: int = 0
    frames_used: int = 0
    faces_found: int = 0
    reason: str = ""
    frames: tuple[FrameScore, ...] = ()
    explanations: tuple[Path, ...] = ()
    all_faces: bool = False
    people: tuple[PersonScore, ...] = ()

    @property
    def processed(self) -> bool:
        """True when the file could be read (whether or not a face was found)."""
        return self.verdict != "error"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (paths as strings; probabilities, score and threshold to :data:`DIGITS`)."""
        data = asdict(self)
        data["path"] = str(self.path)
        data["score"] = _rounded(self.score)
        data["threshold"] = _rounded(self.threshold)
        data["explanations"] = [str(p) for p in self.explanations]
        data["frames"] = [
            {
                **asdict(f),
                "box": None if f.box is None else list(f.box),
                "probability": _rounded(f.probability),
                "faces": [
                    {**asdict(face), "box": list(face.box), "probability": _rounded(face.probability)}
                    for face in f.faces
                ],
            }
            for f in self.frames
        ]
        data["people"] = [
            {**asdict(p), "frames": list(p.frames), "box": list(p.box), "score": _rounded(p.score)}
            for p in self.people
        ]
        return data
