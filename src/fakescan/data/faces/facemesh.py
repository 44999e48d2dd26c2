"""FaceMesh: 468 3-D face landmarks and a face-presence score for a detected face.

Kartynnik, Ablavatski, Grishchenko and Grundmann, "Real-time Facial Surface Geometry from Monocular
Video on Mobile GPUs", CVPR Workshop on Computer Vision for AR/VR 2019 (arXiv:1907.06724), and the
MediaPipe Face Mesh model card. The network is MediaPipe's ``face_landmark.tflite``
(:mod:`fakescan.data.faces.models`); the region of interest and the mapping back are ours, from the
paper (§2: the face detector's box, enlarged and turned so that the eyes are level, is cut to the
192×192 input; the network returns the mesh in that crop's pixels, with a relative depth, and a
score that a face is present).

Two uses in fakescan: the whole mesh goes to a side file of ``extract`` (alignment and
landmark-based blending masks need more than five points), and the presence score turns away the
detector's false faces (the BlazeFace detectors drop boxes whose mesh score is under 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fakescan.data.faces.base import Box
from fakescan.data.faces.crop import aligned_crop_matrix, eye_angle

__all__ = ["MESH_POINTS", "ROI_MARGIN", "FaceMesh", "MeshResult", "map_back"]

MESH_POINTS = 468
"""Landmarks of the face mesh."""
ROI_MARGIN = 1.5
"""The model's input square, as a multiple of the detector box's longer side."""
INPUT_SIZE = 192


@dataclass(frozen=True)
class MeshResult:
    """The mesh of one face.

    Attributes:
        points: ``468×3`` float32 ``(x, y, z)``: x, y in pixels of the frame, z a relative depth in
            the same scale (smaller is nearer the camera).
        presence: probability that the input showed a face, in ``[0, 1]``.
    """

    points: np.ndarray
    presence: float


def map_back(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map ``N×3`` crop points through the inverse of the 2×3 frame-to-crop ``matrix``.

    x and y are transformed exactly; z is divided by the matrix's scale.

    >>> m = np.array([[2.0, 0.0, 4.0], [0.0, 2.0, 0.0]])
    >>> map_back(np.array([[6.0, 2.0, 2.0]]), m).tolist()
    [[1.0, 1.0, 1.0]]
    """
    linear = matrix[:, :2]
    inverse = np.linalg.inv(linear)
    xy = (points[:, :2] - matrix[:, 2]) @ inverse.T
    scale = float(np.sqrt(abs(np.linalg.det(linear))))
    return np.concatenate([xy, points[:, 2:3] / scale], axis=1).astype(np.float32)


class FaceMesh:
    """MediaPipe's face-landmark network on the LiteRT interpreter.

    Args:
        model_path: a local ``face_landmark.tflite`` instead of the fetched one.
        threads: interpreter threads.
    """

    def __init__(self, model_path: str | None = None, threads: int = 1) -> None:
        from pathlib import Path

        from fakescan.data.faces.models import face_model_path, load_interpreter

        path = Path(model_path) if model_path is not None else face_model_path("face_landmark.tflite")
        self._interpreter = load_interpreter(path, threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = {int(np.prod(d["shape"])): d["index"] for d in self._interpreter.get_output_details()}
        self._points_out, self._flag_out = outputs[MESH_POINTS * 3], outputs[1]

    def __call__(
        self, image: np.ndarray, box: Box, left_eye: tuple[float, float], right_eye: tuple[float, float]
    ) -> MeshResult:
        """The mesh of the face in ``box`` of ``image`` (``H×W×3`` uint8 RGB), eyes from the detector."""
        import cv2

        matrix = aligned_crop_matrix(box, eye_angle(left_eye, right_eye), INPUT_SIZE, ROI_MARGIN)
        crop = cv2.warpAffine(image, matrix, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR)
        self._interpreter.set_tensor(self._input, (crop.astype(np.float32) / 255.0)[None])
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._points_out).reshape(MESH_POINTS, 3)
        logit = float(self._interpreter.get_tensor(self._flag_out).ravel()[0])
        presence = 1.0 / (1.0 + np.exp(-np.clip(logit, -100.0, 100.0)))
        return MeshResult(map_back(raw, matrix), float(presence))
