"""Face extraction of a data set's index: crops, the whole index and the crop table in one folder.

:func:`extract_dataset` is the library side of ``fakescan extract --dataset``: the videos of an index
(:func:`fakescan.data.datasets.build_index` or an adapter such as ``index_ffpp``) are extracted with
:func:`fakescan.data.extract.run_extraction`, each into ``OUT/<video id>/``, and the folder gets
``index.csv`` (every record) and ``crops.csv`` (the crop table that training and testing read).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fakescan.data.datasets.crops import crop_table, media_items
from fakescan.data.datasets.index import CropRecord, VideoRecord, write_crop_table, write_video_index

if TYPE_CHECKING:
    from fakescan.data.extract import ExtractConfig, ExtractReport, ItemResult

__all__ = ["DatasetExtraction", "extract_dataset"]


@dataclass(frozen=True)
class DatasetExtraction:
    """What :func:`extract_dataset` wrote.

    Attributes:
        extraction: the report of the extraction run (manifest, per-file results).
        crops: the crop table written to ``crops.csv``; None for one shard of a sharded run.
        index_csv, crops_csv: the paths of the two tables (``crops_csv`` None as ``crops``).
    """

    extraction: ExtractReport
    crops: list[CropRecord] | None
    index_csv: Path
    crops_csv: Path | None


def extract_dataset(
    records: Sequence[VideoRecord],
    root: str | Path,
    out_dir: str | Path,
    config: ExtractConfig | None = None,
    splits: Sequence[str] | None = None,
    workers: int = 1,
    shard: tuple[int, int] | None = None,
    on_result: Callable[[ItemResult, int], None] | None = None,
) -> DatasetExtraction:
    """Extract the face crops of ``records`` (files under ``root``) and write the index and crop table.

    Args:
        records: the video index of the data set.
        root: the data set's folder, which the records' paths are relative to.
        out_dir: where the crops (``<video id>/<frame>.png``), ``manifest.csv``, ``index.csv`` and
            ``crops.csv`` go.
        config: extraction settings (frames, crop size, detector, ...).
        splits: extract only the videos of these splits (default: all); ``index.csv`` still lists
            every record.
        workers: extraction processes.
        shard: ``(i, n)``: extract only the i-th of n parts; no crop table is written then (after
            the last shard, ``fakescan prepare`` joins all the shard manifests into one).
        on_result: called with each file's result and the number of files, as they finish.

    Videos without a face crop are reported as a
    :class:`~fakescan.data.datasets._common.DatasetWarning` by :func:`crop_table`.
    """
    from fakescan.data.extract import run_extraction

    out_dir = Path(out_dir)
    selected = [record for record in records if splits is None or record.split in splits]
    report = run_extraction(
        media_items(selected, root), out_dir, config, workers=workers, shard=shard, on_result=on_result
    )
    index_csv = out_dir / "index.csv"
    write_video_index(index_csv, records)
    if shard is not None:
        return DatasetExtraction(report, None, index_csv, None)
    crops_csv = out_dir / "crops.csv"
    crops = crop_table(selected, report.rows)
    write_crop_table(crops_csv, crops)
    return DatasetExtraction(report, crops, index_csv, crops_csv)
