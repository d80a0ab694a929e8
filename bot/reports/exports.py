"""Exports: learners, quiz attempts and certificates as rows (CSV and the API)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.reports.common import (
    CERTIFICATE_HOLDER,
    HOLDER_NAME,
    ReportsBase,
    _answer_text,
    _cert_status,
)
from flows.quiz import percent


class Exports(ReportsBase):
    """The export rows."""

    def learner_list(self, course_id: str | None = None) -> list[dict[str, Any]]:
        """One row per learner (enrolled in `course_id` when given): identity, profile and
        the courses they are enrolled in."""
        enrolled = [{"$match": {f"progress.{course_id}": {"$exists": True}}}] if course_id else []
        return list(
            self.learners.pipeline(
                [
                    *enrolled,
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
        rows = list(self.learners.pipeline(stages))
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
        return list(self.certificates.pipeline(stages))
