"""Pure reminder rules: the ladder, quiet hours (wrapping midnight), time zones and DST,
the `timezone` and `certificate` commands, and the completion effect."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from types import MappingProxyType

import pytest

from flows.commands import Cmd, parse
from flows.course import Catalog
from flows.events import CourseCompleted, Inbound, SendCertificate
from flows.machine import step
from flows.reminders import (
    QuietHours,
    next_nudge,
    nudge_reply,
    outside_quiet,
    parse_policy,
    parse_quiet_hours,
    reminder_course,
    zone_name,
)
from flows.state import Learner, Progress
from tests.conftest import make_course

REMINDERS = {"after_hours": [24, 72, 168], "quiet_hours": "20:00-08:00", "timezone": "Africa/Lagos"}
CERT = {"title": "Certified Demo", "valid_days": 365}


def course(reminders=REMINDERS, certificate=CERT, n: int = 7):
    settings = {"reminders": reminders, "certificate": certificate}
    return make_course(n, settings=MappingProxyType({k: v for k, v in settings.items() if v}))


def learner(last: datetime, current: str = "s4", **kw) -> Learner:
    progress = Progress(current=current, completed=("s1", "s2", "s3"), started_at=last)
    return Learner(
        key="whatsapp:+15550001111",
        name="Ada",
        active_course="demo",
        last_inbound_at=last,
        progress=MappingProxyType({"demo": progress}),
        **kw,
    )


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- settings --------------------------------------------------------------------------


def test_quiet_hours_parse_and_wrap_midnight():
    quiet = parse_quiet_hours("20:00-08:00")
    assert quiet == QuietHours(time(20), time(8))
    assert quiet.contains(time(23, 30)) and quiet.contains(time(0)) and quiet.contains(time(7, 59))
    assert not quiet.contains(time(8)) and not quiet.contains(time(19, 59))
    lunch = parse_quiet_hours(" 12:30 - 14:00 ")
    assert lunch.contains(time(13)) and not lunch.contains(time(14)) and not lunch.contains(time(9))


@pytest.mark.parametrize("bad", ["20-08", "25:00-08:00", "08:00-08:00", "8pm-8am", None, 2000])
def test_quiet_hours_invalid(bad):
    with pytest.raises(ValueError):
        parse_quiet_hours(bad)


@pytest.mark.parametrize(
    "given,expected",
    [("Europe/Berlin", "Europe/Berlin"), ("europe/berlin", "Europe/Berlin"), ("UTC", "UTC")],
)
def test_zone_names_are_canonical(given, expected):
    assert zone_name(given) == expected


@pytest.mark.parametrize(
    "bad", ["Mars/Olympus", "../../etc/passwd", "+02:00", "", "Europe/", "Berlin", "x" * 300]
)
def test_invalid_time_zone_names_are_refused(bad):
    assert zone_name(bad) is None


@pytest.mark.parametrize(
    "settings,reason",
    [
        ({"after_hours": [72, 24]}, "increase"),
        ({"after_hours": [24, -1]}, "positive"),
        ({"after_hours": "daily"}, "positive"),
        ({"after_hours": [24], "timezone": "Nowhere/Land"}, "unknown time zone"),
        ({"after_hours": [24], "quiet_hours": "late"}, "quiet_hours"),
        ({"after_hours": [24], "often": True}, "unknown key"),
        ("24h", "mapping"),
    ],
)
def test_policy_errors_name_the_problem(settings, reason):
    with pytest.raises(ValueError, match=reason):
        parse_policy(settings)


def test_invalid_policy_means_no_reminders_not_a_crash():
    broken = course(reminders={"after_hours": [24], "timezone": "Nowhere/Land"})
    assert reminder_course(learner(utc(2026, 1, 5, 9)), {"demo": broken}) is None


# --- the ladder ------------------------------------------------------------------------


def test_whole_ladder_then_silence():
    c = course()
    start = utc(2026, 1, 5, 9)  # 10:00 in Lagos (UTC+1, no DST)
    ada = learner(start)
    rungs = [next_nudge(ada, c, rung) for rung in range(4)]
    assert [n.due for n in rungs[:3]] == [
        start + timedelta(hours=24),
        start + timedelta(hours=72),
        start + timedelta(hours=168),
    ]
    assert [n.last for n in rungs[:3]] == [False, False, True]
    assert rungs[3] is None  # after the last nudge the bot stays quiet


def test_nudge_due_in_quiet_hours_waits_until_they_end():
    c = course()
    evening = utc(2026, 1, 5, 19, 30)  # 20:30 in Lagos: inside 20:00-08:00
    nudge = next_nudge(learner(evening), c, 0)
    assert nudge.due == utc(2026, 1, 7, 7, 0)  # 08:00 Lagos the morning after
    early = utc(2026, 1, 5, 5, 0)  # 06:00 Lagos, morning part of the wrapped period
    assert next_nudge(learner(early), c, 0).due == utc(2026, 1, 6, 7, 0)


def test_learner_time_zone_overrides_the_course():
    c = course()
    start = utc(2026, 1, 5, 14)  # 15:00 Lagos: fine; 23:00 in Tokyo: quiet
    tokyo = learner(start, profile=MappingProxyType({"timezone": "Asia/Tokyo"}))
    assert next_nudge(learner(start), c, 0).due == start + timedelta(hours=24)
    assert next_nudge(tokyo, c, 0).due == utc(2026, 1, 6, 23, 0)  # 08:00 Tokyo


def test_dst_spring_forward_moves_wall_clock_but_not_into_the_night():
    c = course(reminders={**REMINDERS, "timezone": "Europe/Berlin"})
    # Saturday 19:30 CET (UTC+1); 24 real hours later it is 20:30 CEST (UTC+2): quiet.
    sat = utc(2026, 3, 28, 18, 30)
    nudge = next_nudge(learner(sat), c, 0)
    assert nudge.due == utc(2026, 3, 30, 6, 0)  # Monday 08:00 CEST
    # Before the change a 24 h delay kept the same wall-clock time.
    assert next_nudge(learner(utc(2026, 3, 20, 18, 30)), c, 0).due == utc(2026, 3, 21, 18, 30)


def test_dst_fall_back_quiet_end_uses_local_time():
    c = course(reminders={**REMINDERS, "timezone": "Europe/Berlin"})
    # 24 h after Saturday 21:00 CEST is Sunday 20:00 CET (after the change): quiet.
    sat = utc(2026, 10, 24, 19, 0)
    assert next_nudge(learner(sat), c, 0).due == utc(2026, 10, 26, 7, 0)  # 08:00 CET


def test_quiet_end_inside_a_dst_gap():
    quiet = parse_quiet_hours("22:00-02:30")  # 02:30 does not exist on 29 March in Berlin
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    inside = utc(2026, 3, 28, 22, 0)  # 23:00 CET
    assert outside_quiet(inside, quiet, berlin) == utc(2026, 3, 29, 1, 30)  # = 03:30 CEST


def test_late_clock_does_not_fire_the_rest_of_the_ladder_at_once():
    c = course()
    start = utc(2026, 1, 5, 9)
    sent_late = start + timedelta(hours=100)  # the clock was down; rung 0 went out now
    following = next_nudge(learner(start), c, 1, not_before=sent_late + timedelta(hours=48))
    assert following.due == sent_late + timedelta(hours=48)


@pytest.mark.parametrize(
    "change",
    [
        {"opted_out": True},
        {"paused": True},
        {"active_course": None},
        {"active_course": "gone"},
    ],
)
def test_who_is_not_reminded(change):
    ada = replace(learner(utc(2026, 1, 5, 9)), **change)
    assert reminder_course(ada, {"demo": course()}) is None


def test_finished_course_and_course_without_reminders_send_nothing():
    ada = learner(utc(2026, 1, 5, 9))
    done = ada.with_progress("demo", replace(ada.progress_in("demo"), completed_at=utc(2026, 1, 5)))
    assert reminder_course(done, {"demo": course()}) is None
    assert reminder_course(ada, {"demo": course(reminders=None)}) is None
    assert reminder_course(ada, {"demo": course()}) is not None


def test_nudge_text_is_personal_with_one_tap_resume():
    c = course()
    reply = nudge_reply(learner(utc(2026, 1, 5, 9)), c, last=False)
    assert reply.text.startswith("👋 Ada, session 4 of 7 is waiting: **Topic 4**")
    assert reply.proactive
    assert [(b.title, b.payload) for b in reply.buttons] == [("▶️ Resume", "resume")]
    assert "last reminder" in nudge_reply(learner(utc(2026, 1, 5, 9)), c, last=True).text


# --- commands --------------------------------------------------------------------------


def say(ada: Learner, text: str, c=None):
    catalog = Catalog((c or course(),))
    return step(ada, catalog, Inbound(key=ada.key, channel="whatsapp", text=text), utc(2026, 1, 5))


def test_timezone_command_parsing():
    assert parse("timezone Europe/Berlin").arg == "Europe/Berlin"
    assert parse("Time zone america/new_york").name is Cmd.TIMEZONE
    assert parse("timezone").arg == ""
    assert parse("what timezone are you in?") is None


def test_timezone_command_sets_shows_and_refuses():
    ada = learner(utc(2026, 1, 5, 9))
    out = say(ada, "timezone europe/berlin")
    assert out.learner.profile["timezone"] == "Europe/Berlin"
    assert "Europe/Berlin" in out.replies[0].text
    shown = say(out.learner, "timezone")
    assert "Your time zone is **Europe/Berlin**" in shown.replies[0].text
    assert "Africa/Lagos" in say(ada, "timezone").replies[0].text  # the course default
    refused = say(ada, "timezone Mars/Olympus")
    assert "don't know the time zone" in refused.replies[0].text
    assert "timezone" not in refused.learner.profile


def test_completing_the_course_emits_course_completed_once():
    c = course(n=2)
    ada = Learner(key="console:ada", name="Ada")
    ada = say(ada, "start demo training", c).learner
    ada = say(ada, "next", c).learner
    finished = say(ada, "next", c)
    assert finished.effects == (CourseCompleted("demo"),)
    assert say(finished.learner, "next", c).effects == ()


def test_certificate_command():
    c = course(n=1)
    ada = say(Learner(key="console:ada", name="Ada"), "start demo training", c).learner
    assert "don't have a certificate yet" in say(ada, "certificate", c).replies[0].text
    ada = say(ada, "complete", c).learner
    assert say(ada, "my certificate", c).effects == (SendCertificate("demo"),)
    plain = course(n=1, certificate=None)
    assert "doesn't award a certificate" in say(ada, "certificate", plain).replies[0].text
