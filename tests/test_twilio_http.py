"""The urllib3 client under the real `twilio` REST client: what reaches Twilio (form body,
basic auth, base URL), the environment's proxy settings, and failures as urllib3 errors."""

from __future__ import annotations

import socket

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from bot.channels.twilio_http import NETWORK_ERRORS, TwilioHttp
from tests.fakes.twilio_api import FakeTwilio
from tests.harness import ACCOUNT, TOKEN

PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"


@pytest.fixture
def fake(twilio_fake: FakeTwilio) -> FakeTwilio:
    """conftest's `twilio_fake`, by this module's name for it."""
    return twilio_fake


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def send(http: TwilioHttp, **extra):
    client = Client(ACCOUNT, TOKEN, http_client=http)
    return client.messages.create(
        to="whatsapp:+15550001111", from_="whatsapp:+14155238886", body="Hi ✓ & more", **extra
    )


def test_a_message_reaches_the_base_url_signed_and_form_encoded(fake):
    message = send(TwilioHttp(fake.url), media_url=["https://a.example/1.png", "https://b/2"])

    assert message.sid and fake.targets == [PATH]  # basic auth checked by the fake
    (form,) = fake.messages
    assert form["Body"] == ["Hi ✓ & more"]
    assert form["MediaUrl"] == ["https://a.example/1.png", "https://b/2"]  # repeated keys


def test_twilio_errors_come_back_as_twilio_answers(fake):
    fake.fail(429, code=20429)
    with pytest.raises(TwilioRestException) as raised:
        send(TwilioHttp(fake.url))
    assert raised.value.status == 429 and raised.value.code == 20429


def test_the_environment_proxy_carries_the_calls(fake, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", fake.url)  # the fake answers as the proxy would

    send(TwilioHttp("http://twilio.invalid"))

    assert fake.targets == ["http://twilio.invalid" + PATH]  # absolute form: via the proxy


def test_no_proxy_bypasses_the_proxy(fake, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    send(TwilioHttp(fake.url))

    assert fake.targets == [PATH]


def test_network_failures_are_urllib3_errors_worth_retrying(fake):
    fake.drop()
    with pytest.raises(NETWORK_ERRORS):
        send(TwilioHttp(fake.url))
    with pytest.raises(NETWORK_ERRORS):
        send(TwilioHttp(f"http://127.0.0.1:{closed_port()}"))
    fake.hang(1.0)
    with pytest.raises(NETWORK_ERRORS):
        send(TwilioHttp(fake.url, timeout=0.2))


def test_the_fake_takes_no_message_from_a_request_cut_off_mid_body(fake: FakeTwilio):
    """A sender killed while writing its request (tests/test_production.py kills a worker)
    leaves half a body: Twilio creates no message from it, and neither does the fake."""
    host, port = fake.url.removeprefix("http://").split(":")
    auth = fake.auth.encode()
    head = f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 200\r\n".encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head + b"Authorization: " + auth + b"\r\n\r\nTo=whatsapp%3A%2B1555&Bo")
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(100) == b""  # closed unanswered
    assert fake.messages == []
