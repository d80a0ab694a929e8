"""The `trainbot` command tree is an interface (operators' scripts, the Procfile, the docs):
`bot/cli.py` was split into the `bot/cli/` package with no change to it. Every command's
`--help`, recorded before the split in `golden/cli_help.json`, must stay the same.

`python -m tests.test_cli_help` rewrites the record (only for an intended change)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from click.testing import CliRunner

from bot.cli import main

RECORD = Path(__file__).parent / "golden" / "cli_help.json"


def _paths(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command's argument path, the group itself first, subcommands sorted."""
    found = [path]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            found += _paths(command.commands[name], (*path, name))
    return found


def help_outputs() -> dict[str, str]:
    """`trainbot <cmd> --help` for every command, at a fixed width."""
    runner = CliRunner()
    outputs = {}
    for path in _paths(main):
        result = runner.invoke(
            main,
            [*path, "--help"],
            prog_name="trainbot",
            terminal_width=100,
            max_content_width=100,
        )
        assert result.exit_code == 0, result.output
        outputs[" ".join(("trainbot", *path))] = result.output
    return outputs


def test_every_command_and_option_is_unchanged() -> None:
    recorded = json.loads(RECORD.read_text(encoding="utf-8"))
    outputs = help_outputs()
    assert sorted(outputs) == sorted(recorded)
    for command, text in recorded.items():
        assert outputs[command] == text, command


if __name__ == "__main__":
    RECORD.write_text(json.dumps(help_outputs(), indent=1, sort_keys=True) + "\n", "utf-8")
