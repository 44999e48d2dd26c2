"""What a published-checkpoint family declares: :class:`ImportFamily`, and the small pure helpers
its ``convert`` is built from.

This module imports neither torch nor any model, so that ``fakescan import --help`` can list the
families and their licences without a heavy import; a family module (``fakescan.imports.<name>``)
must stay as light (import torch inside its functions only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from fakescan.errors import CheckpointMismatchError

if TYPE_CHECKING:
    import torch

    from fakescan.models.output import InputConfig

__all__ = [
    "FaceCrop",
    "ImportFamily",
    "StateDict",
    "drop_keys",
    "rename_prefix",
    "require_keys",
    "strip_prefix",
]

StateDict = Mapping[str, "torch.Tensor"]


@dataclass(frozen=True)
class FaceCrop:
    """How the reference implementation cuts the faces it scores.

    Attributes:
        detector: the reference's face detector, as fakescan names it when fakescan has it
            (``"retinaface"``), else its own name.
        margin: fakescan's ``--margin`` nearest the reference crop (crop side as a multiple of the
            face box's longer side); ``predict`` uses it unless ``--margin`` is given.
        faces: frames with several faces: ``"max"`` (the frame's score is its most suspicious face,
            as SBI), ``"one"`` (one followed face), ``"all"``.
        note: the reference's exact rule, in words, and where it differs from fakescan's square crop.
    """

    detector: str
    margin: float
    faces: Literal["max", "one", "all"] = "one"
    note: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        return {"detector": self.detector, "margin": self.margin, "faces": self.faces, "note": self.note}


@dataclass(frozen=True)
class ImportFamily:
    """A family of published checkpoints that ``fakescan import`` turns into fakescan checkpoints.

    Attributes:
        name: the ``FAMILY`` argument (``"sbi"``, ``"deepfakebench-xception"``).
        description: one line: the paper and the model.
        licence: the weights' and code's licence terms as published, one line (``"CC BY-NC 4.0 ..."``).
        licence_url: where those terms are published.
        reference: the reference repository (``"github:owner/name"``).
        reference_files: the files of it this family follows (key layout, preprocessing, output).
        published_files: names of the checkpoint files the authors publish (the user downloads them).
        model: fakescan registry name of the model that runs the weights.
        model_kwargs: its :func:`fakescan.models.create` arguments (JSON values).
        image_size, mean, std: the input the reference feeds its network: side in pixels, and the
            per-channel normalisation of RGB in ``[0, 1]`` (``mean=(0, 0, 0), std=(1, 1, 1)``: none).
        output: ``"softmax"`` (K class logits) or ``"sigmoid"`` (one logit), as the reference reads them.
        fake_index: the index of the "fake" output in the reference (``convert`` reorders a head so
            that fakescan's convention holds: class 0 = real, or one logit, positive = fake).
        face_crop: how the reference cuts faces (:class:`FaceCrop`).
        video_score: how the reference makes a video's score from its frames, in words.
        convert: pure ``state_dict in the reference layout → state_dict of fakescan's model``;
            raises :class:`~fakescan.errors.CheckpointMismatchError` naming the first wrong key.
        reference_key: maps a fakescan key back to the reference's name, for error messages.
        infer_model_kwargs: optional; reads further :func:`fakescan.models.create` arguments from
            the converted state's shapes (merged over ``model_kwargs``; recorded in the sidecar), for
            a family whose architecture varies (Effort's CLIP tower).
    """

    name: str
    description: str
    licence: str
    licence_url: str
    reference: str
    reference_files: tuple[str, ...]
    published_files: tuple[str, ...]
    model: str
    model_kwargs: Mapping[str, Any]
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    output: Literal["softmax", "sigmoid"]
    fake_index: int
    face_crop: FaceCrop
    video_score: str
    convert: Callable[[StateDict], dict[str, torch.Tensor]]
    reference_key: Callable[[str], str] = field(default=lambda key: key)
    infer_model_kwargs: Callable[[StateDict], Mapping[str, Any]] | None = None

    def input_cfg(self) -> InputConfig:
        """The :class:`~fakescan.models.output.InputConfig` the imported checkpoint records."""
        from fakescan.models.output import InputConfig

        return InputConfig(image_size=self.image_size, mean=self.mean, std=self.std)

    def source_record(self, file_name: str, sha256: str) -> dict[str, Any]:
        """The sidecar's ``source`` object for an import of ``file_name`` (SHA-256 ``sha256``)."""
        return {
            "family": self.name,
            "file": file_name,
            "sha256": sha256,
            "licence": self.licence,
            "licence_url": self.licence_url,
            "reference": self.reference,
            "reference_files": list(self.reference_files),
            "output": self.output,
            "fake_index": self.fake_index,
            "video_score": self.video_score,
        }


# --------------------------------------------------------------------------------------------------
# Pure helpers for ``convert``


def strip_prefix(state: StateDict, prefix: str) -> dict[str, torch.Tensor]:
    """``state`` with ``prefix`` removed from the keys that start with it (the others unchanged).

    >>> sorted(strip_prefix({"backbone.fc.weight": 1, "x": 2}, "backbone."))
    ['fc.weight', 'x']
    """
    return {key.removeprefix(prefix): value for key, value in state.items()}


def rename_prefix(state: StateDict, old: str, new: str) -> dict[str, torch.Tensor]:
    """``state`` with the key prefix ``old`` replaced by ``new``.

    >>> rename_prefix({"last_linear.bias": 0}, "last_linear.", "fc.")
    {'fc.bias': 0}
    """
    return {(new + key[len(old) :] if key.startswith(old) else key): value for key, value in state.items()}


def drop_keys(state: StateDict, prefix: str) -> dict[str, torch.Tensor]:
    """``state`` without the keys under ``prefix`` (modules the reference builds but never runs).

    >>> drop_keys({"adjust_channel.0.weight": 0, "fc.bias": 1}, "adjust_channel.")
    {'fc.bias': 1}
    """
    return {key: value for key, value in state.items() if not key.startswith(prefix)}


def require_keys(state: StateDict, keys: tuple[str, ...], family: str) -> None:
    """Raise a one-line :class:`CheckpointMismatchError` for the first of ``keys`` missing from
    ``state`` (a file of another family usually lacks the first one)."""
    for key in keys:
        if key not in state:
            raise CheckpointMismatchError(f"missing key {key!r}: not a {family} checkpoint")
