"""What a worker process of ``fakescan serve`` does: load the models once, then run jobs.

A job is one ``fakescan predict`` on one file, through the same library calls
(:func:`fakescan.predict.engine.predict_item`, :func:`fakescan.predict.explain.explain_prediction`),
so a job's result is the document ``predict --json`` writes for that file (:class:`PredictReport`).
The service adds pictures per searched frame that the web page shows when a timeline point is
clicked, drawn with the explanation module's functions: the frame with the face box
(:func:`annotate_frame`), the face crop, its Grad-CAM heat map (:func:`grad_cam`,
:func:`overlay_heatmap`) and its spectrum (:func:`spectrum_picture`).

The upload's type was decided by probing its content (:func:`probe_media`), never by its name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from fakescan.errors import ConfigError, InputError

__all__ = [
    "JobOutcome",
    "JobRequest",
    "JobRunner",
    "ModelSpec",
    "frame_artifact_names",
    "probe_media",
    "resolve_models",
]

_IMAGE_FORMATS = ("image2",)
_MAX_IMAGE_BYTES = 100 * 1024 * 1024
_FRAME_MAX_SIDE = 640


@dataclass(frozen=True)
class ModelSpec:
    """A model to serve: its ``name`` in the API, the checkpoint (or ``.onnx``) ``path``, its backend."""

    name: str
    path: Path
    backend: Literal["torch", "onnx"] = "torch"


def resolve_models(given: Sequence[str | Path]) -> list[ModelSpec]:
    """``--model`` values → specs: a run folder means its ``best`` checkpoint, a ``.onnx`` file the
    ONNX backend; ``NAME=PATH`` names a model, otherwise the run folder's (or file's) name does,
    made unique with ``-2``, ``-3``, …

    >>> [(m.name, m.path.as_posix()) for m in resolve_models(["runs/a/best", "x=runs/b/best", "m.onnx"])]
    [('a', 'runs/a/best'), ('x', 'runs/b/best'), ('m', 'm.onnx')]
    """
    from fakescan.checkpoints import resolve_checkpoint

    if not given:
        raise ConfigError("give at least one --model (a training run folder or a checkpoint)")
    specs: list[ModelSpec] = []
    taken: set[str] = set()
    for value in given:
        text = str(value)
        name, _, rest = text.partition("=") if "=" in text else ("", "", text)
        path = resolve_checkpoint(rest)
        backend: Literal["torch", "onnx"] = "onnx" if path.suffix == ".onnx" else "torch"
        if not name:
            stem = path.with_suffix("") if path.suffix in (".onnx", ".safetensors", ".json") else path
            name = stem.parent.name if stem.name == "best" and stem.parent.name else stem.name
        unique, counter = name, 2
        while unique in taken:
            unique, counter = f"{name}-{counter}", counter + 1
        taken.add(unique)
        specs.append(ModelSpec(unique, path, backend))
    return specs


def probe_media(path: Path, shown_as: str) -> Literal["video", "image"]:
    """``"video"`` or ``"image"``, decided by opening the content with PyAV and OpenCV's image decoder.

    A file whose container PyAV reads as a video stream (not a still image format) must also demux
    to at least one frame (:func:`fakescan.data.video.probe_video`); anything else must decode as an
    image.

    Raises:
        InputError: naming ``shown_as``: empty, not a readable video or image, or a video without frames.
    """
    import av

    from fakescan.data.images import decode_image
    from fakescan.data.video import probe_video

    size = path.stat().st_size
    if size == 0:
        raise InputError(shown_as, "file is empty (0 bytes)")
    video_reason = ""
    try:
        av.logging.set_level(av.logging.PANIC)
        with av.open(str(path), mode="r") as container:
            format_name = container.format.name
            has_video = bool(container.streams.video)
    except (av.FFmpegError, OSError, UnicodeDecodeError) as error:
        format_name, has_video = "", False
        video_reason = (getattr(error, "strerror", None) or str(error)).splitlines()[0]
    if has_video and format_name not in _IMAGE_FORMATS and not format_name.endswith("_pipe"):
        try:
            probe_video(path)
        except InputError as error:
            raise InputError(shown_as, error.reason) from None
        return "video"
    if size > _MAX_IMAGE_BYTES:
        raise InputError(shown_as, f"not a readable video, and too large for an image ({size} bytes)")
    try:
        decode_image(path.read_bytes(), shown_as)
    except InputError:
        detail = f" ({video_reason})" if video_reason else ""
        raise InputError(shown_as, f"not a readable video or image{detail}") from None
    return "image"


@dataclass(frozen=True)
class JobRequest:
    """One job for a worker: the upload, what it is, the model and options, where artefacts go."""

    job_id: str
    upload: Path
    kind: Literal["video", "image"]
    filename: str
    model: str
    frames: int
    out_dir: Path


@dataclass(frozen=True)
class JobOutcome:
    """A finished job: ``status`` done or failed, the ``predict --json`` document (``None`` when the
    file could not be read at all), the artefact names written, and the reason of a failure."""

    status: Literal["done", "failed"]
    result: dict[str, Any] | None = None
    artifacts: tuple[str, ...] = ()
    error: str | None = None


def frame_artifact_names(index: int) -> dict[str, str]:
    """The per-frame artefact names of frame ``index``.

    >>> frame_artifact_names(9)["heatmap"]
    'frame-9-heatmap.png'
    """
    return {
        "frame": f"frame-{index}.jpg",
        "crop": f"frame-{index}-crop.png",
        "heatmap": f"frame-{index}-heatmap.png",
        "spectrum": f"frame-{index}-spectrum.png",
    }


class _CountingDetector:
    """A face detector that reports how many frames it has searched (the job's progress)."""

    def __init__(self, detector: Any, on_frame: Callable[[int], None]) -> None:
        self._detector = detector
        self._on_frame = on_frame
        self.searched = 0

    def detect(self, image: Any) -> Any:
        found = self._detector.detect(image)
        self.searched += 1
        self._on_frame(self.searched)
        return found


@dataclass
class JobRunner:
    """The models (loaded once) and face detector of one worker process.

    Attributes:
        specs: the models to serve; ``device``: where the torch models run; ``detector``: the
            face detector (a :data:`fakescan.data.faces.DETECTORS` name) for every model, or
            ``None``: for each model the one its training crops were cut with (its sidecar's
            ``training_data.detector``), else the default (:func:`fakescan.checkpoints.detector_for`).
            Faces are cut at the side the model's training crops were (else 256 px).
    """

    specs: Sequence[ModelSpec]
    device: str = "cpu"
    detector: str | None = None
    predictors: dict[str, Any] = field(default_factory=dict, init=False)
    detectors: dict[str, str] = field(default_factory=dict, init=False)
    crop_sizes: dict[str, int] = field(default_factory=dict, init=False)
    margins: dict[str, float] = field(default_factory=dict, init=False)
    _detectors: dict[str, Any] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        from fakescan.checkpoints import crop_size_for, detector_for, margin_for
        from fakescan.data.extract import ExtractConfig, build_detector
        from fakescan.predict import load_predictor

        for spec in self.specs:
            predictor = load_predictor(spec.path, backend=spec.backend, device=self.device)
            self.predictors[spec.name] = predictor
            self.detectors[spec.name] = detector_for(predictor.meta, self.detector)
            self.crop_sizes[spec.name] = crop_size_for(predictor.meta)
            self.margins[spec.name] = margin_for(predictor.meta)
        for name in sorted(set(self.detectors.values())):
            self._detectors[name] = build_detector(ExtractConfig(detector=name))

    def describe(self) -> list[dict[str, Any]]:
        """The served models, as ``GET /api/v1/models`` lists them."""
        return [
            {
                "name": spec.name,
                "model": self.predictors[spec.name].meta.model,
                "backend": spec.backend,
                "threshold": self.predictors[spec.name].threshold,
                "image_size": self.predictors[spec.name].input_cfg.image_size,
                "explanations": self.predictors[spec.name].model is not None,
                "detector": self.detectors[spec.name],
                "crop_size": self.crop_sizes[spec.name],
                "margin": self.margins[spec.name],
            }
            for spec in self.specs
        ]

    def run(self, request: JobRequest, on_progress: Callable[[float], None]) -> JobOutcome:
        """Predict the upload as ``fakescan predict --frames N --explain`` would, and draw the frames."""
        from fakescan.data.extract import ExtractConfig, FrameFaces, MediaItem
        from fakescan.predict.engine import PredictConfig, make_report, predict_item

        predictor = self.predictors[request.model]
        chosen = self.detectors[request.model]
        extract = ExtractConfig(
            frames=request.frames,
            detector=chosen,
            size=self.crop_sizes[request.model],
            margin=self.margins[request.model],
        )
        config = PredictConfig(extract=extract)
        expected = 1 if request.kind == "image" else request.frames
        detector = _CountingDetector(
            self._detectors[chosen], lambda n: on_progress(0.8 * min(n, expected) / expected)
        )
        started = time.perf_counter()
        key = Path(request.filename).stem or "upload"
        item = MediaItem(request.upload, request.kind, key)
        frames: list[FrameFaces] = []
        prediction = predict_item(item, predictor, config, detector, keep_frames=frames)  # type: ignore[arg-type]
        prediction = replace(prediction, path=Path(request.filename))
        names: list[str] = []
        if prediction.verdict != "error" and frames:
            request.out_dir.mkdir(parents=True, exist_ok=True)
            names += self._frame_pictures(request.out_dir, prediction, frames, predictor)
            on_progress(0.9)
            if predictor.model is not None:
                from fakescan.predict.explain import explain_prediction

                written = explain_prediction(
                    request.out_dir,
                    prediction,
                    frames,
                    predictor.model,
                    predictor.input_cfg,
                    grayscale=predictor.meta.grayscale,
                    reference=predictor.meta.real_log_spectrum,
                    extract=config.extract,
                )
                prediction = replace(prediction, explanations=tuple(Path(p.name) for p in written))
                names += [p.name for p in written]
        # The served file's name only: the document goes to clients, the server's folders stay its own.
        shown = "" if predictor.path is None else predictor.path.name
        seconds = time.perf_counter() - started
        report = make_report((prediction,), predictor, config, seconds, checkpoint=shown)
        result = report.to_dict()
        if prediction.verdict == "error":
            return JobOutcome("failed", result, (), f"{request.filename}: {prediction.reason}")
        if prediction.verdict == "no_face":
            return JobOutcome("failed", result, tuple(names), f"{request.filename}: {prediction.reason}")
        return JobOutcome("done", result, tuple(names))

    @staticmethod
    def _frame_pictures(folder: Path, prediction: Any, frames: Sequence[Any], predictor: Any) -> list[str]:
        """Per searched frame: the frame with its face box, and for a face its crop, heat map and spectrum."""
        import cv2

        from fakescan.data.images import write_image
        from fakescan.predict.explain import (
            annotate_faces,
            annotate_frame,
            grad_cam,
            labelled_faces,
            most_fake_crop,
            overlay_heatmap,
            spectrum_picture,
        )

        scores = {f.index: f for f in prediction.frames}
        names: list[str] = []
        for frame in frames:
            record = scores[frame.index]
            files = frame_artifact_names(frame.index)
            if prediction.all_faces:  # every face's box and P(fake)
                faces = labelled_faces(prediction, frame.index)
                picture = annotate_faces(frame.image, faces, prediction.threshold, f"frame {frame.index}")
            else:
                picture = annotate_frame(
                    frame.image, record.box, record.probability, prediction.threshold, f"#{frame.index}"
                )
            factor = _FRAME_MAX_SIDE / max(picture.shape[:2])
            if factor < 1:
                picture = cv2.resize(picture, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
            write_image(folder / files["frame"], picture, jpeg_quality=85)
            names.append(files["frame"])
            if not frame.faces or record.probability is None:
                continue
            crop = most_fake_crop(frame, prediction)  # the face that gives the frame its probability
            write_image(folder / files["crop"], crop)
            write_image(folder / files["spectrum"], spectrum_picture(crop))
            names += [files["crop"], files["spectrum"]]
            if predictor.model is not None:
                heat = grad_cam(predictor.model, predictor.transform(crop).image)
                write_image(folder / files["heatmap"], overlay_heatmap(crop, heat))
                names.append(files["heatmap"])
        return names
