"""The FaceMesh points of a face crop, in the crop's pixels, from the side file of ``fakescan extract``.

``extract`` with a detector that gives a dense mesh (``blazeface``, ``blazeface-full``) writes, beside
the crops of each video, ``_mesh.npz`` (:data:`fakescan.data.extract.MESH_NAME`): for every crop its
frame index, face index, the 468 FaceMesh points (Kartynnik et al., CVPR Workshops 2019) in *frame*
pixels, and the crop's frame-to-crop affine map (:func:`fakescan.data.extract.cut_matrix`).
:class:`CropMeshes` maps the points of a training crop (a :class:`~fakescan.data.datasets.index.CropRecord`)
into its pixels, for landmark-based blending masks (Self-Blended Images, Shiohara & Yamasaki,
CVPR 2022, Sec. 3.2: the convex hull of the face's landmarks).

How a crop record leads back to its entry: its folder is ``crops_root / dirname(record.crop)`` (the
video's extraction folder, where ``_mesh.npz`` lies), its frame is ``record.frame_index`` and its
face the ``_k`` of the file name ``<frame>_<k>.png`` (0 without it: the followed face). The crop's
map is read from the file, not rebuilt from the manifest: the manifest keeps the face box rounded to
0.1 px and not the frame's size, which the border clamp of a square crop needs; mesh files written
before the map was recorded (no ``crop_matrix``) give no points.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fakescan.data.datasets.index import CropRecord
from fakescan.data.extract import MESH_NAME
from fakescan.data.faces.facemesh import MESH_POINTS
from fakescan.errors import InputError

__all__ = ["CropMeshes", "crop_face_index", "map_points"]

_CROP_FILE = re.compile(r"^(\d+)(?:_(\d+))?\.[A-Za-z]+$")


def crop_face_index(crop: str) -> int | None:
    """The face index of a crop path as ``extract`` names crops (``<frame>.png``: 0, ``<frame>_<k>.png``:
    k); ``None`` for another name.

    >>> crop_face_index("a/b/12.png"), crop_face_index("a/12_3.jpg"), crop_face_index("a/x.png")
    (0, 3, None)
    """
    match = _CROP_FILE.match(crop.rsplit("/", 1)[-1])
    if match is None:
        return None
    return int(match.group(2) or 0)


def map_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``N×2`` (or ``N×3``: ``z`` is dropped) frame points through a 2×3 affine ``matrix``, as float32.

    >>> map_points(np.array([[1.0, 2.0, 9.0]]), np.array([[2.0, 0.0, 1.0], [0.0, 2.0, -1.0]])).tolist()
    [[3.0, 3.0]]
    """
    xy = np.asarray(points, np.float64)[:, :2]
    return (xy @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


@dataclass(frozen=True)
class _FolderMeshes:
    """One ``_mesh.npz``, its points already in the pixels of their crops."""

    rows: dict[tuple[int, int], int]
    points: np.ndarray  # N×468×2 float32, crop pixels
    matrices: np.ndarray  # N×2×3 float64, frame to crop
    legacy: bool = False  # written before crop maps were recorded: no usable entry


def _damaged(path: Path, reason: str) -> InputError:
    return InputError(path, f"damaged face-mesh file ({reason}); re-run fakescan extract")


def _read_mesh_file(path: Path) -> _FolderMeshes | None:
    """The mesh file at ``path`` mapped into its crops; ``None`` when there is none.

    Raises:
        InputError: the file is damaged, or not a mesh file of ``fakescan extract`` (names the file).
    """
    if not path.is_file():
        return None
    damaged = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)
    try:
        if not zipfile.is_zipfile(path):
            raise _damaged(path, "not an .npz archive")
        with np.load(path, allow_pickle=False) as data:
            names = set(data.files)
            needed = {"frame_index", "face_index", "points"}
            if not needed <= names:
                raise InputError(
                    path,
                    f"not a face-mesh file of fakescan extract (lacks {', '.join(sorted(needed - names))})",
                )
            if "crop_matrix" not in names:
                return _FolderMeshes(
                    {}, np.zeros((0, MESH_POINTS, 2), np.float32), np.zeros((0, 2, 3)), legacy=True
                )
            frames, faces = data["frame_index"], data["face_index"]
            points, matrices = data["points"], data["crop_matrix"]
    except damaged as error:
        raise _damaged(path, str(error).splitlines()[0] if str(error) else type(error).__name__) from None
    count = frames.shape[0] if frames.ndim == 1 else -1
    if (
        faces.shape != (count,)
        or points.ndim != 3
        or points.shape[:2] != (count, MESH_POINTS)
        or points.shape[2] < 2
        or matrices.shape != (count, 2, 3)
        or not (np.isfinite(points[..., :2]).all() and np.isfinite(matrices).all())
    ):
        raise InputError(
            path,
            f"damaged face-mesh file (mismatched shapes or values that are not finite: frame_index "
            f"{frames.shape}, face_index {faces.shape}, points {points.shape}, crop_matrix "
            f"{matrices.shape}); re-run fakescan extract",
        )
    mapped = np.empty((count, MESH_POINTS, 2), np.float32)
    for n in range(count):
        mapped[n] = map_points(points[n], matrices[n])
    rows = {(int(frame), int(face)): n for n, (frame, face) in enumerate(zip(frames, faces, strict=True))}
    return _FolderMeshes(rows, mapped, matrices.astype(np.float64))


class CropMeshes:
    """The 468 FaceMesh points of face crops, in each crop's pixels, from their folders' ``_mesh.npz``.

    Each folder's file is read once, on the first crop of the folder asked for, and kept (about 3.7 kB
    a crop); the object can be sent to data loader workers (each reads the files it needs anew).

    Args:
        crops_root: the folder the records' ``crop`` paths are relative to.
    """

    def __init__(self, crops_root: str | Path) -> None:
        self.crops_root = Path(crops_root)
        self._folders: dict[str, _FolderMeshes | None] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_folders": {}}

    def mesh_file(self, record: CropRecord) -> Path:
        """The ``_mesh.npz`` that would hold the mesh of ``record``'s crop."""
        return (self.crops_root / record.crop).parent / MESH_NAME

    def _folder(self, record: CropRecord) -> _FolderMeshes | None:
        path = self.mesh_file(record)
        key = str(path.parent)
        if key not in self._folders:
            self._folders[key] = _read_mesh_file(path)
        return self._folders[key]

    def why_missing(self, record: CropRecord) -> str:
        """Why :meth:`__call__` gives no points for ``record`` (for a log line)."""
        path = self.mesh_file(record)
        face = crop_face_index(record.crop)
        folder = None if face is None else self._folder(record)
        if face is None:
            return f"{record.crop}: not a crop file name of fakescan extract"
        if folder is None:
            return f"{path}: no such file"
        if folder.legacy:
            return f"{path}: written before crop maps were recorded (re-run fakescan extract)"
        return f"{path}: no entry for frame {record.frame_index}, face {face}"

    def covers(self, records: Iterable[CropRecord]) -> bool:
        """Whether the folder of every one of ``records`` has a mesh file (one look per folder)."""
        return all(path.is_file() for path in {self.mesh_file(record) for record in records})

    def _row(self, record: CropRecord) -> tuple[_FolderMeshes, int] | None:
        face = crop_face_index(record.crop)
        folder = None if face is None else self._folder(record)
        if face is None or folder is None:
            return None
        row = folder.rows.get((record.frame_index, face))
        return None if row is None else (folder, row)

    def crop_matrix(self, record: CropRecord) -> np.ndarray | None:
        """The 2×3 frame-to-crop affine map of ``record``'s crop, from its folder's mesh file (frame
        points, such as the manifest's key points, times it are crop points); ``None`` as
        :meth:`__call__`."""
        found = self._row(record)
        return None if found is None else found[0].matrices[found[1]]

    def __call__(self, record: CropRecord) -> np.ndarray | None:
        """``468×2`` float32 ``(x, y)`` of the crop's face mesh in the pixels of the crop as extract wrote
        it, or ``None`` when its folder has no mesh file, the file has no entry for its frame and face,
        or the file predates the recorded crop maps.

        Raises:
            InputError: the folder's mesh file is damaged (the error names it).
        """
        found = self._row(record)
        return None if found is None else found[0].points[found[1]]
