"""Reading still images as 8-bit RGB, and writing crops atomically.

Images come in many shapes: grayscale, with an alpha channel, 16-bit, paletted. Every reader in
fakescan sees the same thing: an ``H×W×3`` uint8 RGB array.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fakescan._atomic import atomic_write_bytes
from fakescan.errors import InputError

__all__ = ["IMAGE_EXTENSIONS", "decode_image", "read_file_bytes", "read_image", "to_rgb8", "write_image"]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})


def to_rgb8(pixels: np.ndarray, channel_order: str = "rgb") -> np.ndarray:
    """Convert an image array of any common layout to ``H×W×3`` uint8 RGB.

    Accepts ``H×W`` or ``H×W×1`` (gray), ``H×W×3`` and ``H×W×4`` (alpha is dropped), in uint8,
    uint16 (scaled by 1/257) or float in ``[0, 1]``. ``channel_order`` says whether colour input is
    ``"rgb"`` or ``"bgr"`` (OpenCV's order).

    >>> to_rgb8(np.full((2, 2), 65535, np.uint16))[0, 0].tolist()
    [255, 255, 255]
    >>> to_rgb8(np.zeros((1, 1, 4), np.uint8)).shape
    (1, 1, 3)
    """
    if pixels.dtype == np.uint16:
        pixels = (pixels.astype(np.uint32) * 255 // 65535).astype(np.uint8)
    elif np.issubdtype(pixels.dtype, np.floating):
        pixels = (np.clip(pixels, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif pixels.dtype != np.uint8:
        raise ValueError(f"unsupported pixel type {pixels.dtype}")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4):
        raise ValueError(f"unsupported image shape {pixels.shape}")
    if pixels.shape[2] == 1:
        return np.ascontiguousarray(np.repeat(pixels, 3, axis=2))
    colour = pixels[:, :, :3]
    if channel_order == "bgr":
        colour = colour[:, :, ::-1]
    return np.ascontiguousarray(colour)


def read_file_bytes(path: str | Path, what: str = "file") -> bytes:
    """The bytes of ``path``.

    Raises:
        InputError: naming the file: ``"<what> not found"``, or ``"cannot read the <what> (...)"``.
    """
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, f"{what} not found") from None
    except OSError as error:
        raise InputError(path, f"cannot read the {what} ({error.strerror or error})") from None


def decode_image(data: bytes, source: str | Path) -> np.ndarray:
    """Decode encoded image bytes (PNG, JPEG, …) to ``H×W×3`` uint8 RGB, as ``read_image`` does a file.

    Args:
        data: the encoded file's bytes.
        source: where the bytes came from, named in the error (a file, or ``shard.tar:key.png``).

    Raises:
        InputError: empty or undecodable bytes, or an unsupported pixel layout.

    >>> import cv2
    >>> ok, png = cv2.imencode(".png", np.zeros((2, 3, 3), np.uint8))
    >>> decode_image(png.tobytes(), "x.png").shape
    (2, 3, 3)
    """
    import cv2

    if not data:
        raise InputError(source, "file is empty (0 bytes)")
    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise InputError(source, "not a decodable image")
    try:
        return to_rgb8(pixels, channel_order="bgr")
    except ValueError as error:
        raise InputError(source, str(error)) from error


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as ``H×W×3`` uint8 RGB.

    Raises:
        InputError: the file is missing, unreadable, empty, or not an image OpenCV can decode.
    """
    return decode_image(read_file_bytes(path), path)


def write_image(path: str | Path, image: np.ndarray, jpeg_quality: int = 95) -> None:
    """Write an RGB image to ``path`` atomically: a temporary file in the same folder, then a rename.

    The format follows the suffix (``.png`` or ``.jpg``). A crash leaves either the old file or the
    new one, never a half-written image.
    """
    import cv2

    path = Path(path)
    suffix = path.suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if suffix in (".jpg", ".jpeg") else []
    ok, encoded = cv2.imencode(suffix, np.ascontiguousarray(image[:, :, ::-1]), params)
    if not ok:
        raise OSError(f"{path}: OpenCV could not encode a {suffix} image")
    atomic_write_bytes(path, encoded.tobytes())
