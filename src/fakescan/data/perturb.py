"""Real-world perturbations of face crops: the DeeperForensics-1.0 ladder, JPEG, resizing, H.264.

Detectors lose much of their accuracy on media that was re-encoded, resized or filtered on its way to
a platform. DeeperForensics-1.0 (Jiang et al., CVPR 2020, Sec. 3.3 "Perturbations") defined the
field's ladder: seven distortions at five severity levels each. :data:`PERTURBATIONS` holds those
levels, plus JPEG re-compression and down-and-up resizing, for ``fakescan robustness``
(:mod:`fakescan.evaluate.robustness`); :class:`RobustAugment` draws the same operations as training
augmentations (``fakescan train --augment robust``).

Every operation is a pure function of an ``H×W×3`` uint8 RGB array (never changed in place) and, where
it is random, of an explicit :class:`numpy.random.Generator`; the same generator state gives the same
pixels. H.264 re-encoding works on a whole clip (a video's crops in frame order), encoded with libx264
through PyAV and decoded back, because inter-frame coding is what makes video compression differ from
JPEG.

How ours follows the DeeperForensics-1.0 reference perturbation script (written afresh, from its
parameters; where it deviates it says so):

- colour saturation: the chroma (Cb, Cr) of full-range BT.601 Y'CbCr scaled about its neutral point;
- contrast: every intensity scaled by the factor, as the reference does (towards black: the dynamic
  range and the brightness fall together);
- block-wise occlusion: grey (128) 8×8 blocks at uniformly random places, ``n`` blocks per 256 px of
  the shorter side (the reference rounds ``side // 256`` down, which gives no block at all on crops
  smaller than 256 px; we scale ``n · side / 256``, rounded, at least one);
- Gaussian noise: white noise of the given variance on the ``[0, 1]`` Y'CbCr components;
- Gaussian blur: a ``k×k`` kernel with ``σ = k / 6``;
- pixelation: area down-scaling by the factor, then nearest-neighbour up-scaling (the reference
  resamples bilinearly both ways, which is our :func:`rescale`; nearest up-scaling keeps the
  blocks that make it a pixelation);
- H.264: libx264 at the given CRF (preset ``medium``, x264's default, as the reference's ffmpeg call).

Differences of setting: the reference perturbs whole frames before the face is found; we perturb the
extracted crops, so a blur kernel or block count acts on the face at crop resolution, which is a
stronger perturbation of the face than the same value on a full-HD frame.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from fakescan.data.transforms import gaussian_blur, jpeg_recompress
from fakescan.errors import ConfigError

__all__ = [
    "PERTURBATIONS",
    "Perturbation",
    "RobustAugment",
    "block_occlusion",
    "color_contrast",
    "color_noise",
    "color_saturation",
    "decode_clip",
    "encode_h264",
    "gaussian_blur_kernel",
    "get_perturbation",
    "h264_reencode",
    "h264_still",
    "pixelate",
    "rescale",
]

_BLOCK = 8
_GREY = 128


def _check(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 uint8 RGB image, got {image.dtype} of shape {image.shape}")


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _ycc(image: np.ndarray) -> np.ndarray:
    """Full-range BT.601 Y'CrCb in ``[0, 1]`` (chroma centred on 0.5), float32 (OpenCV's channel order)."""
    import cv2

    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2YCrCb)


def _rgb(ycc: np.ndarray) -> np.ndarray:
    import cv2

    return _to_uint8(cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB) * 255.0)


# -- the DeeperForensics-1.0 distortions ---------------------------------------------------------


def color_saturation(image: np.ndarray, factor: float) -> np.ndarray:
    """Scale the chroma of ``image`` by ``factor`` about neutral grey: 1 leaves it, 0 makes it gray.

    >>> out = color_saturation(np.full((2, 2, 3), (200, 40, 90), np.uint8), 0.0)
    >>> int(out.max(axis=2).min() - out.min(axis=2).max()) <= 1
    True
    """
    _check(image)
    if factor < 0:
        raise ValueError(f"saturation factor must be non-negative, got {factor}")
    ycc = _ycc(image)
    ycc[..., 1:] = 0.5 + (ycc[..., 1:] - 0.5) * float(factor)
    return _rgb(ycc)


def color_contrast(image: np.ndarray, factor: float) -> np.ndarray:
    """Scale every intensity by ``factor`` (DeeperForensics-1.0's contrast change), rounded.

    >>> color_contrast(np.full((1, 1, 3), 200, np.uint8), 0.5)[0, 0].tolist()
    [100, 100, 100]
    """
    _check(image)
    if factor < 0:
        raise ValueError(f"contrast factor must be non-negative, got {factor}")
    return _to_uint8(image.astype(np.float32) * float(factor))


def block_occlusion(image: np.ndarray, blocks: int, rng: np.random.Generator) -> np.ndarray:
    """Paint grey (128) 8×8 blocks at random places: ``blocks`` per 256 px of the shorter side.

    The count is ``round(blocks · min(H, W) / 256)``, at least one when ``blocks > 0``; blocks may
    overlap. Images smaller than a block are returned unchanged (copied).

    >>> out = block_occlusion(np.zeros((256, 256, 3), np.uint8), 16, np.random.default_rng(0))
    >>> 0 < int((out == 128).all(axis=2).sum()) <= 16 * 64
    True
    """
    _check(image)
    if blocks < 0:
        raise ValueError(f"block count must be non-negative, got {blocks}")
    out = image.copy()
    height, width = image.shape[:2]
    if blocks == 0 or height < _BLOCK or width < _BLOCK:
        return out
    count = max(1, round(blocks * min(height, width) / 256))
    rows = rng.integers(0, height - _BLOCK + 1, size=count)
    cols = rng.integers(0, width - _BLOCK + 1, size=count)
    for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
        out[row : row + _BLOCK, col : col + _BLOCK] = _GREY
    return out


def color_noise(image: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    """Add white Gaussian noise of ``variance`` to the ``[0, 1]`` Y'CbCr components, back to RGB.

    >>> image = np.full((4, 4, 3), 100, np.uint8)
    >>> bool((color_noise(image, 0.0, np.random.default_rng(0)) == image).all())
    True
    """
    _check(image)
    if variance < 0:
        raise ValueError(f"noise variance must be non-negative, got {variance}")
    ycc = _ycc(image)
    ycc += rng.normal(0.0, math.sqrt(variance), size=ycc.shape).astype(np.float32)
    return _rgb(ycc)


def gaussian_blur_kernel(image: np.ndarray, kernel: int) -> np.ndarray:
    """Gaussian blur with a ``kernel × kernel`` window (odd) and ``σ = kernel / 6`` (mirrored edges).

    >>> gaussian_blur_kernel(np.full((9, 9, 3), 7, np.uint8), 7)[4, 4].tolist()
    [7, 7, 7]
    """
    import cv2

    _check(image)
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"blur kernel must be a positive odd size, got {kernel}")
    return cv2.GaussianBlur(image, (kernel, kernel), kernel / 6.0, borderType=cv2.BORDER_REFLECT_101)


def pixelate(image: np.ndarray, factor: int) -> np.ndarray:
    """Shrink by ``factor`` (area averaging), then enlarge back with nearest neighbours: blocks.

    >>> pixelate(np.arange(48, dtype=np.uint8).reshape(4, 4, 3), 2).shape
    (4, 4, 3)
    """
    import cv2

    _check(image)
    if factor < 1:
        raise ValueError(f"pixelation factor must be at least 1, got {factor}")
    height, width = image.shape[:2]
    small = cv2.resize(
        image, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA
    )
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)


def rescale(image: np.ndarray, scale: float) -> np.ndarray:
    """Resize to ``scale`` of each side (area averaging), then back (bilinear): lost detail, no blocks.

    >>> rescale(np.zeros((10, 6, 3), np.uint8), 0.5).shape
    (10, 6, 3)
    """
    import cv2

    _check(image)
    if not 0 < scale <= 1:
        raise ValueError(f"resize scale must be in (0, 1], got {scale}")
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


# -- H.264 ---------------------------------------------------------------------------------------


def encode_h264(frames: Sequence[np.ndarray], crf: float, fps: int = 25, preset: str = "medium") -> bytes:
    """Encode ``frames`` (equal ``H×W×3`` uint8 RGB) as an H.264 Annex-B stream with libx264 at ``crf``.

    4:2:0 chroma, as platforms deliver video; an odd side is padded by repeating the edge (and cut off
    again by :func:`h264_reencode`). One encoder thread, so the bytes depend on the input alone.
    """
    import av

    if not frames:
        raise ValueError("no frames to encode")
    for frame in frames:
        _check(frame)
    height, width = frames[0].shape[:2]
    if any(frame.shape != frames[0].shape for frame in frames):
        raise ValueError(
            f"all frames of a clip must share one shape, got {sorted({f.shape for f in frames})}"
        )
    if not 0 <= crf <= 51:
        raise ValueError(f"H.264 CRF must be in 0..51, got {crf}")
    pad = ((0, height % 2), (0, width % 2), (0, 0))
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="h264") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps, 1))
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": f"{crf:g}", "preset": preset, "threads": "1"}
        for pixels in frames:
            frame = av.VideoFrame.from_ndarray(np.pad(pixels, pad, mode="edge"), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def decode_clip(data: bytes) -> list[np.ndarray]:
    """Every frame of an H.264 Annex-B stream (:func:`encode_h264`) as ``H×W×3`` uint8 RGB."""
    import av

    with av.open(io.BytesIO(data), mode="r", format="h264") as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def h264_reencode(frames: Sequence[np.ndarray], crf: float, preset: str = "medium") -> list[np.ndarray]:
    """``frames`` as a clip through libx264 at ``crf`` and back: what a platform's re-encoding does.

    Raises:
        ValueError: no frames, frames of different shapes, or the decoder lost frames.
    """
    decoded = decode_clip(encode_h264(frames, crf, preset=preset))
    if len(decoded) != len(frames):
        raise ValueError(f"H.264 round trip gave {len(decoded)} frames for {len(frames)}")
    height, width = frames[0].shape[:2]
    return [np.ascontiguousarray(frame[:height, :width]) for frame in decoded]


def h264_still(image: np.ndarray, crf: float) -> np.ndarray:
    """One image through libx264 at ``crf`` as a one-frame clip (intra coding only; preset veryfast).

    >>> h264_still(np.full((16, 16, 3), 77, np.uint8), 30).shape
    (16, 16, 3)
    """
    return h264_reencode([image], crf, preset="veryfast")[0]


# -- the ladder ----------------------------------------------------------------------------------


def _saturation(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    return color_saturation(image, value)


def _contrast(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    return color_contrast(image, value)


def _occlusion(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    return block_occlusion(image, int(value), rng)


def _noise(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    return color_noise(image, value, rng)


def _blur(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    return gaussian_blur_kernel(image, int(value))


def _pixelate(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    return pixelate(image, int(value))


def _jpeg(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    return jpeg_recompress(image, int(value))


def _resize(image: np.ndarray, value: float, rng: np.random.Generator) -> np.ndarray:
    return rescale(image, value)


def _h264(frames: Sequence[np.ndarray], value: float) -> list[np.ndarray]:
    return h264_reencode(frames, value)


FrameOp = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]
ClipOp = Callable[[Sequence[np.ndarray], float], list[np.ndarray]]


@dataclass(frozen=True)
class Perturbation:
    """One perturbation and its severity levels (level 1 the mildest).

    Attributes:
        name: its name on the command line (``--perturbations``).
        title: what plots and tables call it.
        parameter: what ``values`` are (``"quality"``, ``"kernel"``, ...).
        values: the parameter at levels 1, 2, ...
        frame_op: ``(image, value, rng) -> image`` for a per-crop perturbation, or None.
        clip_op: ``(frames, value) -> frames`` for a perturbation of a video's crops as a clip, or None.
    """

    name: str
    title: str
    parameter: str
    values: tuple[float, ...]
    frame_op: FrameOp | None = None
    clip_op: ClipOp | None = None

    @property
    def levels(self) -> tuple[int, ...]:
        """The level numbers, ``1 .. len(values)``."""
        return tuple(range(1, len(self.values) + 1))

    @property
    def per_video(self) -> bool:
        """Whether it perturbs a video's crops together (as one clip)."""
        return self.clip_op is not None

    def value(self, level: int) -> float:
        """The parameter at ``level`` (1-based)."""
        if level not in self.levels:
            raise ConfigError(f"{self.name} has levels {self.levels[0]}..{self.levels[-1]}, not {level}")
        return self.values[level - 1]

    def apply(self, image: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
        """Perturb one crop at ``level`` (a per-video perturbation treats it as a one-frame clip)."""
        if self.frame_op is not None:
            return self.frame_op(image, self.value(level), rng)
        return self.apply_clip([image], level)[0]

    def apply_clip(self, frames: Sequence[np.ndarray], level: int) -> list[np.ndarray]:
        """Perturb a video's crops (in frame order) together, at ``level``."""
        if self.clip_op is None:
            raise ValueError(f"{self.name} perturbs crops one by one; use apply")
        return self.clip_op(frames, self.value(level))


PERTURBATIONS: dict[str, Perturbation] = {
    p.name: p
    for p in (
        Perturbation(
            "saturation", "colour saturation", "chroma factor", (0.4, 0.3, 0.2, 0.1, 0.0), _saturation
        ),
        Perturbation("contrast", "contrast", "intensity factor", (0.85, 0.725, 0.6, 0.475, 0.35), _contrast),
        Perturbation("occlusion", "block occlusion", "blocks per 256 px", (16, 32, 48, 64, 80), _occlusion),
        Perturbation("noise", "Gaussian noise", "variance", (0.001, 0.002, 0.005, 0.01, 0.05), _noise),
        Perturbation("blur", "Gaussian blur", "kernel", (7, 9, 13, 17, 21), _blur),
        Perturbation("pixelation", "pixelation", "factor", (2, 3, 4, 5, 6), _pixelate),
        Perturbation("h264", "H.264 re-encoding", "CRF", (30, 32, 35, 38, 40), clip_op=_h264),
        Perturbation("jpeg", "JPEG", "quality", (90, 70, 50, 30), _jpeg),
        Perturbation("resize", "resize and back", "scale", (0.5, 0.25), _resize),
    )
}
"""The perturbations of ``fakescan robustness``: the DeeperForensics-1.0 seven (its values), JPEG, resize."""


def get_perturbation(name: str) -> Perturbation:
    """The perturbation called ``name``; an unknown name is an error listing the choices.

    >>> get_perturbation("jpeg").values
    (90, 70, 50, 30)
    """
    try:
        return PERTURBATIONS[name]
    except KeyError:
        raise ConfigError(f"unknown perturbation {name!r}; choose from {', '.join(PERTURBATIONS)}") from None


# -- training augmentation -----------------------------------------------------------------------


@dataclass(frozen=True)
class RobustAugment:
    """``--augment robust``: the perturbations as training augmentations, each with its probability.

    Applied in this order, as media degrade on their way to a platform: colour (saturation, contrast)
    → occlusion → downscaling → blur → noise → compression (JPEG, H.264). The ranges reach into the
    report's ladder but not all the way: blur σ up to 2.5 (the ladder reaches 3.5), noise variance up
    to 0.01 (0.05), downscaling to 0.25 (pixelation ×5, ×6 go further), H.264 intra-coded single
    frames only (the report encodes clips, with motion prediction); so the report also measures how
    far the model generalises beyond what it was trained on.

    Attributes:
        saturation_p, saturation: chroma factor drawn uniformly from ``saturation``.
        contrast_p, contrast: intensity factor drawn uniformly from ``contrast``.
        occlusion_p, occlusion: grey blocks per 256 px, an integer drawn uniformly (inclusive).
        downscale_p, downscale: side scale drawn uniformly; back up bilinearly, or with nearest
            neighbours (pixelation) with probability ``pixelate_p``.
        blur_p, blur_sigma: Gaussian blur, σ (pixels) drawn uniformly.
        noise_p, noise_variance: Y'CbCr noise, variance drawn log-uniformly.
        jpeg_p, jpeg_quality: JPEG re-compression, quality an integer drawn uniformly (inclusive).
        h264_p, h264_crf: H.264 intra coding of the crop, CRF an integer drawn uniformly (inclusive).
    """

    saturation_p: float = 0.1
    saturation: tuple[float, float] = (0.0, 1.0)
    contrast_p: float = 0.1
    contrast: tuple[float, float] = (0.5, 1.0)
    occlusion_p: float = 0.1
    occlusion: tuple[int, int] = (8, 48)
    downscale_p: float = 0.3
    downscale: tuple[float, float] = (0.25, 0.9)
    pixelate_p: float = 0.3
    blur_p: float = 0.3
    blur_sigma: tuple[float, float] = (0.3, 2.5)
    noise_p: float = 0.2
    noise_variance: tuple[float, float] = (0.0002, 0.01)
    jpeg_p: float = 0.5
    jpeg_quality: tuple[int, int] = (40, 100)
    h264_p: float = 0.2
    h264_crf: tuple[int, int] = (23, 40)

    def __post_init__(self) -> None:
        for name in (
            "saturation_p",
            "contrast_p",
            "occlusion_p",
            "downscale_p",
            "pixelate_p",
            "blur_p",
            "noise_p",
            "jpeg_p",
            "h264_p",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"robust augmentation {name} must be a probability in [0, 1], got {value}")
        limits = {
            "saturation": (0.0, math.inf),
            "contrast": (0.0, math.inf),
            "occlusion": (0, math.inf),
            "downscale": (1e-6, 1.0),
            "blur_sigma": (1e-6, math.inf),
            "noise_variance": (1e-12, math.inf),
            "jpeg_quality": (1, 100),
            "h264_crf": (0, 51),
        }
        for name, (lowest, highest) in limits.items():
            low, high = getattr(self, name)
            if not lowest <= low <= high <= highest:
                raise ConfigError(
                    f"robust augmentation {name} must be an ordered range within "
                    f"[{lowest}, {highest}], got {(low, high)}"
                )

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Degrade ``image``; the same ``rng`` state gives the same result.

        Nine uniform draws decide the steps, always all made first, so the parameters one step draws
        never shift the decisions of the others.
        """
        saturate, contrast, occlude, downscale, pixel, blur, noise, jpeg, h264 = rng.random(9)
        if saturate < self.saturation_p:
            image = color_saturation(image, float(rng.uniform(*self.saturation)))
        if contrast < self.contrast_p:
            image = color_contrast(image, float(rng.uniform(*self.contrast)))
        if occlude < self.occlusion_p:
            image = block_occlusion(image, int(rng.integers(self.occlusion[0], self.occlusion[1] + 1)), rng)
        if downscale < self.downscale_p:
            scale = float(rng.uniform(*self.downscale))
            image = (
                pixelate(image, max(1, round(1 / scale)))
                if pixel < self.pixelate_p
                else rescale(image, scale)
            )
        if blur < self.blur_p:
            image = gaussian_blur(image, float(rng.uniform(*self.blur_sigma)))
        if noise < self.noise_p:
            low, high = self.noise_variance
            image = color_noise(image, float(math.exp(rng.uniform(math.log(low), math.log(high)))), rng)
        if jpeg < self.jpeg_p:
            image = jpeg_recompress(image, int(rng.integers(self.jpeg_quality[0], self.jpeg_quality[1] + 1)))
        if h264 < self.h264_p:
            image = h264_still(image, int(rng.integers(self.h264_crf[0], self.h264_crf[1] + 1)))
        return image
