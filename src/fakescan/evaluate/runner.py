"""``fakescan test``: score a checkpoint on one or more test sets and write every number it reports.

For each test set (a crops folder with ``crops.csv``): frame-level and video-level ACC, AUC, EER and
AP at the checkpoint's validation-calibrated threshold, the confusion matrix, a per-method breakdown
(each method's fakes against all reals, the FaceForensics++ convention) and, for a K-class model,
multi-class metrics. Video ids come from the crop table, never from folder names, and are prefixed
with their data set (``dataset/video_id``, as training records them). Outputs per test
set: ``metrics.json``, ``frames.csv``, ``videos.csv``, ``roc.png``; across sets: ``summary.md`` and
``summary.json`` (the cross-data-set table).

Integrity: the checkpoint lists the videos it was trained on; a test set sharing any of them is
refused unless forced (and the overlap is then recorded in its metrics).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from fakescan._atomic import make_output_dir
from fakescan.data.datasets.index import CropRecord, read_crop_table
from fakescan.data.packing import SkippedCrop
from fakescan.errors import ConfigError, InputError, SplitLeakError

__all__ = [
    "CropSet",
    "TestReport",
    "TestSetResult",
    "binary_results",
    "eval_dataset_options",
    "load_scorer",
    "load_test_sets",
    "readable_records",
    "run_test",
    "score_dataset",
    "training_videos_of",
]


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
    skipped: tuple[SkippedCrop, ...] = ()


@dataclass
class TestReport:
    """All test sets of a run, and the summary files written."""

    results: list[TestSetResult] = field(default_factory=list)
    summary_md: Path | None = None
    summary_json: Path | None = None


def training_videos_of(checkpoint: str | Path) -> set[str] | None:
    """The training videos a checkpoint lists beside itself, or None when it lists none."""
    from fakescan.checkpoints import checkpoint_paths, read_checkpoint_meta, resolve_checkpoint

    checkpoint = resolve_checkpoint(checkpoint)
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


@dataclass(frozen=True)
class CropSet:
    """One test set of a run: its name, its crops folder and the rows of the split tested."""

    name: str
    folder: Path
    records: list[CropRecord]


def load_test_sets(
    checkpoint: str | Path,
    test_dirs: Sequence[str | Path],
    split: str | None = "test",
    force: bool = False,
    names: Sequence[str] | None = None,
) -> tuple[list[CropSet], dict[str, int], bool]:
    """The test sets of ``test_dirs``, each checked against the checkpoint's training videos.

    Returns:
        the sets; per set, how many of its videos the checkpoint was trained on (0 unless ``force``);
        whether that overlap was checked (False when forced or when the checkpoint lists no videos).

    Raises:
        SplitLeakError: a test set shares videos with the training data (unless ``force``).
        ConfigError: a folder without a crop table or without crops of ``split``.
    """
    folders = [Path(d) for d in test_dirs]
    names = list(names) if names is not None else [f.name or str(f) for f in folders]
    if len(set(names)) != len(names):
        names = [f"{n}-{i}" for i, n in enumerate(names)]
    trained_on = None if force else training_videos_of(checkpoint)
    # Videos are ``dataset/video_id``, as training names them: two data sets in one crops folder may
    # use the same relative ids.
    sets = [
        CropSet(name, folder, [replace(r, video_id=_namespaced(r)) for r in _test_set(folder, split)])
        for name, folder in zip(names, folders, strict=True)
    ]
    overlaps = {}
    for test_set in sets:
        shared = {r.video_id for r in test_set.records} & (trained_on or set())
        overlaps[test_set.name] = len(shared)
        if shared:
            raise SplitLeakError(
                f"{test_set.folder}: {len(shared)} test video(s) were used to train {checkpoint}, e.g. "
                f"{sorted(shared)[0]}; refusing to test on them (--force to override)"
            )
    return sets, overlaps, trained_on is not None


def eval_dataset_options(meta: Any, input_cfg: Any) -> dict[str, Any]:
    """The transform and class names a test set's :class:`~fakescan.data.loading.CropFolderDataset`
    takes for a checkpoint (``meta``: its :class:`~fakescan.checkpoints.CheckpointMeta`)."""
    from fakescan.data.transforms import EvalTransform

    return {
        "transform": EvalTransform(input_cfg, grayscale=meta.grayscale),
        "class_names": meta.class_names if len(meta.class_names) > 2 else None,
    }


def load_scorer(checkpoint: str | Path, device: str = "auto") -> tuple[Any, Any, Any]:
    """The model and :class:`~fakescan.checkpoints.CheckpointMeta` of ``checkpoint`` on the
    resolved ``device`` (``"auto"``: CUDA when there is one), and that device."""
    from fakescan.checkpoints import load_checkpoint
    from fakescan.scoring import resolve_device

    dev = resolve_device(device)
    model, meta = load_checkpoint(checkpoint, device=str(dev))
    return model, meta, dev


def score_dataset(
    model: Any,
    dataset: Any,
    device: Any,
    batch_size: int = 64,
    workers: int = 0,
    on_batch: Callable[[int], None] | None = None,
) -> Any:
    """Score every crop of ``dataset`` in order, in batches (:class:`~fakescan.scoring.Predictions`);
    ``on_batch`` is called with the size of each batch scored."""
    from fakescan.data.loading import make_loader
    from fakescan.scoring import predict_loader

    loader = make_loader(dataset, batch_size, workers=workers)
    if on_batch is None:
        return predict_loader(model, loader, device)

    def counted() -> Any:
        for batch in loader:
            on_batch(len(batch))
            yield batch

    return predict_loader(model, counted(), device)


def binary_results(predictions: Any, threshold: float, aggregate: str = "mean") -> tuple[Any, Any, Any]:
    """Frame metrics, video scores and video metrics of a scoring pass, as ``fakescan test`` reports
    them (``predictions``: :class:`~fakescan.scoring.Predictions` or the
    :class:`~fakescan.evaluate.metrics.FrameScores` rows made of it: labels, scores, video ids)."""
    from fakescan.evaluate.metrics import binary_metrics, video_scores

    frame = binary_metrics(predictions.labels, predictions.scores, threshold)
    videos = video_scores(
        np.array(predictions.video_ids), predictions.labels, predictions.scores, how=aggregate
    )
    return frame, videos, binary_metrics(videos.labels, videos.scores, threshold)


def readable_records(
    records: Iterable[CropRecord], crops_root: str | Path
) -> tuple[list[CropRecord], list[SkippedCrop]]:
    """The records whose crop file reads and decodes, and the others skipped with the reason, as
    ``pack`` does. Decoding every crop once more costs little next to the model's forward pass on it.

    >>> readable_records([], ".")
    ([], [])
    """
    from fakescan.data.images import decode_image, read_file_bytes

    root = Path(crops_root)
    kept, skipped = [], []
    for record in records:
        path = root / record.crop
        try:
            decode_image(read_file_bytes(path, "crop file"), path)
        except InputError as error:
            skipped.append(SkippedCrop(crop=record.crop, path=path, reason=error.reason))
        else:
            kept.append(record)
    return kept, skipped


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
    from fakescan.data.loading import CropFolderDataset
    from fakescan.evaluate.metrics import (
        FACE_AGGREGATIONS,
        FrameScores,
        max_over_faces,
        multiclass_metrics,
        per_group_metrics,
    )
    from fakescan.evaluate.report import (
        cross_dataset_table,
        plot_roc,
        write_metrics_json,
        write_scores_csv,
        write_video_scores_csv,
    )

    if faces not in FACE_AGGREGATIONS:
        raise ConfigError(f"unknown faces {faces!r}; choose one of {', '.join(FACE_AGGREGATIONS)}")
    out_dir = Path(out_dir)
    sets, overlaps, checked = load_test_sets(checkpoint, test_dirs, split, force, names)
    model, meta, dev = load_scorer(checkpoint, device)
    threshold = meta.threshold
    input_cfg = meta.input_cfg or model.input_cfg
    report = TestReport()
    frame_results, video_results, curves = {}, {}, {}
    for test_set in sets:
        name, folder = test_set.name, test_set.folder
        records, skipped = readable_records(test_set.records, folder)
        if not records:
            raise InputError(
                folder, f"none of its {len(test_set.records)} crops could be read ({skipped[0].reason}, ...)"
            )
        dataset = CropFolderDataset(records, folder, **eval_dataset_options(meta, input_cfg))
        predictions = score_dataset(model, dataset, dev, batch_size, workers)
        method_of = {r.video_id: r.method for r in records}
        methods = np.array([method_of.get(v, "") for v in predictions.video_ids])
        rows = FrameScores.of_predictions(predictions, methods)
        if faces == "max":
            rows = max_over_faces(rows)
        frame, videos, video = binary_results(rows, threshold, aggregate)
        per_method = per_group_metrics(rows.methods, rows.labels, rows.scores, threshold)
        multiclass = None
        if predictions.probs is not None:
            multiclass = multiclass_metrics(predictions.class_labels, predictions.probs, meta.class_names)
        set_dir = out_dir / name
        make_output_dir(set_dir)
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
                "overlap_with_training": overlaps[name] if checked else None,
                "skipped_crops": [{"crop": c.crop, "reason": c.reason} for c in skipped],
                "frame": frame,
                "video": video,
                "per_method": per_method,
                "multiclass": multiclass,
            },
        )
        result = TestSetResult(
            name,
            len(records),
            len(videos.ids),
            frame,
            video,
            per_method,
            multiclass,
            overlaps[name],
            set_dir,
            tuple(skipped),
        )
        report.results.append(result)
        frame_results[name], video_results[name] = frame, video
        curves[name] = (rows.labels, rows.scores)
        if on_set is not None:
            on_set(result)

    make_output_dir(out_dir)
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
