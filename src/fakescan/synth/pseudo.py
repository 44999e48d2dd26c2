"""Pseudo-fake training data: Self-Blended Images made on the fly from the real crops of a data set.

Shiohara & Yamasaki ("Detecting Deepfakes with Self-Blended Images", CVPR 2022) train a detector
without any forgery: each real face is blended with an altered copy of itself, which leaves the
generic traces of a face forgery (a blending boundary, a colour and sharpness mismatch, a slight
misalignment) and nothing specific to one manipulation method. :class:`PseudoFakeDataset` brings
that to any :class:`~fakescan.data.loading.CropFolderDataset`: it serves the wrapped samples
unchanged, then one self-blended fake (:func:`fakescan.synth.sbi.self_blend`) of every real one.

A pseudo-fake is a pure function of the real crop, the seed and the epoch: its blend draws from
``sample_rng(seed, epoch, crop + "#sbi")``, so it is a new fake every epoch, the same in every worker
and process, and the same again when a run resumes. With ``fixed=True`` (validation) the fakes are
those of epoch 0 whatever the epoch, so that checkpoints are compared on the same data.

Masks: by default the blend region is an ellipse in the central face box of a centred 1.3× crop.
With ``landmarks`` (a :class:`~fakescan.data.faces.landmarks.CropLandmarks`), it is the convex hull
of the crop's 68 dlib landmarks, as in the paper (Sec. 3.2), then deformed and blurred
(:func:`fakescan.synth.masks.face_mask`); the landmarks of each crop are found once and kept. A crop
whose face the landmark detector does not find falls back to the ellipse; the first such crop is
logged (a warning naming the file) and :attr:`PseudoFakeDataset.landmark_fallbacks` counts them.

With ``mesh`` (a :class:`~fakescan.data.meshes.CropMeshes`), the hull is that of the crop's 468
FaceMesh points, which ``fakescan extract`` kept beside the crops: forehead to chin, closer to the
paper's 81-point hull (68 points and the forehead) than dlib's 68, and found on the whole frame, not
searched for again on the crop. A crop without a mesh falls back to ``landmarks`` (if given), then
to the ellipse; the first is logged with the mesh file's name and
:attr:`PseudoFakeDataset.mesh_fallbacks` counts them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from torch.utils.data import Dataset

from fakescan.data.datasets.index import CropRecord
from fakescan.data.loading import Balance, CropFolderDataset, Sample, sample_rng
from fakescan.synth.sbi import SBIConfig, SBIResult, self_blend

if TYPE_CHECKING:
    from fakescan.data.faces.landmarks import CropLandmarks
    from fakescan.data.meshes import CropMeshes

__all__ = ["SBI_METHOD", "SBI_SUFFIX", "PseudoFakeDataset"]

_log = logging.getLogger(__name__)

SBI_METHOD = "SBI"
"""The class name (method) of the self-blended pseudo-fakes."""
SBI_SUFFIX = "#sbi"
"""Appended to a real crop's ``crop`` and ``video_id`` to name its pseudo-fake."""


class PseudoFakeDataset(Dataset[Sample]):
    """Every sample of ``base``, then a Self-Blended Image of each of its real crops (label 1).

    Indices ``0 … len(base) − 1`` are ``base``'s samples, as ``base`` gives them; the following
    ones are the pseudo-fakes of ``base``'s real records, in their order. A pseudo-fake of the
    record ``r`` has ``crop = r.crop + "#sbi"``, ``video_id = r.video_id + "#sbi"`` (a video of its
    own, never confused with the real one in per-video scores), ``r``'s frame index, label 1 and
    the class of :data:`SBI_METHOD`. Its image is ``r``'s crop, self-blended (Shiohara & Yamasaki,
    CVPR 2022) with the default central face box of a centred face crop, then passed through
    ``base.transform``.

    Args:
        base: the crops to serve and to draw the reals from.
        fixed: the same pseudo-fakes in every epoch (those of epoch 0), for validation; by default
            they are drawn anew each epoch (:meth:`set_epoch`).
        config: the random ranges of the self-blending (default :class:`~fakescan.synth.sbi.SBIConfig`).
        landmarks: blend through the deformed hull of each crop's landmarks (the paper's masks)
            instead of the central ellipse; crops without a found face fall back to the ellipse.
        mesh: blend through the deformed hull of each crop's FaceMesh points (from the extraction's
            ``_mesh.npz``, ``base.crops_root`` being the mesh reader's root); crops without a mesh
            fall back to ``landmarks``, then to the ellipse.

    Attributes:
        class_names: ``base.class_names`` with :data:`SBI_METHOD` appended (unless already there),
            so ``base``'s class indices keep their meaning.

    Raises (on access):
        InputError: a crop file is missing or not a decodable image (the error names the file).
    """

    def __init__(
        self,
        base: CropFolderDataset,
        fixed: bool = False,
        config: SBIConfig | None = None,
        landmarks: CropLandmarks | None = None,
        mesh: CropMeshes | None = None,
    ) -> None:
        self.base = base
        self.fixed = fixed
        self.config = config if config is not None else SBIConfig()
        self.landmarks = landmarks
        self.mesh = mesh
        self._points: dict[int, np.ndarray | None] = {}
        self._without_mesh: set[int] = set()
        self.real_positions = [i for i, record in enumerate(base.records) if record.label == 0]
        names = tuple(base.class_names)
        self.class_names: tuple[str, ...] = names if SBI_METHOD in names else (*names, SBI_METHOD)
        self.sbi_class_index = self.class_names.index(SBI_METHOD)

    @property
    def epoch(self) -> int:
        """The epoch whose pseudo-fakes are served (always 0 when ``fixed``)."""
        return 0 if self.fixed else self.base.epoch

    def set_epoch(self, epoch: int) -> None:
        """Draw the augmentations and the pseudo-fakes of ``epoch`` (before each epoch's iteration)."""
        self.base.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.base) + len(self.real_positions)

    def _real_record(self, index: int) -> tuple[int, CropRecord]:
        """The position in ``base`` and the record of the real crop behind pseudo-fake ``index``."""
        if not len(self.base) <= index < len(self):
            first, last = len(self.base), len(self) - 1
            raise IndexError(f"index {index} is not a pseudo-fake (those are {first}..{last})")
        position = self.real_positions[index - len(self.base)]
        return position, self.base.records[position]

    def blend(self, index: int) -> SBIResult:
        """The self-blended image of pseudo-fake ``index`` (uint8 RGB, with its blend mask), before the
        transform; where the mask is 0 it equals the real crop (``base.pixels``).

        Raises:
            IndexError: ``index`` is one of ``base``'s samples, not a pseudo-fake.
        """
        position, record = self._real_record(index)
        rng = sample_rng(self.base.seed, self.epoch, record.crop + SBI_SUFFIX)
        pixels = self.base.pixels(position)
        return self_blend(pixels, rng, landmarks=self._landmarks_of(position, pixels), config=self.config)

    @property
    def landmark_fallbacks(self) -> int:
        """How many of the crops looked at so far (in this process) got the ellipse mask because no
        face was found for their landmarks."""
        if self.landmarks is None and self.mesh is None:
            return 0
        return sum(points is None for points in self._points.values())

    @property
    def mesh_fallbacks(self) -> int:
        """How many of the crops looked at so far (in this process) had no face mesh, and got the
        ``landmarks`` (or, without those or a found face, the ellipse) instead."""
        return len(self._without_mesh)

    def _landmarks_of(self, position: int, pixels: np.ndarray) -> np.ndarray | None:
        if self.landmarks is None and self.mesh is None:
            return None
        if position in self._points:
            return self._points[position]
        record = self.base.records[position]
        if self.mesh is not None:
            points = self.mesh(record)
            if points is not None:
                self._points[position] = points
                return points
            if not self._without_mesh:
                _log.warning(
                    "%s has no face mesh (%s); its self-blend uses %s (further such crops are counted, "
                    "not logged)",
                    self.base.crops_root / record.crop,
                    self.mesh.why_missing(record),
                    "dlib's landmarks" if self.landmarks is not None else "the central ellipse mask",
                )
            self._without_mesh.add(position)
        if self.landmarks is None:
            self._points[position] = None
            return None
        points = self.landmarks(pixels)
        if points is None and self.landmark_fallbacks == 0:
            _log.warning(
                "%s: no face found for landmarks; its self-blend uses the central ellipse mask "
                "(further such crops are counted, not logged)",
                self.base.crops_root / record.crop,
            )
        self._points[position] = points
        return points

    def __getitem__(self, index: int) -> Sample:
        if 0 <= index < len(self.base):
            return self.base[index]
        _, record = self._real_record(index)
        crop = record.crop + SBI_SUFFIX
        views = self.base.transform(
            self.blend(index).image, sample_rng(self.base.seed, self.epoch, crop + "/augment")
        )
        return Sample(
            image=views.image,
            label=1,
            class_index=self.sbi_class_index,
            video_id=record.video_id + SBI_SUFFIX,
            frame_index=record.frame_index,
            crop=crop,
            spectrum=views.spectrum,
        )

    def targets(self, balance: Balance = "label") -> list[int]:
        """Per-sample targets for balancing (:func:`~fakescan.data.loading.make_loader`): binary
        labels, or class indices."""
        base: Sequence[int] = self.base.targets(balance)
        fake = 1 if balance == "label" else self.sbi_class_index
        return [*base, *([fake] * len(self.real_positions))]

    def real_of(self, index: int) -> int:
        """The index (in ``base`` and here) of the real sample that pseudo-fake ``index`` is made from."""
        return self._real_record(index)[0]
