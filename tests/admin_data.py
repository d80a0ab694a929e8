"""A known data set for the admin tests: 3 learners in the demo course (one finished, one on
session 3, one not started) plus a question asked and a certificate, seeded straight into
the store in the shapes the quiz engine (`flows.state.to_doc`), the assistant
(`Store.log_question`) and `bot.certificates` write. tests/test_reports_live.py checks the
reports on data that real conversations wrote."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.store import Store
from tests.conftest import T0

NOW = T0 + timedelta(days=10)
ADA_CERT = "ADAL-0VEL-ACE2-2026"


def _attempt(number: int, at: datetime, picked: str, correct: bool) -> dict[str, Any]:
    """One finished attempt at the quiz of s2 (one question, q1)."""
    return {
        "session_id": "s2",
        "number": number,
        "kind": "quiz",
        "asked": [{"question_id": "q1", "options": ["5%", "10%"]}],
        "answers": [
            {
                "question_id": "q1",
                "given": picked,
                "picked": [picked],
                "correct": correct,
                "at": at,
                "seconds": 12.0,
                "late": False,
                "skipped": False,
                "grading": "exact",
            }
        ],
        "status": "passed" if correct else "failed",
        "started_at": at - timedelta(seconds=12),
        "asked_at": at - timedelta(seconds=12),
        "finished_at": at,
        "pass_mark": 80.0,
        "time_limit": None,
        "advance": True,
        "then": None,
    }


def _progress(current, completed, started, finished=None, **extra) -> dict[str, Any]:
    return {
        "current": current,
        "completed": completed,
        "started_at": started,
        "completed_at": finished,
        "seconds": {},
        **extra,
    }


def seed(store: Store, now: datetime = NOW) -> None:
    """Ada finished (certified), Grace is on session 3, <script> has not started; times are
    relative to `now` (enrolments start ten days before it)."""
    T0 = now - timedelta(days=10)
    NOW = now
    store.learners.collection.insert_many(
        [
            {
                "_id": "whatsapp:+15550000001",
                "name": "Ada Lovelace",
                "channel": "whatsapp",
                "version": 5,
                "seq": 0,
                "outbox": [],
                "processed": [],
                "profile": {"role": "installer", "manager": "Maria"},
                "active_course": "demo",
                "last_inbound_at": NOW - timedelta(hours=2),
                "progress": {
                    "demo": _progress(
                        "s4",
                        ["s1", "s2", "s3", "s4"],
                        T0,
                        T0 + timedelta(days=2),
                        quizzes=[
                            _attempt(1, T0 + timedelta(days=1), "5%", False),
                            _attempt(2, T0 + timedelta(days=1, minutes=5), "10%", True),
                        ],
                        reviews=[],
                        quiz_blocked=[],
                    )
                },
            },
            {
                "_id": "slack:T1:U2",
                "name": "Grace Hopper",
                "channel": "slack",
                "version": 3,
                "seq": 0,
                "outbox": [],
                "processed": [],
                "profile": {"role": "sales", "manager": "Maria"},
                "active_course": "demo",
                "last_inbound_at": NOW - timedelta(days=3),
                "progress": {"demo": _progress("s3", ["s1", "s2"], T0 + timedelta(days=1))},
            },
            {
                "_id": "whatsapp:+15550000003",
                "name": "<script>alert(1)</script>",
                "channel": "whatsapp",
                "version": 0,
                "seq": 0,
                "outbox": [],
                "processed": [],
                "profile": {"role": "installer", "manager": "Omar"},
                "progress": {"demo": _progress(None, [], None)},
            },
        ]
    )
    ada = "whatsapp:+15550000001"
    store.events.collection.insert_one(
        {"at": NOW - timedelta(hours=2), "learner": ada, "channel": "whatsapp", "text": "menu"}
    )
    store.deliveries.collection.insert_many(
        [
            {
                "learner": ada,
                "channel": "whatsapp",
                "seq": 1,
                "reply": {"text": "📚 **Session 4: Topic 4**", "buttons": [], "media": []},
                "status": "sent",
                "at": NOW - timedelta(hours=2),
            },
            {
                "learner": ada,
                "channel": "whatsapp",
                "seq": 2,
                "reply": {"text": "Reminder: <b>keep going</b>", "buttons": [], "media": []},
                "status": "failed",
                "error": "63016: outside the 24 h window",
                "at": NOW - timedelta(hours=1),
            },
        ]
    )
    store.log_question(
        {
            "at": T0 + timedelta(days=1),
            "learner": ada,
            "course": "demo",
            "session": "s2",
            "question": "What is a Gold partner?",
            "answer": "A tier.",
            "mode": "passage",
            "reason": "no_key",
        }
    )
    store.db["certificates"].insert_one(
        {
            "_id": ADA_CERT,
            "code": ADA_CERT,
            "learner": ada,
            "name": "Ada Lovelace",
            "course": "demo",
            "course_title": "Demo Course",
            "title": "Demo Certificate",
            "completed_at": T0 + timedelta(days=2),
            "issued": T0 + timedelta(days=2),
            "expires": NOW + timedelta(days=20),
            "revoked": None,
        }
    )


def write_course(root: Path) -> Path:
    """The 4-session `demo` course as files (sessions s1..s4), required for two roles."""
    folder = root / "demo"
    folder.mkdir(parents=True)
    (folder / "course.yaml").write_text(
        "title: Demo Course\n"
        "description: A demo.\n"
        "enroll: ['start demo training']\n"
        "required_for_roles: [installer, sales]\n"
        "reminders: {after_hours: [24, 72]}\n",
        encoding="utf-8",
    )
    for i in range(1, 5):
        (folder / f"0{i}-s{i}.md").write_text(
            f"---\ntitle: Topic {i}\n---\nBody of topic {i}. Word{i} appears here.\n",
            encoding="utf-8",
        )
    return root
