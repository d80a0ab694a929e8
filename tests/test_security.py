"""Hostile input at the edges: forged webhooks, path traversal on the media route, what
reaches the logs, and the per-IP limit on requests that fail signature verification."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
from twilio.request_validator import RequestValidator

from bot.channels.whatsapp import STATUS_PATH, WEBHOOK_PATH
from bot.guard import FailureLimiter, Limits
from tests.conftest import SAMPLE
from tests.fakes.twilio_api import FakeTwilio
from tests.harness import ACCOUNT, PUBLIC, TOKEN, Served, message, phone

SECRET = "SECRET=do-not-serve-0123456789"
ADA = phone(12345678)


@pytest.fixture
def fake(twilio_fake: FakeTwilio) -> FakeTwilio:
    """conftest's `twilio_fake`, by this module's name for it."""
    return twilio_fake


@pytest.fixture
def bot(fake: FakeTwilio) -> Served:
    return Served(fake)


def status_callback(sid: str = "SM" + "1" * 32) -> dict[str, str]:
    return {"MessageSid": sid, "MessageStatus": "delivered", "To": ADA, "AccountSid": ACCOUNT}


def nothing_stored(bot: Served) -> bool:
    return all(
        collection.count_documents({}) == 0
        for collection in (
            bot.store.learners.collection,
            bot.store.events.collection,
            bot.store.deliveries.collection,
        )
    )


def forgeries(path: str, params: dict[str, str], genuine: str) -> dict[str, dict[str, str]]:
    """Every way a request can fail Twilio's signature check, as headers to send."""
    validator = RequestValidator(TOKEN)
    older = {**params, "Body": "an earlier message", "MessageSid": "SM" + "7" * 32}
    return {
        "missing": {},
        "empty": {"X-Twilio-Signature": ""},
        "garbage": {"X-Twilio-Signature": "not base64 at all ✗"},
        "wrong token": {
            "X-Twilio-Signature": RequestValidator("guessed").compute_signature(
                PUBLIC + path, params
            )
        },
        "other URL": {
            "X-Twilio-Signature": validator.compute_signature("http://localhost" + path, params)
        },
        "other query": {
            "X-Twilio-Signature": validator.compute_signature(PUBLIC + path + "?x=1", params)
        },
        "stale (an older message's)": {
            "X-Twilio-Signature": validator.compute_signature(PUBLIC + path, older)
        },
        "truncated": {"X-Twilio-Signature": genuine[:-4]},
        "case changed": {"X-Twilio-Signature": genuine.swapcase()},
        "wrong header": {"X-Twilio-Signature-Fake": genuine},
    }


@pytest.mark.parametrize("path", [WEBHOOK_PATH, STATUS_PATH])
def test_every_forged_signature_is_refused_and_nothing_is_stored(bot: Served, path: str):
    params = message(1, ADA, "I am a new partner") if path == WEBHOOK_PATH else status_callback()
    genuine = bot.sign(path, params)
    client = bot.client()
    refused = {}
    for name, headers in forgeries(path, params, genuine).items():
        refused[name] = client.post(path, data=params, headers=headers).status_code
        # a captured genuine signature replayed on other content
    tampered = {**params, "Body": "restart", "MessageStatus": "failed"}
    refused["replayed on new content"] = client.post(
        path, data=tampered, headers={"X-Twilio-Signature": genuine}
    ).status_code
    with_extra = {**params, "Extra": "1"}
    refused["extra field"] = client.post(
        path, data=with_extra, headers={"X-Twilio-Signature": genuine}
    ).status_code
    assert refused == dict.fromkeys(refused, 403)
    assert nothing_stored(bot) and bot.fake.requests == 0


def test_an_exact_replay_of_a_signed_message_changes_nothing(bot: Served):
    params = message(1, ADA, "I am a new partner")
    for _ in range(5):
        assert bot.post(params).status_code == 200
    doc = bot.store.load(ADA) or {}
    assert doc["version"] == 1 and len(bot.fake.messages) == 2
    assert bot.store.events.collection.count_documents({}) == 1


# --- the media route ----------------------------------------------------------------------------


@pytest.fixture
def exposed(fake: FakeTwilio, tmp_path: Path) -> Served:
    """Secrets where a careless deployment might leave them: next to the content, inside a
    course, inside its media folder, and in the working directory's .env."""
    content = tmp_path / "content"
    shutil.copytree(SAMPLE, content)
    for place in (tmp_path, content, content / "partner-onboarding", tmp_path / ".git"):
        place.mkdir(exist_ok=True)
        (place / ".env").write_text(SECRET)
        (place / "config").write_text(SECRET)
    (content / "partner-onboarding" / "media" / ".env").write_text(SECRET)
    return Served(fake, CONTENT_DIR=str(content))


TRAVERSALS = [
    ".env",
    "../.env",
    "../../.env",
    "../../../.env",
    "../course.yaml",
    "..%2f.env",
    "..%2F..%2F.env",
    "%2e%2e/%2e%2e/.env",
    "%2e%2e%2f%2e%2e%2f.env",
    "..%252f..%252f.env",
    "....//....//.env",
    "..\\..\\.env",
    "..%5c..%5c.env",
    "%2fetc%2fpasswd",
    "/etc/passwd",
    "./.env",
    "x/../../.env",
    ".%2e/.env",
    "%00.env",
    ".env%00.png",
    "..;/.env",
    ".git/config",
]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_the_media_route_never_serves_secrets(exposed: Served, name: str):
    client = exposed.client()
    for url in (
        f"/media/partner-onboarding/media/{name}",
        f"/media/{name}/media/x.png",
        f"/media/partner-onboarding/{name}",
        f"/media/..%2f..%2f/media/{name}",
    ):
        response = client.get(url, follow_redirects=True)  # werkzeug merges "//" by redirect
        assert SECRET.encode() not in response.data, url
        assert response.status_code in (400, 404), (url, response.status_code)


def test_the_media_route_still_serves_media(exposed: Served):
    media = next((SAMPLE / "partner-onboarding" / "media").iterdir()).name
    response = exposed.client().get(f"/media/partner-onboarding/media/{quote(media)}")
    assert response.status_code == 200 and response.data


# --- logs ---------------------------------------------------------------------------------------


def test_logs_never_hold_phone_numbers_tokens_or_message_bodies(fake: FakeTwilio, log_lines):
    bot = Served(fake)
    private = "my salary is 123456 naira and my PIN is 9911"
    bot.post(message(1, ADA, "I am a new partner"))
    bot.post(message(2, ADA, private))
    bot.post(message(2, ADA, private))  # a duplicate: logged
    fake.fail(400, code=21211)  # Twilio refuses a number: logged with the learner
    bot.post(message(3, ADA, "next"))
    bot.client().post(WEBHOOK_PATH, data=message(4, ADA, private))  # unsigned: logged
    bot.post({**message(5, "sms:" + ADA[9:], private)})  # unsupported sender: logged
    bot.post(status_callback("SM" + "2" * 32), path=STATUS_PATH)  # unknown message: logged
    lines = [json.loads(line) for line in log_lines().splitlines()]  # JSON, one per event
    assert len(lines) >= 5 and all(line["request_id"] for line in lines)
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    digits = ADA.split("+")[1]
    for secret in (digits, digits[-9:], TOKEN, ACCOUNT, private, "salary", "9911"):
        assert secret not in text, secret
    assert "…5678" in text  # masked, still useful to an operator


# --- per-IP limiting ----------------------------------------------------------------------------


def test_forged_floods_from_one_address_get_429_genuine_requests_never(bot: Served, caplog):
    params = message(1, ADA, "I am a new partner")
    client = bot.client()
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    codes = [
        client.post(
            WEBHOOK_PATH, data=params, headers={"X-Twilio-Signature": "x"}, environ_base=attacker
        ).status_code
        for _ in range(40)
    ]
    assert codes[:20] == [403] * 20 and codes[20:] == [429] * 20
    assert caplog.text.count("answering 429") == 1  # one line, not one per request
    assert caplog.text.count("refused /webhooks/whatsapp") == 20
    signed = {"X-Twilio-Signature": bot.sign(WEBHOOK_PATH, params)}
    # Twilio posting from the same (shared) address is never limited
    assert (
        client.post(WEBHOOK_PATH, data=params, headers=signed, environ_base=attacker).status_code
        == 200
    )
    other = {"REMOTE_ADDR": "198.51.100.7"}
    assert (
        client.post(
            WEBHOOK_PATH, data=params, headers={"X-Twilio-Signature": "x"}, environ_base=other
        ).status_code
        == 403
    )


def test_the_failure_limit_is_per_address_and_shared_by_every_worker():
    """Two limiters on one storage (two gunicorn workers on one MongoDB) count together,
    so a flood spread over workers is limited as one; another address has its own budget."""
    shared = Limits()
    one, two = FailureLimiter(shared, rate="2/minute"), FailureLimiter(shared, rate="2/minute")
    assert [one.failed("a"), two.failed("a"), one.failed("a"), two.failed("a")] == [
        False,
        False,
        True,
        True,
    ]
    assert two.failed("b") is False
    assert FailureLimiter(Limits(), rate="2/minute").failed("a") is False  # other storage


def test_behind_a_proxy_the_limit_is_per_client_address(fake: FakeTwilio):
    """With TRUSTED_PROXY_HOPS=1 the address is the one the proxy saw (X-Forwarded-For);
    without it every request seems to come from the proxy and shares one budget."""
    params = message(1, ADA, "hello")
    for hops, expected in (("1", [403, 403]), ("0", [403, 429])):
        bot = Served(fake, TRUSTED_PROXY_HOPS=hops)
        bot.services.guard = FailureLimiter(rate="1/minute")
        codes = [
            bot.client()
            .post(
                WEBHOOK_PATH,
                data=params,
                headers={"X-Twilio-Signature": "x", "X-Forwarded-For": address},
            )
            .status_code
            for address in ("203.0.113.1", "203.0.113.2")
        ]
        assert codes == expected, hops


def test_a_learner_flooding_the_webhook_gets_one_slow_down_and_no_state_change(bot: Served):
    """More than 30 messages a minute from one learner: Twilio still gets 200 (no retries),
    the learner gets one "slow down" reply, and the rest changes nothing."""
    codes = [bot.post(message(n, ADA, "help")).status_code for n in range(40)]
    assert codes == [200] * 40
    sent = [m["Body"][0] for m in bot.fake.messages]
    assert sum("a lot of messages" in body for body in sent) == 1
    assert len(sent) == 31
    doc = bot.store.load(ADA) or {}
    assert doc["version"] == 31 and len(doc["processed"]) == 31
