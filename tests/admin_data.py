"""A known data set for the admin tests: 3 learners in the demo course (one finished, one on
session 3, one not started) plus a certificate, seeded straight into the store."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.store import Store
from tests.conftest import T0

NOW = T0 + timedelta(days=10)


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
    store.learners.insert_many(
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
                        attempts=[
                            {
                                "session": "s2",
                                "at": T0 + timedelta(days=1),
                                "score": 50,
                                "passed": False,
                                "answers": [{"question": "q1", "choice": 1, "correct": False}],
                            },
                            {
                                "session": "s2",
                                "at": T0 + timedelta(days=1, minutes=5),
                                "score": 100,
                                "passed": True,
                                "answers": [{"question": "q1", "choice": 2, "correct": True}],
                            },
                        ],
                    )
                },
                "history": {"s2": [{"question": "What is a Gold partner?", "answer": "A tier."}]},
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
    store.events.insert_one(
        {"at": NOW - timedelta(hours=2), "learner": ada, "channel": "whatsapp", "text": "menu"}
    )
    store.deliveries.insert_many(
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
    store.db["certificates"].insert_one(
        {
            "_id": "CERT-ADA",
            "learner": "whatsapp:+15550000001",
            "course": "demo",
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
        "required_for_roles: [installer, sales]\n",
        encoding="utf-8",
    )
    for i in range(1, 5):
        (folder / f"0{i}-s{i}.md").write_text(
            f"---\ntitle: Topic {i}\n---\nBody of topic {i}. Word{i} appears here.\n",
            encoding="utf-8",
        )
    return root
