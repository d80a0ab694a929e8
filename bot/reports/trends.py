"""Trends for the admin charts: weekly activity and completions of a course, and its
certificates by state.

The funnel says where learners stop but not whether a course is gaining or losing
momentum; these series do. Weeks are ISO weeks (Monday to Sunday, UTC), the last
`WEEKS` of them including the current one, every week present (a quiet week is a 0, not
a gap that would make the trend lie).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from bot.reports.common import FOREVER, ReportsBase, _aware

WEEKS = 12
EXPIRING_SOON = timedelta(days=30)  # as the certification page's first expiry window
CERT_STATES = ("valid", "expiring soon", "expired", "revoked")


def week_starts(now: datetime, weeks: int = WEEKS) -> list[datetime]:
    """The Mondays (00:00 UTC) that start the last `weeks` ISO weeks, oldest first."""
    today = _aware(now).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def week_label(start: datetime) -> str:
    """An ISO week as "2026-W48"."""
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}"


class TrendFigures(ReportsBase):
    """Weekly series and certificate states for one course."""

    def weekly(self, course_id: str, now: datetime, weeks: int = WEEKS) -> list[dict[str, Any]]:
        """Per ISO week: learners of the course who sent at least one message (`active`,
        from the inbound `events` log) and learners who completed it (`completed`)."""
        starts = week_starts(now, weeks)
        since = starts[0]
        enrolled = {f"progress.{course_id}": {"$exists": True}}
        learners = self.learners.pipeline(
            [
                {"$match": enrolled},
                {"$project": {"done": f"$progress.{course_id}.completed_at"}},
            ]
        )
        keys = [row["_id"] for row in learners]
        completed = Counter(
            self._week_of(starts, row["done"])
            for row in learners
            if isinstance(row.get("done"), datetime) and _aware(row["done"]) >= since
        )
        # One row per learner and day in the database; the weeks are counted here.
        days = self.store.events.pipeline(
            [
                {"$match": {"learner": {"$in": keys}, "at": {"$gte": since}}},
                {
                    "$group": {
                        "_id": {
                            "learner": "$learner",
                            "day": {"$dateToString": {"format": "%Y-%m-%d", "date": "$at"}},
                        }
                    }
                },
            ]
        )
        active: dict[int, set[str]] = {}
        for row in days:
            day = datetime.fromisoformat(row["_id"]["day"]).replace(tzinfo=since.tzinfo)
            active.setdefault(self._week_of(starts, day), set()).add(row["_id"]["learner"])
        return [
            {
                "week": week_label(start),
                "start": start,
                "active": len(active.get(i, ())),
                "completed": completed.get(i, 0),
            }
            for i, start in enumerate(starts)
        ]

    @staticmethod
    def _week_of(starts: list[datetime], when: datetime) -> int:
        """The index of the week in `starts` that holds `when` (the last week for later)."""
        when = _aware(when)
        return max(i for i, start in enumerate(starts) if start <= when)

    def certificate_states(self, course_id: str, now: datetime) -> dict[str, int]:
        """Learners by the state of their newest certificate of the course: valid,
        expiring soon (valid, expires within 30 days), expired, revoked."""
        newest: dict[str, dict[str, Any]] = {}
        for cert in self.certificates.pipeline([{"$match": {"course": course_id}}]):
            held = newest.get(cert["learner"])
            if held is None or _aware(cert["issued"]) > _aware(held["issued"]):
                newest[cert["learner"]] = cert
        states = Counter(self._state(cert, now) for cert in newest.values())
        return {state: states.get(state, 0) for state in CERT_STATES}

    @staticmethod
    def _state(cert: dict[str, Any], now: datetime) -> str:
        """As `bot.certificates.status`, with "expiring soon" split off from "valid"."""
        if cert.get("revoked"):
            return "revoked"
        expires = _aware(cert.get("expires") or FOREVER)
        if expires <= now:
            return "expired"
        return "expiring soon" if expires <= now + EXPIRING_SOON else "valid"
