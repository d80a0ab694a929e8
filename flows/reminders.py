"""When to nudge a learner who went quiet, and what to say: pure scheduling rules.

A course's `reminders` settings give a ladder of delays measured from the learner's last
message (`after_hours: [24, 72, 168]`), quiet hours in local wall-clock time that may wrap
midnight (`"20:00-08:00"`) and a default time zone; a learner may override the zone with
`timezone Europe/Berlin`. Delays are real elapsed hours (computed in UTC), quiet hours are
local, so a daylight-saving change moves a nudge's wall-clock time but never into the
night. Nothing here reads the clock: every function takes `now` or an anchor time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from flows.course import Course
from flows.events import Button, Reply
from flows.messages import say
from flows.state import Learner

DEFAULT_ZONE = "UTC"
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class QuietHours:
    """Local wall-clock hours with no proactive messages; `start > end` wraps midnight."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        """Whether a local time of day falls inside the quiet hours (end excluded)."""
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True)
class Policy:
    """A course's reminder settings, validated."""

    after_hours: tuple[float, ...]
    quiet: QuietHours | None = None
    timezone: str = DEFAULT_ZONE


@dataclass(frozen=True)
class Nudge:
    """The next reminder: which rung of the ladder, and when it may go out (UTC)."""

    rung: int
    due: datetime
    last: bool  # the final rung: after it the bot stays quiet until the learner writes


def parse_quiet_hours(text: object) -> QuietHours:
    """`"20:00-08:00"` → QuietHours; ValueError with a reason for anything else."""
    match = _CLOCK.match(text) if isinstance(text, str) else None
    if not match:
        raise ValueError("quiet_hours must look like 20:00-08:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError("quiet_hours times must be between 00:00 and 23:59")
    if (h1, m1) == (h2, m2):
        raise ValueError("quiet_hours start and end must differ")
    return QuietHours(time(h1, m1), time(h2, m2))


@cache
def _zone_names() -> Mapping[str, str]:
    # Case-insensitive lookup table; the IANA database is data shipped with Python/tzdata.
    return {name.casefold(): name for name in available_timezones()}


def zone_name(given: str) -> str | None:
    """The canonical IANA name for `given` (case-insensitive), or None when unknown.

    Only names in the database are accepted, so paths such as `../etc/passwd` or offsets
    such as `+02:00` are refused rather than half-working."""
    return _zone_names().get(given.strip().casefold())


def parse_policy(settings: object) -> Policy:
    """A course's `reminders:` mapping → Policy; ValueError naming the first problem."""
    if not isinstance(settings, Mapping):
        raise ValueError("reminders must be a mapping")
    unknown = set(settings) - {"after_hours", "quiet_hours", "timezone"}
    if unknown:
        raise ValueError(f"unknown key '{sorted(unknown)[0]}' in reminders")
    hours = settings.get("after_hours", [])
    if isinstance(hours, int | float) and not isinstance(hours, bool):
        hours = [hours]
    if not isinstance(hours, list) or not all(
        isinstance(h, int | float) and not isinstance(h, bool) and h > 0 for h in hours
    ):
        raise ValueError("after_hours must be a list of positive hours")
    if list(hours) != sorted(set(hours)):
        raise ValueError("after_hours must increase, e.g. [24, 72, 168]")
    quiet = settings.get("quiet_hours")
    zone = settings.get("timezone", DEFAULT_ZONE)
    name = zone_name(zone) if isinstance(zone, str) else None
    if name is None:
        raise ValueError(f"unknown time zone '{zone}' (use an IANA name such as Africa/Lagos)")
    return Policy(
        tuple(float(h) for h in hours),
        parse_quiet_hours(quiet) if quiet is not None else None,
        name,
    )


def policy_of(course: Course) -> Policy | None:
    """The course's reminder policy, or None when it has none (or an invalid one: the
    validator reports that to the author; the bot then simply does not nudge)."""
    settings = course.settings.get("reminders")
    if settings is None:
        return None
    try:
        policy = parse_policy(settings)
    except ValueError:
        return None
    return policy if policy.after_hours else None


def learner_zone(learner: Learner, policy: Policy | None) -> ZoneInfo:
    """The learner's own zone (`timezone` command), else the course's, else UTC."""
    own = learner.profile.get("timezone")
    name = (zone_name(own) if isinstance(own, str) else None) or (
        policy.timezone if policy else DEFAULT_ZONE
    )
    return ZoneInfo(name)


def outside_quiet(at: datetime, quiet: QuietHours | None, zone: ZoneInfo) -> datetime:
    """`at`, or the end of the quiet hours it falls in (in UTC)."""
    if quiet is None:
        return at
    local = at.astimezone(zone)
    if not quiet.contains(local.time()):
        return at
    day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        day += timedelta(days=1)  # evening part of a quiet period that wraps midnight
    # A wall-clock end that a DST jump skips (02:30 on spring-forward night) is read with
    # the offset before the jump, i.e. the same instant as 03:30 after it.
    return datetime.combine(day, quiet.end, tzinfo=zone).astimezone(UTC)


def allowed_at(learner: Learner, course: Course | None, at: datetime) -> datetime:
    """The earliest time at or after `at` when the learner may get a proactive message."""
    policy = policy_of(course) if course else None
    return outside_quiet(at, policy.quiet if policy else None, learner_zone(learner, policy))


def reminder_course(learner: Learner, courses: Mapping[str, Course]) -> Course | None:
    """The course a learner should be nudged about: active, not paused, started and not
    finished, with a reminder policy; None when nothing is waiting (or they opted out)."""
    if learner.opted_out or learner.paused or not learner.active_course:
        return None
    course = courses.get(learner.active_course)
    if course is None or not course.sessions or policy_of(course) is None:
        return None
    progress = learner.progress_in(course.id)
    if progress.started_at is None or progress.completed_at is not None:
        return None
    return course


def next_nudge(
    learner: Learner, course: Course, rung: int, not_before: datetime | None = None
) -> Nudge | None:
    """Rung `rung` of the ladder for a learner silent since `last_inbound_at`, moved out of
    quiet hours and not before `not_before` (so a clock that was down does not fire the
    whole ladder at once); None after the last rung."""
    policy = policy_of(course)
    anchor = learner.last_inbound_at
    if policy is None or anchor is None or not 0 <= rung < len(policy.after_hours):
        return None
    due = anchor + timedelta(hours=policy.after_hours[rung])
    if not_before is not None:
        due = max(due, not_before)
    due = outside_quiet(due, policy.quiet, learner_zone(learner, policy))
    return Nudge(rung, due, last=rung == len(policy.after_hours) - 1)


def gap_after(course: Course, rung: int) -> timedelta:
    """The ladder's spacing between rung `rung` and the next one."""
    policy = policy_of(course)
    if policy is None or rung + 1 >= len(policy.after_hours):
        return timedelta(0)
    return timedelta(hours=policy.after_hours[rung + 1] - policy.after_hours[rung])


def nudge_reply(learner: Learner, course: Course, last: bool) -> Reply:
    """The reminder itself: personal, where they are, and a one-tap Resume."""
    progress = learner.progress_in(course.id)
    number = course.number_of(progress.current or "") or next(
        (n for n, s in enumerate(course.sessions, 1) if s.id not in progress.completed), 1
    )
    text = say(
        "reminder_last" if last else "reminder",
        course,
        name=learner.name or "Hi there",
        number=number,
        total=len(course.sessions),
        title=course.session(number).title,
        course=course.title,
    )
    button = Button(say("button_resume", course), "resume")
    return Reply(text, (button,), course_id=course.id, proactive=True)
