"""The `trainbot` click group that every command module adds its commands to, and the
helpers they share (logging, the store owned by a running bot)."""

from __future__ import annotations

import logging

import click

from bot.config import ConfigError


def _logging(verbose: bool = False) -> None:
    from bot.observability import configure_logging

    configure_logging(logging.DEBUG if verbose else logging.INFO)


def _owned(open_store):
    """Run `open_store()`; if the running bot owns the embedded store's data directory, say
    where the same work is done while it runs (the admin and its API) instead."""
    from bot.store import DataDirLocked

    try:
        return open_store()
    except DataDirLocked as exc:
        raise click.ClickException(
            f"{exc}\nWhile the bot runs, use its admin instead: /admin (reports, roster "
            "import, certificates) or the API under /api/v1 (see docs/admin.md); "
            "`trainbot backup FILE` works while it runs."
        ) from None


class Trainbot(click.Group):
    """The command group; a setting with a bad value ends any command with one line naming
    the variable (`bot.config.ConfigError`), not a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=Trainbot)
@click.version_option(package_name="trainbot")
def main() -> None:
    """Trainbot: short training courses on WhatsApp, Slack and the web."""
