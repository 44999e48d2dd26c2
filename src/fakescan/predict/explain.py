"""Explanations of a prediction: where the model looked, the face's spectrum, and the score over time.

For every input, ``fakescan predict --explain DIR`` writes into ``DIR/<input key>/``:

- ``gradcam.png`` — Grad-CAM (Selvaraju et al., ICCV 2017, arXiv:1610.02391, eq. 1–2) of the fake
  score on the model's last convolutional feature map, overlaid on the face crop of the most
  fake-looking frame. Every fakescan model returns that map in ``DetectorOutput.aux``
  (``"features"``; ``"spatial_features"`` for MD-CSD's spatial stream), so one code path serves all;
- ``reconstruction.png`` — for models that reconstruct their input (``aux["reconstruction"]``,
  the attention network): the per-pixel error ``|x − reconstruction|``, averaged over channels;
- ``spectrum.png`` — ``log |FFT|`` of the face crop's luminance (:func:`fakescan.ops.spectrum`),
  low frequencies in the centre;
- for videos, ``annotated.mp4`` — every searched frame with the face box and its probability
  (red: at or above the threshold, green: below; frames without a face say so) — and
  ``timeline.png``, the frame probabilities over time against the threshold;
- with every face scored (``predict --all-faces``, the default for photos): for a photo of several
  faces, ``faces.png``, the photo with every face's box tagged with its P(fake)
  (:func:`annotate_faces`), and in
  ``annotated.mp4`` every face's box and P(fake) with its person's number. The heat maps and the
  spectrum are then of the most fake-looking face.

The image maths (:func:`grad_cam`, :func:`reconstruction_error`, :func:`overlay_heatmap`,
:func:`spectrum_picture`, :func:`annotate_frame`) is pure; the writers at the end do the I/O, each
file written atomically (a temporary name, then a rename).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from fakescan._atomic import atomic_write_bytes, make_output_dir
from fakescan.data.extract import FrameFaces
from fakescan.data.images import write_image
from fakescan.data.transforms import EvalTransform
from fakescan.errors import ConfigError
from fakescan.models.output import DetectorOutput, InputConfig
from fakescan.ops.spectrum import spectrum

if TYPE_CHECKING:
    from fakescan.predict.results import Prediction

__all__ = [
    "CAM_KEYS",
    "annotate_faces",
    "annotate_frame",
    "explain_prediction",
    "grad_cam",
    "labelled_faces",
    "most_fake_crop",
    "overlay_heatmap",
    "reconstruction_error",
    "spectrum_picture",
    "write_timeline",
    "write_video",
]

CAM_KEYS: tuple[str, ...] = ("features", "spatial_features")
"""``aux`` keys of the last convolutional feature map, tried in this order."""

VIDEO_FPS = 4
"""Frame rate of the annotated video: the searched frames are sparse, so they are shown slowly."""

_VIDEO_MAX_SIDE = 720


def _forward_aux(model: nn.Module, image: torch.Tensor) -> DetectorOutput:
    device = next(model.parameters()).device
    x = image.unsqueeze(0).to(device)
    output = model(x, return_aux=True)
    if not isinstance(output, DetectorOutput):
        raise ConfigError(f"{type(model).__name__} does not return a DetectorOutput with return_aux=True")
    return output


def _fake_score(logits: torch.Tensor) -> torch.Tensor:
    """The scalar whose gradient Grad-CAM follows: the fake logit, or log-odds of "not real" for K classes."""
    if logits.shape[1] == 1:
        return logits[0, 0]
    log_p = torch.log_softmax(logits[0], dim=0)
    return torch.logsumexp(log_p[1:], dim=0) - log_p[0]


def _normalise(heat: np.ndarray) -> np.ndarray:
    heat = heat - heat.min()
    top = heat.max()
    return (heat / top if top > 0 else heat).astype(np.float32)


def grad_cam(model: nn.Module, image: torch.Tensor) -> np.ndarray:
    """Grad-CAM of the fake score for one normalised ``3×S×S`` input: an ``S×S`` map in ``[0, 1]``.

    The channel weights are the spatial means of the score's gradient with respect to the last
    convolutional feature map (``aux["features"]``); the map is ``ReLU(Σ_c w_c A_c)``, resized
    bilinearly to the input and scaled so its maximum is 1 (all zeros when nothing speaks for "fake").

    Raises:
        ConfigError: the model returns no last feature map in its ``aux``.
    """
    model.eval()
    with torch.inference_mode(False), torch.enable_grad():
        output = _forward_aux(model, image.clone())
        key = next((k for k in CAM_KEYS if k in output.aux), None)
        if key is None:
            raise ConfigError(
                f"{type(model).__name__}: no last feature map in aux (looked for {', '.join(CAM_KEYS)})"
            )
        features = output.aux[key]
        (gradient,) = torch.autograd.grad(_fake_score(output.logits), features)
        weights = gradient.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * features).sum(dim=1, keepdim=True))
        cam = F.interpolate(cam, size=tuple(image.shape[-2:]), mode="bilinear", align_corners=False)
    return _normalise(cam[0, 0].detach().float().cpu().numpy())


def reconstruction_error(model: nn.Module, image: torch.Tensor) -> np.ndarray | None:
    """``|x − reconstruction|`` averaged over channels (``S×S``, scaled to ``[0, 1]``), or ``None``
    for a model without ``aux["reconstruction"]``."""
    model.eval()
    with torch.inference_mode():
        output = _forward_aux(model, image)
    recon = output.aux.get("reconstruction")
    if recon is None:
        return None
    x = image.to(recon.device).unsqueeze(0)
    return _normalise((x - recon).abs().mean(dim=1)[0].float().cpu().numpy())


def overlay_heatmap(crop: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a ``[0, 1]`` heat map (any size; resized) in the JET colour map over an RGB uint8 crop.

    >>> overlay_heatmap(np.zeros((8, 8, 3), np.uint8), np.ones((4, 4), np.float32)).shape
    (8, 8, 3)
    """
    import cv2

    height, width = crop.shape[:2]
    if heat.shape != (height, width):
        heat = cv2.resize(heat.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
    colour = cv2.applyColorMap(np.clip(heat * 255.0 + 0.5, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    colour = colour[:, :, ::-1]  # BGR → RGB
    return np.clip((1 - alpha) * crop.astype(np.float32) + alpha * colour, 0, 255).astype(np.uint8)


def spectrum_picture(crop: np.ndarray) -> np.ndarray:
    """``log |FFT|`` of the crop's luminance as an RGB uint8 picture (min–max scaled, DC centred).

    >>> spectrum_picture(np.zeros((16, 16, 3), np.uint8)).shape
    (16, 16, 3)
    """
    pixels = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float().div_(255.0)
    spec = spectrum(pixels, kind="fft", scale="log", mode="gray")[0].numpy()
    gray = np.clip(_normalise(spec) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


def annotate_frame(
    frame: np.ndarray,
    box: Sequence[float] | None,
    probability: float | None,
    threshold: float,
    label: str = "",
) -> np.ndarray:
    """A copy of ``frame`` with the face box and its fake probability drawn (or "no face").

    >>> annotate_frame(np.zeros((40, 60, 3), np.uint8), (5, 5, 30, 30), 0.9, 0.5).shape
    (40, 60, 3)
    """
    import cv2

    out = np.ascontiguousarray(frame.copy())
    scale = max(out.shape[:2]) / 640.0
    thickness = max(1, round(2 * scale))
    font = 0.5 * max(scale, 0.5)
    if box is None or probability is None:
        text, colour = "no face", (255, 255, 0)
    else:
        colour = (255, 40, 40) if probability >= threshold else (40, 220, 40)
        x1, y1, x2, y2 = (round(v) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        text = f"fake {probability:.2f}"
    if label:
        text = f"{label}  {text}"
    origin = (max(2, round(8 * scale)), max(12, round(24 * scale)))
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, font, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, font, colour, thickness, cv2.LINE_AA)
    return out


def annotate_faces(
    frame: np.ndarray,
    faces: Sequence[tuple[Sequence[float], float, str]],
    threshold: float,
    label: str = "",
) -> np.ndarray:
    """A copy of ``frame`` with every face's box and a ``#k P(fake) 0.04`` tag on it (or "no face").

    ``faces``: ``(box, probability, name)`` per face, ``name`` (e.g. ``"#2"``) put before the
    probability. Box and tag are red at or above ``threshold``, green below; the tag is a filled
    plate on the box's top edge (below it at the top of the frame), its text sized to the box, so
    that neighbouring faces' tags do not run into each other. ``label`` goes in the top left corner.

    >>> annotate_faces(np.zeros((40, 60, 3), np.uint8), [((5, 5, 30, 30), 0.9, "#1")], 0.5).shape
    (40, 60, 3)
    """
    import cv2

    out = np.ascontiguousarray(frame.copy())
    font_face = cv2.FONT_HERSHEY_SIMPLEX
    scale = max(out.shape[:2]) / 640.0
    thickness = max(1, round(2 * scale))

    def plate(text: str, x: int, y: int, font: float, colour: tuple[int, int, int], below: bool) -> None:
        """``text`` on a filled plate whose bottom-left (top-left if ``below``) corner is ``(x, y)``."""
        weight = max(1, round(font * 2))
        (width, height), base = cv2.getTextSize(text, font_face, font, weight)
        pad = max(2, round(height * 0.3))
        top = y if below else y - height - base - 2 * pad
        x = int(np.clip(x, 0, max(0, out.shape[1] - width - 2 * pad)))
        top = int(np.clip(top, 0, max(0, out.shape[0] - height - base - 2 * pad)))
        cv2.rectangle(out, (x, top), (x + width + 2 * pad, top + height + base + 2 * pad), colour, cv2.FILLED)
        ink = (0, 0, 0) if sum(colour) > 380 else (255, 255, 255)
        cv2.putText(out, text, (x + pad, top + pad + height), font_face, font, ink, weight, cv2.LINE_AA)

    tags = []
    for box, probability, name in faces:  # every box first, then every tag over them
        colour = (230, 30, 30) if probability >= threshold else (30, 200, 30)
        x1, y1, x2, y2 = (round(v) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        text = f"{name} P(fake) {probability:.2f}".strip()
        (width, _), _ = cv2.getTextSize(text, font_face, 1.0, 2)
        font = float(np.clip(1.15 * (x2 - x1) / width, 0.3, 0.6 * max(scale, 0.6)))
        (_, height), _ = cv2.getTextSize(text, font_face, font, 1)
        below = y1 - 2.5 * height < 0
        tags.append((text, x1 - thickness // 2, y2 if below else y1, font, colour, below))
    for tag in tags:
        plate(*tag)
    if not faces:
        label = f"{label}  no face".strip()
    if label:
        plate(label, 0, 0, 0.5 * max(scale, 0.6), (255, 255, 0) if not faces else (255, 255, 255), True)
    return out


# --------------------------------------------------------------------------------------------------
# Writers


def _even_size(frame: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink to at most ``max_side`` and make both sides even (yuv420p needs it)."""
    import cv2

    height, width = frame.shape[:2]
    factor = min(1.0, max_side / max(height, width))
    new_w, new_h = max(2, int(width * factor) // 2 * 2), max(2, int(height * factor) // 2 * 2)
    if (new_w, new_h) == (width, height):
        return frame
    return cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_AREA)


def write_video(path: str | Path, frames: Sequence[np.ndarray], fps: int = VIDEO_FPS) -> None:
    """Encode RGB frames (same size) as an H.264 mp4 (MPEG-4 Part 2 when libx264 is missing), atomically."""
    import av

    if not frames:
        raise ValueError("no frames to write")
    pictures = [_even_size(f, _VIDEO_MAX_SIDE) for f in frames]
    height, width = pictures[0].shape[:2]
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=Fraction(fps, 1))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "veryfast", "crf": "23"}
        for picture in pictures:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    atomic_write_bytes(path, buffer.getvalue())


def write_timeline(
    path: str | Path,
    timestamps: Sequence[float],
    probabilities: Sequence[float | None],
    threshold: float,
    title: str = "",
) -> None:
    """Plot the frame probabilities over time (frames without a face as marks at the bottom), atomically."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 2.8), dpi=100)
    axes = figure.add_subplot()
    scored = [(t, p) for t, p in zip(timestamps, probabilities, strict=True) if p is not None]
    missing = [t for t, p in zip(timestamps, probabilities, strict=True) if p is None]
    if scored:
        axes.plot(
            *zip(*scored, strict=True), marker="o", markersize=3, linewidth=1.2, label="fake probability"
        )
    if missing:
        axes.plot(missing, [0.0] * len(missing), "x", color="grey", label="no face")
    axes.axhline(threshold, color="red", linestyle="--", linewidth=1, label=f"threshold {threshold:.2f}")
    axes.set_ylim(-0.03, 1.03)
    axes.set_xlabel("time (s)")
    axes.set_ylabel("P(fake)")
    if title:
        axes.set_title(title, fontsize=9)
    axes.legend(loc="upper right", fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    atomic_write_bytes(path, buffer.getvalue())


def explain_prediction(
    folder: str | Path,
    prediction: Prediction,
    frames: Sequence[FrameFaces],
    model: nn.Module,
    input_cfg: InputConfig,
    grayscale: bool = False,
) -> tuple[Path, ...]:
    """Write the explanation files of one input into ``folder``; return their paths.

    ``grayscale``: the model takes gray images (its checkpoint says so); the heat maps are still drawn
    over the colour crop.

    The heat maps and the spectrum are of the face crop of the frame with the highest fake
    probability; a file without a face gets only its annotated video and timeline (videos).
    """
    folder = Path(folder)
    make_output_dir(folder)
    written: list[Path] = []
    probability = {f.index: f.probability for f in prediction.frames}
    with_face = [f for f in frames if f.faces and probability.get(f.index) is not None]
    if with_face:
        best = max(with_face, key=lambda f: probability[f.index] or 0.0)
        crop = most_fake_crop(best, prediction)
        image = EvalTransform(input_cfg, grayscale=grayscale)(crop).image  # as it was scored
        written.append(folder / "gradcam.png")
        write_image(written[-1], overlay_heatmap(crop, grad_cam(model, image)))
        error = reconstruction_error(model, image)
        if error is not None:
            written.append(folder / "reconstruction.png")
            write_image(written[-1], overlay_heatmap(crop, error))
        written.append(folder / "spectrum.png")
        write_image(written[-1], spectrum_picture(crop))
    if prediction.all_faces and prediction.kind == "image" and frames and len(prediction.people) > 1:
        written.append(folder / "faces.png")
        title = f"P(fake) of each face; threshold {prediction.threshold:.2f} (red: at or above)"
        faces = labelled_faces(prediction, 0)
        write_image(written[-1], annotate_faces(frames[0].image, faces, prediction.threshold, title))
    if prediction.kind != "image" and frames:
        boxes = {f.index: f.box for f in prediction.frames}
        pictures = [
            annotate_faces(
                f.image, labelled_faces(prediction, f.index), prediction.threshold, f"frame {f.index}"
            )
            if prediction.all_faces
            else annotate_frame(
                f.image, boxes.get(f.index), probability.get(f.index), prediction.threshold, f"#{f.index}"
            )
            for f in frames
        ]
        written.append(folder / "annotated.mp4")
        write_video(written[-1], pictures)
        written.append(folder / "timeline.png")
        write_timeline(
            written[-1],
            [f.timestamp for f in prediction.frames],
            [f.probability for f in prediction.frames],
            prediction.threshold,
            title=f"{prediction.path.name}: {prediction.verdict}",
        )
    return tuple(written)


def most_fake_crop(frame: FrameFaces, prediction: Prediction) -> np.ndarray:
    """The crop of ``frame``'s face with the highest probability (the followed face with one face)."""
    record = next((r for r in prediction.frames if r.index == frame.index), None)
    if record is None or not record.faces:
        return frame.faces[0].crop
    top = max(record.faces, key=lambda face: face.probability)
    return next((c.crop for c in frame.faces if c.face_index == top.face_index), frame.faces[0].crop)


def labelled_faces(prediction: Prediction, index: int) -> list[tuple[Sequence[float], float, str]]:
    """Frame ``index``'s faces as :func:`annotate_faces` takes them: person ``#k`` from 1 (videos)."""
    record = next((r for r in prediction.frames if r.index == index), None)
    if record is None:
        return []
    named = prediction.kind != "image" or len(record.faces) > 1
    return [(f.box, f.probability, f"#{f.person + 1}" if named else "") for f in record.faces]
