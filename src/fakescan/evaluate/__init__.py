"""Evaluation: detection metrics, per-video aggregation, and result reports.

``metrics`` holds pure functions over numpy arrays and the streaming :class:`ScoreAccumulator`;
``report`` writes metrics JSON, score CSVs, ROC plots and cross-data-set tables.
"""

from fakescan.evaluate.metrics import (
    BinaryMetrics,
    FrameScores,
    MulticlassMetrics,
    ScoreAccumulator,
    VideoScores,
    binary_metrics,
    calibrate_threshold,
    eer,
    multiclass_metrics,
    per_group_metrics,
    video_scores,
)
from fakescan.evaluate.report import (
    cross_dataset_rich_table,
    cross_dataset_table,
    plot_roc,
    read_metrics_json,
    read_scores_csv,
    read_video_scores_csv,
    write_metrics_json,
    write_scores_csv,
    write_video_scores_csv,
)

__all__ = [
    "BinaryMetrics",
    "FrameScores",
    "MulticlassMetrics",
    "ScoreAccumulator",
    "VideoScores",
    "binary_metrics",
    "calibrate_threshold",
    "cross_dataset_rich_table",
    "cross_dataset_table",
    "eer",
    "multiclass_metrics",
    "per_group_metrics",
    "plot_roc",
    "read_metrics_json",
    "read_scores_csv",
    "read_video_scores_csv",
    "video_scores",
    "write_metrics_json",
    "write_scores_csv",
    "write_video_scores_csv",
]
