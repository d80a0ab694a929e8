"""`trainbot report` and `trainbot certificates …`: results and certificates from the store."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import click

from bot.cli.group import _owned, main
from bot.config import Config


@main.group("certificates")
def certificates_group() -> None:
    """Look up and revoke learners' certificates (in the store the bot uses)."""


def _certificates():
    from bot.certificates import Certificates
    from bot.services import connect_store

    config = Config.from_env()
    return Certificates(_owned(lambda: connect_store(config)).certificates, config.public_base_url)


@certificates_group.command("show")
@click.argument("code")
def certificates_show(code: str) -> None:
    """Print a certificate's status, course and dates."""
    from bot.certificates import status

    certificates = _certificates()
    cert = certificates.by_code(code)
    if cert is None:
        raise click.ClickException("no certificate with that code")
    expires = cert.get("expires")
    click.echo(f"{cert['code']}: {status(cert, datetime.now(UTC))}")
    click.echo(f"  {cert['title']} · {cert['course_title']} · learner {cert['learner']}")
    click.echo(
        f"  issued {cert['issued']:%Y-%m-%d}" + (f", expires {expires:%Y-%m-%d}" if expires else "")
    )
    click.echo(f"  {certificates.verify_url(cert)}")


@certificates_group.command("revoke")
@click.argument("code")
def certificates_revoke(code: str) -> None:
    """Revoke a certificate: its page then says "revoked" and its PDF is gone (410)."""
    if not _certificates().revoke(code, datetime.now(UTC)):
        raise click.ClickException("no certificate with that code, or it is already revoked")
    click.echo(f"{code.strip().upper()}: revoked")


@main.command()
@click.option("--course", "course_id", help="one course (default: every course)")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
def report(course_id: str | None, fmt: str) -> None:
    """Print the overview figures (the same as the admin page and API)."""
    import json
    from datetime import UTC, datetime

    from bot.admin.exports import to_csv
    from bot.reports import Reports
    from bot.services import build_services

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    services = _owned(lambda: build_services(Config.from_env(), {}))
    catalog = services.library.current()
    courses = [c for c in catalog.courses if course_id in (None, c.id)]
    if course_id and not courses:
        raise click.ClickException(f"no course '{course_id}'")
    now = datetime.now(UTC)
    rows = [Reports(services.store).course_report(c, now).as_dict() for c in courses]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=1))
        return
    flat = [{k: v for k, v in row.items() if k != "funnel"} for row in rows]
    if fmt == "csv":
        click.echo(to_csv(flat), nl=False)
        return
    shown = lambda v: "no data yet" if v is None else str(v)  # noqa: E731
    for row in rows:
        click.echo(f"{row['title']} ({row['course']})")
        for key, value in row.items():
            if key not in ("title", "course", "funnel"):
                unit = " %" if key.endswith("rate") and value is not None else ""
                click.echo(f"  {key.replace('_', ' '):<26} {shown(value)}{unit}")
        funnel = ", ".join(f"{f['number']}:{f['reached']}" for f in row["funnel"])
        click.echo(f"  {'reached session':<26} {funnel}")
