"""What ``fakescan predict`` says about one input file: its verdict, score and per-frame detail.

Records only, so that the engine (:mod:`fakescan.predict.engine`), the explanations
(:mod:`fakescan.predict.explain`) and the CLI share them without importing each other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["DIGITS", "FrameScore", "Prediction", "Verdict"]

DIGITS = 6
"""Decimal places of every probability, score and threshold in the JSON and CSV results."""

Verdict = Literal["fake", "real", "no_face", "error"]
"""``fake``/``real``: compared with the threshold; ``no_face``: no face found; ``error``: unreadable."""


@dataclass(frozen=True)
class FrameScore:
    """One searched frame.

    Attributes:
        index, timestamp: frame index (0 for an image) and time in seconds.
        box: the followed face's box ``(x1, y1, x2, y2)`` in frame pixels, or ``None`` (no face).
        detection_score: the detector's confidence for that face, or ``None``.
        probability: the model's fake probability for the face, or ``None`` (no face).
        crop: the crop file that was scored, when ``--save-crops`` wrote it; else ``None``.
    """

    index: int
    timestamp: float
    box: tuple[float, float, float, float] | None = None
    detection_score: float | None = None
    probability: float | None = None
    crop: str | None = None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), DIGITS)


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
            }
            for f in self.frames
        ]
        return data
