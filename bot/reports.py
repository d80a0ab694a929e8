"""Every admin figure, computed by MongoDB aggregation pipelines in this one module.

The overview page, the JSON API and `trainbot report` all call `Reports`, so they show the
same numbers. The pipelines use only operators that both real MongoDB and the embedded
store (mongomock-ng) evaluate the same way; a median is taken in Python because `$median`
needs MongoDB 7.

It reads what the other parts write (docs/admin.md has the field list), defensively, so a
missing field shows as "no data yet":
- quiz attempts: `progress.<course>.quizzes` (`flows.state.QuizAttempt` via `to_doc`);
- questions asked: the `questions` collection (`Store.log_question`), with the answer mode;
- certificates: the `certificates` collection (`bot.certificates`); a learner's certificate
  state is that of their newest one, as `Certificates.status_of` says.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.store import Store
from flows.course import Catalog, Course
from flows.quiz import find_question, percent
from flows.state import FINAL, QUIZ, QUIZ_FAILED, QUIZ_PASSED

STATUSES = ("not_started", "in_progress", "completed", "overdue", "opted_out", "expired")
OVERDUE_AFTER = timedelta(days=14)  # in training with no message for this long
EXPIRY_WINDOWS = (30, 60, 90)
FOREVER = datetime(9999, 12, 31, tzinfo=UTC)  # a certificate without `expires` never expires
GRADED = [QUIZ, FINAL]  # attempt kinds that count (spaced reviews are drills, not tests)
DECIDED = [QUIZ_PASSED, QUIZ_FAILED]  # active and abandoned attempts are not finished
LEARNER_CERTIFICATES = {  # pipeline stage: each learner's certificates as `certs`
    "$lookup": {
        "from": "certificates",
        "localField": "_id",
        "foreignField": "learner",
        "as": "certs",
    }
}
CERTIFICATE_HOLDER = {  # pipeline stage: a certificate's learner document as `who`
    "$lookup": {"from": "learners", "localField": "learner", "foreignField": "_id", "as": "who"}
}
HOLDER_NAME = {  # expression: the name of `CERTIFICATE_HOLDER`'s learner, or ""
    # Not `{"$arrayElemAt": ["$who.name", 0]}`: MongoDB maps a path over an array of
    # documents, but SecantusDB (the wire server of the tests) resolves it to nothing, which
    # blanked every holder's name; taking the document first means the same on both.
    "$ifNull": [{"$let": {"vars": {"who": {"$arrayElemAt": ["$who", 0]}}, "in": "$$who.name"}}, ""]
}
ANSWER_MODES = {
    "model": "model answer",
    "passage": "course passage",
    "budget": "passage (daily budget used up)",
    "none": "nothing found",
    "empty": "empty question",
}
"""How the assistant answered (`mode` in `questions`), as the admin pages word it."""


def _not_revoked(path: str) -> dict:
    # `$not` on null misbehaves in mongomock; equality with false works on both backends.
    return {"$eq": [{"$ifNull": [path, False]}, False]}


def _newest(certs: Any) -> dict:
    """The most recently issued certificate of an array expression, or null."""
    return {
        "$reduce": {
            "input": certs,
            "initialValue": None,
            "in": {
                "$cond": [
                    {
                        "$or": [
                            {"$eq": ["$$value", None]},
                            {"$gt": ["$$this.issued", "$$value.issued"]},
                        ]
                    },
                    "$$this",
                    "$$value",
                ]
            },
        }
    }


def _cert_status(cert: str, now: datetime) -> dict:
    """`bot.certificates.status` as an expression: revoked, expired, valid (null: none)."""
    return {
        "$switch": {
            "branches": [
                {"case": {"$eq": [{"$ifNull": [cert, None]}, None]}, "then": None},
                {"case": {"$eq": [_not_revoked(f"{cert}.revoked"), False]}, "then": "revoked"},
                {
                    "case": {"$lte": [{"$ifNull": [f"{cert}.expires", FOREVER]}, now]},
                    "then": "expired",
                },
            ],
            "default": "valid",
        }
    }


def _of_course(certs: Any, course_id: Any) -> dict:
    return {"$filter": {"input": certs, "as": "c", "cond": {"$eq": ["$$c.course", course_id]}}}


def _first_learners(course_id: str | None, rows: int) -> list[dict[str, Any]]:
    """The learners that can hold the first `rows` rows in key order, when nothing but the
    course filters rows: only learners with a row (enrolled in the course, or in any), so each
    gives one at least; `rows + 1` of them, as the first (a page's cursor learner) may have
    none left. Without this, every page computed every learner's rows (10,000 learners in
    pages of 1,000: 38 s, quadratic in the walk)."""
    enrolled = {f"progress.{course_id}": {"$exists": True}} if course_id else {}
    return [
        {"$match": enrolled or {"progress": {"$nin": [None, {}]}}},
        {"$sort": {"_id": 1}},
        {"$limit": rows + 1},
    ]


def _count(condition: dict[str, Any] | str) -> dict[str, Any]:
    """`$sum` of 1 where `condition` (an expression, or a boolean field such as `"$valid"`)."""
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
    )  # [{number, session, title, reached, first_attempt_pass_rate}]

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
            LEARNER_CERTIFICATES,
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
                    "quiz_blocked": {"$size": {"$ifNull": ["$p.v.quiz_blocked", []]}},
                    "started_at": {"$ifNull": ["$p.v.started_at", None]},
                    "completed_at": {"$ifNull": ["$p.v.completed_at", None]},
                    "quizzes": {"$ifNull": ["$p.v.quizzes", []]},
                    "newest_cert": _newest(_of_course("$certs", "$p.k")),
                }
            },
            {
                "$addFields": {
                    "certificate": _cert_status("$newest_cert", now),
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
                                            {"$eq": ["$certificate", "expired"]},
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
        after: tuple[str, str] | None = None,
        by_key: bool = False,
    ) -> list[dict[str, Any]]:
        """Learner × course rows for the learner table, the API and exports. `by_key`: in
        (learner key, course) order, which never changes for a row, so the API's pages
        (`after`: past this key and course) neither skip nor repeat rows as learners come."""
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
        if by_key and not match:  # every learner left has a row: cut before the heavy stages
            stages[:0] = _first_learners(course, limit)
        if after is not None:
            stages.insert(0, {"$match": {"_id": {"$gte": after[0]}}})  # the index does most
            key, course_id = after
            past = [{"key": {"$gt": key}}, {"key": key, "course": {"$gt": course_id}}]
            match["$and"] = [{"$or": past}]
        if match:
            stages.append({"$match": match})
        order = {"key": 1, "course": 1} if by_key else {"name": 1, "key": 1, "course": 1}
        stages += [
            {"$project": {"newest_cert": 0, "quizzes": 0, "completed_ids": 0}},
            {"$sort": order},
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
        result: dict[str, Any] = next(iter(self.learners.aggregate(stages)), {})
        totals = (result.get("totals") or [{}])[0]
        furthest = {row["_id"]: row["n"] for row in result.get("funnel", [])}
        firsts = {row["_id"]: row for row in result.get("first_attempts", [])}
        funnel = [
            {
                "number": i + 1,
                "session": s.id,
                "title": s.title,
                "reached": sum(
                    n for reach, n in furthest.items() if reach is not None and reach >= i
                ),
                "first_attempt_pass_rate": _rate(
                    firsts.get(s.id, {}).get("passed", 0), firsts.get(s.id, {}).get("quizzes", 0)
                ),
            }
            for i, s in enumerate(course.sessions)
        ]
        passed = sum(row["passed"] for row in firsts.values())
        taken = sum(row["quizzes"] for row in firsts.values())
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
            first_attempt_pass_rate=_rate(passed, taken),
            funnel=funnel,
        )

    @staticmethod
    def _first_attempt_stages() -> list[dict]:
        """Per session: learners whose first attempt at its quiz (or final exam) is finished,
        and how many of those passed. Attempt number 1 is unique per learner and session
        (a reset keeps the attempts, so a retake after it is number 2 or more)."""
        return [
            {"$unwind": "$quizzes"},
            {
                "$match": {
                    "quizzes.number": 1,
                    "quizzes.kind": {"$in": GRADED},
                    "quizzes.status": {"$in": DECIDED},
                }
            },
            {
                "$group": {
                    "_id": "$quizzes.session_id",
                    "quizzes": {"$sum": 1},
                    "passed": _count({"$eq": ["$quizzes.status", QUIZ_PASSED]}),
                }
            },
        ]

    def overview(self, catalog: Catalog, now: datetime) -> list[CourseReport]:
        """One report per served course."""
        return [self.course_report(course, now) for course in catalog.courses]

    # --- content analytics --------------------------------------------------------------

    def quiz_items(self, course: Course) -> list[dict[str, Any]]:
        """Per quiz question: answers given in quizzes and final exams (spaced reviews
        excluded), the share correct and the most chosen wrong answer (by the option text
        the learner picked, which shuffling does not change)."""
        rows = self.learners.aggregate(
            [
                {"$match": {f"progress.{course.id}.quizzes": {"$exists": True}}},
                # Keep only what is grouped before unwinding: learner documents are large.
                {
                    "$project": {
                        "a": {
                            "$map": {
                                "input": f"$progress.{course.id}.quizzes",
                                "as": "q",
                                "in": {
                                    "kind": "$$q.kind",
                                    "session_id": "$$q.session_id",
                                    "answers": "$$q.answers",
                                },
                            }
                        }
                    }
                },
                {"$unwind": "$a"},
                {"$match": {"a.kind": {"$in": GRADED}}},
                {"$unwind": "$a.answers"},
                {
                    "$group": {
                        "_id": {
                            "question": "$a.answers.question_id",
                            "picked": {"$ifNull": ["$a.answers.picked", []]},
                            "skipped": {"$ifNull": ["$a.answers.skipped", False]},
                            "correct": "$a.answers.correct",
                            "session": "$a.session_id",
                        },
                        "n": {"$sum": 1},
                    }
                },
            ]
        )
        items: dict[str, dict[str, Any]] = {}
        for row in rows:
            key = row["_id"]
            found = find_question(course, key.get("question", ""))
            item = items.setdefault(
                key.get("question", ""),
                {
                    "session": found[0].id if found else key.get("session"),
                    "question": key.get("question", ""),
                    "prompt": found[1].prompt if found else "",
                    "answers": 0,
                    "correct": 0,
                    "wrong": {},
                },
            )
            item["answers"] += row["n"]
            if key.get("correct") is True:
                item["correct"] += row["n"]
                continue
            picked = " + ".join(str(p) for p in key.get("picked") or ())
            label = "(skipped)" if key.get("skipped") else picked or "(written answer)"
            item["wrong"][label] = item["wrong"].get(label, 0) + row["n"]
        order = {q.id: (n, i) for n, s in enumerate(course.sessions) for i, q in enumerate(s.quiz)}
        result = []
        for item in items.values():
            wrong = item.pop("wrong")
            top = max(sorted(wrong), key=wrong.get) if wrong else None
            item["share_correct"] = _rate(item["correct"], item["answers"])
            item["top_wrong"] = top
            item["top_wrong_count"] = wrong.get(top, 0) if top else 0
            result.append(item)
        return sorted(
            result, key=lambda i: (order.get(i["question"], (len(order), 0)), i["question"])
        )

    def questions(self, course: Course, per_session: int = 20) -> dict[str, dict[str, Any]]:
        """Questions learners asked, by session id of this course: how many, how they were
        answered (`mode` → count) and the newest `per_session` with their answers."""
        rows = self.store.questions.aggregate(
            [
                {"$match": {"course": course.id}},
                {"$sort": {"at": -1}},
                {
                    "$group": {
                        "_id": "$session",
                        "asked": {"$sum": 1},
                        "modes": {"$push": {"$ifNull": ["$mode", ""]}},
                        "recent": {
                            "$push": {
                                "question": "$question",
                                "answer": "$answer",
                                "mode": "$mode",
                                "at": "$at",
                                "learner": "$learner",
                            }
                        },
                    }
                },
                {
                    "$project": {
                        "asked": 1,
                        "modes": 1,
                        "recent": {"$slice": ["$recent", per_session]},
                    }
                },
            ]
        )
        asked: dict[str, dict[str, Any]] = {}
        for row in rows:
            modes: dict[str, int] = {}
            for mode in row["modes"]:
                modes[mode] = modes.get(mode, 0) + 1
            asked[row["_id"]] = {"asked": row["asked"], "modes": modes, "recent": row["recent"]}
        return asked

    # --- certification ------------------------------------------------------------------

    def certification(self, course: Course, now: datetime) -> dict[str, Any]:
        """Certification rate by role and manager (holders of a valid newest certificate of
        the course among all learners with that role / manager), expiring certificates,
        gaps, time to competency for one course."""
        dimensions = ("role", "manager")
        result = self.learners.aggregate(
            [
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
        return {
            "course": course.id,
            "by_role": by["role"],
            "by_manager": by["manager"],
            "expiring": self.expiring(course.id, now),
            "gaps": self.gaps(course),
            "median_days_to_certificate": self._time_to_competency(course.id),
        }

    def expiring(self, course_id: str, now: datetime) -> dict[str, Any]:
        """Newest certificates per learner (an older one a learner has since renewed does
        not count), not revoked, expiring within 30 / 60 / 90 days, with their holders."""
        horizon = now + timedelta(days=max(EXPIRY_WINDOWS))
        rows = list(
            self.certificates.aggregate(
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
        return _median_days(r["ms"] for r in rows)

    # --- one learner ------------------------------------------------------------------

    def learner_page(
        self, doc: Mapping[str, Any], catalog: Catalog, now: datetime, limit: int = 100
    ) -> dict[str, Any]:
        """Everything the learner page shows: per course the sessions (with the questions
        asked in each), quiz attempts with every answer, and the certificate state; and a
        timeline, newest first, of messages received, replies (delivered, failed, queued;
        reminders marked), questions with how they were answered, and scheduled reminders."""
        key = doc["_id"]
        asked = list(self.store.questions.find({"learner": key}).sort("at", -1).limit(limit))
        certificates = self.certificate_rows(now, learner=key)
        enrolments = []
        for course_id, progress in (doc.get("progress") or {}).items():
            course = catalog.get(course_id)
            sessions = course.sessions if course else ()
            enrolments.append(
                {
                    "id": course_id,
                    "title": course.title if course else f"{course_id} (no longer served)",
                    "progress": progress,
                    "sessions": [
                        {
                            "number": n,
                            "id": s.id,
                            "title": s.title,
                            "done": s.id in progress.get("completed", []),
                            "current": s.id == progress.get("current"),
                            "minutes": round((progress.get("seconds") or {}).get(s.id, 0) / 60, 1),
                            "questions": [
                                q
                                for q in asked
                                if q.get("course") == course_id and q.get("session") == s.id
                            ],
                        }
                        for n, s in enumerate(sessions, start=1)
                    ],
                    "attempts": [_attempt_view(course, a) for a in progress.get("quizzes") or ()],
                    "blocked": [
                        _session_ref(course, session_id)
                        for session_id in progress.get("quiz_blocked") or ()
                    ],
                    "reviews_waiting": len(progress.get("reviews") or ()),
                    "certificate": next(
                        (c["status"] for c in reversed(certificates) if c["course"] == course_id),
                        None,
                    ),
                }
            )
        deliveries = self.store.deliveries.find({"learner": key}).sort("seq", -1).limit(limit)
        inbound = self.store.events.find({"learner": key}).sort("at", -1).limit(limit)
        scheduled = self.store.db["jobs"].find(
            {"data.learner": key, "status": {"$in": ["pending", "running"]}}
        )
        timeline = [
            *(
                {
                    "at": d.get("at"),
                    "kind": "reminder" if (d.get("reply") or {}).get("proactive") else "out",
                    "status": d.get("status", ""),
                    "provider_status": d.get("provider_status"),
                    "reply": d.get("reply") or {},
                    "error": d.get("error"),
                }
                for d in deliveries
            ),
            *(
                {
                    "at": o.get("created_at"),
                    "kind": "reminder" if (o.get("reply") or {}).get("proactive") else "out",
                    "status": "queued",
                    "reply": o.get("reply") or {},
                    "error": o.get("error"),
                }
                for o in doc.get("outbox") or ()
            ),
            *({"at": e.get("at"), "kind": "in", "text": e.get("text", "")} for e in inbound),
            *(
                {
                    "at": q.get("at"),
                    "kind": "question",
                    "text": q.get("question", ""),
                    "answer": q.get("answer", ""),
                    "mode": ANSWER_MODES.get(q.get("mode", ""), q.get("mode", "")),
                }
                for q in asked
            ),
            *(
                {"at": j.get("due"), "kind": "scheduled", "text": j.get("kind", "")}
                for j in scheduled
            ),
        ]
        timeline.sort(key=lambda item: _aware(item["at"] or _EPOCH), reverse=True)
        return {
            "enrolments": enrolments,
            "timeline": timeline[: limit * 2],
            "certificates": certificates,
        }

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
        """Every quiz, final-exam and review attempt as a flat row: who, which session,
        kind and number, status, score (right answers) of the questions asked, the
        percentage, when, and each answer as `question: picked (right/wrong)`."""
        stages: list[dict] = [
            {"$project": {"name": 1, "p": {"$objectToArray": {"$ifNull": ["$progress", {}]}}}},
            {"$unwind": "$p"},
        ]
        if course_id:
            stages.append({"$match": {"p.k": course_id}})
        stages += [
            {"$unwind": "$p.v.quizzes"},
            {"$project": {"name": 1, "course": "$p.k", "a": "$p.v.quizzes"}},
            {
                "$project": {
                    "_id": 0,
                    "learner": "$_id",
                    "name": {"$ifNull": ["$name", ""]},
                    "course": 1,
                    "session": "$a.session_id",
                    "kind": "$a.kind",
                    "number": "$a.number",
                    "status": "$a.status",
                    "score": {
                        "$size": {
                            "$filter": {
                                "input": {"$ifNull": ["$a.answers", []]},
                                "as": "x",
                                "cond": {"$eq": ["$$x.correct", True]},
                            }
                        }
                    },
                    "questions": {"$size": {"$ifNull": ["$a.asked", []]}},
                    "started_at": {"$ifNull": ["$a.started_at", None]},
                    "finished_at": {"$ifNull": ["$a.finished_at", None]},
                    "answer_list": {"$ifNull": ["$a.answers", []]},
                }
            },
            {"$sort": {"learner": 1, "course": 1, "started_at": 1}},
        ]
        rows = list(self.learners.aggregate(stages))
        for row in rows:
            row["percent"] = percent(row["score"], row["questions"])
            row["answers"] = [_answer_text(a) for a in row.pop("answer_list")]
        return rows

    def certificate_rows(
        self, now: datetime, course_id: str | None = None, learner: str | None = None
    ) -> list[dict[str, Any]]:
        """Every certificate (of a course, of a learner) with its holder's name and its
        state (valid / expired / revoked, as `bot.certificates.status` says)."""
        wanted = {k: v for k, v in (("course", course_id), ("learner", learner)) if v}
        stages: list[dict] = [{"$match": wanted}] if wanted else []
        stages += [
            CERTIFICATE_HOLDER,
            {
                "$project": {
                    "_id": 0,
                    "code": "$_id",
                    "learner": 1,
                    "name": HOLDER_NAME,
                    "course": 1,
                    "title": {"$ifNull": ["$title", ""]},
                    "completed_at": {"$ifNull": ["$completed_at", None]},
                    "issued": 1,
                    "expires": {"$ifNull": ["$expires", None]},
                    "status": _cert_status("$$ROOT", now),
                    "revoked": {"$ifNull": ["$revoked", None]},
                    "revoked_reason": {"$ifNull": ["$revoked_reason", ""]},
                }
            },
            {"$sort": {"issued": 1}},
        ]
        return list(self.certificates.aggregate(stages))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _aware(value: datetime) -> datetime:
    """BSON datetimes come back naive from a client without `tz_aware`; they are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _given(answer: Mapping[str, Any]) -> str:
    """What a learner answered: the options picked (by their text), or the written text."""
    if answer.get("skipped"):
        return "(skipped)"
    picked = " + ".join(str(p) for p in answer.get("picked") or ())
    return picked or str(answer.get("given") or "")


def _answer_text(answer: Mapping[str, Any]) -> str:
    """One stored quiz answer as a line for exports: `question: picked (right|wrong)`."""
    verdict = "right" if answer.get("correct") else "wrong"
    return f"{answer.get('question_id', '')}: {_given(answer)} ({verdict})"


def _attempt_view(course: Course | None, attempt: Mapping[str, Any]) -> dict[str, Any]:
    """A stored quiz attempt for the learner page: each answer next to its question."""
    answers = []
    for answer in attempt.get("answers") or ():
        found = find_question(course, answer.get("question_id", "")) if course else None
        answers.append(
            {
                "prompt": found[1].prompt if found else answer.get("question_id", ""),
                "given": _given(answer),
                "correct": bool(answer.get("correct")),
                "late": bool(answer.get("late")),
            }
        )
    score = sum(1 for a in answers if a["correct"])
    total = len(attempt.get("asked") or ())
    session_id = attempt.get("session_id", "")
    return {
        "session": session_id,
        "number_in_course": course.number_of(session_id) if course else None,
        "kind": attempt.get("kind", QUIZ),
        "number": attempt.get("number", 1),
        "status": attempt.get("status", ""),
        "score": score,
        "questions": total,
        "percent": percent(score, total),
        "started_at": attempt.get("started_at"),
        "finished_at": attempt.get("finished_at"),
        "answers": answers,
    }


def _session_ref(course: Course | None, session_id: str) -> dict[str, Any]:
    """A session by id with its number and title (none when the course dropped it)."""
    session = course.session_by_id(session_id) if course else None
    return {
        "id": session_id,
        "number": course.number_of(session_id) if course and session else None,
        "title": session.title if session else "",
    }
