"""Writing evaluation results: metrics JSON, score CSVs, ROC plots and cross-data-set tables.

Every file is written atomically (:mod:`fakescan._atomic`): a reader sees the old file or the new
one, never half of one. matplotlib and rich are imported only by the functions that draw with them.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from fakescan._atomic import atomic_write_bytes, atomic_write_text
from fakescan.errors import InputError
from fakescan.evaluate.metrics import BinaryMetrics, FrameScores, VideoScores

if TYPE_CHECKING:
    from rich.table import Table

__all__ = [
    "FRAME_COLUMNS",
    "TABLE_COLUMNS",
    "VIDEO_COLUMNS",
    "cross_dataset_rich_table",
    "cross_dataset_table",
    "plot_roc",
    "read_metrics_json",
    "read_scores_csv",
    "read_video_scores_csv",
    "to_jsonable",
    "write_metrics_json",
    "write_scores_csv",
    "write_video_scores_csv",
]

FRAME_COLUMNS: tuple[str, ...] = ("video_id", "frame_index", "method", "label", "score")
VIDEO_COLUMNS: tuple[str, ...] = ("video_id", "label", "score", "prediction")
TABLE_COLUMNS: tuple[str, ...] = ("auc", "acc", "eer", "ap")
"""Default metric columns of the cross-data-set table."""


# --------------------------------------------------------------------------------------------------
# JSON


def to_jsonable(value: Any) -> Any:  # noqa: PLR0911 - one return per type
    """Convert metric records, numpy values and paths into plain JSON values; ``nan``/``inf`` → ``None``.

    >>> to_jsonable({"auc": float("nan"), "n": np.int64(3), "xs": (1.5, np.float32(2))})
    {'auc': None, 'n': 3, 'xs': [1.5, 2.0]}
    """
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(value.to_dict() if hasattr(value, "to_dict") else asdict(value))
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"cannot write a {type(value).__name__} to a metrics file: {value!r}")


def write_metrics_json(path: str | Path, results: Mapping[str, Any]) -> None:
    """Write ``results`` (metric records, dicts, numbers, strings) as indented JSON, atomically.

    Undefined values (``nan``) become ``null``, so the file is strict JSON.
    """
    text = json.dumps(to_jsonable(results), indent=2, allow_nan=False, sort_keys=False)
    atomic_write_text(path, text + "\n")


def read_metrics_json(path: str | Path) -> dict[str, Any]:
    """Read a file written by :func:`write_metrics_json` (``null`` stays ``None``)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(path, f"not a metrics JSON file ({error})") from None
    if not isinstance(data, dict):
        raise InputError(path, "not a metrics JSON file (top level is not an object)")
    return data


# --------------------------------------------------------------------------------------------------
# CSV


def _float_cell(value: float) -> str:
    return repr(float(value))  # the shortest text that reads back to the same float


def write_scores_csv(path: str | Path, frames: FrameScores) -> None:
    """Write one row per frame — ``video_id, frame_index, method, label, score`` — atomically.

    Scores are written with full precision, so :func:`read_scores_csv` gives the same floats.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FRAME_COLUMNS)
    for video, frame, method, label, score in zip(
        frames.video_ids.tolist(),
        frames.frame_indices.tolist(),
        frames.methods.tolist(),
        frames.labels.tolist(),
        frames.scores.tolist(),
        strict=True,
    ):
        writer.writerow((video, frame, method, label, _float_cell(score)))
    atomic_write_text(path, buffer.getvalue())


def _read_rows(path: str | Path, columns: Sequence[str]) -> list[dict[str, str]]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [name for name in columns if name not in (reader.fieldnames or [])]
    if missing:
        raise InputError(path, f"not a scores file: missing columns {', '.join(missing)}")
    return list(reader)


def read_scores_csv(path: str | Path) -> FrameScores:
    """Read a file written by :func:`write_scores_csv`."""
    rows = _read_rows(path, FRAME_COLUMNS)
    try:
        return FrameScores(
            video_ids=np.asarray([r["video_id"] for r in rows], dtype=str),
            frame_indices=np.asarray([int(r["frame_index"]) for r in rows], dtype=np.int64),
            labels=np.asarray([int(r["label"]) for r in rows], dtype=np.int64),
            scores=np.asarray([float(r["score"]) for r in rows], dtype=np.float64),
            methods=np.asarray([r["method"] for r in rows], dtype=str),
        )
    except ValueError as error:
        raise InputError(path, f"bad value in a scores file ({error})") from None


def write_video_scores_csv(path: str | Path, videos: VideoScores, threshold: float = 0.5) -> None:
    """Write one row per video — ``video_id, label, score, prediction`` — atomically.

    ``prediction`` is 1 (fake) when ``score >= threshold``.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(VIDEO_COLUMNS)
    for video, label, score in zip(
        videos.ids.tolist(), videos.labels.tolist(), videos.scores.tolist(), strict=True
    ):
        writer.writerow((video, label, _float_cell(score), int(score >= threshold)))
    atomic_write_text(path, buffer.getvalue())


def read_video_scores_csv(path: str | Path) -> VideoScores:
    """Read a file written by :func:`write_video_scores_csv`."""
    rows = _read_rows(path, VIDEO_COLUMNS[:3])
    try:
        return VideoScores(
            ids=np.asarray([r["video_id"] for r in rows], dtype=str),
            labels=np.asarray([int(r["label"]) for r in rows], dtype=np.int64),
            scores=np.asarray([float(r["score"]) for r in rows], dtype=np.float64),
        )
    except ValueError as error:
        raise InputError(path, f"bad value in a scores file ({error})") from None


# --------------------------------------------------------------------------------------------------
# ROC plot


def plot_roc(
    path: str | Path,
    curves: Mapping[str, tuple[ArrayLike, ArrayLike]],
    title: str = "ROC",
    dpi: int = 120,
) -> None:
    """Draw the ROC curves of several score sets into one PNG, atomically.

    Args:
        path: the PNG to write.
        curves: legend name → ``(labels, scores)``; the legend shows each curve's AUC. A set with
            only one class has no ROC curve: it is listed in the legend as undefined.
        title: the plot title.
        dpi: resolution (the figure is 5×5 inches).
    """
    # The object API with an Agg canvas: no pyplot, no global backend switch, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from sklearn.metrics import roc_auc_score, roc_curve

    figure = Figure(figsize=(5, 5), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=1)
    for name, (labels, scores) in curves.items():
        y, s = np.asarray(labels), np.asarray(scores, dtype=np.float64)
        if len(np.unique(y)) < 2:
            axes.plot([], [], label=f"{name} (undefined: one class)")
            continue
        fpr, tpr, _ = roc_curve(y, s)
        axes.plot(fpr, tpr, linewidth=1.5, label=f"{name} (AUC {roc_auc_score(y, s):.4f})")
    axes.set(xlim=(0, 1), ylim=(0, 1.005), xlabel="false positive rate", ylabel="true positive rate")
    axes.set_title(title)
    axes.set_aspect("equal")
    axes.grid(alpha=0.3)
    if curves:
        axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    atomic_write_bytes(path, buffer.getvalue())


# --------------------------------------------------------------------------------------------------
# Cross-data-set table


def _cell(metrics: BinaryMetrics | None, column: str) -> str:
    if metrics is None:
        return "—"
    value = getattr(metrics, column)
    if isinstance(value, int):
        return str(value)
    return "n/a" if not math.isfinite(value) else f"{value:.4f}"


def _table_rows(
    results: Mapping[str, BinaryMetrics],
    video: Mapping[str, BinaryMetrics] | None,
    columns: Sequence[str],
) -> tuple[list[str], list[list[str]]]:
    unknown = [c for c in columns if c not in BinaryMetrics.__dataclass_fields__ or c == "note"]
    if unknown:
        raise ValueError(f"unknown metric column {unknown[0]!r}; use fields of BinaryMetrics")
    header = ["test set", *(f"frame {c.upper()}" for c in columns)]
    names = list(results)
    if video is not None:
        header += [f"video {c.upper()}" for c in columns]
        names += [name for name in video if name not in results]
    rows = []
    for name in names:
        row = [name, *(_cell(results.get(name), c) for c in columns)]
        if video is not None:
            row += [_cell(video.get(name), c) for c in columns]
        rows.append(row)
    return header, rows


def cross_dataset_table(
    results: Mapping[str, BinaryMetrics],
    video: Mapping[str, BinaryMetrics] | None = None,
    columns: Sequence[str] = TABLE_COLUMNS,
) -> str:
    """A Markdown table: one row per test set, frame-level (and video-level) metric columns.

    Undefined values print as ``n/a``; a test set missing from one level prints ``—`` there.

    >>> from fakescan.evaluate.metrics import binary_metrics
    >>> m = binary_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> print(cross_dataset_table({"celebdf-v2": m}, columns=("auc", "n")))
    | test set | frame AUC | frame N |
    |---|---:|---:|
    | celebdf-v2 | 0.7500 | 4 |
    """
    header, rows = _table_rows(results, video, columns)
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def cross_dataset_rich_table(
    results: Mapping[str, BinaryMetrics],
    video: Mapping[str, BinaryMetrics] | None = None,
    columns: Sequence[str] = TABLE_COLUMNS,
    title: str | None = None,
) -> Table:
    """The same table as :func:`cross_dataset_table`, as a ``rich.table.Table`` for the terminal."""
    from rich.table import Table

    header, rows = _table_rows(results, video, columns)
    table = Table(title=title)
    table.add_column(header[0])
    for name in header[1:]:
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(*row)
    return table
