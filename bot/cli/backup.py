"""`trainbot backup` and `restore`: the embedded store to one file and back."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.group import _owned, main
from bot.config import Config


@main.command()
@click.argument("target", type=click.Path(path_type=Path, dir_okay=False))
def backup(target: Path) -> None:
    """Write the embedded store to one file, consistent as of one moment (works while the
    bot runs). With MONGODB_URI, use MongoDB's own tools (mongodump)."""
    from bot.store import durable

    config = Config.from_env()
    if config.mongodb_uri or config.data_dir is None:
        raise click.UsageError(
            "backup copies the embedded store in DATA_DIR; for MongoDB use mongodump"
        )
    try:
        count = durable.backup(config.data_dir, target)
    except (FileNotFoundError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{count} documents from {config.data_dir} written to {target}")


@main.command()
@click.argument("source", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def restore(source: Path) -> None:
    """Replace the embedded store in DATA_DIR with a backup (the bot must be stopped; the
    old directory is kept beside it as DATA_DIR.before-restore-<time>)."""
    from bot.store import durable

    config = Config.from_env()
    if config.mongodb_uri or config.data_dir is None:
        raise click.UsageError("restore fills the embedded store in DATA_DIR; unset MONGODB_URI")
    try:
        count = _owned(lambda: durable.restore(source, config.data_dir))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{count} documents restored into {config.data_dir}")
