"""The manager digest: who on my team finished, who is learning, who went quiet.

Pure: given learners (with `profile.manager`), the catalog and `now`, build one digest per
manager. A learner appears once per course they started: in `completed` when they finished
it within the period, in `overdue` when they have not written for `overdue_after`, else in
`in_progress` with their current session. Courses finished before the period are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flows.course import Catalog
from flows.state import Learner


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
) -> list[Digest]:
    """One digest per manager named in a learner's profile, sorted by manager."""
    lines: dict[str, dict[str, list[Line]]] = {}
    for learner in learners:
        manager = learner.profile.get("manager")
        if not isinstance(manager, str) or not manager:
            continue
        team = lines.setdefault(manager, {"completed": [], "in_progress": [], "overdue": []})
        for course in catalog.courses:
            progress = learner.progress.get(course.id)
            if progress is None or progress.started_at is None or not course.sessions:
                continue
            name = learner.name or learner.key
            if progress.completed_at is not None:
                if progress.completed_at > now - period:
                    day = progress.completed_at.strftime("%d %b")
                    team["completed"].append(
                        Line(learner.key, name, course.title, f"finished {day}")
                    )
                continue
            quiet = now - (learner.last_inbound_at or progress.started_at)
            if quiet >= overdue_after:
                detail = f"no activity for {quiet.days} days"
                team["overdue"].append(Line(learner.key, name, course.title, detail))
                continue
            number = course.number_of(progress.current or "") or 1
            done = sum(1 for s in course.sessions if s.id in progress.completed)
            detail = (
                f"on session {number} of {len(course.sessions)}: "
                f"{course.session(number).title} ({done} done)"
            )
            team["in_progress"].append(Line(learner.key, name, course.title, detail))
    return [
        Digest(
            manager,
            *(tuple(sorted(team[k], key=lambda x: (x.name, x.course))) for k in _SECTIONS),
        )
        for manager, team in sorted(lines.items())
    ]


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
