"""xAPI 1.0.3 statements derived from a learner's state (issue 20).

A learner's document already keeps every learning event: when they enrolled
(`progress.started_at`), the sessions they were on, every quiz attempt with every answer,
when they completed a course; the `certificates` collection keeps what they earned. So the
statements are *derived* from that state, never built from a turn's diff: deriving twice
gives the same statements with the same ids (UUIDv5 of the event), which is what makes the
queue in `bot/xapi_queue.py` unable to lose or duplicate one. Nothing here does I/O.

The actor is an account on `PUBLIC_BASE_URL` named by an opaque id (a UUIDv5 of the
learner key under a random salt kept in the store), so no statement, id or registration
carries a phone number, a Slack id or an e-mail address, and the ids cannot be reversed by
hashing every phone number; phone numbers and e-mail addresses in written answers are
masked as in the logs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from bot.observability import redact
from flows.course import Catalog, Course
from flows.state import FINAL, QUIZ, QUIZ_FAILED, QUIZ_PASSED, Learner, QuizAttempt

VERSION = "1.0.3"
NAMESPACE = uuid.UUID("5b0d3c5e-6a4e-4f52-9d0b-7a1c2e9f4b11")  # Trainbot's xAPI namespace
ADL = "http://adlnet.gov/expapi/verbs/"
VERBS = {
    "registered": ADL + "registered",
    "experienced": ADL + "experienced",
    "answered": ADL + "answered",
    "passed": ADL + "passed",
    "failed": ADL + "failed",
    "completed": ADL + "completed",
    "earned": "http://id.tincanapi.com/verb/earned",
}
COURSE = "http://adlnet.gov/expapi/activities/course"
MODULE = "http://adlnet.gov/expapi/activities/module"
ASSESSMENT = "http://adlnet.gov/expapi/activities/assessment"
INTERACTION = "http://adlnet.gov/expapi/activities/cmi.interaction"
CERTIFICATE = "http://id.tincanapi.com/activitytype/certificate"
INTERACTION_TYPES = {"single": "choice", "multi": "choice", "true_false": "true-false"}


def opaque_id(salt: str, key: str) -> str:
    """The learner's name in every statement: stable per install, meaningless outside it."""
    return str(uuid.uuid5(NAMESPACE, f"{salt}:{key}"))


def registration(learner_id: str, course_id: str) -> str:
    """One learner's registration in one course (xAPI `context.registration`)."""
    return str(uuid.uuid5(NAMESPACE, f"{learner_id}/registration/{course_id}"))


def _time(value: datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Statements:
    """Builds one learner's statements; `base` is PUBLIC_BASE_URL (the activity ids and
    the account's home page live under it)."""

    def __init__(self, base: str, learner_id: str) -> None:
        self.base = base.rstrip("/")
        self.learner_id = learner_id

    def all(
        self,
        learner: Learner,
        catalog: Catalog,
        certificates: Iterable[Mapping[str, Any]],
        now: datetime,
    ) -> list[dict[str, Any]]:
        """Every statement the learner's state accounts for. `now` stamps the only event
        the state keeps no time for (a session first seen); the queue keeps the first
        stamp, so a statement once queued never changes."""
        found: list[dict[str, Any]] = []
        for course_id, progress in learner.progress.items():
            course = catalog.get(course_id)
            if progress.started_at is not None:
                found.append(
                    self._make(
                        f"registered/{course_id}",
                        "registered",
                        course_id,
                        course,
                        self._course(course_id, course),
                        progress.started_at,
                    )
                )
            seen = [*progress.completed, *progress.seconds]
            if progress.current:
                seen.append(progress.current)
            for session_id in dict.fromkeys(seen):
                found.append(
                    self._make(
                        f"experienced/{course_id}/{session_id}",
                        "experienced",
                        course_id,
                        course,
                        self._session(course_id, course, session_id),
                        now,
                    )
                )
            for attempt in progress.quizzes:
                found.extend(self._attempt(course_id, course, attempt))
            if progress.completed_at is not None:
                stamp = _time(progress.completed_at)
                found.append(
                    self._make(
                        f"completed/{course_id}/{stamp}",
                        "completed",
                        course_id,
                        course,
                        self._course(course_id, course),
                        progress.completed_at,
                        {"completion": True},
                    )
                )
        for cert in certificates:
            course_id = str(cert["course"])
            course = catalog.get(course_id)
            target = self._activity(
                f"/courses/{course_id}/certificate", CERTIFICATE, str(cert.get("title") or "")
            )
            found.append(
                self._make(
                    f"earned/{course_id}/{cert['code']}",
                    "earned",
                    course_id,
                    course,
                    target,
                    cert["issued"],
                    {"completion": True},
                )
            )
        return found

    def _attempt(
        self, course_id: str, course: Course | None, attempt: QuizAttempt
    ) -> list[dict[str, Any]]:
        """A quiz, final exam or review attempt: one `answered` per answer, then `passed` /
        `failed` (with the scaled score) when a quiz or final exam is over."""
        tag = f"{course_id}/{attempt.session_id}/{attempt.kind}/{attempt.number}"
        found = []
        for answer in attempt.answers:
            question = self._question(course_id, course, attempt.session_id, answer.question_id)
            # a written answer may quote a phone number or an e-mail address: masked
            response = "[,]".join(answer.picked) if answer.picked else redact(answer.given)
            result = {"response": response, "success": answer.correct}
            found.append(
                self._make(
                    f"answered/{tag}/{answer.question_id}",
                    "answered",
                    course_id,
                    course,
                    question,
                    answer.at,
                    result,
                )
            )
        over = attempt.status in (QUIZ_PASSED, QUIZ_FAILED) and attempt.kind in (QUIZ, FINAL)
        if over:
            total = len(attempt.asked) or len(attempt.answers) or 1
            result = {
                "success": attempt.status == QUIZ_PASSED,
                "completion": True,
                "score": {
                    "scaled": round(attempt.score / total, 4),
                    "raw": attempt.score,
                    "min": 0,
                    "max": total,
                },
            }
            quiz = self._activity(
                f"/courses/{course_id}/sessions/{attempt.session_id}/quiz",
                ASSESSMENT,
                self._session_title(course, attempt.session_id),
            )
            found.append(
                self._make(
                    f"{attempt.status}/{tag}",
                    attempt.status,
                    course_id,
                    course,
                    quiz,
                    attempt.finished_at or attempt.started_at,
                    result,
                )
            )
        return found

    # --- activities ---------------------------------------------------------------------

    def _activity(self, path: str, kind: str, name: str, **more: Any) -> dict[str, Any]:
        definition: dict[str, Any] = {"type": kind, **more}
        if name:
            definition["name"] = {"en": name}
        return {"objectType": "Activity", "id": self.base + path, "definition": definition}

    def _course(self, course_id: str, course: Course | None) -> dict[str, Any]:
        return self._activity(f"/courses/{course_id}", COURSE, course.title if course else "")

    @staticmethod
    def _session_title(course: Course | None, session_id: str) -> str:
        session = course.session_by_id(session_id) if course else None
        return session.title if session else ""

    def _session(self, course_id: str, course: Course | None, session_id: str) -> dict[str, Any]:
        return self._activity(
            f"/courses/{course_id}/sessions/{session_id}",
            MODULE,
            self._session_title(course, session_id),
        )

    def _question(
        self, course_id: str, course: Course | None, session_id: str, question_id: str
    ) -> dict[str, Any]:
        """A question activity; the final exam draws from every session, so its questions
        are found wherever they live."""
        found = next(
            (q for s in (course.sessions if course else ()) for q in s.quiz if q.id == question_id),
            None,
        )
        kind = INTERACTION_TYPES.get(found.kind, "long-fill-in") if found else "other"
        return self._activity(
            f"/courses/{course_id}/sessions/{session_id}/questions/{question_id}",
            INTERACTION,
            found.prompt if found else "",
            interactionType=kind,
        )

    # --- the statement ------------------------------------------------------------------

    def _make(
        self,
        event: str,
        verb: str,
        course_id: str,
        course: Course | None,
        target: dict[str, Any],
        at: datetime | None,
        result: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One statement; its id is the UUIDv5 of the learner's opaque id and the event."""
        language = str(course.settings.get("language") or "en") if course else "en"
        context: dict[str, Any] = {
            "registration": registration(self.learner_id, course_id),
            "platform": "Trainbot",
            "language": language,
        }
        if target["id"] != f"{self.base}/courses/{course_id}":
            context["contextActivities"] = {"parent": [self._course(course_id, course)]}
        statement: dict[str, Any] = {
            "id": str(uuid.uuid5(NAMESPACE, f"{self.learner_id}/{event}")),
            "actor": {
                "objectType": "Agent",
                "account": {"homePage": self.base, "name": self.learner_id},
            },
            "verb": {"id": VERBS[verb], "display": {"en-US": verb}},
            "object": target,
            "context": context,
            "version": VERSION,
        }
        if at is not None:
            statement["timestamp"] = _time(at)
        if result is not None:
            statement["result"] = result
        return statement
