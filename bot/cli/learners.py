"""`trainbot learners …`: the roster (CSV import, invitations)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from bot.cli.group import _owned, main
from bot.config import Config


@main.group()
def learners() -> None:
    """Manage learners."""


@learners.command("import")
@click.argument("path", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--region", help="country (e.g. NG) for phone numbers without +country code")
@click.option("--invite", is_flag=True, help="invite new learners to their first course")
def learners_import(path: Path, region: str | None, invite: bool) -> None:
    """Import a roster CSV (name, phone and/or slack, role, manager, course, timezone)."""
    from datetime import UTC, datetime

    from bot import roster
    from bot.admin.actions import audit
    from bot.admin.actions import invite as send_invitations
    from bot.channels.registry import senders_for
    from bot.services import build_services

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    config = Config.from_env()
    services = _owned(lambda: build_services(config, senders_for(config) if invite else {}))
    if path.stat().st_size > roster.MAX_BYTES:
        raise click.ClickException(f"{path} is larger than {roster.MAX_BYTES // 2**20} MB")
    try:
        result = roster.import_roster(
            services.store,
            path.read_bytes(),
            services.library.current(),
            datetime.now(UTC),
            region=region.upper() if region else None,
            slack_team=config.slack_team_id or None,
        )
    except roster.RosterError as exc:
        raise click.ClickException(str(exc)) from None
    for error in result.errors:
        click.echo(f"{path}:{error.line}: {error.reason}", err=True)
    now = datetime.now(UTC)
    invited = send_invitations(services, "cli", result.new, now) if invite else 0
    audit(
        services,
        "cli",
        "import",
        None,
        now,
        file=path.name,
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        rejected=len(result.errors),
        invited=invited,
    )
    click.echo(
        f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged, "
        f"{len(result.errors)} rejected" + (f", {invited} invited" if invite else "")
    )
    sys.exit(1 if result.errors else 0)
