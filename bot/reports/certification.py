"""Certification: who holds a valid certificate, what expires soon, role gaps and time
to competency."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from bot.reports.common import (
    CERTIFICATE_HOLDER,
    EXPIRY_WINDOWS,
    HOLDER_NAME,
    LEARNER_CERTIFICATES,
    ReportsBase,
    _aware,
    _cert_status,
    _count,
    _days,
    _median_seconds,
    _newest,
    _not_revoked,
    _of_course,
    _rate,
)
from flows.course import Course


class CertificationFigures(ReportsBase):
    """The certification page's figures."""

    # --- certification ------------------------------------------------------------------

    def certification(self, course: Course, now: datetime) -> dict[str, Any]:
        """Certification rate by role and manager (holders of a valid newest certificate of
        the course among the learners with that role / manager enrolled in the course: not
        every learner in the system, which showed "(none) 10 learners, 20 %" next to a 40 %
        completion rate), expiring certificates, gaps, time to competency for one course."""
        dimensions = ("role", "manager")
        result = self.learners.pipeline(
            [
                {"$match": {f"progress.{course.id}": {"$exists": True}}},
                LEARNER_CERTIFICATES,
                {
                    "$project": {
                        **{d: {"$ifNull": [f"$profile.{d}", ""]} for d in dimensions},
                        "newest": _newest(_of_course("$certs", course.id)),
                    }
                },
                {"$addFields": {"valid": {"$eq": [_cert_status("$newest", now), "valid"]}}},
                {
                    "$facet": {
                        d: [
                            {
                                "$group": {
                                    "_id": f"${d}",
                                    "learners": {"$sum": 1},
                                    "certified": _count("$valid"),
                                }
                            },
                            {"$sort": {"_id": 1}},
                        ]
                        for d in dimensions
                    }
                },
            ]
        )
        facets: dict[str, Any] = next(iter(result), {})
        by = {
            d: [
                {
                    d: r["_id"],
                    "learners": r["learners"],
                    "certified": r["certified"],
                    "rate": _rate(r["certified"], r["learners"]),
                }
                for r in facets.get(d, [])
            ]
            for d in dimensions
        }
        seconds = self._time_to_competency(course.id)
        return {
            "course": course.id,
            "by_role": by["role"],
            "by_manager": by["manager"],
            "expiring": self.expiring(course.id, now),
            "gaps": self.gaps(course),
            "median_days_to_certificate": _days(seconds),
            "median_seconds_to_certificate": seconds,
        }

    def expiring(self, course_id: str, now: datetime) -> dict[str, Any]:
        """Newest certificates per learner (an older one a learner has since renewed does
        not count), not revoked, expiring within 30 / 60 / 90 days, with their holders."""
        horizon = now + timedelta(days=max(EXPIRY_WINDOWS))
        rows = list(
            self.certificates.pipeline(
                [
                    {"$match": {"course": course_id}},
                    {"$sort": {"issued": 1}},
                    {"$group": {"_id": "$learner", "newest": {"$last": "$$ROOT"}}},
                    {"$replaceRoot": {"newRoot": "$newest"}},
                    {"$match": {"expires": {"$gt": now, "$lte": horizon}}},
                    {"$match": {"$expr": _not_revoked("$revoked")}},
                    CERTIFICATE_HOLDER,
                    {
                        "$project": {
                            "code": "$_id",
                            "learner": 1,
                            "expires": 1,
                            "name": HOLDER_NAME,
                        }
                    },
                    {"$sort": {"expires": 1}},
                ]
            )
        )
        for row in rows:
            row["days_left"] = (_aware(row["expires"]) - now).days
        counts = {
            f"within_{days}": sum(
                1 for r in rows if _aware(r["expires"]) <= now + timedelta(days=days)
            )
            for days in EXPIRY_WINDOWS
        }
        return {**counts, "certificates": rows}

    def gaps(self, course: Course) -> list[dict[str, Any]]:
        """Learners whose role requires this course (`required_for_roles`) who have not
        completed it."""
        required = course.settings.get("required_for_roles") or ()
        roles = [str(r) for r in required] if isinstance(required, Iterable) else []
        if not roles:
            return []
        return list(
            self.learners.pipeline(
                [
                    {
                        "$match": {
                            "profile.role": {"$in": roles},
                            f"progress.{course.id}.completed_at": None,
                        }
                    },
                    {
                        "$project": {
                            "_id": 0,
                            "key": "$_id",
                            "name": {"$ifNull": ["$name", ""]},
                            "role": "$profile.role",
                            "manager": {"$ifNull": ["$profile.manager", ""]},
                            "enrolled": {
                                "$ne": [{"$ifNull": [f"$progress.{course.id}", None]}, None]
                            },
                        }
                    },
                    {"$sort": {"name": 1, "key": 1}},
                ]
            )
        )

    def _time_to_competency(self, course_id: str) -> float | None:
        """Median seconds from enrolment to the (first) certificate."""
        rows = self.certificates.pipeline(
            [
                {"$match": {"course": course_id}},
                CERTIFICATE_HOLDER,
                {"$unwind": "$who"},
                {"$match": {f"who.progress.{course_id}.started_at": {"$ne": None}}},
                {
                    "$group": {
                        "_id": "$learner",
                        "ms": {
                            "$min": {
                                "$subtract": ["$issued", f"$who.progress.{course_id}.started_at"]
                            }
                        },
                    }
                },
            ]
        )
        return _median_seconds(r["ms"] for r in rows)
