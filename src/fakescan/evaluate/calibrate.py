"""``fakescan calibrate``: set a checkpoint's decision threshold on the user's own validation crops.

The crops are scored as ``fakescan test`` scores them (:func:`~fakescan.evaluate.runner.score_dataset`
with the checkpoint's own preprocessing), the threshold is chosen on the frame scores with the rule
training uses (:func:`~fakescan.evaluate.metrics.calibrate_threshold`, ``"eer"`` by default), and the
sidecar gets the threshold, the validation metrics at it (``val_metrics``, as training writes them)
and a ``calibration`` record (data, split, rule, counts, video AUC). Only the JSON sidecar is
rewritten, atomically; the weights file and its hash stay as they are. Works for every checkpoint:
an imported one (threshold 0.5 on the published probability until calibrated) or a trained one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from fakescan.errors import ConfigError, InputError
from fakescan.evaluate.metrics import FrameScores, finite_metrics

__all__ = ["CalibrationResult", "calibrate_checkpoint"]


@dataclass(frozen=True)
class CalibrationResult:
    """What :func:`calibrate_checkpoint` wrote.

    Attributes:
        checkpoint: the sidecar rewritten.
        previous_threshold, threshold: before and after.
        crops, videos: how many validation crops and videos were scored.
        frame, video: :class:`~fakescan.evaluate.metrics.BinaryMetrics` at the new threshold.
    """

    checkpoint: Path
    previous_threshold: float
    threshold: float
    crops: int
    videos: int
    frame: Any
    video: Any


def calibrate_checkpoint(
    checkpoint: str | Path,
    val_dirs: Sequence[str | Path],
    split: str | None = "val",
    rule: str = "eer",
    faces: str = "all",
    aggregate: str = "mean",
    force: bool = False,
    batch_size: int = 64,
    workers: int = 0,
    device: str = "auto",
) -> CalibrationResult:
    """Choose ``checkpoint``'s threshold on the crops of ``val_dirs`` and write it into its sidecar.

    Args:
        checkpoint: a checkpoint (stem, ``.safetensors``, ``.json``) or a run folder (its ``best``).
        val_dirs: crops folders with ``crops.csv``, as ``fakescan test`` takes.
        split: the split of each crop table to use (``None``: every crop).
        rule: ``"eer"``, ``"youden"`` or ``"acc"`` (:data:`~fakescan.evaluate.metrics.THRESHOLD_RULES`).
        faces: ``"all"`` or ``"max"`` (a frame's score is its most suspicious face), as in ``test``.
        aggregate: video score for the video metrics recorded, as in ``test``.
        force: calibrate even on videos the checkpoint was trained on.

    Raises:
        ConfigError: an unknown rule or ``faces``, folders without crops of ``split``, or
            validation data of one class only.
        SplitLeakError: validation videos the checkpoint was trained on (unless ``force``).
        InputError, CheckpointMismatchError: a missing or damaged checkpoint, or unreadable crops.
    """
    from fakescan.checkpoints import checkpoint_paths, update_checkpoint_meta
    from fakescan.data.loading import CropFolderDataset
    from fakescan.evaluate.metrics import (
        FACE_AGGREGATIONS,
        THRESHOLD_RULES,
        calibrate_threshold,
        max_over_faces,
    )
    from fakescan.evaluate.runner import (
        binary_results,
        eval_dataset_options,
        load_scorer,
        load_test_sets,
        readable_records,
        score_dataset,
    )

    if rule not in THRESHOLD_RULES:
        raise ConfigError(f"unknown threshold rule {rule!r}; choose one of {', '.join(THRESHOLD_RULES)}")
    if faces not in FACE_AGGREGATIONS:
        raise ConfigError(f"unknown faces {faces!r}; choose one of {', '.join(FACE_AGGREGATIONS)}")
    sets, _, _ = load_test_sets(checkpoint, val_dirs, split, force)
    model, meta, dev = load_scorer(checkpoint, device)
    input_cfg = meta.input_cfg or model.input_cfg
    tables = []
    for crop_set in sets:
        records, _ = readable_records(crop_set.records, crop_set.folder)
        if not records:
            raise InputError(crop_set.folder, f"none of its {len(crop_set.records)} crops could be read")
        dataset = CropFolderDataset(records, crop_set.folder, **eval_dataset_options(meta, input_cfg))
        predictions = score_dataset(model, dataset, dev, batch_size, workers)
        method_of = {r.video_id: r.method for r in records}
        rows = FrameScores.of_predictions(predictions, [method_of.get(v, "") for v in predictions.video_ids])
        tables.append(max_over_faces(rows) if faces == "max" else rows)
    rows = FrameScores(*(np.concatenate([getattr(t, f.name) for t in tables]) for f in fields(FrameScores)))
    try:
        threshold = calibrate_threshold(rows.labels, rows.scores, rule)  # type: ignore[arg-type]
    except ValueError as error:
        raise ConfigError(f"cannot calibrate on {', '.join(map(str, val_dirs))}: {error}") from None
    frame, videos, video = binary_results(rows, threshold, aggregate)
    _, meta_path = checkpoint_paths(checkpoint)
    update_checkpoint_meta(
        meta_path,
        threshold=float(threshold),
        val_metrics=finite_metrics(frame.to_dict()),
        calibration={
            "data": [str(d) for d in val_dirs],
            "split": split,
            "rule": rule,
            "faces": faces,
            "aggregate": aggregate,
            "crops": len(rows.labels),
            "videos": len(videos.ids),
            "previous_threshold": float(meta.threshold),
            "video_auc": None if not math.isfinite(video.auc) else float(video.auc),
        },
    )
    return CalibrationResult(
        meta_path, float(meta.threshold), float(threshold), len(rows.labels), len(videos.ids), frame, video
    )
