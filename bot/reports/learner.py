"""One learner's page: enrolments with sessions, attempts and certificates, and a timeline."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.reports.common import (
    _EPOCH,
    ANSWER_MODES,
    _attempt_view,
    _aware,
    _session_ref,
)
from bot.reports.exports import Exports
from flows.course import Catalog


class LearnerPages(Exports):
    """The learner page (it lists the learner's certificates as the export does)."""

    # --- one learner ------------------------------------------------------------------

    def learner_page(
        self, doc: Mapping[str, Any], catalog: Catalog, now: datetime, limit: int = 100
    ) -> dict[str, Any]:
        """Everything the learner page shows: per course the sessions (with the questions
        asked in each), quiz attempts with every answer, and the certificate state; and a
        timeline, newest first, of messages received, replies (delivered, failed, queued;
        reminders marked), questions with how they were answered, and scheduled reminders."""
        key = doc["_id"]
        asked = self.store.questions.of_learner(key, limit)
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
        deliveries = self.store.deliveries.recent(key, limit)
        inbound = self.store.events.recent(key, limit)
        scheduled = self.store.jobs.waiting_for(key)
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
