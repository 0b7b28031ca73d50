"""Every command's --help teaches by example: each command, group or leaf, shows an Examples block,
and every example in it is a command line the CLI accepts — known options, the arguments and
required options it needs — and that runs the command whose help shows it."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator

import click
import pytest

from api.cli import main


def _commands(command: click.Command, path: tuple[str, ...] = ("onemap",)) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(main))


def _examples(help_text: str) -> list[str]:
    """The command lines of the help's Examples block (a shell pipe's onemap part)."""
    lines, inside = [], False
    for line in help_text.splitlines():
        if line.strip() in ("Examples:", "Start here:"):
            inside = True
            continue
        if inside:
            if not line.startswith("    ") or not line.strip():
                inside = False
                continue
            command = re.split(r"\s{2,}", line.strip().split("| ")[-1])[0]  # not its description
            if command.startswith("onemap "):
                lines.append(command)
    return lines


def _absent(value: object) -> bool:
    """A value the parser did not see (click 8.2+ marks it with its UNSET sentinel)."""
    return value is None or value == () or type(value).__name__ == "Sentinel"


def _resolve(words: list[str]) -> tuple[str, ...]:
    """The command a line runs; a UsageError for an unknown command or option, a missing argument
    or required option, or extra words. Parsed by click's own option parser without converting
    values, so example file names need not exist."""
    path: tuple[str, ...] = ("onemap",)
    command: click.Command = main
    parent: click.Context | None = None
    while True:
        context = click.Context(command, info_name=path[-1], parent=parent)
        values, rest, _ = command.make_parser(context).parse_args(list(words))
        missing = [p.name for p in command.params if p.required and _absent(values.get(p.name or ""))]
        if missing:
            raise click.UsageError(f"{' '.join(path)}: missing {missing}")
        if not isinstance(command, click.Group):
            if rest:
                raise click.UsageError(f"{' '.join(path)}: extra words {rest}")
            return path
        if not rest:
            return path
        name, *words = rest
        sub = command.get_command(context, name)
        if sub is None:
            raise click.UsageError(f"no command {name!r} under {' '.join(path)}")
        command, path, parent = sub, (*path, name), context


@pytest.mark.parametrize("path", list(COMMANDS), ids=" ".join)
def test_every_help_shows_examples_the_cli_accepts(path: tuple[str, ...]) -> None:
    command = COMMANDS[path]
    help_text = command.get_help(click.Context(command, info_name=" ".join(path)))
    examples = _examples(help_text)
    assert examples, f"{' '.join(path)} --help has no Examples block of onemap command lines"
    ran = [_resolve(shlex.split(line)[1:]) for line in examples]
    for line, command in zip(examples, ran, strict=True):
        target = COMMANDS[command]
        runs_itself = not isinstance(target, click.Group) or target.invoke_without_command
        assert runs_itself, f"{line!r} names the group {' '.join(command)}, not one of its commands"
    assert any(command[: len(path)] == path for command in ran), f"no example in {' '.join(path)} --help runs it: {examples}"


def test_a_wrong_example_would_be_caught() -> None:
    for words in (["route", "nearest", "--lon", "116.5"], ["route", "nearest", "--lon", "1", "--lat", "2", "--radius", "3"], ["export", "roads"], ["user", "nope"]):
        with pytest.raises(click.UsageError):
            _resolve(words)
