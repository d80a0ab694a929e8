"""What the figures share: statuses, pipeline stages and expressions, row helpers, and
the base every group of figures builds on."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.store import Store
from flows.course import Course
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


def _count(condition: dict[str, Any] | str) -> dict[str, Any]:
    """`$sum` of 1 where `condition` (an expression, or a boolean field such as `"$valid"`)."""
    return {"$sum": {"$cond": [condition, 1, 0]}}


def _median_seconds(values: Iterable[Any]) -> float | None:
    """Median of millisecond durations, in seconds (None without data)."""
    ms = [v for v in values if isinstance(v, int | float)]
    return round(statistics.median(ms) / 1000, 1) if ms else None


def _days(seconds: float | None) -> float | None:
    """Seconds in days to one decimal (the API's and CLI's figure); None stays None."""
    return None if seconds is None else round(seconds / 86_400, 1)


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


class ReportsBase:
    """What every group of figures reads: the store and its learners and certificates."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.learners = store.learners
        self.certificates = store.certificates


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
