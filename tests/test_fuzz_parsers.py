"""Hypothesis on the Twilio and Slack parsers with *signed* requests (issue 16).

The signature stops strangers, not odd input: a proxy bug, a replayed test payload or a
leaked secret can sign anything. Invariants, for every generated request: never a 5xx or
a traceback, and a learner is only ever created under a well-formed key
(`whatsapp:+<E.164 in ASCII digits>`, `slack:<team id>:<user id>`).
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.whatsapp import STATUS_PATH
from bot.guard import FailureLimiter
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilio
from tests.harness import ACCOUNT, TOKEN, Served
from tests.test_slack import TEAM, USER, dm, envelope, make_bot
from tests.test_slack import TOKEN as SLACK_TOKEN

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
WHATSAPP_KEY = re.compile(r"whatsapp:\+[1-9][0-9]{6,14}")
SLACK_KEY = re.compile(r"slack:[A-Z0-9]{2,32}:[A-Z0-9]{2,32}")

text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=60)
# digits from several scripts, the shapes the parser must refuse or normalise
digits = st.sampled_from("0123456789٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹０１２３４５６７８９१२३")
numbers = st.text(digits, min_size=0, max_size=20) | st.text(digits, min_size=300, max_size=5000)
addresses = st.builds(
    lambda prefix, plus, number, noise: f"{prefix}{plus}{number}{noise}",
    st.sampled_from(["whatsapp:", "WhatsApp:", "sms:", "", "whatsapp: ", "whatsapp:whatsapp:"]),
    st.sampled_from(["+", "", "++", "＋"]),
    numbers,
    st.sampled_from(["", " ", "-", "\u200b", "\n", "(0)", "\x00"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
slack_ids = st.sampled_from([TEAM, USER, "", "t0team", "T0 TEAM", "T٠TEAM"]) | json_values


def learners(store) -> list[str]:
    return [doc["_id"] for doc in store.learners.collection.find({}, {"_id": 1})]


# --- Twilio --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def twilio():
    with FakeTwilio(ACCOUNT, TOKEN) as fake:
        served = Served(fake)
        served.services.guard = FailureLimiter(rate="1000000/minute")
        yield served


@FUZZ
@given(sender=addresses, num_media=numbers | text, body=text, n=st.integers(0, 10**9))
def test_signed_twilio_messages_never_fail_or_make_odd_learners(twilio, sender, num_media, body, n):
    params = {
        "MessageSid": f"SM{n:032d}",
        "From": sender,
        "To": "whatsapp:+14155238886",
        "Body": body,
        "NumMedia": num_media,
        "ProfileName": body,
    }
    response = twilio.post(params)
    assert response.status_code in (200, 400), (response.status_code, params)
    assert b"Traceback" not in response.data
    for key in learners(twilio.store):
        assert WHATSAPP_KEY.fullmatch(key), key


@FUZZ
@given(code=numbers | text, state=text, to=addresses, n=st.integers(0, 10**9))
def test_signed_twilio_status_callbacks_never_fail(twilio, code, state, to, n):
    params = {"MessageSid": f"SM{n:032d}", "MessageStatus": state, "ErrorCode": code, "To": to}
    response = twilio.post(params, path=STATUS_PATH)
    assert response.status_code in (204, 400), (response.status_code, params)
    for key in learners(twilio.store):
        assert WHATSAPP_KEY.fullmatch(key), key


# --- Slack ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slack():
    api = FakeSlackAPI(token=SLACK_TOKEN, team_id=TEAM).start()
    api.add_user(USER, display_name="Ada", real_name="Ada Lovelace")
    bot = make_bot(api)
    bot.services.guard = FailureLimiter(rate="1000000/minute")
    yield bot
    api.stop()


def _mutate(base: dict, changes: dict) -> dict:
    out = dict(base)
    for key, value in changes.items():
        if value == "<delete>":
            out.pop(key, None)
        else:
            out[key] = value
    return out


field_changes = st.dictionaries(
    st.sampled_from(["team_id", "team", "user", "event", "authorizations", "type", "text"]),
    slack_ids | st.just("<delete>"),
    max_size=3,
)


@FUZZ
@given(changes=field_changes, event_changes=field_changes, whole=st.none() | json_values)
def test_signed_slack_events_never_fail_or_make_odd_learners(slack, changes, event_changes, whole):
    event = _mutate(dm("start sales training"), event_changes)
    body = whole if whole is not None else _mutate(envelope(event), changes)
    response = slack.post("/slack/events", json.dumps(body), "application/json")
    assert response.status_code < 500, (response.status_code, body)
    for key in learners(slack.services.store):
        assert SLACK_KEY.fullmatch(key), key


payload_changes = st.dictionaries(
    st.sampled_from(["team", "user", "actions", "view", "container", "message", "type"]),
    slack_ids | st.just("<delete>"),
    max_size=3,
)


@FUZZ
@given(changes=payload_changes, raw=st.none() | text)
def test_signed_slack_interactions_never_fail_or_make_odd_learners(slack, changes, raw):
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": USER},
        "trigger_id": f"{time.time_ns()}.t",
        "actions": [{"action_id": "trainbot_nav_0", "value": "menu", "text": {"text": "Menu"}}],
        "container": {"type": "message", "message_ts": "1.2", "channel_id": "D0ADA"},
        "view": {"id": "V1", "callback_id": "trainbot_ask", "state": {"values": {}}},
    }
    encoded = raw if raw is not None else json.dumps(_mutate(payload, changes))
    body = urlencode({"payload": encoded})
    response = slack.post("/slack/events", body, "application/x-www-form-urlencoded")
    assert response.status_code < 500, (response.status_code, encoded)
    for key in learners(slack.services.store):
        assert SLACK_KEY.fullmatch(key), key


@FUZZ
@given(team=text, user=text, command=text)
def test_signed_slash_commands_never_fail_or_make_odd_learners(slack, team, user, command):
    body = urlencode({"team_id": team, "user_id": user, "command": "/train", "text": command})
    response = slack.post("/slack/events", body, "application/x-www-form-urlencoded")
    assert response.status_code < 500, (response.status_code, body)
    for key in learners(slack.services.store):
        assert SLACK_KEY.fullmatch(key), key
