"""A learner's name is text, never Markdown (issue 16).

On main a WhatsApp ProfileName or simulator name such as `[Verify your account](https://evil.example)`
went into the welcome message as Markdown and rendered as a clickable link in the admin
timeline (and as a link in the learner's own chat).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from flows.events import Inbound
from tests.admin_app import make_app
from tests.test_admin import login

EVIL = "[Verify your account](https://evil.example/login)"


@pytest.fixture
def parts(tmp_path: Path):
    return make_app(tmp_path)


def _timeline(app, key: str) -> str:
    client = app.test_client()
    login(client)
    page = client.get(f"/admin/learners/{quote(key)}")
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_a_simulator_name_is_not_a_link_in_the_admin_timeline(parts):
    app, services, _ = parts
    phrase = services.library.current().courses[0].enroll[0]
    sent = app.test_client().post(
        "/simulator/api/send", json={"learner": "mallory", "text": phrase, "name": EVIL}
    )
    assert sent.status_code == 200
    html = _timeline(app, "web:mallory")
    assert "https://evil.example" in html  # shown, as text
    assert 'href="https://evil.example' not in html


def test_a_whatsapp_profile_name_is_not_a_link(parts):
    app, services, _ = parts
    phrase = services.library.current().courses[0].enroll[0]
    services.conversations.handle(
        Inbound(
            key="whatsapp:+15551234567",
            channel="whatsapp",
            text=phrase,
            name=EVIL,  # the adapter passes ProfileName through as the display name
            message_id="twilio-SM1",
        )
    )
    html = _timeline(app, "whatsapp:+15551234567")
    assert 'href="https://evil.example' not in html
    assert "Verify your account" in html
