"""Correctly signed but odd requests on the WhatsApp and Slack webhooks (issue 16).

Each of these was a 500 with a traceback, or created a learner from a malformed address,
on main before issue 16; now each is refused (4xx) or ignored (200), never a 5xx, and no
learner key ever holds anything but the channel's own id shapes.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from bot.channels.whatsapp import WEBHOOK_PATH
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilio
from tests.harness import Served as WhatsApp
from tests.test_slack import TEAM, USER, Bot, dm, envelope, make_bot

# --- WhatsApp ------------------------------------------------------------------------------


@pytest.fixture
def wa(twilio_fake: FakeTwilio) -> WhatsApp:
    return WhatsApp(twilio_fake)


def test_num_media_with_5000_digits_is_not_a_500(wa: WhatsApp):
    """Regression (issue 16): `int()` of 5,000 digits raised ValueError → 500 on main."""
    response = wa.post_to(WEBHOOK_PATH, wa.message("I am a new partner", NumMedia="9" * 5000))
    assert response.status_code == 200
    assert wa.learner()["active_course"]


@pytest.mark.parametrize("sender", ["whatsapp:+1٥٥٥1234567", "whatsapp:+1555123456٧"])
def test_non_ascii_digits_in_from_are_refused(wa: WhatsApp, sender: str):
    """Regression (issue 16): on main `\\d` accepted Arabic-Indic digits, so
    `whatsapp:+1٥٥٥…` became a learner and a Twilio recipient."""
    response = wa.post_to(WEBHOOK_PATH, wa.message("I am a new partner", frm=sender))
    assert response.status_code == 400
    assert wa.store.learners.collection.count_documents({}) == 0


def test_non_ascii_digits_in_error_code_are_not_a_code(wa: WhatsApp):
    """Regression (issue 16): `"٦٣٠١٦".isdecimal()` is true and int() read it as 63016
    (outside the 24 h window), which marked the learner's window closed on main."""
    wa.say("I am a new partner")
    response = wa.status("SM" + "7" * 32, "failed", code="٦٣٠١٦")
    assert response.status_code == 204
    assert "window_closed_at" not in (wa.learner().get("whatsapp") or {})
    assert wa.status("SM" + "8" * 32, "failed", code="63016").status_code == 204
    assert "window_closed_at" in wa.learner()["whatsapp"]  # the ASCII code still works


# --- Slack ---------------------------------------------------------------------------------


@pytest.fixture
def slack(slack_fake: FakeSlackAPI) -> Bot:
    slack_fake.add_user(USER, display_name="Ada", real_name="Ada Lovelace")
    return make_bot(slack_fake)


def _form(payload: str) -> tuple[str, str]:
    return urlencode({"payload": payload}), "application/x-www-form-urlencoded"


def _json(value) -> tuple[str, str]:
    return json.dumps(value), "application/json"


def _action(actions, **extra) -> tuple[str, str]:
    body = {
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": USER},
        "trigger_id": "1.t",
        "actions": actions,
        **extra,
    }
    return _form(json.dumps(body))


def _view(state) -> tuple[str, str]:
    body = {
        "type": "view_submission",
        "team": {"id": TEAM},
        "user": {"id": USER},
        "view": {"id": "V1", "callback_id": "trainbot_ask", "state": state},
    }
    return _form(json.dumps(body))


ODD_SLACK = {
    "body is a JSON array": _json([1, 2, 3]),
    "body is a JSON string": _json("event_callback"),
    "body is null": _json(None),
    "event is a list": _json(envelope(dm("hi")) | {"event": [dm("hi")]}),
    "event is a string": _json(envelope(dm("hi")) | {"event": "message"}),
    "payload is not JSON": _form("{not json"),
    "body nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, "application/json"),
    "payload is a JSON list": _form("[1]"),
    "empty actions": _action([]),
    "actions is an object": _action({"value": "next"}),
    "view state is a list": _view([1]),
    "view state values is a string": _view({"values": "x"}),
    "team_id is an object": _json(
        envelope(dm("start sales training")) | {"team_id": {"x": 1}, "authorizations": []}
    ),
}


@pytest.mark.parametrize("name", list(ODD_SLACK))
def test_odd_signed_slack_payloads_are_never_a_5xx(slack: Bot, name: str):
    """Regression (issue 16): on main these were 500s (Bolt's parser or our listeners
    raising on a shape Slack never sends), or made a learner `slack:{'x': 1}:U…`."""
    body, content_type = ODD_SLACK[name]
    response = slack.post("/slack/events", body, content_type)
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    for doc in slack.services.store.learners.collection.find({}, {"_id": 1}):
        assert doc["_id"] == f"slack:{TEAM}:{USER}" or doc["_id"].count(":") == 2
        _, team, user = doc["_id"].split(":")
        assert team.isalnum() and team.isascii() and user.isalnum() and user.isascii()
