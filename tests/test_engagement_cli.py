"""`trainbot chat` with `/wait`, and `trainbot clock --once --now`."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner

from bot import cli
from bot.store import Store
from flows.events import Inbound
from tests.conftest import FakeClock
from tests.test_cli import trainbot
from tests.test_engagement import wire


def test_wait_prints_the_reminder_done_when():
    result = trainbot("chat", "--name", "Ada", stdin="I am a new partner\nnext\n/wait 25h\n")
    assert result.returncode == 0, result.stderr
    reminder = "👋 Ada, session 2 of 7 is waiting: *The three Solaro kits*"
    assert reminder in result.stdout
    assert "[▶️ Resume]" in result.stdout.split(reminder, 1)[1]
    assert "25h later" in result.stdout
    assert "Traceback" not in result.stderr


def test_wait_plays_the_whole_ladder_and_refuses_bad_durations():
    script = "I am a new partner\n/wait soon\n/wait -3d\n/wait 3d\n/wait 5d\n/wait 30d\n"
    result = trainbot("chat", "--name", "Ada", "--now", "2026-01-05T09:00", stdin=script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Usage: /wait") == 2
    assert result.stdout.count("is waiting") == 2
    assert result.stdout.count("last reminder") == 1
    assert "3d later: it is now Thu 08 Jan 2026 09:00 UTC" in result.stdout
    assert "30d later: it is now Thu 12 Feb 2026 09:00 UTC" in result.stdout


def test_clock_once_runs_what_is_due_at_now(monkeypatch):
    store = Store.connect(None)
    services, _ = wire(FakeClock(datetime(2026, 1, 5, 9, tzinfo=UTC)), store=store)
    services.conversations.handle(
        Inbound(key="web:ada", channel="web", text="I am a new partner", name="Ada")
    )
    monkeypatch.setattr(Store, "connect", classmethod(lambda cls, uri, db="trainbot", **_: store))
    env = {"MONGODB_URI": "mongodb://db.invalid/trainbot"}
    runner = CliRunner()
    early = runner.invoke(cli.main, ["clock", "--once", "--now", "2026-01-06T08:00:00Z"], env=env)
    assert early.exit_code == 0, early.output
    assert "engagement: 0 job(s)" in early.output
    due = runner.invoke(
        cli.main, ["clock", "--once", "--now", "2026-01-06T09:00:00+00:00"], env=env
    )
    assert due.exit_code == 0, due.output
    assert "engagement: 1 job(s)" in due.output
    assert "reminder:web:ada: sent reminder 1 to web:… (partner-onboarding)" in due.output
    again = runner.invoke(cli.main, ["clock", "--once", "--now", "2026-01-06T09:30"], env=env)
    assert "engagement: 0 job(s)" in again.output  # nothing is sent twice


def test_clock_now_is_validated():
    env = {"MONGODB_URI": "mongodb://db.invalid/trainbot"}
    runner = CliRunner()
    bad = runner.invoke(cli.main, ["clock", "--once", "--now", "next tuesday"], env=env)
    assert bad.exit_code == 2 and "not an ISO-8601 time" in bad.output
    alone = runner.invoke(cli.main, ["clock", "--now", "2026-01-06T09:00"], env=env)
    assert alone.exit_code == 2 and "--now only works with --once" in alone.output


def test_certificates_show_and_revoke(monkeypatch):
    store = Store.connect(None)
    clock = FakeClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    services, _ = wire(clock, store=store)
    say = lambda text: services.conversations.handle(  # noqa: E731
        Inbound(key="console:ada", channel="console", text=text, name="Ada")
    )
    say("I am a new partner")
    for _ in range(7):
        say("next")
    code = store.db["certificates"].find_one({})["code"]
    monkeypatch.setattr(Store, "connect", classmethod(lambda cls, uri, db="trainbot", **_: store))
    env = {"MONGODB_URI": "mongodb://db.invalid/trainbot"}
    runner = CliRunner()
    shown = runner.invoke(cli.main, ["certificates", "show", code.lower()], env=env)
    assert shown.exit_code == 0, shown.output
    assert f"{code}: valid" in shown.output and "Certified Solaro Partner" in shown.output
    assert runner.invoke(cli.main, ["certificates", "revoke", code], env=env).exit_code == 0
    again = runner.invoke(cli.main, ["certificates", "revoke", code], env=env)
    assert again.exit_code == 1 and "already revoked" in again.output
    assert (
        f"{code}: revoked"
        in runner.invoke(cli.main, ["certificates", "show", code], env=env).output
    )
    missing = runner.invoke(cli.main, ["certificates", "show", "nope"], env=env)
    assert missing.exit_code == 1 and "no certificate" in missing.output


def test_parse_duration():
    from datetime import timedelta

    from bot.channels.console import parse_duration

    assert parse_duration("25h") == timedelta(hours=25)
    assert parse_duration(" 1d 12h ") == timedelta(days=1, hours=12)
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("1.5d") == timedelta(hours=36)
    for bad in ("", "soon", "3 days", "-3d", "3w", "99999999999999d", "3d later"):
        assert parse_duration(bad) is None, bad
