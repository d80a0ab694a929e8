"""Every admin figure, computed by MongoDB aggregation pipelines in this one module.

The overview page, the JSON API and `trainbot report` all call `Reports`, so they show the
same numbers. The pipelines use only operators that both real MongoDB and the embedded
store (mongomock-ng) evaluate the same way; a median is taken in Python because `$median`
needs MongoDB 7.

Data that other parts of the bot add later is read defensively and shows as "no data yet":
- quiz attempts: `progress.<course>.attempts: [{session, at, score, passed,
  answers: [{question, choice, correct}]}]`
- questions asked: `history.<session_id>: [{question, answer, at}]`
- certificates: collection `certificates` `{_id: code, learner, course, issued, expires,
  revoked}` (`revoked` is null/false, or true / the time it was revoked)
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.store import Store
from flows.course import Catalog, Course

STATUSES = ("not_started", "in_progress", "completed", "overdue", "opted_out", "expired")
OVERDUE_AFTER = timedelta(days=14)  # in training with no message for this long
EXPIRY_WINDOWS = (30, 60, 90)


def _not_revoked(path: str) -> dict:
    # `$not` on null misbehaves in mongomock; equality with false works on both backends.
    return {"$eq": [{"$ifNull": [path, False]}, False]}


def _valid_cert(var: str, course_id: str, now: datetime) -> dict:
    return {
        "$and": [
            {"$eq": [f"$${var}.course", course_id]},
            _not_revoked(f"$${var}.revoked"),
            {"$gt": [f"$${var}.expires", now]},
        ]
    }


def _count(condition: dict) -> dict:
    return {"$sum": {"$cond": [condition, 1, 0]}}


def _median_days(values: Iterable[Any]) -> float | None:
    """Median of millisecond durations, in days (None without data)."""
    days = [v / 86_400_000 for v in values if isinstance(v, int | float)]
    return round(statistics.median(days), 1) if days else None


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@dataclass(frozen=True)
class CourseReport:
    """The overview figures for one course (rates in percent, None when undefined)."""

    course: str
    title: str
    enrolled: int = 0
    in_training: int = 0
    completed: int = 0
    completion_rate: float | None = None
    active_today: int = 0
    active_7d: int = 0
    median_days_to_complete: float | None = None
    first_attempt_pass_rate: float | None = None
    funnel: list[dict[str, Any]] = field(
        default_factory=list
    )  # [{number, session, title, reached}]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Reports:
    """Read-only analytics over learners, deliveries and certificates."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.learners = store.learners
        self.certificates = store.db["certificates"]

    # --- learner × course rows ----------------------------------------------------------

    def _row_stages(self, now: datetime, course_id: str | None) -> list[dict]:
        """One row per (learner, course they are enrolled in), with their status."""
        stages: list[dict] = [
            {
                "$project": {
                    "doc": "$$ROOT",
                    "p": {"$objectToArray": {"$ifNull": ["$progress", {}]}},
                }
            },
            {"$unwind": "$p"},
        ]
        if course_id:
            stages.append({"$match": {"p.k": course_id}})
        stages += [
            {
                "$lookup": {
                    "from": "certificates",
                    "localField": "_id",
                    "foreignField": "learner",
                    "as": "certs",
                }
            },
            {
                "$project": {
                    "_id": 0,
                    "key": "$_id",
                    "course": "$p.k",
                    "name": {"$ifNull": ["$doc.name", ""]},
                    "channel": {"$ifNull": ["$doc.channel", ""]},
                    "role": {"$ifNull": ["$doc.profile.role", ""]},
                    "manager": {"$ifNull": ["$doc.profile.manager", ""]},
                    "opted_out": {"$eq": [{"$ifNull": ["$doc.opted_out", False]}, True]},
                    "last_inbound_at": {"$ifNull": ["$doc.last_inbound_at", None]},
                    "current": {"$ifNull": ["$p.v.current", None]},
                    "completed_ids": {"$ifNull": ["$p.v.completed", []]},
                    "done": {"$size": {"$ifNull": ["$p.v.completed", []]}},
                    "started_at": {"$ifNull": ["$p.v.started_at", None]},
                    "completed_at": {"$ifNull": ["$p.v.completed_at", None]},
                    "attempts": {"$ifNull": ["$p.v.attempts", []]},
                    "certs": {
                        "$filter": {
                            "input": "$certs",
                            "as": "c",
                            "cond": {"$eq": ["$$c.course", "$p.k"]},
                        }
                    },
                }
            },
            {
                "$addFields": {
                    "certified": {
                        "$gt": [
                            {
                                "$size": {
                                    "$filter": {
                                        "input": "$certs",
                                        "as": "c",
                                        "cond": {
                                            "$and": [
                                                _not_revoked("$$c.revoked"),
                                                {"$gt": ["$$c.expires", now]},
                                            ]
                                        },
                                    }
                                }
                            },
                            0,
                        ]
                    },
                    "last_activity": {"$ifNull": ["$last_inbound_at", "$started_at"]},
                }
            },
            {
                "$addFields": {
                    "status": {
                        "$switch": {
                            "branches": [
                                {
                                    "case": {
                                        "$and": [
                                            {"$ne": ["$completed_at", None]},
                                            {"$gt": [{"$size": "$certs"}, 0]},
                                            {"$eq": ["$certified", False]},
                                        ]
                                    },
                                    "then": "expired",
                                },
                                {"case": {"$ne": ["$completed_at", None]}, "then": "completed"},
                                {"case": "$opted_out", "then": "opted_out"},
                                {"case": {"$eq": ["$started_at", None]}, "then": "not_started"},
                                {
                                    "case": {"$lt": ["$last_activity", now - OVERDUE_AFTER]},
                                    "then": "overdue",
                                },
                            ],
                            "default": "in_progress",
                        }
                    }
                }
            },
        ]
        return stages

    def learner_rows(
        self,
        now: datetime,
        course: str | None = None,
        status: str | None = None,
        role: str | None = None,
        manager: str | None = None,
        channel: str | None = None,
        search: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Learner × course rows for the learner table, the API and exports."""
        match: dict[str, Any] = {}
        for name, value in (("status", status), ("role", role), ("manager", manager)):
            if value:
                match[name] = value
        if channel:
            match["channel"] = channel
        if search:
            pattern = re.escape(search.strip())
            match["$or"] = [
                {"name": {"$regex": pattern, "$options": "i"}},
                {"key": {"$regex": pattern, "$options": "i"}},
            ]
        stages = self._row_stages(now, course)
        if match:
            stages.append({"$match": match})
        stages += [
            {"$project": {"certs": 0, "attempts": 0, "completed_ids": 0}},
            {"$sort": {"name": 1, "key": 1, "course": 1}},
            {"$limit": limit},
        ]
        return list(self.learners.aggregate(stages))

    # --- overview -----------------------------------------------------------------------

    def course_report(self, course: Course, now: datetime) -> CourseReport:
        """Enrolment, completion, activity, time to complete, quiz passes and the funnel."""
        ids = [s.id for s in course.sessions]
        stages = self._row_stages(now, course.id)
        stages.append(
            {
                "$facet": {
                    "totals": [
                        {
                            "$group": {
                                "_id": None,
                                "enrolled": {"$sum": 1},
                                "in_training": _count(
                                    {
                                        "$and": [
                                            {"$ne": ["$started_at", None]},
                                            {"$eq": ["$completed_at", None]},
                                        ]
                                    }
                                ),
                                "completed": _count({"$ne": ["$completed_at", None]}),
                                "active_today": _count(
                                    {"$gte": ["$last_inbound_at", now - timedelta(days=1)]}
                                ),
                                "active_7d": _count(
                                    {"$gte": ["$last_inbound_at", now - timedelta(days=7)]}
                                ),
                                "durations": {
                                    "$push": {
                                        "$cond": [
                                            {"$ne": ["$completed_at", None]},
                                            {"$subtract": ["$completed_at", "$started_at"]},
                                            None,
                                        ]
                                    }
                                },
                            }
                        }
                    ],
                    "funnel": [
                        {
                            "$project": {
                                "reach": {
                                    "$max": {
                                        "$map": {
                                            "input": {
                                                "$setUnion": [
                                                    "$completed_ids",
                                                    [{"$ifNull": ["$current", ""]}],
                                                ]
                                            },
                                            "as": "s",
                                            "in": {"$indexOfArray": [ids, "$$s"]},
                                        }
                                    }
                                }
                            }
                        },
                        {"$group": {"_id": "$reach", "n": {"$sum": 1}}},
                    ],
                    "first_attempts": self._first_attempt_stages(),
                }
            }
        )
        result = next(iter(self.learners.aggregate(stages)), {})
        totals = (result.get("totals") or [{}])[0]
        furthest = {row["_id"]: row["n"] for row in result.get("funnel", [])}
        funnel = [
            {
                "number": i + 1,
                "session": s.id,
                "title": s.title,
                "reached": sum(
                    n for reach, n in furthest.items() if reach is not None and reach >= i
                ),
            }
            for i, s in enumerate(course.sessions)
        ]
        firsts = (result.get("first_attempts") or [{}])[0]
        enrolled = totals.get("enrolled", 0)
        completed = totals.get("completed", 0)
        return CourseReport(
            course=course.id,
            title=course.title,
            enrolled=enrolled,
            in_training=totals.get("in_training", 0),
            completed=completed,
            completion_rate=_rate(completed, enrolled),
            active_today=totals.get("active_today", 0),
            active_7d=totals.get("active_7d", 0),
            median_days_to_complete=_median_days(totals.get("durations", [])),
            first_attempt_pass_rate=_rate(firsts.get("passed", 0), firsts.get("quizzes", 0)),
            funnel=funnel,
        )

    @staticmethod
    def _first_attempt_stages() -> list[dict]:
        """Per (learner, session quiz): did the first attempt pass? Then the share."""
        return [
            {"$unwind": {"path": "$attempts", "includeArrayIndex": "i"}},
            {"$sort": {"i": 1}},
            {
                "$group": {
                    "_id": {"key": "$key", "session": "$attempts.session"},
                    "passed": {"$first": "$attempts.passed"},
                }
            },
            {
                "$group": {
                    "_id": None,
                    "quizzes": {"$sum": 1},
                    "passed": _count({"$eq": ["$passed", True]}),
                }
            },
        ]

    def overview(self, catalog: Catalog, now: datetime) -> list[CourseReport]:
        """One report per served course."""
        return [self.course_report(course, now) for course in catalog.courses]

    # --- content analytics --------------------------------------------------------------

    def quiz_items(self, course: Course) -> list[dict[str, Any]]:
        """Per quiz question: answers, share correct and the most chosen wrong option."""
        rows = self.learners.aggregate(
            [
                {"$match": {f"progress.{course.id}.attempts": {"$exists": True}}},
                {"$unwind": f"$progress.{course.id}.attempts"},
                {"$project": {"a": f"$progress.{course.id}.attempts"}},
                {"$unwind": "$a.answers"},
                {
                    "$group": {
                        "_id": {
                            "session": "$a.session",
                            "question": "$a.answers.question",
                            "choice": "$a.answers.choice",
                            "correct": "$a.answers.correct",
                        },
                        "n": {"$sum": 1},
                    }
                },
            ]
        )
        items: dict[tuple, dict[str, Any]] = {}
        for row in rows:
            key = row["_id"]
            item = items.setdefault(
                (key.get("session"), key.get("question")),
                {
                    "session": key.get("session"),
                    "question": key.get("question"),
                    "answers": 0,
                    "correct": 0,
                    "wrong": {},
                },
            )
            item["answers"] += row["n"]
            if key.get("correct") is True:
                item["correct"] += row["n"]
            else:
                choice = str(key.get("choice"))
                item["wrong"][choice] = item["wrong"].get(choice, 0) + row["n"]
        questions = {(s.id, q.id): q for s in course.sessions for q in s.quiz}
        result = []
        for item in items.values():
            wrong = item.pop("wrong")
            item["share_correct"] = _rate(item["correct"], item["answers"])
            item["top_wrong"] = max(wrong, key=wrong.get) if wrong else None
            question = questions.get((item["session"], item["question"]))
            item["prompt"] = question.prompt if question else ""
            item["top_wrong_text"] = _option_text(question, item["top_wrong"])
            result.append(item)
        return sorted(result, key=lambda i: (str(i["session"]), str(i["question"])))

    def questions(self, course: Course, per_session: int = 20) -> dict[str, list[dict]]:
        """Questions learners asked, by session id of this course (newest first)."""
        ids = [s.id for s in course.sessions]
        rows = self.learners.aggregate(
            [
                {"$project": {"h": {"$objectToArray": {"$ifNull": ["$history", {}]}}}},
                {"$unwind": "$h"},
                {"$match": {"h.k": {"$in": ids}}},
                {"$unwind": "$h.v"},
                {
                    "$project": {
                        "session": "$h.k",
                        "question": "$h.v.question",
                        "answer": "$h.v.answer",
                        "at": "$h.v.at",
                    }
                },
                {"$sort": {"at": -1}},
            ]
        )
        asked: dict[str, list[dict]] = {}
        for row in rows:
            if row.get("question"):
                bucket = asked.setdefault(row["session"], [])
                if len(bucket) < per_session:
                    bucket.append(row)
        return asked

    # --- certification ------------------------------------------------------------------

    def certification(self, course: Course, now: datetime) -> dict[str, Any]:
        """Certification rate by role and manager, expiring certificates, gaps, time to
        competency for one course."""
        by: dict[str, list[dict]] = {}
        for dimension in ("role", "manager"):
            rows = self.learners.aggregate(
                [
                    {
                        "$lookup": {
                            "from": "certificates",
                            "localField": "_id",
                            "foreignField": "learner",
                            "as": "certs",
                        }
                    },
                    {
                        "$group": {
                            "_id": {"$ifNull": [f"$profile.{dimension}", ""]},
                            "learners": {"$sum": 1},
                            "certified": _count(
                                {
                                    "$gt": [
                                        {
                                            "$size": {
                                                "$filter": {
                                                    "input": "$certs",
                                                    "as": "c",
                                                    "cond": _valid_cert("c", course.id, now),
                                                }
                                            }
                                        },
                                        0,
                                    ]
                                }
                            ),
                        }
                    },
                    {"$sort": {"_id": 1}},
                ]
            )
            by[dimension] = [
                {
                    dimension: r["_id"],
                    "learners": r["learners"],
                    "certified": r["certified"],
                    "rate": _rate(r["certified"], r["learners"]),
                }
                for r in rows
            ]
        return {
            "course": course.id,
            "by_role": by["role"],
            "by_manager": by["manager"],
            "expiring": self.expiring(course.id, now),
            "gaps": self.gaps(course),
            "median_days_to_certificate": self._time_to_competency(course.id),
        }

    def expiring(self, course_id: str, now: datetime) -> dict[str, Any]:
        """Valid certificates expiring within 30 / 60 / 90 days, with their holders."""
        horizon = now + timedelta(days=max(EXPIRY_WINDOWS))
        rows = list(
            self.certificates.aggregate(
                [
                    {"$match": {"course": course_id, "expires": {"$gt": now, "$lte": horizon}}},
                    {"$match": {"$expr": _not_revoked("$revoked")}},
                    {
                        "$lookup": {
                            "from": "learners",
                            "localField": "learner",
                            "foreignField": "_id",
                            "as": "who",
                        }
                    },
                    {
                        "$project": {
                            "code": "$_id",
                            "learner": 1,
                            "expires": 1,
                            "name": {"$ifNull": [{"$arrayElemAt": ["$who.name", 0]}, ""]},
                        }
                    },
                    {"$sort": {"expires": 1}},
                ]
            )
        )
        for row in rows:
            row["days_left"] = (row["expires"] - now).days
        counts = {
            f"within_{days}": sum(1 for r in rows if r["expires"] <= now + timedelta(days=days))
            for days in EXPIRY_WINDOWS
        }
        return {**counts, "certificates": rows}

    def gaps(self, course: Course) -> list[dict[str, Any]]:
        """Learners whose role requires this course (`required_for_roles`) who have not
        completed it."""
        roles = [str(r) for r in course.settings.get("required_for_roles") or ()]
        if not roles:
            return []
        return list(
            self.learners.aggregate(
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
        """Median days from enrolment to the (first) certificate."""
        rows = self.certificates.aggregate(
            [
                {"$match": {"course": course_id}},
                {
                    "$lookup": {
                        "from": "learners",
                        "localField": "learner",
                        "foreignField": "_id",
                        "as": "who",
                    }
                },
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
        return _median_days(r["ms"] for r in rows)

    # --- exports ------------------------------------------------------------------------

    def learner_list(self) -> list[dict[str, Any]]:
        """One row per learner: identity, profile and the courses they are enrolled in."""
        return list(
            self.learners.aggregate(
                [
                    {
                        "$project": {
                            "_id": 0,
                            "key": "$_id",
                            "name": {"$ifNull": ["$name", ""]},
                            "channel": {"$ifNull": ["$channel", ""]},
                            "role": {"$ifNull": ["$profile.role", ""]},
                            "manager": {"$ifNull": ["$profile.manager", ""]},
                            "timezone": {"$ifNull": ["$profile.timezone", ""]},
                            "opted_out": {"$eq": [{"$ifNull": ["$opted_out", False]}, True]},
                            "active_course": {"$ifNull": ["$active_course", None]},
                            "courses": {
                                "$map": {
                                    "input": {"$objectToArray": {"$ifNull": ["$progress", {}]}},
                                    "as": "p",
                                    "in": "$$p.k",
                                }
                            },
                            "last_inbound_at": {"$ifNull": ["$last_inbound_at", None]},
                        }
                    },
                    {"$sort": {"name": 1, "key": 1}},
                ]
            )
        )

    def attempts(self, course_id: str | None = None) -> list[dict[str, Any]]:
        """Every quiz attempt as a flat row (learner, course, session, score, passed, at)."""
        stages: list[dict] = [
            {"$project": {"name": 1, "p": {"$objectToArray": {"$ifNull": ["$progress", {}]}}}},
            {"$unwind": "$p"},
        ]
        if course_id:
            stages.append({"$match": {"p.k": course_id}})
        stages += [
            {"$unwind": "$p.v.attempts"},
            {
                "$project": {
                    "_id": 0,
                    "learner": "$_id",
                    "name": {"$ifNull": ["$name", ""]},
                    "course": "$p.k",
                    "session": "$p.v.attempts.session",
                    "score": "$p.v.attempts.score",
                    "passed": "$p.v.attempts.passed",
                    "at": "$p.v.attempts.at",
                }
            },
            {"$sort": {"learner": 1, "course": 1, "at": 1}},
        ]
        return list(self.learners.aggregate(stages))

    def certificate_rows(self, course_id: str | None = None) -> list[dict[str, Any]]:
        """Every certificate with its holder's name."""
        stages: list[dict] = [{"$match": {"course": course_id}}] if course_id else []
        stages += [
            {
                "$lookup": {
                    "from": "learners",
                    "localField": "learner",
                    "foreignField": "_id",
                    "as": "who",
                }
            },
            {
                "$project": {
                    "_id": 0,
                    "code": "$_id",
                    "learner": 1,
                    "name": {"$ifNull": [{"$arrayElemAt": ["$who.name", 0]}, ""]},
                    "course": 1,
                    "issued": 1,
                    "expires": 1,
                    "revoked": {"$ifNull": ["$revoked", None]},
                }
            },
            {"$sort": {"issued": 1}},
        ]
        return list(self.certificates.aggregate(stages))


def _option_text(question: Any, choice: str | None) -> str:
    """The wording of a 1-based option number, when the question still has it."""
    if question is None or choice is None or not choice.isdigit():
        return ""
    number = int(choice)
    return question.options[number - 1] if 1 <= number <= len(question.options) else ""
