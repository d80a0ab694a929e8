"""Operations: metrics, readiness, request ids in logs, redaction, flood protection."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

import pytest

from bot.observability import configure_logging, redact
from bot.web import create_app
from flows.ratelimit import LIMIT, admit
from flows.state import Learner
from tests.conftest import T0, fresh_data_dir


@pytest.fixture
def client(config):
    return create_app(config).test_client()


def test_metrics_count_messages_by_channel_and_status(config):
    client = create_app(config.replace(metrics_token="m3trics")).test_client()
    client.post("/simulator/api/send", json={"learner": "m1", "text": "I am a new partner"})
    client.post("/simulator/api/send", json={"learner": "m1", "text": "next", "message_id": "same"})
    client.post("/simulator/api/send", json={"learner": "m1", "text": "next", "message_id": "same"})
    text = client.get("/metrics", headers={"Authorization": "Bearer m3trics"}).get_data(
        as_text=True
    )
    assert 'trainbot_messages_in_total{channel="web",status="ok"}' in text
    assert 'trainbot_messages_in_total{channel="web",status="duplicate"}' in text
    assert "trainbot_outbox_learners_pending" in text
    assert "trainbot_handle_seconds_bucket" in text


def test_readyz(client, config, tmp_path):
    assert client.get("/readyz").get_json() == {"ready": True, "store": True, "courses": 2}
    empty = create_app(
        config.__class__.from_env(
            {"CONTENT_DIR": str(tmp_path), "DATA_DIR": fresh_data_dir()}, dotenv=None
        )
    )
    response = empty.test_client().get("/readyz")
    assert response.status_code == 503 and response.get_json()["courses"] == 0


def test_request_id_is_echoed_and_generated(client):
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"]
    assert len(generated) == 32


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("from whatsapp:+2348012345678 ok", "from whatsapp:…5678 ok"),
        ("mail ada@example.com", "mail …@example.com"),
        ("token xoxb-123-456-abcdef used", "token [token] used"),
        ("key sk-abcdefghijkl1234", "key [token]"),
        ("session 3 of 7", "session 3 of 7"),
    ],
)
def test_redaction(message, expected):
    assert redact(message) == expected


def test_json_log_lines_carry_request_id_and_are_redacted():
    stream = io.StringIO()
    configure_logging(json_lines=True)
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)
    try:
        from bot.observability import request_id

        token = request_id.set("req-9")
        logging.getLogger("t").info("hello %s", "+2348012345678")
        request_id.reset(token)
    finally:
        logging.getLogger().handlers.clear()
    line = json.loads(stream.getvalue().strip())
    assert line["request_id"] == "req-9" and line["level"] == "INFO"
    assert line["message"] == "hello …5678"


def test_flood_window():
    learner = Learner("k")
    now = T0
    for _ in range(LIMIT):
        admission = admit(learner, now)
        assert admission.verdict == "process"
        learner = admission.learner
    warned = admit(learner, now)
    assert warned.verdict == "warn" and "a lot of messages" in warned.outcome.replies[0].text
    assert admit(warned.learner, now + timedelta(seconds=5)).verdict == "drop"
    later = admit(warned.learner, now + timedelta(minutes=1))
    assert later.verdict == "process" and len(later.learner.recent) == 1


@pytest.mark.parametrize(
    "message",
    [
        "admin: wrong token from 203.0.113.9",
        "webhooks: 2001:db8::7001 is over 20/minute unverifiable requests",
        "nudge queued for 2026-11-29 15:35:05 UTC",
        "at 15:35:05.123, slack ts 1700000000.123456",
        "learner slack:…XM9A moved to session 12 of 14",
    ],
)
def test_redaction_keeps_addresses_and_times_readable(message):
    """Regression (issue 16): on main the phone pattern turned `203.0.113.7001` into
    `…7001` and `2026-11-29 15:35:05` into `…2915:35:05`: the source and the time of an
    attack could not be read from the logs."""
    assert redact(message) == message


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("to +1 (555) 123-4567 now", "to …4567 now"),
        ("WaId 2348012345678", "WaId …5678"),
        ("Authorization: Bearer s3cret-admin-token", "Authorization: Bearer [token]"),
        ("sign in at http://x/admin/signin/AbC-123_xyz", "sign in at http://x/admin/signin/[code]"),
    ],
)
def test_redaction_still_masks_phones_and_credentials(message, expected):
    assert redact(message) == expected
