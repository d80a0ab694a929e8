"""The web simulator cannot be used to flood the bot (issue 16).

On main it was on by default on every address, with no limits: 20,000 anonymous learners
in 120 s took the admin overview from 44 ms to 22 s, and each deeply nested JSON body was
a 500 with a 2.2 KB traceback in the logs.
"""

from __future__ import annotations

import pytest

from bot.channels import web as web_channel
from bot.config import Config
from bot.web import create_app
from tests.conftest import fresh_data_dir

SEND = "/simulator/api/send"


@pytest.fixture
def client(config: Config):
    return create_app(config).test_client()


def send(client, learner: str, text: str = "help", address: str = "198.51.100.1"):
    return client.post(
        SEND, json={"learner": learner, "text": text}, environ_base={"REMOTE_ADDR": address}
    )


def test_the_simulator_is_off_unless_enabled():
    """Regression (issue 16): on main `create_app()` with no settings served it to all."""
    assert (
        create_app(Config.from_env({}, dotenv=None)).test_client().get("/simulator").status_code
        == 404
    )
    on = create_app(
        Config.from_env({"SIMULATOR": "on", "DATA_DIR": fresh_data_dir()}, dotenv=None)
    ).test_client()
    assert on.get("/simulator").status_code == 200


def test_deeply_nested_json_is_a_400_without_a_traceback(client, log_lines):
    """Regression (issue 16): RecursionError in the JSON parser → 500 and a traceback."""
    body = "[" * 100_000 + "]" * 100_000
    for deep in (body[:30_000], '{"learner": "a", "text": ' + "[" * 5000 + "]" * 5000 + "}"):
        response = client.post(SEND, data=deep, content_type="application/json")
        assert response.status_code in (400, 413)
    response = client.post(SEND, data=body, content_type="application/json")
    assert response.status_code == 413
    assert "Traceback" not in log_lines() and "RecursionError" not in log_lines()


def test_new_learners_are_limited_per_address(client):
    """Regression (issue 16): one address could create any number of learners."""
    codes = [send(client, f"spray{n}").status_code for n in range(25)]
    assert codes == [200] * 20 + [429] * 5
    assert send(client, "spray0").status_code == 200  # known learners go on learning
    assert send(client, "fresh", address="198.51.100.2").status_code == 200


def test_new_learners_are_limited_in_total(client, monkeypatch):
    """Many addresses (a botnet, or IPv6 rotation) still meet the total limit."""
    monkeypatch.setattr(web_channel, "LEARNERS_TOTAL", "5 per hour")
    codes = [send(client, f"l{n}", address=f"203.0.113.{n}").status_code for n in range(8)]
    assert codes == [200] * 5 + [429] * 3
    assert client.get("/admin").status_code == 401  # nothing else changes


def test_messages_are_limited_per_address(client):
    codes = [send(client, "chatty").status_code for _ in range(65)]
    assert codes == [200] * 60 + [429] * 5
    assert send(client, "calm", address="198.51.100.9").status_code == 200
