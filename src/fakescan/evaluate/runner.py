"""``fakescan test``: score a checkpoint on one or more test sets and write every number it reports.

For each test set (a crops folder with ``crops.csv``): frame-level and video-level ACC, AUC, EER and
AP at the checkpoint's validation-calibrated threshold, the confusion matrix, a per-method breakdown
(each method's fakes against all reals, the FaceForensics++ convention) and, for a K-class model,
multi-class metrics. Video ids come from the crop table, never from folder names. Outputs per test
set: ``metrics.json``, ``frames.csv``, ``videos.csv``, ``roc.png``; across sets: ``summary.md`` and
``summary.json`` (the cross-data-set table).

Integrity: the checkpoint lists the videos it was trained on; a test set sharing any of them is
refused unless forced (and the overlap is then recorded in its metrics).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fakescan.data.datasets.index import CropRecord, read_crop_table
from fakescan.errors import ConfigError, SplitLeakError

__all__ = ["TestReport", "TestSetResult", "run_test", "training_videos_of"]


@dataclass(frozen=True)
class TestSetResult:
    """The numbers of one test set (``frame`` and ``video`` are :class:`BinaryMetrics`)."""

    name: str
    crops: int
    videos: int
    frame: Any
    video: Any
    per_method: dict[str, Any]
    multiclass: Any | None
    overlap: int
    out_dir: Path


@dataclass
class TestReport:
    """All test sets of a run, and the summary files written."""

    results: list[TestSetResult] = field(default_factory=list)
    summary_md: Path | None = None
    summary_json: Path | None = None


def training_videos_of(checkpoint: str | Path) -> set[str] | None:
    """The training videos a checkpoint lists beside itself, or None when it lists none."""
    from fakescan.train.checkpoint import checkpoint_paths, read_checkpoint_meta

    meta = read_checkpoint_meta(checkpoint)
    if not meta.train_videos_list:
        return None
    listing = checkpoint_paths(checkpoint)[1].parent / meta.train_videos_list
    if not listing.is_file():
        raise ConfigError(
            f"{listing}: the checkpoint's list of training videos is missing; keep it beside the checkpoint "
            "(or pass --force to test without the overlap check)"
        )
    return {line.strip() for line in listing.read_text(encoding="utf-8").splitlines() if line.strip()}


def _namespaced(record: CropRecord) -> str:
    return f"{record.dataset}/{record.video_id}"


def _test_set(folder: Path, split: str | None) -> list[CropRecord]:
    table = folder / "crops.csv"
    if not table.is_file():
        raise ConfigError(f"{folder}: no crops.csv here; run `fakescan extract --dataset ...` first")
    records = [r for r in read_crop_table(table) if split is None or r.split == split]
    if not records:
        raise ConfigError(f"{table}: no crops of split {split!r}")
    return records


def run_test(
    checkpoint: str | Path,
    test_dirs: Sequence[str | Path],
    out_dir: str | Path,
    split: str | None = "test",
    force: bool = False,
    batch_size: int = 64,
    workers: int = 0,
    device: str = "auto",
    aggregate: str = "mean",
    faces: str = "all",
    names: Sequence[str] | None = None,
    on_set: Callable[[TestSetResult], None] | None = None,
) -> TestReport:
    """Score ``checkpoint`` on each crops folder of ``test_dirs`` and write the reports.

    Args:
        split: the split of each crop table to test on (``None``: every crop).
        force: test even where the data overlaps the checkpoint's training videos.
        aggregate: video score from frame probabilities, ``"mean"`` or ``"confident"``.
        faces: ``"all"``: every face crop is a frame row of its own; ``"max"``: one row per frame,
            scored by its most suspicious face (:func:`~fakescan.evaluate.metrics.max_over_faces`, as
            SBI evaluates), before the frame metrics and the video scores.
        names: a name per test set (default: the folder names).

    Raises:
        SplitLeakError: a test set shares videos with the training data (unless ``force``).
        ConfigError: a folder without a crop table or without crops of ``split``, or an unknown
            ``faces``.
    """
    from fakescan.data.loading import CropFolderDataset, make_loader
    from fakescan.data.transforms import EvalTransform
    from fakescan.evaluate.metrics import (
        FACE_AGGREGATIONS,
        binary_metrics,
        max_over_faces,
        multiclass_metrics,
        per_group_metrics,
        video_scores,
    )
    from fakescan.evaluate.report import (
        cross_dataset_table,
        plot_roc,
        write_metrics_json,
        write_scores_csv,
        write_video_scores_csv,
    )
    from fakescan.train.checkpoint import load_checkpoint
    from fakescan.train.engine import predict_loader, resolve_device

    if faces not in FACE_AGGREGATIONS:
        raise ConfigError(f"unknown faces {faces!r}; choose one of {', '.join(FACE_AGGREGATIONS)}")
    out_dir = Path(out_dir)
    folders = [Path(d) for d in test_dirs]
    names = list(names) if names is not None else [f.name or str(f) for f in folders]
    if len(set(names)) != len(names):
        names = [f"{n}-{i}" for i, n in enumerate(names)]
    trained_on = None if force else training_videos_of(checkpoint)
    sets = [(name, folder, _test_set(folder, split)) for name, folder in zip(names, folders, strict=True)]
    overlaps = {}
    for name, folder, records in sets:
        shared = {_namespaced(r) for r in records} & (trained_on or set())
        overlaps[name] = len(shared)
        if shared:
            raise SplitLeakError(
                f"{folder}: {len(shared)} test video(s) were used to train {checkpoint}, e.g. "
                f"{sorted(shared)[0]}; refusing to test on them (--force to override)"
            )

    dev = resolve_device(device)
    model, meta = load_checkpoint(checkpoint, device=str(dev))
    threshold = meta.threshold
    input_cfg = meta.input_cfg or model.input_cfg
    report = TestReport()
    frame_results, video_results, curves = {}, {}, {}
    for name, folder, records in sets:
        dataset = CropFolderDataset(
            records,
            folder,
            EvalTransform(input_cfg, grayscale=meta.grayscale),
            class_names=meta.class_names if len(meta.class_names) > 2 else None,
        )
        loader = make_loader(dataset, batch_size, workers=workers)
        predictions = predict_loader(model, loader, dev)
        method_of = {r.video_id: r.method for r in records}
        methods = np.array([method_of.get(v, "") for v in predictions.video_ids])
        rows = predictions.frame_scores(methods)
        if faces == "max":
            rows = max_over_faces(rows)
        frame = binary_metrics(rows.labels, rows.scores, threshold)
        videos = video_scores(rows.video_ids, rows.labels, rows.scores, how=aggregate)
        video = binary_metrics(videos.labels, videos.scores, threshold)
        per_method = per_group_metrics(rows.methods, rows.labels, rows.scores, threshold)
        multiclass = None
        if predictions.probs is not None:
            multiclass = multiclass_metrics(predictions.class_labels, predictions.probs, meta.class_names)
        set_dir = out_dir / name
        set_dir.mkdir(parents=True, exist_ok=True)
        write_scores_csv(set_dir / "frames.csv", rows)
        write_video_scores_csv(set_dir / "videos.csv", videos, threshold)
        plot_roc(
            set_dir / "roc.png",
            {"frame": (rows.labels, rows.scores), "video": (videos.labels, videos.scores)},
            title=f"ROC: {name}",
        )
        write_metrics_json(
            set_dir / "metrics.json",
            {
                "checkpoint": str(checkpoint),
                "test_set": str(folder),
                "split": split,
                "threshold": threshold,
                "aggregate": aggregate,
                "faces": faces,
                "overlap_with_training": overlaps[name] if trained_on is not None else None,
                "frame": frame,
                "video": video,
                "per_method": per_method,
                "multiclass": multiclass,
            },
        )
        result = TestSetResult(
            name, len(records), len(videos.ids), frame, video, per_method, multiclass, overlaps[name], set_dir
        )
        report.results.append(result)
        frame_results[name], video_results[name] = frame, video
        curves[name] = (rows.labels, rows.scores)
        if on_set is not None:
            on_set(result)

    out_dir.mkdir(parents=True, exist_ok=True)
    from fakescan._atomic import atomic_write_text

    report.summary_md = out_dir / "summary.md"
    atomic_write_text(
        report.summary_md,
        f"# fakescan test: {checkpoint}\n\nThreshold {threshold:.4f} (calibrated on validation).\n\n"
        + cross_dataset_table(frame_results, video_results)
        + "\n",
    )
    report.summary_json = out_dir / "summary.json"
    write_metrics_json(report.summary_json, {"frame": frame_results, "video": video_results})
    if len(curves) > 1:
        plot_roc(out_dir / "roc.png", curves, title="ROC (frame level)")
    return report
