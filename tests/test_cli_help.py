"""Every command's ``--help`` at 80 columns, one spelling per shared option, one ``--device`` default."""

from __future__ import annotations

import re

import pytest
import typer.main
from typer.testing import CliRunner

from fakescan.cli import app
from fakescan.train.config import TrainConfig

ROOT = typer.main.get_command(app)


def _commands(group=ROOT, path=()):
    """``(path, command)`` of every command, sub-commands included."""
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = list(_commands())
IDS = [" ".join(path) for path, _ in COMMANDS]


def _help(*path: str) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "80"}, prog_name="fakescan")
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=IDS)
def test_help_reads_cleanly_at_80_columns(path: tuple[str, ...], command) -> None:
    text = _help(*path)
    assert max(len(line) for line in text.splitlines()) <= 80, text
    for param in command.params:
        if param.param_type_name != "option" or param.hidden:
            continue
        for name in (*param.opts, *param.secondary_opts):  # every spelling, whole
            assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text), (name, text)
        if param.is_flag:
            flag_line = next(line for line in text.splitlines() if param.opts[0] in line)
            assert "<" not in flag_line, flag_line  # no "<bool>" after a flag
    assert not re.search(r"\S…", text), text  # nothing cut (rich ends a cut name with "…")
    assert not re.search(r"<(str|int|float|path|bool)", text), text  # placeholders are upper case
    usage = text.splitlines()[0]
    arguments = re.findall(r"[{\[]([^}\]]+)[}\]]", usage.split("[OPTIONS]", 1)[-1])
    assert all(name == name.upper() for name in arguments), usage


def test_command_list_gives_whole_summaries() -> None:
    for path in ((), ("samples",)):
        text = _help(*path)
        assert "..." not in text.split("Commands:", 1)[1], text  # summaries are wrapped, not cut


def _parse(path: tuple[str, ...], args: list[str]) -> dict:
    command = dict(COMMANDS)[path]
    return command.make_context(path[-1], args, resilient_parsing=True).params


ALIASES = [  # the classic underscore spelling (README) and the hyphenated one reach the same option
    (("train",), "batch_size", "--batch-size", "--batch_size", "8"),
    (("train",), "image_size", "--image-size", "--image_size", "128,128,3"),
    (("train",), "early_stopping", "--early-stopping", "--early_stopping", "3"),
    (("test",), "batch_size", "--batch-size", "--batch_size", "8"),
    (("robustness",), "batch_size", "--batch-size", "--batch_size", "8"),
    (("predict",), "batch_size", "--batch-size", "--batch_size", "8"),
    (("extract",), "start_frame", "--start-frame", "--start_frame", "5"),
    (("extract",), "end_frame", "--end-frame", "--end_frame", "9"),
]


@pytest.mark.parametrize(("path", "param", "spelling", "classic", "value"), ALIASES)
def test_classic_spellings_are_aliases(path, param, spelling, classic, value) -> None:
    expected = int(value) if value.isdigit() else value
    assert _parse(path, [spelling, value])[param] == expected
    assert _parse(path, [classic, value])[param] == expected
    names = next(p for p in dict(COMMANDS)[path].params if p.name == param).opts
    assert names[0] == spelling  # the hyphenated spelling is the one errors and help name first


def test_one_batch_size_spelling_across_commands() -> None:
    for path, command in COMMANDS:
        for param in command.params:
            if param.name == "batch_size":
                assert param.opts[:2] == ["--batch-size", "--batch_size"], path


def test_device_defaults_to_auto_everywhere() -> None:
    with_device = {path: p for path, c in COMMANDS for p in c.params if p.name == "device"}
    assert {("train",), ("test",), ("robustness",), ("predict",), ("serve",)} <= set(with_device)
    for path, param in with_device.items():
        # train leaves it to the config (file or preset), whose default is auto
        assert param.default == ("auto" if path != ("train",) else None), path
    assert TrainConfig().device == "auto"
