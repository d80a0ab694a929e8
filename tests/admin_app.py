"""Build the whole app on a temporary demo course, seeded with the known data set."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flask import Flask

from bot.config import Config
from bot.services import Services, build_services
from bot.web import create_app
from tests.admin_data import seed, write_course
from tests.conftest import fresh_data_dir
from tests.fakes.recording_sender import RecordingSender

TOKEN = "s3cret-admin-token"


def make_app(tmp_path: Path, token: str = TOKEN) -> tuple[Flask, Services, RecordingSender]:
    """The real app (web simulator, admin, API) with the three seeded learners."""
    config = Config.from_env(
        {
            "CONTENT_DIR": str(write_course(tmp_path / "content")),
            "ADMIN_TOKEN": token,
            "SIMULATOR": "on",
            "DATA_DIR": fresh_data_dir(),
        },
        dotenv=None,
    )
    sender = RecordingSender()
    services = build_services(config, {"web": sender, "whatsapp": sender, "slack": sender})
    seed(services.store, datetime.now(UTC))
    app = create_app(config, services)
    app.config["TESTING"] = True
    return app, services, sender
