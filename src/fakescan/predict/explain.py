"""Explanations of a prediction: where the model looked, how the face's spectrum differs from real
faces', and the score over time.

For every input, ``fakescan predict --explain DIR`` writes into ``DIR/<input key>/`` figures that
each say, in their titles, the file's verdict, its score and the threshold, and which frame they show:

- ``gradcam.png`` — the face crop of the most fake-looking frame at its full resolution, beside
  Grad-CAM (Selvaraju et al., ICCV 2017, arXiv:1610.02391, eq. 1–2) of the model's last
  convolutional feature map, split into its two signs: the regions that raised the fake score
  ("evidence for *fake*") and those that lowered it ("evidence for *real*"), on one colour scale,
  so a real and a fake face no longer light up alike. Every fakescan model returns that map in
  ``DetectorOutput.aux`` (``"features"``; ``"spatial_features"`` for MD-CSD's spatial stream). For a
  model that reconstructs its input (``aux["reconstruction"]``: the attention network, after
  RECCE, Cao et al., CVPR 2022, §3.2) a fourth panel shows ``|x − x̂|``, the reconstruction error
  its attention is guided by: a decoder trained on real faces only reconstructs real faces well;
- ``gradcam_frame.png`` — the evidence for the verdict mapped back onto the whole frame, with the
  face box;
- ``spectrum.png`` — the face's centred ``log |FFT|`` (luminance of the model's input), the mean
  over real training faces the checkpoint keeps (``CheckpointMeta.real_log_spectrum``), their
  difference in a diverging colour map, and the radial profiles of both (checkpoints without a
  reference get the face's spectrum and a note);
- for videos, ``annotated.mp4`` — every searched frame with the face box and ``P(fake)``
  (red: at or above the threshold, green: below; frames without a face say so) — and
  ``timeline.png``: a contact sheet of the sampled frames' crops in time order, each framed in the
  colour of its ``P(fake)``, above the frame probabilities over time (frames without a face are
  gaps, not interpolated).
  With every face scored, ``faces.png``: a photo of several faces with every face's box tagged
  with its P(fake) (:func:`annotate_faces`), and in ``annotated.mp4`` every face's box and P(fake)
  with its person's number; the heat maps and the spectrum are then of the most fake-looking face.

The image maths (:func:`grad_cam`, :func:`grad_cam_signed`, :func:`evidence_maps`,
:func:`reconstruction_error`, :func:`reconstruction_difference`, :func:`crop_matrix`,
:func:`timeline_series`, :func:`overlay_heatmap`, :func:`spectrum_picture`, :func:`annotate_frame`)
is pure; the figure builders (``*_figure``) return matplotlib figures (Agg, no display), and the
writers save them, each file written atomically (a temporary name, then a rename).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from fakescan._atomic import atomic_write_bytes, make_output_dir
from fakescan.data.extract import ExtractConfig, FaceCrop, FrameFaces
from fakescan.data.faces.crop import aligned_crop_matrix, eye_angle, square_crop_box
from fakescan.data.images import write_image
from fakescan.data.transforms import EvalTransform
from fakescan.errors import ConfigError
from fakescan.models.output import DetectorOutput, InputConfig
from fakescan.ops.spectrum import LogSpectrum, log_spectrum_grid, spectrum

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from fakescan.data.faces.base import Detection
    from fakescan.predict.results import Prediction

__all__ = [
    "CAM_KEYS",
    "FaceEvidence",
    "annotate_faces",
    "annotate_frame",
    "crop_matrix",
    "evidence_maps",
    "explain_prediction",
    "face_evidence",
    "frame_heatmap_figure",
    "grad_cam",
    "grad_cam_signed",
    "heatmap_figure",
    "labelled_faces",
    "most_fake_crop",
    "most_fake_face",
    "overlay_heatmap",
    "reconstruction_difference",
    "reconstruction_error",
    "spectrum_figure",
    "spectrum_picture",
    "timeline_figure",
    "timeline_series",
    "write_figure",
    "write_video",
]

CAM_KEYS: tuple[str, ...] = ("features", "spatial_features")
"""``aux`` keys of the last convolutional feature map, tried in this order."""

VIDEO_FPS = 4
"""Frame rate of the annotated video: the searched frames are sparse, so they are shown slowly."""

_VIDEO_MAX_SIDE = 720
_FRAME_FIGURE_SIDES = (480, 800)
"""The frame figure shows the frame with its longer side in this range (scaled down or up)."""
_DPI = 100
_HEAT_CMAP = "jet"
_ERROR_CMAP = "magma"
_PROB_CMAP = "RdYlBu_r"
_FAKE_RGB = (0.85, 0.1, 0.1)
_REAL_RGB = (0.1, 0.6, 0.15)


# --------------------------------------------------------------------------------------------------
# Maps


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


def grad_cam_signed(model: nn.Module, image: torch.Tensor) -> np.ndarray:
    """Grad-CAM before its ReLU for one normalised ``3×S×S`` input: an ``S×S`` float32 map.

    ``Σ_c w_c A_c`` with ``w_c`` the spatial mean of the fake score's gradient with respect to
    channel ``c`` of the last convolutional feature map (``aux["features"]``), resized bilinearly
    to the input. Positive where the features raise the fake score, negative where they lower it;
    the fake score of a two-class problem is minus the real one, so the negative part is Grad-CAM
    of "real".

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
        cam = (weights * features).sum(dim=1, keepdim=True)
        cam = F.interpolate(cam, size=tuple(image.shape[-2:]), mode="bilinear", align_corners=False)
    return cam[0, 0].detach().float().cpu().numpy()


def grad_cam(model: nn.Module, image: torch.Tensor) -> np.ndarray:
    """Grad-CAM of the fake score for one normalised ``3×S×S`` input: an ``S×S`` map in ``[0, 1]``.

    ``ReLU`` of :func:`grad_cam_signed`, scaled so its maximum is 1 (all zeros when nothing speaks
    for "fake").

    Raises:
        ConfigError: the model returns no last feature map in its ``aux``.
    """
    return _normalise(np.maximum(grad_cam_signed(model, image), 0.0))


def evidence_maps(signed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split a signed Grad-CAM into evidence for "fake" (its positive part) and for "real" (its
    negative part), both divided by the larger of the two maxima, so they share one scale.

    >>> fake, real = evidence_maps(np.array([[2.0, -1.0]]))
    >>> fake.tolist(), real.tolist()
    ([[1.0, 0.0]], [[0.0, 0.5]])
    """
    fake = np.maximum(signed, 0.0)
    real = np.maximum(-signed, 0.0)
    top = max(float(fake.max(initial=0.0)), float(real.max(initial=0.0)))
    if top <= 0:
        return fake.astype(np.float32), real.astype(np.float32)
    return (fake / top).astype(np.float32), (real / top).astype(np.float32)


def _reconstruction(model: nn.Module, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    model.eval()
    with torch.inference_mode():
        output = _forward_aux(model, image)
    recon = output.aux.get("reconstruction")
    if recon is None:
        return None
    return image.to(recon.device).unsqueeze(0), recon


def reconstruction_error(model: nn.Module, image: torch.Tensor) -> np.ndarray | None:
    """``|x − reconstruction|`` averaged over channels (``S×S``, scaled to ``[0, 1]``), or ``None``
    for a model without ``aux["reconstruction"]``."""
    pair = _reconstruction(model, image)
    if pair is None:
        return None
    x, recon = pair
    return _normalise((x - recon).abs().mean(dim=1)[0].float().cpu().numpy())


def reconstruction_difference(
    model: nn.Module, image: torch.Tensor, input_cfg: InputConfig
) -> np.ndarray | None:
    """``|x − x̂|`` in pixel units (``[0, 1]`` per channel, averaged over the channels): ``S×S``
    float32, or ``None`` for a model without ``aux["reconstruction"]``.

    The model reconstructs its normalised input; the difference is scaled back by the
    normalisation's standard deviations, so 0.1 means a tenth of the pixel range.
    """
    pair = _reconstruction(model, image)
    if pair is None:
        return None
    x, recon = pair
    std = torch.tensor(input_cfg.std, dtype=torch.float32, device=x.device)[None, :, None, None]
    return ((x - recon).abs().float() * std).mean(dim=1)[0].cpu().numpy().astype(np.float32)


def crop_matrix(detection: Detection, frame_shape: Sequence[int], extract: ExtractConfig) -> np.ndarray:
    """The ``2×3`` affine map from frame pixels to the pixels of the face's crop, as ``extract`` cut it.

    The square of :func:`~fakescan.data.faces.crop.square_crop_box` resized to ``extract.size``
    (pixel centres mapped as ``cv2.resize`` maps them), or, with ``extract.align`` and landmarks,
    :func:`~fakescan.data.faces.crop.aligned_crop_matrix`.

    >>> from fakescan.data.faces.base import Detection
    >>> config = ExtractConfig(size=120, margin=1.5)
    >>> crop_matrix(Detection((40, 40, 60, 80), 1.0), (200, 200), config).tolist()
    [[2.0, 0.0, -39.5], [0.0, 2.0, -59.5]]
    """
    height, width = int(frame_shape[0]), int(frame_shape[1])
    marks = detection.landmarks
    if extract.align and marks is not None and len(marks) >= 2:
        angle = eye_angle(marks[0], marks[1])
        return aligned_crop_matrix(detection.box, angle, extract.size, extract.margin)
    x1, y1, x2, _ = square_crop_box(detection.box, extract.margin, width, height, extract.border)
    s = extract.size / (x2 - x1)
    return np.array([[s, 0.0, (0.5 - x1) * s - 0.5], [0.0, s, (0.5 - y1) * s - 0.5]])


@dataclass(frozen=True)
class FaceEvidence:
    """What the heat-map figures show of one scored face.

    Attributes:
        crop: the face crop as extracted (``size×size×3`` uint8), the one that was scored.
        fake, real: evidence for "fake" / "real" (:func:`evidence_maps`) at the crop's resolution.
        error: ``|x − x̂|`` in pixel units at the crop's resolution (reconstructing models), or ``None``.
        input_pixels: the model's input as ``[0, 1]`` RGB (``3×S×S``), for its spectrum.
    """

    crop: np.ndarray
    fake: np.ndarray
    real: np.ndarray
    error: np.ndarray | None
    input_pixels: torch.Tensor


def _to_crop(heat: np.ndarray, crop: np.ndarray) -> np.ndarray:
    import cv2

    height, width = crop.shape[:2]
    if heat.shape == (height, width):
        return heat.astype(np.float32)
    return cv2.resize(heat.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


def face_evidence(
    model: nn.Module, crop: np.ndarray, input_cfg: InputConfig, grayscale: bool = False
) -> FaceEvidence:
    """Grad-CAM evidence (and the reconstruction error) of one crop, resized to the crop's size.

    The crop goes through the scoring transform (:class:`~fakescan.data.transforms.EvalTransform`),
    so the maps are of exactly what was scored; they are computed at the model's input size and
    resized bilinearly to the crop, which is drawn at its own resolution.
    """
    image = EvalTransform(input_cfg, grayscale=grayscale)(crop).image
    fake, real = evidence_maps(grad_cam_signed(model, image))
    error = reconstruction_difference(model, image, input_cfg)
    mean = torch.tensor(input_cfg.mean, dtype=torch.float32)[:, None, None]
    std = torch.tensor(input_cfg.std, dtype=torch.float32)[:, None, None]
    return FaceEvidence(
        crop=crop,
        fake=_to_crop(fake, crop),
        real=_to_crop(real, crop),
        error=None if error is None else np.maximum(_to_crop(error, crop), 0.0),
        input_pixels=(image * std + mean).clamp(0.0, 1.0),
    )


def timeline_series(prediction: Prediction) -> tuple[np.ndarray, np.ndarray]:
    """``(times, probabilities)`` of a prediction's frames, in time order; NaN where no face was
    scored, so a plotted line breaks there instead of joining its neighbours.

    >>> from fakescan.predict.results import FrameScore, Prediction
    >>> frames = (FrameScore(0, 0.0, probability=0.2), FrameScore(5, 0.5), FrameScore(9, 1, probability=0.4))
    >>> timeline_series(Prediction(Path("v.mp4"), "video", "v", "real", frames=frames))[0].tolist()
    [0.0, 0.5, 1.0]
    >>> timeline_series(Prediction(Path("v.mp4"), "video", "v", "real", frames=frames))[1].tolist()
    [0.2, nan, 0.4]
    """
    frames = sorted(prediction.frames, key=lambda f: (f.timestamp, f.index))
    times = np.array([f.timestamp for f in frames], dtype=np.float64)
    probs = np.array([np.nan if f.probability is None else f.probability for f in frames], dtype=np.float64)
    return times, probs


# --------------------------------------------------------------------------------------------------
# Pictures for the service (uint8 images, no figure)


def overlay_heatmap(crop: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a ``[0, 1]`` heat map (any size; resized) in the JET colour map over an RGB uint8 crop.

    >>> overlay_heatmap(np.zeros((8, 8, 3), np.uint8), np.ones((4, 4), np.float32)).shape
    (8, 8, 3)
    """
    import cv2

    heat = _to_crop(heat, crop)
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
    """A copy of ``frame`` with the face box and its ``P(fake)`` drawn (or "no face").

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
        text = f"P(fake) {probability:.2f}"
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
# Figures


def _new_figure(width_px: float, height_px: float) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width_px / _DPI, height_px / _DPI), dpi=_DPI)


def _axes_px(figure: Figure, x: float, y: float, width: float, height: float) -> Any:
    """Axes at ``(x, y)`` pixels from the figure's top-left corner, ``width×height`` pixels."""
    fw, fh = figure.get_size_inches() * _DPI
    return figure.add_axes((x / fw, 1.0 - (y + height) / fh, width / fw, height / fh))


def _verdict_line(prediction: Prediction) -> str:
    """``"obama.jpg — verdict: fake (score 0.93 ≥ threshold 0.50)"``."""
    name, t = prediction.path.name, prediction.threshold
    if prediction.score is None:
        return f"{name} — verdict: {prediction.verdict.replace('_', ' ')} (threshold {t:.2f})"
    sign = "≥" if prediction.score >= t else "<"
    return f"{name} — verdict: {prediction.verdict} (score {prediction.score:.2f} {sign} threshold {t:.2f})"


def _frame_line(prediction: Prediction, index: int, probability: float, scored: int) -> str:
    if prediction.kind == "image":
        return f"the face's P(fake) {probability:.2f}"
    where = f"frame {index}, "
    which = "" if scored <= 1 else f" — the most fake-looking of {scored} frames with a face"
    return f"{where}P(fake) {probability:.2f}{which}"


def heatmap_figure(evidence: FaceEvidence, title: str, subtitle: str = "") -> Figure:
    """The crop at full resolution, the Grad-CAM evidence for "fake" and for "real" over it, and
    (reconstructing models) the reconstruction error, with colour bars."""
    height, width = evidence.crop.shape[:2]
    panel = max(width, 192)  # drawn 1:1 when the crop is at least 192 px
    gap, bar, bar_gap, top, bottom = 24, 14, 8, 92, 48
    panels = [
        ("face crop as scored\n" + f"({width}×{height} px)", None, None),
        ('Grad-CAM: evidence for "fake"\n(raised the fake score)', evidence.fake, _HEAT_CMAP),
        ('Grad-CAM: evidence for "real"\n(lowered the fake score)', evidence.real, _HEAT_CMAP),
    ]
    if evidence.error is not None:
        panels.append(
            ("reconstruction error |x − x̂|\n(decoder trained on real faces)", evidence.error, _ERROR_CMAP)
        )
    bars = 1 + (evidence.error is not None)
    fig_w = gap + len(panels) * (panel + gap) + bars * (bar + bar_gap + 56)
    figure = _new_figure(fig_w, top + panel + bottom)
    figure.suptitle(
        title + (f"\n{subtitle}" if subtitle else ""), y=1 - 8 / (top + panel + bottom), va="top", fontsize=11
    )
    x = gap
    cam_image = error_image = None
    for number, (label, heat, cmap) in enumerate(panels):
        axes = _axes_px(figure, x, top, panel, panel * height / width)
        axes.imshow(evidence.crop, interpolation="none")
        if heat is not None:
            vmax = 1.0 if cmap == _HEAT_CMAP else max(float(np.percentile(heat, 99.5)), 1e-3)
            shown = axes.imshow(heat, cmap=cmap, vmin=0.0, vmax=vmax, alpha=0.5, interpolation="none")
            if cmap == _HEAT_CMAP:
                cam_image = shown
            else:
                error_image = shown
        axes.set_title(label, fontsize=9)
        axes.set_xticks([])
        axes.set_yticks([])
        x += panel + gap
        if number == 2:  # after the two Grad-CAM panels: their shared colour bar
            bar_axes = _axes_px(figure, x - gap + bar_gap, top, bar, panel)
            colour_bar = figure.colorbar(cam_image, cax=bar_axes)
            colour_bar.set_label("Grad-CAM, relative (1 = the strongest\nof the two maps)", fontsize=8)
            x += bar + bar_gap + 56
    if error_image is not None:
        bar_axes = _axes_px(figure, x - gap + bar_gap, top, bar, panel)
        colour_bar = figure.colorbar(error_image, cax=bar_axes)
        colour_bar.set_label("|x − x̂|, mean over RGB\n(pixel values, 0–1)", fontsize=8)
    figure.text(
        0.01,
        10 / (top + panel + bottom),
        "Grad-CAM (Selvaraju et al. 2017) of the last convolutional layer, computed at the model's "
        "input size and resized to the crop; blue = no evidence.",
        fontsize=8,
        color="0.3",
    )
    return figure


def frame_heatmap_figure(
    frame: np.ndarray,
    heat: np.ndarray,
    matrix: np.ndarray,
    box: Sequence[float],
    fake: bool,
    title: str,
    subtitle: str = "",
) -> Figure:
    """The whole frame with a crop-sized heat map (in ``[0, 1]``) mapped back by the inverse of
    ``matrix`` (frame → crop, :func:`crop_matrix`), the face box in the verdict's colour, a colour bar."""
    import cv2

    height, width = frame.shape[:2]
    low, high = _FRAME_FIGURE_SIDES
    factor = min(max(1.0, low / max(height, width)), high / max(height, width))
    shown_w, shown_h = max(1, round(width * factor)), max(1, round(height * factor))
    picture = frame
    if factor != 1.0:
        interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
        picture = cv2.resize(frame, (shown_w, shown_h), interpolation=interpolation)
    to_crop = np.vstack([matrix, [0.0, 0.0, 1.0]]) @ np.diag([1 / factor, 1 / factor, 1.0])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    warped = cv2.warpAffine(heat.astype(np.float32), to_crop[:2], (shown_w, shown_h), flags=flags)
    inside = cv2.warpAffine(np.ones_like(heat, np.float32), to_crop[:2], (shown_w, shown_h), flags=flags)
    top, bottom, bar = 84, 16, 14
    fig_w = max(shown_w + 12 + bar + 90, 720)
    side = (fig_w - (shown_w + 12 + bar + 60)) / 2
    figure = _new_figure(fig_w, top + shown_h + bottom)
    figure.suptitle(
        title + (f"\n{subtitle}" if subtitle else ""),
        y=1 - 6 / (top + shown_h + bottom),
        va="top",
        fontsize=10,
    )
    axes = _axes_px(figure, side, top, shown_w, shown_h)
    axes.imshow(picture, interpolation="none")
    overlay = axes.imshow(
        np.ma.masked_where(inside < 0.5, warped),
        cmap=_HEAT_CMAP,
        vmin=0.0,
        vmax=1.0,
        alpha=0.5,
        interpolation="none",
    )
    x1, y1, x2, y2 = (v * factor for v in box)
    from matplotlib.patches import Rectangle

    colour = _FAKE_RGB if fake else _REAL_RGB
    axes.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=colour, linewidth=2))
    axes.set_xticks([])
    axes.set_yticks([])
    colour_bar = figure.colorbar(overlay, cax=_axes_px(figure, side + shown_w + 12, top, bar, shown_h))
    colour_bar.set_label(f'Grad-CAM evidence for "{"fake" if fake else "real"}" (relative)', fontsize=8)
    return figure


def _extent(size: int) -> tuple[float, float, float, float]:
    """imshow extent of a centred ``size×size`` spectrum in cycles per pixel (DC at ``size // 2``)."""
    step = 1.0 / size
    return (-0.5 - step / 2, 0.5 - step / 2, 0.5 - step / 2, -0.5 - step / 2)


def _radial_profile(grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of a centred spectrum over rings of equal radial frequency: ``(cycles/pixel, means)``."""
    size = grid.shape[0]
    yy, xx = np.indices(grid.shape)
    radius = np.hypot(yy - size // 2, xx - size // 2)
    rings = np.round(radius).astype(int)
    counts = np.bincount(rings.ravel())
    sums = np.bincount(rings.ravel(), weights=grid.ravel().astype(np.float64))
    keep = np.arange(len(counts)) <= size // 2
    return np.arange(len(counts))[keep] / size, (sums[keep] / np.maximum(counts[keep], 1))


def spectrum_figure(
    face: np.ndarray, reference: LogSpectrum | None, title: str, subtitle: str = "", image_size: int = 0
) -> Figure:
    """This face's log-spectrum (a :func:`~fakescan.ops.spectrum.log_spectrum_grid`), the mean of
    the real training faces, their difference (diverging colours) and both radial profiles; without
    a reference, the face's spectrum, its radial profile and a note saying so."""
    size = face.shape[0]
    panel, gap, bar, top, bottom = 256, 70, 12, 92, 104
    plots = 3 if reference is not None else 1
    fig_w = gap + plots * (panel + bar + gap + 70) + panel + 24
    figure = _new_figure(fig_w, top + panel + bottom)
    figure.suptitle(
        title + (f"\n{subtitle}" if subtitle else ""), y=1 - 8 / (top + panel + bottom), va="top", fontsize=11
    )
    grids: list[tuple[str, np.ndarray, str]] = [("this face", face, "viridis")]
    ref = None
    if reference is not None:
        ref = reference.array()
        if ref.shape != face.shape:
            ref = F.adaptive_avg_pool2d(torch.from_numpy(ref)[None, None], size)[0, 0].numpy()
        grids += [
            (f"mean of {reference.count} real training faces", ref, "viridis"),
            ("difference: this face − real mean", face - ref, "RdBu_r"),
        ]
    low = float(min(np.percentile(g, 1) for _, g, c in grids if c == "viridis"))
    high = float(max(np.percentile(g, 99.5) for _, g, c in grids if c == "viridis"))
    x = gap
    for label, grid, cmap in grids:
        axes = _axes_px(figure, x, top, panel, panel)
        if cmap == "RdBu_r":
            limit = max(float(np.percentile(np.abs(grid), 99)), 1e-3)
            shown = axes.imshow(
                grid, cmap=cmap, vmin=-limit, vmax=limit, extent=_extent(size), interpolation="nearest"
            )
            bar_label = "log-magnitude difference\n(red: more energy than real faces)"
        else:
            shown = axes.imshow(
                grid, cmap=cmap, vmin=low, vmax=high, extent=_extent(size), interpolation="nearest"
            )
            bar_label = "log |FFT| (luminance)"
        axes.set_title(label, fontsize=9)
        axes.set_xlabel("horizontal frequency (cycles/pixel)", fontsize=8)
        axes.set_ylabel("vertical frequency (cycles/pixel)", fontsize=8)
        axes.tick_params(labelsize=7)
        axes.set_xticks([-0.5, -0.25, 0, 0.25, 0.5])
        axes.set_yticks([-0.5, -0.25, 0, 0.25, 0.5])
        colour_bar = figure.colorbar(shown, cax=_axes_px(figure, x + panel + 6, top, bar, panel))
        colour_bar.set_label(bar_label, fontsize=8)
        colour_bar.ax.tick_params(labelsize=7)
        x += panel + bar + gap + 70
    axes = _axes_px(figure, x, top, panel, panel)
    freq, values = _radial_profile(face)
    axes.plot(freq, values, color="tab:red", linewidth=1.5, label="this face")
    if ref is not None:
        freq, values = _radial_profile(ref)
        axes.plot(freq, values, color="tab:blue", linewidth=1.5, label="real training faces (mean)")
    axes.set_title("radial profile (mean over rings)", fontsize=9)
    axes.set_xlabel("radial frequency (cycles/pixel)", fontsize=8)
    axes.set_ylabel("mean log |FFT|", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="upper right")
    side = f"{image_size}×{image_size} px " if image_size else ""
    note = (
        f"Spectra of the model's {side}input (luminance), low frequencies in the centre,\n"
        f"averaged onto {size}×{size} frequency bins."
    )
    if reference is None:
        note = (
            "No reference: this checkpoint stores no mean spectrum of its real training faces\n"
            "(it was written before fakescan kept one); retrain it to compare with real faces.\n" + note
        )
    figure.text(0.01, 8 / (top + panel + bottom), note, fontsize=8, color="0.3", va="bottom")
    return figure


def _thumbnail(crop: np.ndarray, side: int) -> np.ndarray:
    import cv2

    interpolation = cv2.INTER_AREA if crop.shape[0] > side else cv2.INTER_CUBIC
    return cv2.resize(crop, (side, side), interpolation=interpolation)


def timeline_figure(
    prediction: Prediction,
    crops: dict[int, np.ndarray],
    columns: int = 8,
    tile: int = 96,
) -> Figure:
    """A contact sheet of the frames' crops in time order, each framed in the colour of its
    ``P(fake)`` (with a colour bar), above the probabilities over time against the threshold.

    ``crops``: frame index → face crop (frames without one get a grey "no face" tile). The
    timeline's line breaks at frames without a face (:func:`timeline_series`).
    """
    from matplotlib import colormaps
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Rectangle

    threshold = prediction.threshold
    norm = TwoSlopeNorm(vmin=0.0, vcenter=min(max(threshold, 1e-3), 1 - 1e-3), vmax=1.0)
    cmap = colormaps[_PROB_CMAP]
    frames = sorted(prediction.frames, key=lambda f: (f.timestamp, f.index))
    count = max(1, len(frames))
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    border, label_h, pad = 6, 18, 6
    cell_w, cell_h = tile + 2 * border + pad, tile + 2 * border + label_h
    top, plot_h, bar_h, bottom, left = 64, 230, 12, 50, 60
    sheet_w = columns * cell_w
    fig_w = max(left + sheet_w + 20, 700)
    sheet_x = (fig_w - sheet_w) / 2
    fig_h = top + rows * cell_h + 8 + bar_h + 84 + plot_h + bottom
    figure = _new_figure(fig_w, fig_h)
    times, probs = timeline_series(prediction)
    scored = int(np.isfinite(probs).sum())
    figure.suptitle(
        _verdict_line(prediction) + f"\n{len(frames)} sampled frames: {scored} with a face (scored), "
        f"{len(frames) - scored} without (gaps in the timeline)",
        y=1 - 6 / fig_h,
        va="top",
        fontsize=11,
    )
    sheet = _axes_px(figure, sheet_x, top, sheet_w, rows * cell_h)
    sheet.set_xlim(0, sheet_w)
    sheet.set_ylim(rows * cell_h, 0)
    sheet.axis("off")
    for number, frame in enumerate(frames):
        x0 = (number % columns) * cell_w + pad / 2
        y0 = (number // columns) * cell_h
        crop = crops.get(frame.index)
        if frame.probability is None or crop is None:
            sheet.add_patch(Rectangle((x0, y0), tile + 2 * border, tile + 2 * border, color="0.85"))
            sheet.text(
                x0 + border + tile / 2,
                y0 + border + tile / 2,
                "no face",
                ha="center",
                va="center",
                fontsize=8,
                color="0.35",
            )
            caption = f"#{frame.index}"
        else:
            colour = cmap(norm(frame.probability))
            sheet.add_patch(Rectangle((x0, y0), tile + 2 * border, tile + 2 * border, color=colour))
            sheet.imshow(
                _thumbnail(crop, tile),
                extent=(x0 + border, x0 + border + tile, y0 + border + tile, y0 + border),
                interpolation="none",
                zorder=2,
            )
            caption = f"#{frame.index}  {frame.probability:.2f}"
        sheet.text(
            x0 + border + tile / 2, y0 + tile + 2 * border + 2, caption, ha="center", va="top", fontsize=8
        )
    sheet.set_xlim(0, sheet_w)
    sheet.set_ylim(rows * cell_h, 0)
    bar_y = top + rows * cell_h + 8
    bar_axes = _axes_px(figure, sheet_x + sheet_w * 0.2, bar_y, sheet_w * 0.6, bar_h)
    from matplotlib.cm import ScalarMappable

    colour_bar = figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=bar_axes, orientation="horizontal")
    colour_bar.set_ticks([0.0, threshold, 1.0])
    colour_bar.set_ticklabels(["0 (real)", f"threshold {threshold:.2f}", "1 (fake)"])
    colour_bar.ax.tick_params(labelsize=7)
    colour_bar.set_label(
        "border colour = the frame's P(fake); under each crop: #frame index and P(fake)", fontsize=8
    )

    plot = _axes_px(figure, left, fig_h - bottom - plot_h, fig_w - left - 20, plot_h)
    finite = np.isfinite(probs)
    if finite.any():  # NaN (no face) breaks the line
        plot.plot(times, probs, color="0.35", linewidth=1.2, zorder=1, label="P(fake) per frame")
    plot.scatter(
        times[finite], probs[finite], c=probs[finite], cmap=cmap, norm=norm, s=28, edgecolors="0.2", zorder=2
    )
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    for number, t in enumerate(times[~finite]):
        label = "no face (not scored)" if number == 0 else None
        plot.axvspan(t - step / 2, t + step / 2, color="0.88", zorder=0, linewidth=0, label=label)
    plot.axhline(threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {threshold:.2f}")
    if prediction.score is not None:
        plot.axhline(
            prediction.score,
            color=_FAKE_RGB if prediction.verdict == "fake" else _REAL_RGB,
            linewidth=1,
            alpha=0.7,
            label=f"file score {prediction.score:.2f}",
        )
    plot.set_ylim(-0.04, 1.04)
    if len(times) == 1:
        plot.set_xlim(times[0] - 0.5, times[0] + 0.5)
    plot.set_xlabel("time in the video (s)", fontsize=9)
    plot.set_ylabel("P(fake)", fontsize=9)
    plot.set_title("P(fake) per sampled frame", fontsize=9)
    plot.tick_params(labelsize=8)
    plot.grid(alpha=0.3)
    plot.legend(fontsize=7, loc="best")
    return figure


def write_figure(path: str | Path, figure: Figure) -> None:
    """Save a figure as PNG, atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    atomic_write_bytes(path, buffer.getvalue())


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


def explain_prediction(
    folder: str | Path,
    prediction: Prediction,
    frames: Sequence[FrameFaces],
    model: nn.Module,
    input_cfg: InputConfig,
    grayscale: bool = False,
    reference: LogSpectrum | None = None,
    extract: ExtractConfig | None = None,
) -> tuple[Path, ...]:
    """Write the explanation files of one input into ``folder``; return their paths.

    Args:
        folder: where the files go (made if missing).
        prediction: the file's result; ``frames``: its searched frames with their crops.
        model, input_cfg: the detector and its preprocessing.
        grayscale: the model takes gray images (its checkpoint says so); the heat maps are still
            drawn over the colour crop.
        reference: the checkpoint's mean log-spectrum of real training faces
            (``CheckpointMeta.real_log_spectrum``); ``None`` draws the face's spectrum alone.
        extract: how the crops were cut (margin, border, alignment), to map the heat map back onto
            the frame; default ``ExtractConfig()``.

    The heat maps and the spectrum are of the face crop of the frame with the highest fake
    probability; a file without a face gets only its annotated video and timeline (videos).
    """
    folder = Path(folder)
    make_output_dir(folder)
    extract = extract or ExtractConfig()
    written: list[Path] = []
    probability = {f.index: f.probability for f in prediction.frames}
    with_face = [f for f in frames if f.faces and probability.get(f.index) is not None]
    title = _verdict_line(prediction)
    if with_face:
        best = max(with_face, key=lambda f: probability[f.index] or 0.0)
        face = most_fake_face(best, prediction)
        p_best = float(probability[best.index] or 0.0)
        subtitle = _frame_line(prediction, best.index, p_best, len(with_face))
        evidence = face_evidence(model, face.crop, input_cfg, grayscale=grayscale)
        written.append(folder / "gradcam.png")
        write_figure(written[-1], heatmap_figure(evidence, title, subtitle))
        if best.image.size:
            fake = prediction.verdict == "fake"
            written.append(folder / "gradcam_frame.png")
            figure = frame_heatmap_figure(
                best.image,
                evidence.fake if fake else evidence.real,
                crop_matrix(face.detection, best.image.shape, extract),
                face.detection.box,
                fake,
                title,
                subtitle
                + f'\nGrad-CAM evidence for "{"fake" if fake else "real"}" (the verdict), on the frame',
            )
            write_figure(written[-1], figure)
        grid = log_spectrum_grid(evidence.input_pixels[None])[0].numpy()
        written.append(folder / "spectrum.png")
        write_figure(
            written[-1],
            spectrum_figure(grid, reference, title, subtitle, image_size=input_cfg.image_size),
        )
    if prediction.all_faces and prediction.kind == "image" and frames and len(prediction.people) > 1:
        written.append(folder / "faces.png")
        faces_title = f"P(fake) of each face; threshold {prediction.threshold:.2f} (red: at or above)"
        faces = labelled_faces(prediction, 0)
        write_image(written[-1], annotate_faces(frames[0].image, faces, prediction.threshold, faces_title))
    if prediction.kind != "image" and frames:
        boxes = {f.index: f.box for f in prediction.frames}
        pictures = [
            annotate_faces(
                f.image, labelled_faces(prediction, f.index), prediction.threshold, f"frame {f.index}"
            )
            if prediction.all_faces
            else annotate_frame(
                f.image,
                boxes.get(f.index),
                probability.get(f.index),
                prediction.threshold,
                f"frame {f.index}",
            )
            for f in frames
        ]
        written.append(folder / "annotated.mp4")
        write_video(written[-1], pictures)
        crops = {f.index: f.faces[0].crop for f in frames if f.faces}
        written.append(folder / "timeline.png")
        write_figure(written[-1], timeline_figure(prediction, crops))
    return tuple(written)


def most_fake_face(frame: FrameFaces, prediction: Prediction) -> FaceCrop:
    """``frame``'s face with the highest probability (the followed face with one face)."""
    record = next((r for r in prediction.frames if r.index == frame.index), None)
    if record is None or not record.faces:
        return frame.faces[0]
    top = max(record.faces, key=lambda face: face.probability)
    return next((c for c in frame.faces if c.face_index == top.face_index), frame.faces[0])


def most_fake_crop(frame: FrameFaces, prediction: Prediction) -> np.ndarray:
    """The crop of ``frame``'s face with the highest probability (the followed face with one face)."""
    return most_fake_face(frame, prediction).crop


def labelled_faces(prediction: Prediction, index: int) -> list[tuple[Sequence[float], float, str]]:
    """Frame ``index``'s faces as :func:`annotate_faces` takes them: person ``#k`` from 1 (videos)."""
    record = next((r for r in prediction.frames if r.index == index), None)
    if record is None:
        return []
    named = prediction.kind != "image" or len(record.faces) > 1
    return [(f.box, f.probability, f"#{f.person + 1}" if named else "") for f in record.faces]
