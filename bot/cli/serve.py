"""`trainbot serve`, `chat` and `clock`: running the bot, talking to it, its scheduled jobs."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from bot.cli.group import _logging, main
from bot.config import Config


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
    from gunicorn.app.base import BaseApplication

    from bot import gunicorn_conf
    from bot.admin import signin
    from bot.channels.registry import enabled

    _logging()
    config = Config.from_env()
    embedded = not config.mongodb_uri
    workers = workers or gunicorn_conf.default_workers(embedded, config)
    if embedded and workers > 1:
        raise click.UsageError(
            "the embedded store has one owner process: use --workers 1 (or WEB_CONCURRENCY=1) "
            "or set MONGODB_URI"
        )
    base = f"http://{host}:{port}"
    if "public_base_url" not in config.model_fields_set:  # links (QR codes…) point here
        config = config.replace(public_base_url=base)
    # Decided here, before gunicorn forks, so every worker agrees on the generated token.
    config = signin.with_credential(config).replace(simulator=config.simulator_for(host))
    click.echo(f"Trainbot is starting on {base}")
    click.echo(f"  store:              {config.store_description}")
    if config.simulator:
        click.echo(f"  web chat simulator: {base}/simulator")
    click.echo(f"  health:             {base}/healthz")
    if config.admin_token_generated:
        link = signin.signin_link(config)
        click.echo(f"  admin (no ADMIN_TOKEN; one-time sign-in link): {link}")
    else:
        click.echo(f"  admin:              {base}/admin (sign in with ADMIN_TOKEN)")
    for channel in enabled(config):
        if channel.announce:
            click.echo("  " + channel.announce.format(base=base, public=config.public_base_url))

    class Server(BaseApplication):
        def load_config(self) -> None:
            # the production settings (bot/gunicorn_conf.py), on this host and port
            settings = gunicorn_conf.settings(embedded, f"{host}:{port}", config)
            for name, value in settings.items():
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
        config = config.replace(data_dir=None)
    if content_dir:
        config = config.replace(content_dir=content_dir)
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
    from bot.channels.registry import senders_for
    from bot.conversation import inline
    from bot.lanes import Lanes
    from bot.scheduler import build_scheduler, jobs
    from bot.services import build_services

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


def _instant(text: str) -> datetime:
    """An ISO-8601 time; naive times are UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO-8601 time: {text}", param_hint="--now") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)
