"""Fuzzing the HTTP edges with Hypothesis: arbitrary bodies and headers against the Twilio
webhooks and the simulator API. Invariants: never a 5xx, never a traceback in the answer,
and an unsigned or wrongly signed webhook is always refused (403) with nothing stored."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.channels import web as web_channel
from bot.channels.whatsapp import STATUS_PATH, WEBHOOK_PATH
from bot.guard import FailureLimiter
from tests.fakes.twilio_api import FakeTwilio
from tests.harness import ACCOUNT, TOKEN, Served

FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TWILIO_FIELDS = [
    "MessageSid",
    "From",
    "To",
    "Body",
    "NumMedia",
    "ProfileName",
    "ButtonPayload",
    "ButtonText",
    "ListId",
    "ListTitle",
    "MessageStatus",
    "ErrorCode",
    "MediaUrl0",
    "MediaContentType0",
]
text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=300)
header_value = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80)
header_name = st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,30}\Z")
content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data",
        "application/json",
        "text/plain; charset=utf-16",
        "",
    ]
)
forms = st.dictionaries(st.sampled_from(TWILIO_FIELDS) | text, text, max_size=8)
sids = st.from_regex(r"\ASM[0-9a-f]{32}\Z")
phones = st.sampled_from(["whatsapp:+2348012345678", "whatsapp:+15550001111"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def bot():
    with FakeTwilio(ACCOUNT, TOKEN) as fake:
        served = Served(fake, SIMULATOR="on")
        served.services.guard = FailureLimiter(rate="1000000/minute")  # fuzzing is not a flood
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(web_channel, "MESSAGES_PER_IP", "1000000/minute")
            patch.setattr(web_channel, "LEARNERS_PER_IP", "1000000/minute")
            patch.setattr(web_channel, "LEARNERS_TOTAL", "1000000/minute")
            yield served


def clean(response) -> bool:
    return response.status_code < 500 and b"Traceback" not in response.data


@FUZZ
@given(
    path=st.sampled_from([WEBHOOK_PATH, STATUS_PATH]),
    body=st.binary(max_size=2000) | forms.map(lambda f: json.dumps(f).encode()),
    content_type=content_types,
    headers=st.dictionaries(header_name, header_value, max_size=6),
    signature=st.none() | header_value,
)
def test_unsigned_webhooks_are_always_refused(
    bot: Served, path, body, content_type, headers, signature
):
    headers = {k: v for k, v in headers.items() if k.lower() not in ("content-length", "host")}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    stored = (
        bot.store.events.collection.count_documents({}),
        bot.store.deliveries.collection.count_documents({}),
    )
    response = bot.client().post(path, data=body, content_type=content_type, headers=headers)
    assert response.status_code in (400, 403, 413), response.status_code
    assert clean(response)
    assert (
        bot.store.events.collection.count_documents({}),
        bot.store.deliveries.collection.count_documents({}),
    ) == (stored)


@FUZZ
@given(form=forms, sender=phones | text, body=text, sid=sids | text)
def test_signed_arbitrary_forms_never_fail(bot: Served, form, sender, body, sid):
    params = {"From": sender, "Body": body, "MessageSid": sid, **form}
    response = bot.post(params)
    assert response.status_code in (200, 400), (response.status_code, params)
    event("handled" if response.status_code == 200 else "refused")
    assert clean(response)
    status = bot.post({"MessageSid": sid, "MessageStatus": body, **form}, path=STATUS_PATH)
    assert status.status_code in (204, 400) and clean(status)


@FUZZ
@given(
    payload=json_values,
    raw=st.none() | st.binary(max_size=500),
    content_type=content_types,
)
def test_the_simulator_send_api_never_fails(bot: Served, payload, raw, content_type):
    data = raw if raw is not None else json.dumps(payload)
    response = bot.client().post(
        "/simulator/api/send", data=data, content_type=content_type or "application/json"
    )
    assert clean(response), response.status_code
    assert response.status_code in (200, 400, 409, 413, 415)


@FUZZ
@given(learner=text, after=text, extra=st.dictionaries(text, text, max_size=3))
def test_the_simulator_messages_api_never_fails(bot: Served, learner, after, extra):
    response = bot.client().get(
        "/simulator/api/messages", query_string={"learner": learner, "after": after, **extra}
    )
    assert clean(response) and response.status_code in (200, 400)
