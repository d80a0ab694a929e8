"""The manager digest: who on my team finished, who is learning, who went quiet.

Pure: given learners (with `profile.manager`), the catalog and `now`, build one digest per
manager, and one per course channel configured (`DIGEST_CHANNELS`, e.g. a Slack channel
that follows a whole course). A learner appears once per course they started: in
`completed` when they finished it within the period, in `overdue` when they have not
written for `overdue_after`, else in `in_progress` with their current session. Courses
finished before the period are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flows.course import Catalog, Course
from flows.state import Learner, Progress


@dataclass(frozen=True)
class Line:
    """One learner in one course; `key` lets a channel offer a Nudge button."""

    key: str
    name: str
    course: str
    detail: str


@dataclass(frozen=True)
class Digest:
    """What one manager is told."""

    manager: str
    completed: tuple[Line, ...] = ()
    in_progress: tuple[Line, ...] = ()
    overdue: tuple[Line, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.completed or self.in_progress or self.overdue)


def build_digests(
    learners: Iterable[Learner],
    catalog: Catalog,
    now: datetime,
    period: timedelta = timedelta(days=7),
    overdue_after: timedelta = timedelta(days=7),
    course_channels: Mapping[str, str] | None = None,
) -> list[Digest]:
    """One digest per recipient (a learner's manager, a course's channel), sorted."""
    lines: dict[str, dict[str, list[Line]]] = {}
    for learner in learners:
        manager = learner.profile.get("manager")
        manager = manager if isinstance(manager, str) else None
        for course in catalog.courses:
            progress = learner.progress.get(course.id)
            if progress is None or progress.started_at is None or not course.sessions:
                continue
            recipients = {manager, (course_channels or {}).get(course.id)} - {None, ""}
            if not recipients:
                continue
            section, line = _line(learner, course, progress, now, period, overdue_after)
            for recipient in recipients:
                team = lines.setdefault(
                    str(recipient), {"completed": [], "in_progress": [], "overdue": []}
                )
                if section:
                    team[section].append(line)
    return [
        Digest(
            manager,
            *(tuple(sorted(team[k], key=lambda x: (x.name, x.course))) for k in _SECTIONS),
        )
        for manager, team in sorted(lines.items())
    ]


def _line(
    learner: Learner,
    course: Course,
    progress: Progress,
    now: datetime,
    period: timedelta,
    overdue_after: timedelta,
) -> tuple[str | None, Line]:
    """Which section a learner's course goes in (None: finished before the period)."""
    name = learner.name or learner.key
    if progress.completed_at is not None:
        day = progress.completed_at.strftime("%d %b")
        section = "completed" if progress.completed_at > now - period else None
        return section, Line(learner.key, name, course.title, f"finished {day}")
    quiet = now - (learner.last_inbound_at or progress.started_at or now)
    if quiet >= overdue_after:
        return "overdue", Line(
            learner.key, name, course.title, f"no activity for {quiet.days} days"
        )
    number = course.number_of(progress.current or "") or 1
    done = sum(1 for s in course.sessions if s.id in progress.completed)
    detail = (
        f"on session {number} of {len(course.sessions)}: "
        f"{course.session(number).title} ({done} done)"
    )
    return "in_progress", Line(learner.key, name, course.title, detail)


_SECTIONS = ("completed", "in_progress", "overdue")
_HEADINGS = {
    "completed": "✅ Completed this week",
    "in_progress": "📚 In progress",
    "overdue": "⏰ Overdue",
}


def digest_text(digest: Digest) -> str:
    """The digest as Markdown text (e-mail body, or Slack's fallback text)."""
    parts = ["**Your team's training this week**"]
    for section in _SECTIONS:
        entries = getattr(digest, section)
        parts.append(f"\n**{_HEADINGS[section]}** ({len(entries)})")
        parts += [f"• {x.name}: {x.course}, {x.detail}" for x in entries] or ["• nobody"]
    return "\n".join(parts)
