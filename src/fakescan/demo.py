"""``fakescan demo``: the whole job of fakescan, end to end, on real faces, on a plain CPU machine.

:func:`run_demo` chains library functions only, each stage writing into its own folder of ``OUT``:

1. ``samples`` — fetch the real sample media (:func:`fakescan.data.samples.fetch_samples`);
2. ``data/`` — a tiny FF++-layout data set of real clips of those people and two synthetic
   forgeries of them (:func:`fakescan.synth.build_synthetic_ffpp`), split by person;
3. ``crops/`` — face crops of every video with the index and crop table
   (:func:`fakescan.data.datasets.extraction.extract_dataset`);
4. ``run/`` — a small detector trained on the training people, its checkpoint chosen and its
   threshold calibrated on the validation people (:func:`fakescan.train.engine.fit`);
5. ``test/`` — frame and video metrics on the held-out test people
   (:func:`fakescan.evaluate.runner.run_test`);
6. ``explain/`` — predictions with explanations (Grad-CAM, spectrum, annotated video, timeline)
   for one held-out real video and one held-out fake (:func:`fakescan.predict.run_prediction`);
7. ``report.md`` — what was done and what came out, with the pictures.

The model is trained on synthetic forgeries of a handful of people, so its numbers show that the
pipeline works, not that it detects real-world deepfakes; the report says so.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fakescan._atomic import atomic_write_text
from fakescan.errors import ConfigError

if TYPE_CHECKING:
    from fakescan.data.datasets import VideoRecord
    from fakescan.evaluate.runner import TestSetResult
    from fakescan.predict.results import Prediction
    from fakescan.synth import SynthReport
    from fakescan.train.engine import FitResult

__all__ = ["FULL", "QUICK", "STAGES", "DemoReport", "DemoSettings", "run_demo"]

STAGES: tuple[str, ...] = ("samples", "synth", "extract", "train", "test", "predict", "report")
"""The stages of :func:`run_demo`, in order (the names given to ``on_stage``)."""
UNITS: dict[str, str] = {"extract": "videos", "train": "epochs", "predict": "videos"}
"""What ``on_progress`` counts in the stages that report progress."""
_MARKER = "demo.json"
DEMO_DETECTOR = "hog"
"""The demo finds faces with the detector that ``fakescan synth`` places its forgeries with (dlib's
HOG). With the default BlazeFace crops the quick demo's held-out frame AUC fell from above 0.9 to
0.64 (docs/detectors.md); the likely reason, not yet checked, is that HOG crops put the synthetic
blend's edge at the same place in every crop, an easy cue for the small model."""
_PARTS = ("data", "crops", "run", "test", "explain", "report.md", _MARKER)
HONEST = (
    "the demo model is trained on synthetic forgeries of a few people; "
    "it is not a detector for real-world deepfakes"
)


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of one demo mode.

    Attributes:
        clip_frames: frames per synthetic clip; ``clip_size``: side of the clips, pixels.
        clips_per_video: clips cut from each sample video.
        crop_frames: frames extracted (and predicted) per video; ``crop_size``: crop side.
        model: the detector (a model name of :mod:`fakescan.models`); ``epochs`` (the most),
            ``lr``, ``batch_size``: its training.
        early_stopping: stop after this many epochs without a lower validation loss (0: never).
        pseudo_fakes: ``"sbi"`` adds a self-blended fake of every real training crop
            (:class:`fakescan.synth.pseudo.PseudoFakeDataset`); ``"none"``: the synthetic fakes only.
    """

    clip_frames: int
    clip_size: int
    clips_per_video: int
    crop_frames: int
    crop_size: int
    model: str
    epochs: int
    lr: float
    batch_size: int
    early_stopping: int = 0
    pseudo_fakes: str = "none"


QUICK = DemoSettings(
    clip_frames=32,
    clip_size=192,
    clips_per_video=3,
    crop_frames=32,
    crop_size=128,
    model="cnn",
    epochs=6,
    lr=2e-3,
    batch_size=32,
)
"""6 epochs on the synthetic fakes alone: about a minute on two quiet CPU cores (CI's demo test runs it;
``benchmarks/bench_demo.py`` measures both modes)."""
FULL = replace(QUICK, epochs=20, early_stopping=4, pseudo_fakes="sbi")
"""The default: the quick data, trained with a Self-Blended Image of every real training crop added
(Shiohara & Yamasaki, CVPR 2022), for up to 20 epochs with early stopping. The generalisation
benchmark (BENCHMARKS.md, ``bench_generalisation``) found self-blending the recipe that carries
best to forgeries a model never saw. Two to four minutes on two quiet CPU cores, as early stopping
decides. (Larger crops and more frames were tried: on so few people they overfit and tested worse.)"""


@dataclass(frozen=True)
class DemoReport:
    """What :func:`run_demo` did.

    Attributes:
        out_dir: the demo folder; ``report_md``: its Markdown report.
        settings: the sizes used.
        synth: the synthetic data set built.
        fit: the training run (best checkpoint at ``fit.run_dir / "best"``).
        test: frame and video metrics on the held-out test videos.
        predictions: the predicted real and fake test video, with their explanation files.
        test_people: each held-out test person → ``"video"`` (clips cut from a video) or
            ``"photo"`` (a still photograph, animated with a slow drift, zoom and tilt).
        seconds: wall time of each stage.
    """

    out_dir: Path
    report_md: Path
    settings: DemoSettings
    synth: SynthReport
    fit: FitResult
    test: TestSetResult
    predictions: tuple[Prediction, ...]
    test_people: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        """Wall time of the whole demo."""
        return sum(self.seconds.values())

    @property
    def test_stills(self) -> bool:
        """Whether every held-out test person comes from a still photograph."""
        return bool(self.test_people) and all(kind == "photo" for kind in self.test_people.values())


def people_of_split(manifest: dict[str, Any], split: str) -> dict[str, str]:
    """The people of ``split`` in a synthetic data set's ``synth.json`` → ``"video"`` or ``"photo"``.

    A clip's ``origin`` names its source file (``"clip.mp4 frames 0–60"``, ``"group.jpg face 2"``).

    >>> clips = {"000": {"identity": "ann", "origin": "a b.mp4 frames 3–90", "split": "test"},
    ...          "001": {"identity": "bo-1", "origin": "group.jpg face 1", "split": "test"},
    ...          "002": {"identity": "cy", "origin": "c.jpg face 0", "split": "train"}}
    >>> people_of_split({"clips": clips}, "test")
    {'ann': 'video', 'bo-1': 'photo'}
    """
    from fakescan.data.media import media_kind

    people: dict[str, str] = {}
    for clip in manifest.get("clips", {}).values():
        if clip.get("split") != split:
            continue
        origin = str(clip.get("origin", ""))
        source = re.sub(r" (face \d+|frames \S+)$", "", origin)
        kind = media_kind(Path(source))
        people[clip["identity"]] = "photo" if kind == "image" else "video"
    return dict(sorted(people.items()))


def _prepare(out_dir: Path) -> None:
    """Make ``out_dir`` ready: new or empty, or an earlier demo whose parts are replaced."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not (out_dir / _MARKER).is_file():
            raise ConfigError(
                f"{out_dir}: folder is not empty and holds no earlier demo ({_MARKER}); choose a new one"
            )
        for name in _PARTS:
            path = out_dir / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)


def _pick(records: list[VideoRecord], label: int, cropped: set[str]) -> VideoRecord:
    """The first test video (by id) with ``label`` among those that gave face crops."""
    chosen = sorted(
        (r for r in records if r.split == "test" and r.label == label and r.video_id in cropped),
        key=lambda r: r.video_id,
    )
    if not chosen:
        kind = "fake" if label else "real"
        raise ConfigError(f"the synthetic data set has no {kind} test video")
    return chosen[0]


def _metric(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


@dataclass(frozen=True)
class _Findings:
    """What the report names besides the numbers.

    Attributes:
        people: each held-out test person → ``"video"`` or ``"photo"`` (:func:`people_of_split`).
        missed: the held-out fake videos called real, ``(name, score)``.
        false_alarms: the held-out real videos called fake, ``(name, score)``.
        no_face: per split, the videos in which no face was found (so without crops).
    """

    people: dict[str, str]
    missed: list[tuple[str, float]]
    false_alarms: list[tuple[str, float]]
    no_face: dict[str, list[str]]


def _video_name(record: VideoRecord) -> str:
    """``FaceSwap-lite/004_007.mp4`` for a fake, ``real/004.mp4`` for a real video."""
    return f"{record.method}/{Path(record.path).name}"


def _findings(
    records: list[VideoRecord],
    cropped: set[str],
    test: TestSetResult,
    manifest: dict[str, Any],
) -> _Findings:
    """The held-out people, the test videos on the wrong side of the threshold, the faceless videos."""
    from fakescan.evaluate.report import read_video_scores_csv

    # The test's scores name each video "<data set>/<video id>" (video ids are unique per data set).
    by_id = {f"{record.dataset}/{record.video_id}": record for record in records}
    videos = read_video_scores_csv(test.out_dir / "videos.csv")
    threshold = test.video.threshold
    missed, false_alarms = [], []
    rows = zip(videos.ids.tolist(), videos.labels.tolist(), videos.scores.tolist(), strict=True)
    for video_id, label, score in rows:
        name = _video_name(by_id[video_id]) if video_id in by_id else video_id
        if label == 1 and score < threshold:
            missed.append((name, score))
        elif label == 0 and score >= threshold:
            false_alarms.append((name, score))
    no_face: dict[str, list[str]] = {}
    for record in sorted(records, key=lambda r: r.video_id):
        if record.video_id not in cropped:
            no_face.setdefault(record.split, []).append(_video_name(record))
    return _Findings(people_of_split(manifest, "test"), missed, false_alarms, no_face)


def _named(videos: list[tuple[str, float]]) -> str:
    return ", ".join(f"`{name}` (score {score:.3f})" for name, score in videos) if videos else "none"


def _people_sentence(people: dict[str, str]) -> list[str]:
    """Who the held-out test people are, and a warning when they are animated stills."""
    if not people:
        return []
    kinds = {"video": "clips of a video", "photo": "a still photograph, animated"}
    listed = "; ".join(f"`{person}` ({kinds[kind]})" for person, kind in people.items())
    lines = [f"The held-out test people: {listed}.", ""]
    stills = [person for person, kind in people.items() if kind == "photo"]
    if stills:
        if len(stills) == len(people):
            who = "Every held-out test person comes"
        else:
            who = f"{len(stills)} of the {len(people)} held-out test people come"
        lines += [
            f"> **{who} from a still photograph** that `fakescan synth` animated with"
            " a slow drift, zoom and tilt: their real clips were never filmed (no head turns, blinks or"
            " camera compression history), so this test shows how the model does on animated photographs,"
            " not on filmed video. Another `--seed` holds out other people.",
            "",
        ]
    return lines


def _write_report(
    path: Path,
    settings: DemoSettings,
    quick: bool,
    synth: SynthReport,
    fit: FitResult,
    test: TestSetResult,
    predictions: tuple[Prediction, ...],
    labels: dict[Path, str],
    findings: _Findings,
    seconds: dict[str, float],
) -> None:
    """Write the Markdown report (links relative to its folder; epochs counted from 1)."""
    root = path.parent

    def rel(target: Path) -> str:
        return target.resolve().relative_to(root.resolve()).as_posix()

    frame, video = test.frame, test.video
    best = next((e for e in fit.history if e.epoch == fit.best_epoch), None)
    people = len(set(synth.identities.values()))
    lines = [
        "# fakescan demo",
        "",
        f"> **Read this first:** {HONEST}.",
        "> The numbers below show that every stage of fakescan works end to end on real faces;",
        "> they say nothing about accuracy on real forgeries.",
        "",
        "## What was done",
        "",
        f"Mode: {'quick (`--quick`)' if quick else 'full (the default)'};"
        f" total time {sum(seconds.values()):.0f} s"
        f" ({', '.join(f'{name} {secs:.0f} s' for name, secs in seconds.items())}).",
        "",
        f"1. **Data.** Real face clips of {people} people were cut from the sample media, and two synthetic"
        f" forgeries ({', '.join(synth.folders.values())}) were made of each, in the FaceForensics++ layout"
        f" (`{rel(synth.root)}/`). People are split so that nobody is in two splits: "
        + ", ".join(
            f"{split} {synth.reals[split]} real + {synth.fakes[split] * len(synth.folders)} fake videos"
            for split in synth.pairs
        )
        + ".",
        f"2. **Extraction.** {settings.crop_frames} frames per video, faces found with dlib's HOG detector"
        f" and cut to {settings.crop_size}×{settings.crop_size} crops (`{rel(root / 'crops')}/`,"
        " with `index.csv` and `crops.csv`).",
        f"3. **Training.** A `{settings.model}` model trained on the training people's real clips and"
        " their synthetic fakes"
        + (
            ", with a self-blended image of every real training crop added (`data.pseudo_fakes: sbi`,"
            " Self-Blended Images, Shiohara & Yamasaki, CVPR 2022)"
            if settings.pseudo_fakes == "sbi"
            else ""
        )
        + f", for up to {settings.epochs} epochs"
        + (
            f", stopping after {settings.early_stopping} without a lower validation loss"
            if settings.early_stopping
            else ""
        )
        + f". It ran {fit.epochs_run} epochs"
        + (" (stopped early)" if fit.stopped_early else "")
        + f"; the checkpoint with the lowest validation loss, epoch {fit.best_epoch + 1} counting from 1"
        + (f" (validation AUC {_metric(best.val_auc)})" if best else "")
        + f", and its decision threshold were chosen on the validation people only (`{rel(fit.run_dir)}/`;"
        " `log.csv` counts epochs from 0).",
        f"4. **Test.** The checkpoint scored the held-out test people, never seen in training or"
        f" validation ({test.videos} videos, {test.crops} face crops; `{rel(test.out_dir)}/`); a video in"
        " which the detector found no face has no crops and is left out (listed below).",
        "5. **Prediction with explanations.** One held-out real and one held-out fake video were run"
        f" through `fakescan predict --explain` (`{rel(root / 'explain')}/`).",
        "",
        "## Held-out test results",
        "",
        *_people_sentence(findings.people),
        "| level | n (real / fake) | AUC | accuracy | balanced accuracy | EER |",
        "|---|---|---|---|---|---|",
        *(
            f"| {name} | {m.n} ({m.n_real} / {m.n_fake}) | {_metric(m.auc)} | {_metric(m.acc)}"
            f" | {_metric(m.balanced_acc)} | {_metric(m.eer)} |"
            for name, m in (("frame", frame), ("video", video))
        ),
        "",
        f"Accuracy is at the threshold {frame.threshold:.3f} calibrated on validation; a video's score is"
        " the mean of its frame probabilities. With so few test videos the video numbers move in"
        " large steps.",
        "",
        "Confusion matrix at that threshold (rows: the truth; columns: the verdict):",
        "",
        "| | called real | called fake |",
        "|---|---|---|",
        *(
            row
            for name, m in (("videos", video), ("frames", frame))
            for row in (f"| real {name} | {m.tn} | {m.fp} |", f"| fake {name} | {m.fn} | {m.tp} |")
        ),
        "",
        f"- Missed fakes (fake videos scored below {video.threshold:.3f}, so called real):"
        f" {_named(findings.missed)}.",
        f"- False alarms (real videos scored {video.threshold:.3f} or more, so called fake):"
        f" {_named(findings.false_alarms)}.",
        "- Videos with no face found (no crops, so not scored): "
        + (
            "; ".join(
                f"{split}: {', '.join(f'`{name}`' for name in names)}"
                for split, names in findings.no_face.items()
            )
            if findings.no_face
            else "none"
        )
        + ".",
        "",
        f"![ROC curves of the held-out test set]({rel(test.out_dir / 'roc.png')})",
        "",
        "## Two predictions, explained",
        "",
    ]
    for prediction in predictions:
        score = "no score" if prediction.score is None else f"score {prediction.score:.3f}"
        lines += [
            f"### {prediction.path.name} ({labels[prediction.path]})",
            "",
            f"Verdict **{prediction.verdict}** ({score}, threshold {prediction.threshold:.3f};"
            f" {prediction.frames_used} of {prediction.frames_read} frames with a face).",
            "",
        ]
        files = {p.name: p for p in prediction.explanations}
        captions = {
            "timeline.png": "fake probability over time",
            "gradcam.png": "Grad-CAM on the most fake-looking frame",
            "spectrum.png": "spectrum of that face",
        }
        for name, caption in captions.items():
            if name in files:
                lines += [f"![{caption}]({rel(files[name])})", ""]
        if "annotated.mp4" in files:
            lines += [f"Annotated video: [{rel(files['annotated.mp4'])}]({rel(files['annotated.mp4'])})", ""]
    lines += [
        "## Reproduce or go further",
        "",
        "The same steps by hand: `fakescan synth`, `fakescan extract --dataset ffpp`, `fakescan train`,"
        " `fakescan test`, `fakescan predict --explain`. To train a real detector, use a real data set"
        " (FaceForensics++, Celeb-DF, DFDC, ...) with the same commands.",
        "",
        f"Once more: {HONEST}.",
        "",
    ]
    atomic_write_text(path, "\n".join(lines))


def run_demo(
    out_dir: str | Path,
    quick: bool = False,
    seed: int = 0,
    on_stage: Callable[[str, str], None] | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> DemoReport:
    """Run fakescan's whole job on real sample faces and write ``out_dir/report.md``.

    Args:
        out_dir: the demo folder: new, empty, or an earlier demo (whose parts are replaced).
        quick: the small settings (:data:`QUICK`, about a minute on two CPU cores) instead of
            :data:`FULL`.
        seed: seed of the data set's split, the forgeries and the training.
        on_stage: called with a stage name of :data:`STAGES` and a one-line description as each
            stage starts.
        on_progress: called with a stage name, the items done and the items in all, as the
            stages of :data:`UNITS` advance (videos extracted, epochs trained — at most ``epochs``,
            fewer when early stopping ends the run —, videos predicted).

    Raises:
        ConfigError: ``out_dir`` holds something other than an earlier demo.
        FakescanError: a stage fails (e.g. the sample media cannot be fetched).
    """

    import torch

    threads = torch.get_num_threads()
    # The demo model is tiny: intra-op threads buy nothing, and on shared cores they cost a lot.
    torch.set_num_threads(1)
    try:
        return _run(Path(out_dir), quick, seed, on_stage, on_progress)
    finally:
        torch.set_num_threads(threads)


def _run(
    out_dir: Path,
    quick: bool,
    seed: int,
    on_stage: Callable[[str, str], None] | None,
    on_progress: Callable[[str, int, int], None] | None,
) -> DemoReport:
    """The stages of :func:`run_demo` (which sets the thread count)."""
    from fakescan.data.datasets import DatasetWarning, index_ffpp
    from fakescan.data.datasets.extraction import extract_dataset
    from fakescan.data.extract import ExtractConfig
    from fakescan.data.samples import fetch_samples
    from fakescan.evaluate.runner import run_test
    from fakescan.predict import PredictConfig, load_predictor, run_prediction
    from fakescan.synth import SYNTH_METHODS, build_synthetic_ffpp, default_sources
    from fakescan.train.config import load_config
    from fakescan.train.engine import fit, load_training_data

    settings = QUICK if quick else FULL
    _prepare(out_dir)
    atomic_write_text(
        out_dir / _MARKER,
        json.dumps({"quick": quick, "seed": seed, "settings": settings.__dict__}, indent=1) + "\n",
    )
    seconds: dict[str, float] = {}
    clock = [time.perf_counter()]

    def stage(name: str, description: str) -> None:
        now = time.perf_counter()
        if seconds or name != STAGES[0]:
            previous = STAGES[STAGES.index(name) - 1]
            seconds[previous] = now - clock[0]
        clock[0] = now
        if on_stage is not None:
            on_stage(name, description)

    def counter(name: str, total: int | None = None) -> Callable[..., None]:
        """A callback for the library's progress hooks that counts the items of stage ``name``."""
        done = [0]

        def advance(_: object, total_now: int | None = None) -> None:
            done[0] += 1
            if on_progress is not None:
                on_progress(name, done[0], total if total is not None else total_now or done[0])

        return advance

    stage("samples", "fetching the real sample media")
    samples = fetch_samples()

    stage("synth", "building a synthetic FF++-layout data set of real clips and forgeries")
    synth = build_synthetic_ffpp(
        default_sources(samples),
        out_dir / "data",
        methods=SYNTH_METHODS,
        frames=settings.clip_frames,
        size=settings.clip_size,
        seed=seed,
        clips_per_video=settings.clips_per_video,
    )

    stage("extract", "indexing the data set and extracting face crops")
    folders = [synth.folders[method] for method in SYNTH_METHODS]
    records = index_ffpp(synth.root, methods=folders)
    crops_dir = out_dir / "crops"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)  # a clip without a face crop is fine here
        extracted = extract_dataset(
            records,
            synth.root,
            crops_dir,
            ExtractConfig(frames=settings.crop_frames, size=settings.crop_size, detector=DEMO_DETECTOR),
            on_result=counter("extract"),
        )

    blends = " and self-blends" if settings.pseudo_fakes == "sbi" else ""
    stage("train", f"training a {settings.model} detector on the training people's clips{blends}")
    overrides: dict[str, Any] = {
        "model": settings.model,
        "epochs": settings.epochs,
        "early_stopping": settings.early_stopping,
        "seed": seed,
        "device": "cpu",
        "optim": {"lr": settings.lr, "scheduler": "none"},
        "data": {
            "image_size": settings.crop_size,
            "batch_size": settings.batch_size,
            "workers": 0,
            "pseudo_fakes": settings.pseudo_fakes,
        },
    }
    config = load_config(overrides=overrides)
    fitted = fit(
        config,
        load_training_data(crops_dir, crops_dir),
        out_dir / "run",
        on_epoch=counter("train", settings.epochs),
    )

    stage("test", "scoring the held-out test people")
    checkpoint = fitted.run_dir / "best"
    tested = run_test(checkpoint, [crops_dir], out_dir / "test", device="cpu", names=["held-out"])
    result = tested.results[0]

    stage("predict", "predicting one held-out real and one held-out fake video, with explanations")
    cropped = {crop.video_id for crop in extracted.crops}
    chosen = [_pick(records, 0, cropped), _pick(records, 1, cropped)]
    paths = [synth.root / record.path for record in chosen]
    labels = {
        path: "real" if record.label == 0 else f"fake, {record.method}"
        for path, record in zip(paths, chosen, strict=True)
    }
    predictor = load_predictor(checkpoint, device="cpu")
    predicted = run_prediction(
        paths,
        predictor,
        PredictConfig(extract=ExtractConfig(frames=settings.crop_frames, detector=DEMO_DETECTOR)),
        explain_dir=out_dir / "explain",
        on_result=counter("predict"),
    )

    stage("report", "writing the report")
    report_md = out_dir / "report.md"
    manifest = json.loads((synth.root / "synth.json").read_text(encoding="utf-8"))
    findings = _findings(records, cropped, result, manifest)
    _write_report(
        report_md, settings, quick, synth, fitted, result, predicted.predictions, labels, findings, seconds
    )
    seconds["report"] = time.perf_counter() - clock[0]
    return DemoReport(
        out_dir, report_md, settings, synth, fitted, result, predicted.predictions, findings.people, seconds
    )
