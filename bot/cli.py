"""The `trainbot` command: serve, chat, clock, and content tools for authors."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from bot.config import Config, ConfigError


def _logging(verbose: bool = False) -> None:
    from bot.observability import configure_logging

    configure_logging(logging.DEBUG if verbose else logging.INFO)


def _owned(open_store):
    """Run `open_store()`; if the running bot owns the embedded store's data directory, say
    where the same work is done while it runs (the admin and its API) instead."""
    from bot.durable import DataDirLocked

    try:
        return open_store()
    except DataDirLocked as exc:
        raise click.ClickException(
            f"{exc}\nWhile the bot runs, use its admin instead: /admin (reports, roster "
            "import, certificates) or the API under /api/v1 (see docs/admin.md); "
            "`trainbot backup FILE` works while it runs."
        ) from None


class _Commands(click.Group):
    """Every command refuses a bad setting (`ConfigError`) with one clear line, not a
    traceback: the message names the setting and the fix."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(f"configuration: {exc}") from None


@click.group(cls=_Commands)
@click.version_option(package_name="trainbot")
def main() -> None:
    """Trainbot: short training courses on WhatsApp, Slack and the web."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, envvar="PORT", show_default=True, type=int, help="or PORT")
@click.option(
    "--workers",
    default=0,
    type=int,
    help="gunicorn workers (default: WEB_CONCURRENCY, else 1 on the embedded store, 2 on MongoDB)",
)
def serve(host: str, port: int, workers: int) -> None:
    """Run the web app (webhooks, simulator, health) under gunicorn."""
    import dataclasses

    from gunicorn.app.base import BaseApplication

    from bot import gunicorn_conf
    from bot.admin import signin

    _logging()
    config = Config.from_env()
    embedded = not config.mongodb_uri
    workers = workers or gunicorn_conf.default_workers(embedded)
    if embedded and workers > 1:
        raise click.UsageError(
            "the embedded store has one owner process: use --workers 1 (or WEB_CONCURRENCY=1) "
            "or set MONGODB_URI"
        )
    base = f"http://{host}:{port}"
    if not config.extra.get("PUBLIC_BASE_URL"):  # links (certificates, QR codes) point here
        config = dataclasses.replace(config, public_base_url=base)
    # Decided here, before gunicorn forks, so every worker agrees on the generated token.
    config = dataclasses.replace(
        signin.with_credential(config), simulator=config.simulator_for(host)
    )
    click.echo(f"Trainbot is starting on {base}")
    click.echo(f"  store:              {config.store_description}")
    if config.simulator:
        click.echo(f"  web chat simulator: {base}/simulator")
    click.echo(f"  health:             {base}/healthz")
    if config.admin_token_generated:
        link = signin.signin_link(config, config.extra.get("PUBLIC_BASE_URL") or base)
        click.echo(f"  admin (no ADMIN_TOKEN; one-time sign-in link): {link}")
    else:
        click.echo(f"  admin:              {base}/admin (sign in with ADMIN_TOKEN)")
    if config.whatsapp_enabled:
        public = config.public_base_url
        click.echo(f"  WhatsApp webhook:   {public}/webhooks/whatsapp (status: …/status)")
    if config.slack_enabled:
        click.echo(f"  slack events:       {base}/slack/events (events, buttons, /train)")

    class Server(BaseApplication):
        def load_config(self) -> None:
            # the production settings (bot/gunicorn_conf.py), on this host and port
            for name, value in gunicorn_conf.settings(embedded, f"{host}:{port}").items():
                self.cfg.set(name, value)
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", None)

        def load(self):
            from bot.web import serving_app

            return serving_app(config)

    Server().run()


@main.command()
@click.option(
    "--content",
    "content_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="course folder (default: CONTENT_DIR or the shipped sample)",
)
@click.option("--as", "key", default="console:me", show_default=True, help="learner key")
@click.option("--name", default="", help="the learner's display name")
@click.option(
    "--now",
    "start",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]),
    help="simulated start time in UTC (default: today 10:00 UTC); /wait moves it on",
)
def chat(content_dir: Path | None, key: str, name: str, start: datetime | None) -> None:
    """Talk to the bot as a learner: one message per line, replies printed."""
    import dataclasses

    from bot.channels.console import (
        ConsoleSender,
        SimulatedClock,
        prompt_lines,
        run_chat,
        wait_control,
    )
    from bot.services import build_services

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # The simulated clock (`/wait`) must never write its times into a real store: on the
    # embedded store the chat keeps its learner in memory.
    config = Config.from_env()
    if not config.mongodb_uri:
        config = dataclasses.replace(config, data_dir=None)
    if content_dir:
        config = dataclasses.replace(config, content_dir=content_dir)
    if ":" not in key:
        key = f"console:{key}"
    sender = ConsoleSender(sys.stdout)
    # A daytime start keeps `/wait` sequences the same whatever the hour you try them.
    begin = start or datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    clock = SimulatedClock(begin.replace(tzinfo=UTC))
    services = build_services(config, {"console": sender, "web": sender}, clock=clock)
    controls = {"/wait": wait_control(services, clock, sys.stdout)}
    run_chat(services, prompt_lines(), sys.stdout, key, name, controls)


@main.command()
@click.option("--once", is_flag=True, help="run every job once and exit")
@click.option(
    "--now",
    type=str,
    help="with --once: run what is due at this ISO-8601 time instead of now",
)
def clock(once: bool, now: str | None) -> None:
    """Run scheduled jobs (delivery retries, reminders, certificates, digests)."""
    from bot.conversation import inline
    from bot.lanes import Lanes
    from bot.scheduler import build_scheduler, jobs
    from bot.services import build_services, senders_for

    _logging()
    config = Config.from_env()
    if not config.mongodb_uri:
        raise click.UsageError(
            "the clock needs MONGODB_URI: with the embedded store, "
            "`trainbot serve` runs the jobs itself"
        )
    if now and not once:
        raise click.UsageError("--now only works with --once")
    at = _instant(now) if now else None
    # A running clock delivers retries on per-channel lanes (a hanging provider holds only
    # its own channel); `--once` runs everything inline, then exits.
    background = inline if once else Lanes()
    services = build_services(
        config,
        senders_for(config),
        background,
        clock=(lambda: at) if at else lambda: datetime.now(UTC),
    )
    if once:
        for name, job in jobs(services).items():
            result = job()
            if isinstance(result, list):
                click.echo(f"{name}: {len(result)} job(s)")
                for line in result:
                    click.echo(f"  {line}")
            else:
                click.echo(f"{name}: {result}")
        return
    build_scheduler(services, blocking=True).start()


@main.group("certificates")
def certificates_group() -> None:
    """Look up and revoke learners' certificates (in the store the bot uses)."""


def _certificates():
    from bot.certificates import Certificates
    from bot.services import connect_store

    config = Config.from_env()
    return Certificates(_owned(lambda: connect_store(config)).db, config.public_base_url)


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


def _instant(text: str) -> datetime:
    """An ISO-8601 time; naive times are UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO-8601 time: {text}", param_hint="--now") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@main.group()
def content() -> None:
    """Tools for course authors."""


@content.command("check")
@click.argument("folder", required=False, type=click.Path(path_type=Path))
def content_check(folder: Path | None) -> None:
    """Validate every course file; problems print as path:line: message."""
    from bot.content import check

    folder = folder or Config.from_env().content_dir
    result = check(folder)
    for problem in sorted(result.problems):
        click.echo(str(problem))
    sessions = sum(len(c.sessions) for c in result.courses)
    warnings = len(result.problems) - len(result.errors)
    click.echo(
        f"{len(result.courses)} course(s), {sessions} session(s): "
        f"{len(result.errors)} error(s), {warnings} warning(s)",
        err=bool(result.errors),
    )
    sys.exit(1 if result.errors else 0)


@content.command("preview")
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.argument("session", required=False)
@click.option(
    "--channel",
    type=click.Choice(["whatsapp", "slack", "web"]),
    default="whatsapp",
    show_default=True,
)
@click.option("--course", "course_id", help="course id when FOLDER holds several")
def content_preview(folder: Path, session: str | None, channel: str, course_id: str | None) -> None:
    """Print a session (number or id; default: all) and its quiz as a channel would show
    them, the right answers marked."""
    from bot.content import check
    from bot.preview_text import session_preview

    result = check(folder)
    for problem in result.errors:
        click.echo(str(problem), err=True)
    courses = [c for c in result.courses if course_id in (None, c.id)]
    if not courses:
        raise click.ClickException("no valid course found")
    for course in courses:
        numbers: Sequence[int] = range(1, len(course.sessions) + 1)
        if session:
            wanted = [n for n in numbers if str(n) == session or course.session(n).id == session]
            if not wanted:
                raise click.ClickException(
                    f"{course.id} has no session '{session}' (1-{len(course.sessions)} or an id)"
                )
            numbers = wanted
        for number in numbers:
            click.echo(session_preview(course, number, channel))


@content.command("search")
@click.argument("words", nargs=-1, required=True, metavar='[DIR] "QUESTION"')
@click.option("--session", help="boost this session id, as for a learner reading it")
@click.option("--top", "-k", default=5, show_default=True, help="passages to print")
def content_search(words: tuple[str, ...], session: str | None, top: int) -> None:
    """Print the passages that best answer a question, best first (as the assistant sees
    them): score, course, session number and id, title, first line."""
    from bot.assistant import Assistant
    from bot.content import check

    if len(words) > 2:
        raise click.UsageError('give at most a folder and a question in quotes: DIR "QUESTION"')
    folder = Path(words[0]) if len(words) == 2 else Config.from_env().content_dir
    result = check(folder)
    for problem in result.errors:
        click.echo(str(problem), err=True)
    assistant = Assistant()
    hits = sorted(
        (
            (hit, course)
            for course in result.courses
            for hit in assistant.search(course, words[-1], session)
        ),
        key=lambda pair: -pair[0].score,
    )[:top]
    if not hits:
        click.echo("no passage matches: the assistant would say it could not find it")
        return
    click.echo("score  course  session  title  first line")
    for hit, course in hits:
        p = hit.passage
        click.echo(
            f"{hit.score:5.2f}  {course.id}  {p.session_number} {p.session_id}  "
            f"{p.title}  {p.first_line[:100]}"
        )


@content.command("questions")
@click.option("--course", "course_id", help="only this course")
@click.option("--limit", default=500, show_default=True, help="most recent questions read")
def content_questions(course_id: str | None, limit: int) -> None:
    """List the questions learners asked, per session, and how each was answered
    (model, passage, budget, none; with the reason a model answer was not used)."""
    from bot.content import check
    from bot.services import connect_store

    config = Config.from_env()
    store = _owned(lambda: connect_store(config))
    courses = {c.id: c for c in check(config.content_dir).courses}
    groups: dict[tuple[str, str], list[dict]] = {}
    for record in store.asked(course_id, limit):
        groups.setdefault((record.get("course", ""), record.get("session", "")), []).append(record)
    if not groups:
        click.echo("no questions recorded yet")
        return

    def order(key: tuple[str, str]) -> tuple[str, int]:
        course = courses.get(key[0])
        return key[0], (course.number_of(key[1]) if course else None) or 0

    for key in sorted(groups, key=order):
        course = courses.get(key[0])
        number = course.number_of(key[1]) if course else None
        title = course.session(number).title if course and number else key[1]
        click.echo(f"{key[0]} · Session {number or '?'}: {title} · {len(groups[key])} question(s)")
        for record in groups[key]:
            how = record.get("mode", "?") + (
                f": {record['reason']}" if record.get("reason") else ""
            )
            source = record.get("source_session")
            where = f"  (answered from {source})" if source and source != key[1] else ""
            at = record.get("at")
            when = at.strftime("%Y-%m-%d %H:%M") if at else ""
            click.echo(f"  {when}  [{how}] {record.get('question', '')}{where}")


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


@main.command()
@click.argument("target", type=click.Path(path_type=Path, dir_okay=False))
def backup(target: Path) -> None:
    """Write the embedded store to one file, consistent as of one moment (works while the
    bot runs). With MONGODB_URI, use MongoDB's own tools (mongodump)."""
    from bot import durable

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
    from bot import durable

    config = Config.from_env()
    if config.mongodb_uri or config.data_dir is None:
        raise click.UsageError("restore fills the embedded store in DATA_DIR; unset MONGODB_URI")
    try:
        count = _owned(lambda: durable.restore(source, config.data_dir))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{count} documents restored into {config.data_dir}")


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
    from bot.services import build_services, senders_for

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
            slack_team=config.extra.get("SLACK_TEAM_ID") or None,
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


if __name__ == "__main__":
    main()
