"""Reports over learner documents written by real conversations (not hand-seeded)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.config import Config
from bot.reports import Reports
from bot.services import build_services
from flows.events import Inbound
from tests.admin_data import write_course
from tests.fakes.recording_sender import RecordingSender


def test_reports_read_what_conversations_write(tmp_path: Path) -> None:
    config = Config.from_env({"CONTENT_DIR": str(write_course(tmp_path))}, dotenv=None)
    services = build_services(config, {"web": RecordingSender()})
    said = iter(range(100))

    def say(key: str, text: str) -> None:
        services.conversations.handle(
            Inbound(key, "web", text=text, name=key[4:], message_id=f"m{next(said)}")
        )

    for text in ("start demo training", "next", "next", "next", "next"):
        say("web:finisher", text)
    for text in ("start demo training", "next"):
        say("web:starter", text)
    course = services.library.current().get("demo")
    report = Reports(services.store).course_report(course, datetime.now(UTC))
    assert (report.enrolled, report.in_training, report.completed) == (2, 1, 1)
    assert report.completion_rate == 50.0 and report.active_today == 2
    assert [f["reached"] for f in report.funnel] == [2, 2, 1, 1]
    rows = Reports(services.store).learner_rows(datetime.now(UTC), course="demo")
    assert {r["key"]: r["status"] for r in rows} == {
        "web:finisher": "completed",
        "web:starter": "in_progress",
    }
