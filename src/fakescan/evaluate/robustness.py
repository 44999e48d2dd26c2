"""``fakescan robustness``: how a checkpoint's AUC falls when its test crops are compressed, blurred,
noised, occluded or resized.

For each test set, the crops are scored clean and under every perturbation of
:data:`fakescan.data.perturb.PERTURBATIONS` at every severity level (the DeeperForensics-1.0 ladder,
Jiang et al., CVPR 2020, Sec. 3.3, plus JPEG and resizing). Scoring goes through the path of
``fakescan test`` (:mod:`fakescan.evaluate.runner`: the same crop table, split, overlap check,
transform, batched loader, threshold, video aggregation and metrics), so the clean row *is* what
``fakescan test`` reports. Each cell gets frame- and video-level AUC, AP and EER and its drop from
clean, absolute and relative (``(clean − perturbed) / clean``).

Randomness: a crop's noise or occlusion draws from
``sample_rng(seed, level, crop + "#" + perturbation)`` (:func:`fakescan.data.loading.sample_rng`), so
a run is reproducible crop by crop whatever the batch size or worker count. H.264 re-encodes each
video's crops, in frame order, as one clip.

A crop that cannot be read or decoded is left out of every cell, counted and named in the report; it
never ends the run.

Outputs in ``OUT``: ``robustness.json`` (everything), ``robustness.csv`` (one row per test set ×
perturbation × level, clean included), ``summary.md`` and ``robustness.png`` (AUC against severity,
one line per perturbation, clean as a dashed reference), each written atomically.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fakescan.data.datasets.index import CropRecord
from fakescan.data.loading import CropFolderDataset, sample_rng
from fakescan.data.packing import SkippedCrop
from fakescan.data.perturb import PERTURBATIONS, Perturbation, get_perturbation
from fakescan.errors import ConfigError, FakescanError

__all__ = [
    "CSV_COLUMNS",
    "PerturbedCropDataset",
    "RobustnessCell",
    "RobustnessReport",
    "plot_robustness",
    "robustness_grid",
    "run_robustness",
]

CLEAN = "clean"
CSV_COLUMNS: tuple[str, ...] = (
    "test_set",
    "perturbation",
    "level",
    "parameter",
    "value",
    "crops",
    "videos",
    "frame_auc",
    "frame_ap",
    "frame_eer",
    "video_auc",
    "video_ap",
    "video_eer",
    "frame_auc_drop",
    "frame_auc_relative_drop",
    "video_auc_drop",
    "video_auc_relative_drop",
)
"""The columns of ``robustness.csv``; the clean row has perturbation ``clean``, level 0."""


@dataclass(frozen=True)
class RobustnessCell:
    """The scores of one test set under one perturbation at one level (``perturbation`` None: clean).

    Attributes:
        frame, video: :class:`~fakescan.evaluate.metrics.BinaryMetrics` at frame and video level.
        crops, videos: how many were scored.
    """

    test_set: str
    perturbation: Perturbation | None
    level: int
    frame: Any
    video: Any
    crops: int
    videos: int

    @property
    def name(self) -> str:
        """The perturbation's name, or ``"clean"``."""
        return CLEAN if self.perturbation is None else self.perturbation.name

    @property
    def value(self) -> float | None:
        """The perturbation's parameter at this level (None when clean)."""
        return None if self.perturbation is None else self.perturbation.value(self.level)


@dataclass
class RobustnessReport:
    """All cells of a run (clean first per test set), the crops skipped, and the files written."""

    cells: list[RobustnessCell] = field(default_factory=list)
    skipped: dict[str, list[SkippedCrop]] = field(default_factory=dict)
    seconds: float = 0.0
    json_path: Path | None = None
    csv_path: Path | None = None
    summary_md: Path | None = None
    plot_png: Path | None = None

    def clean(self, test_set: str) -> RobustnessCell:
        """The clean cell of ``test_set``."""
        return next(c for c in self.cells if c.test_set == test_set and c.perturbation is None)


def robustness_grid(
    perturbations: Sequence[str] | None = None, levels: Sequence[int] | None = None
) -> list[tuple[Perturbation, int]]:
    """The (perturbation, level) cells to run, in :data:`PERTURBATIONS` order by default.

    ``levels`` keeps only those level numbers; a perturbation named in ``perturbations`` that keeps no
    level is an error, one left to the default is dropped (``--levels 5`` runs the five-level ones).

    Raises:
        ConfigError: an unknown perturbation, a level below 1, or an empty grid.

    >>> [(p.name, level) for p, level in robustness_grid(["jpeg", "blur"], [1, 4])]
    [('jpeg', 1), ('jpeg', 4), ('blur', 1), ('blur', 4)]
    """
    chosen = (
        [get_perturbation(name) for name in perturbations] if perturbations else list(PERTURBATIONS.values())
    )
    wanted = sorted(set(levels)) if levels else None
    if wanted and wanted[0] < 1:
        raise ConfigError(f"--levels are numbered from 1 (the mildest), got {wanted[0]}")
    grid = []
    for perturbation in dict.fromkeys(chosen):
        kept = [lv for lv in perturbation.levels if wanted is None or lv in wanted]
        if not kept and perturbations:
            raise ConfigError(
                f"{perturbation.name} has levels 1..{len(perturbation.levels)}: none of --levels "
                f"{','.join(map(str, wanted or []))}"
            )
        grid += [(perturbation, level) for level in kept]
    if not grid:
        raise ConfigError(f"no perturbation has level(s) {','.join(map(str, wanted or []))}")
    return grid


class PerturbedCropDataset(CropFolderDataset):
    """A :class:`~fakescan.data.loading.CropFolderDataset` whose pixels are perturbed before the
    transform: per crop with a generator fixed by (seed, level, crop, perturbation), or, for a
    per-video perturbation (H.264), as one clip of the video's crops in frame order.

    ``perturbation`` None serves the clean crops (the dataset is then a plain crop-folder dataset).
    The last ``clip_cache`` clips are kept, so a video is encoded once when its crops are read in
    order (as the unshuffled test loader reads them).
    """

    def __init__(
        self,
        records: Sequence[CropRecord],
        crops_root: str | Path,
        perturbation: Perturbation | None,
        level: int,
        seed: int = 0,
        clip_cache: int = 4,
        **options: Any,
    ) -> None:
        super().__init__(records, crops_root, seed=seed, **options)
        self.perturbation, self.level = perturbation, level
        if perturbation is not None:
            perturbation.value(level)  # an unknown level fails here, not in a worker
        self._clip_cache = clip_cache
        self._clips: OrderedDict[tuple[str, str], list[np.ndarray]] = OrderedDict()
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for index, record in enumerate(self.records):
            groups[(record.dataset, record.video_id)].append(index)
        self._group: dict[int, tuple[tuple[str, str], int]] = {}
        self._members: dict[tuple[str, str], list[int]] = {}
        for key, indices in groups.items():
            ordered = sorted(indices, key=lambda i: (self.records[i].frame_index, self.records[i].crop))
            self._members[key] = ordered
            for position, index in enumerate(ordered):
                self._group[index] = (key, position)

    def pixels(self, index: int) -> np.ndarray:
        """The perturbed crop of row ``index`` (``H×W×3`` uint8 RGB)."""
        perturbation = self.perturbation
        if perturbation is None:
            return super().pixels(index)
        if perturbation.per_video:
            key, position = self._group[index]
            return self._clip(key)[position]
        record = self.records[index]
        rng = sample_rng(self.seed, self.level, f"{record.crop}#{perturbation.name}")
        return perturbation.apply(super().pixels(index), self.level, rng)

    def _clip(self, key: tuple[str, str]) -> list[np.ndarray]:
        if key in self._clips:
            self._clips.move_to_end(key)
            return self._clips[key]
        assert self.perturbation is not None
        frames = [super(PerturbedCropDataset, self).pixels(i) for i in self._members[key]]
        out: list[np.ndarray] = [np.empty(0, np.uint8)] * len(frames)
        by_shape: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for position, frame in enumerate(frames):
            by_shape[frame.shape].append(position)
        for positions in by_shape.values():  # crops of one size form one clip
            clip = self.perturbation.apply_clip([frames[p] for p in positions], self.level)
            for position, frame in zip(positions, clip, strict=True):
                out[position] = frame
        self._clips[key] = out
        if len(self._clips) > self._clip_cache:
            self._clips.popitem(last=False)
        return out


def _drop(clean: float, value: float) -> tuple[float, float]:
    """Absolute and relative AUC drop (nan where undefined)."""
    if not (math.isfinite(clean) and math.isfinite(value)):
        return math.nan, math.nan
    return clean - value, (clean - value) / clean if clean > 0 else math.nan


def run_robustness(
    checkpoint: str | Path,
    test_dirs: Sequence[str | Path],
    out_dir: str | Path,
    perturbations: Sequence[str] | None = None,
    levels: Sequence[int] | None = None,
    split: str | None = "test",
    force: bool = False,
    batch_size: int = 64,
    workers: int = 0,
    device: str = "auto",
    aggregate: str = "mean",
    seed: int = 0,
    names: Sequence[str] | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> RobustnessReport:
    """Score ``checkpoint`` on each test set clean and under every perturbation and level; write
    ``robustness.json``, ``robustness.csv``, ``summary.md`` and ``robustness.png`` into ``out_dir``.

    Args:
        perturbations: names of :data:`~fakescan.data.perturb.PERTURBATIONS` (default: all).
        levels: severity levels to run (default: all of each perturbation's).
        split, force, batch_size, workers, device, aggregate, names: as for
            :func:`fakescan.evaluate.runner.run_test`.
        seed: seed of the random perturbations (noise, occlusion).
        on_progress: called after every batch with (crops done, crops in the whole grid, the cell).

    Raises:
        SplitLeakError: a test set shares videos with the training data (unless ``force``).
        ConfigError: bad perturbations or levels, a folder without a crop table or crops of ``split``,
            or a test set none of whose crops can be read.
        FakescanError: an output file cannot be written.
    """
    from fakescan.evaluate.runner import (
        binary_results,
        eval_dataset_options,
        load_scorer,
        load_test_sets,
        readable_records,
        score_dataset,
    )

    started = time.perf_counter()
    grid = robustness_grid(perturbations, levels)
    out_dir = Path(out_dir)
    try:  # an output folder that cannot be made fails now, not after the whole grid
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise FakescanError(
            f"{out_dir}: cannot write the robustness report ({error.strerror or error})"
        ) from None
    sets, _, _ = load_test_sets(checkpoint, test_dirs, split, force, names)
    report = RobustnessReport()
    readable = {}
    for test_set in sets:
        good, skipped = readable_records(test_set.records, test_set.folder)
        if not good:
            first = skipped[0]
            raise ConfigError(
                f"{test_set.folder}: none of the {len(skipped)} crops of split {split!r} can be read "
                f"(e.g. {first.crop}: {first.reason})"
            )
        readable[test_set.name], report.skipped[test_set.name] = good, skipped

    model, meta, dev = load_scorer(checkpoint, device)
    options = eval_dataset_options(meta, meta.input_cfg or model.input_cfg)
    cells: list[tuple[Perturbation | None, int]] = [(None, 0), *grid]
    total = sum(len(records) for records in readable.values()) * len(cells)
    done = 0
    for test_set in sets:
        records = readable[test_set.name]
        for perturbation, level in cells:
            label = CLEAN if perturbation is None else f"{perturbation.name} {level}"
            label = f"{test_set.name}: {label}" if len(sets) > 1 else label

            def advance(count: int, label: str = label) -> None:
                nonlocal done
                done += count
                if on_progress is not None:
                    on_progress(done, total, label)

            dataset = PerturbedCropDataset(
                records, test_set.folder, perturbation, level, seed=seed, **options
            )
            predictions = score_dataset(model, dataset, dev, batch_size, workers, on_batch=advance)
            frame, videos, video = binary_results(predictions, meta.threshold, aggregate)
            report.cells.append(
                RobustnessCell(
                    test_set.name, perturbation, level, frame, video, len(records), len(videos.ids)
                )
            )
    report.seconds = time.perf_counter() - started
    _write_outputs(out_dir, report, checkpoint, meta.threshold, split, aggregate, seed)
    return report


# -- outputs -------------------------------------------------------------------------------------


def _rows(report: RobustnessReport) -> list[dict[str, Any]]:
    rows = []
    for cell in report.cells:
        clean = report.clean(cell.test_set)
        frame_drop, frame_rel = _drop(clean.frame.auc, cell.frame.auc)
        video_drop, video_rel = _drop(clean.video.auc, cell.video.auc)
        rows.append(
            {
                "test_set": cell.test_set,
                "perturbation": cell.name,
                "level": cell.level,
                "parameter": "" if cell.perturbation is None else cell.perturbation.parameter,
                "value": cell.value,
                "crops": cell.crops,
                "videos": cell.videos,
                "frame_auc": cell.frame.auc,
                "frame_ap": cell.frame.ap,
                "frame_eer": cell.frame.eer,
                "video_auc": cell.video.auc,
                "video_ap": cell.video.ap,
                "video_eer": cell.video.eer,
                "frame_auc_drop": frame_drop,
                "frame_auc_relative_drop": frame_rel,
                "video_auc_drop": video_drop,
                "video_auc_relative_drop": video_rel,
            }
        )
    return rows


def _csv_text(rows: list[dict[str, Any]]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return "" if not math.isfinite(value) else repr(value)
        return str(value)

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([cell(row[column]) for column in CSV_COLUMNS])
    return buffer.getvalue()


def _number(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _percent(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    return "0.0%" if abs(value) < 0.0005 else f"{100 * value:+.1f}%"


def _value_text(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


_SUMMARY_HEADER = (
    "| perturbation | level | parameter | frame AUC | vs clean | frame AP | frame EER"
    " | video AUC | vs clean | video AP | video EER |"
)


def _summary_row(row: dict[str, Any]) -> str:
    parameter = f"{row['parameter']} = {_value_text(row['value'])}" if row["level"] else ""
    cells = [row["perturbation"], str(row["level"]), parameter]
    for level in ("frame", "video"):
        change = -row[f"{level}_auc_relative_drop"] if row["level"] else math.nan
        cells += [
            _number(row[f"{level}_auc"]),
            _percent(change) if row["level"] else "",
            _number(row[f"{level}_ap"]),
            _number(row[f"{level}_eer"]),
        ]
    return "| " + " | ".join(cells) + " |"


def _summary(
    report: RobustnessReport, rows: list[dict[str, Any]], checkpoint: str | Path, threshold: float
) -> str:
    lines = [
        f"# fakescan robustness: {checkpoint}",
        "",
        "AUC, AP and EER of the checkpoint on its test crops, clean and perturbed (DeeperForensics-1.0"
        " ladder, JPEG, resizing); *vs clean* is the relative change of the AUC. These metrics do not"
        f" depend on the checkpoint's threshold ({threshold:.4f}). {len(report.cells)} cells in"
        f" {report.seconds:.1f} s.",
        "",
    ]
    for name, skipped in report.skipped.items():
        set_rows = [row for row in rows if row["test_set"] == name]
        clean = set_rows[0]
        left_out = ""
        if skipped:
            left_out = (
                f" {len(skipped)} unreadable crop(s) left out, e.g. `{skipped[0].crop}`: {skipped[0].reason}."
            )
        lines += [
            f"## {name}",
            "",
            f"{clean['crops']} crops of {clean['videos']} videos; clean frame AUC"
            f" {_number(clean['frame_auc'])}, video AUC {_number(clean['video_auc'])}.{left_out}",
            "",
            _SUMMARY_HEADER,
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
            *(_summary_row(row) for row in set_rows),
        ]
        perturbed = [row for row in set_rows if row["level"] and math.isfinite(row["frame_auc"])]
        if perturbed:
            worst = min(perturbed, key=lambda row: row["frame_auc"])
            lines += [
                "",
                f"Worst frame AUC: {_number(worst['frame_auc'])}, under {worst['perturbation']} level"
                f" {worst['level']} ({worst['parameter']} = {_value_text(worst['value'])}):"
                f" {_percent(-worst['frame_auc_relative_drop'])} against clean.",
            ]
        lines.append("")
    lines += ["![AUC against severity](robustness.png)", ""]
    return "\n".join(lines)


def plot_robustness(path: str | Path, report: RobustnessReport, title: str, dpi: int = 120) -> None:
    """Draw AUC against severity level, one line per perturbation, clean as a dashed line; one row
    of two panels (frame, video) per test set; written atomically as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from fakescan._atomic import atomic_write_bytes

    names = list(report.skipped)
    figure = Figure(figsize=(12, 4.6 * len(names) + 0.4), dpi=dpi)
    FigureCanvasAgg(figure)
    grid = figure.subplots(len(names), 2, squeeze=False)
    colours = {name: f"C{i}" for i, name in enumerate(PERTURBATIONS)}
    markers = dict(zip(PERTURBATIONS, "osD^vP*Xh", strict=True))
    for row, name in enumerate(names):
        cells = [c for c in report.cells if c.test_set == name]
        clean = cells[0]
        for column, level_name in enumerate(("frame", "video")):
            axes = grid[row][column]
            values = [getattr(c, level_name).auc for c in cells]
            finite = [v for v in values if math.isfinite(v)]
            clean_auc = getattr(clean, level_name).auc
            if math.isfinite(clean_auc):
                axes.axhline(
                    clean_auc, color="black", linestyle="--", linewidth=1.2, label=f"clean ({clean_auc:.3f})"
                )
            by_perturbation: dict[str, list[RobustnessCell]] = defaultdict(list)
            for cell in cells[1:]:
                by_perturbation[cell.name].append(cell)
            for pname, series in by_perturbation.items():
                perturbation = series[0].perturbation
                assert perturbation is not None
                axes.plot(
                    [c.level for c in series],
                    [getattr(c, level_name).auc for c in series],
                    color=colours[pname],
                    marker=markers[pname],
                    linewidth=1.5,
                    markersize=5,
                    label=f"{perturbation.title} ({perturbation.parameter} = "
                    + ", ".join(_value_text(perturbation.value(c.level)) for c in series)
                    + ")",
                )
            axes.axhline(0.5, color="grey", linestyle=":", linewidth=1, label="chance (0.5)")
            low = min([0.45, *finite])
            axes.set(
                ylim=(max(0.0, low - 0.03), 1.01),
                xlim=(0.7, 5.3),
                xticks=[1, 2, 3, 4, 5],
                xlabel="severity level (1 = mildest)",
                ylabel=f"{level_name} AUC",
            )
            axes.set_title(
                f"{name}: {level_name} level" + ("" if math.isfinite(clean_auc) else " (AUC undefined)")
            )
            axes.grid(alpha=0.3)
        handles, labels = grid[row][0].get_legend_handles_labels()
        grid[row][1].legend(handles, labels, loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())


def _write_outputs(
    out_dir: Path,
    report: RobustnessReport,
    checkpoint: str | Path,
    threshold: float,
    split: str | None,
    aggregate: str,
    seed: int,
) -> None:
    from fakescan._atomic import atomic_write_text
    from fakescan.evaluate.report import write_metrics_json

    rows = _rows(report)
    payload = {
        "checkpoint": str(checkpoint),
        "split": split,
        "threshold": threshold,
        "aggregate": aggregate,
        "seed": seed,
        "seconds": report.seconds,
        "test_sets": {
            name: {
                "crops": report.clean(name).crops,
                "videos": report.clean(name).videos,
                "skipped": len(skipped),
                "skipped_crops": [{"crop": s.crop, "reason": s.reason} for s in skipped],
                "clean": {"frame": report.clean(name).frame, "video": report.clean(name).video},
                "perturbed": [
                    {
                        **{k: v for k, v in row.items() if k not in ("test_set",)},
                        "title": cell.perturbation.title if cell.perturbation else CLEAN,
                        "frame": cell.frame,
                        "video": cell.video,
                    }
                    for cell, row in zip(report.cells, rows, strict=True)
                    if cell.test_set == name and cell.perturbation is not None
                ],
            }
            for name, skipped in report.skipped.items()
        },
    }
    report.json_path = out_dir / "robustness.json"
    report.csv_path = out_dir / "robustness.csv"
    report.summary_md = out_dir / "summary.md"
    report.plot_png = out_dir / "robustness.png"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_metrics_json(report.json_path, payload)
        atomic_write_text(report.csv_path, _csv_text(rows))
        atomic_write_text(report.summary_md, _summary(report, rows, checkpoint, threshold))
        named = Path(str(checkpoint))
        title = f"fakescan robustness of {named.parent.name}/{named.name}: AUC under perturbation"
        plot_robustness(report.plot_png, report, title=title)
    except OSError as error:
        where = error.filename or out_dir
        raise FakescanError(
            f"{where}: cannot write the robustness report ({error.strerror or error})"
        ) from None
