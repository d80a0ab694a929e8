"""The Flask app: health, media, and the simulator's JSON API, including bad requests."""

from __future__ import annotations

import time
from pathlib import Path

import pymongo
import pytest

from bot.config import Config
from bot.store import Store
from bot.web import create_app
from tests.conftest import fresh_data_dir


@pytest.fixture
def app(config: Config):
    return create_app(config)


@pytest.fixture
def client(app):
    return app.test_client()


def wait_for(client, learner: str, count: int, timeout: float = 5.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        messages = client.get(f"/simulator/api/messages?learner={learner}").get_json()
        if len(messages) >= count or time.monotonic() > deadline:
            return messages
        time.sleep(0.02)


def test_healthz_reports_store_and_courses(client):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok"
    assert body["store"]["ok"] is True and body["store"]["embedded"] is True
    assert body["store"]["backend"] == "embedded" and body["store"]["durable"] is True
    assert {c["id"] for c in body["courses"]} == {"partner-onboarding", "sales-basics"}
    assert body["content_errors"] == 0


def test_healthz_is_503_when_the_store_is_unreachable(app):
    dead = pymongo.MongoClient("mongodb://127.0.0.1:1/", serverSelectionTimeoutMS=100)
    app.extensions["trainbot"].store = Store(dead)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"


def test_simulator_conversation(client):
    assert client.get("/simulator").status_code == 200
    courses = client.get("/simulator/api/courses").get_json()
    assert courses[0]["phrase"]
    sent = client.post(
        "/simulator/api/send", json={"learner": "ada1", "name": "Ada", "text": "I am a new partner"}
    )
    assert sent.get_json() == {"status": "ok"}
    welcome, session = wait_for(client, "ada1", 2)
    assert "Welcome, Ada" in welcome["html"]
    assert "<strong>Session 1: Welcome to Solaro</strong>" in session["html"]
    assert [b["payload"] for b in session["buttons"]] == ["next", "menu"]
    client.post("/simulator/api/send", json={"learner": "ada1", "payload": "next"})
    messages = wait_for(client, "ada1", 3)
    assert "Session 2: The three Solaro kits" in messages[2]["html"]
    assert '<img src="/media/partner-onboarding/media/kit-comparison.png"' in messages[2]["html"]
    later = client.get("/simulator/api/messages?learner=ada1&after=2").get_json()
    assert [m["seq"] for m in later] == [3]


def test_simulator_escapes_what_learners_type(client):
    client.post(
        "/simulator/api/send",
        json={"learner": "x1", "name": "<b>Eve</b>", "text": "I am a new partner"},
    )
    welcome = wait_for(client, "x1", 1)[0]["html"]
    assert "<b>Eve</b>" not in welcome and "&lt;b&gt;Eve&lt;/b&gt;" in welcome


def test_same_message_id_twice_is_one_message(client):
    body = {"learner": "d1", "text": "I am a new partner", "message_id": "abc"}
    assert client.post("/simulator/api/send", json=body).get_json()["status"] == "ok"
    assert client.post("/simulator/api/send", json=body).get_json()["status"] == "duplicate"
    assert len(wait_for(client, "d1", 3, timeout=0.5)) == 2


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("not json", 400),
        ([1, 2], 400),
        ({"text": "hi"}, 400),
        ({"learner": "../../etc", "text": "hi"}, 400),
        ({"learner": "a" * 65, "text": "hi"}, 400),
        ({"learner": "ok", "text": 5}, 400),
        ({"learner": "ok", "payload": ["next"]}, 400),
        ({"learner": "ok", "text": "x" * 4001}, 413),
    ],
)
def test_simulator_rejects_bad_requests(client, body, status):
    if isinstance(body, str):
        response = client.post("/simulator/api/send", data=body, content_type="text/plain")
    else:
        response = client.post("/simulator/api/send", json=body)
    assert response.status_code == status


def test_oversized_request_is_refused(client):
    response = client.post(
        "/simulator/api/send", data=b"x" * (2 * 1024 * 1024), content_type="application/json"
    )
    assert response.status_code == 413


def test_messages_api_validates_arguments(client):
    assert client.get("/simulator/api/messages").status_code == 400
    assert client.get("/simulator/api/messages?learner=a&after=-1").status_code == 400


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/media/partner-onboarding/media/kit-comparison.png", 200),
        ("/media/partner-onboarding/course.yaml", 404),
        ("/media/partner-onboarding/media/../course.yaml", 404),
        ("/media/partner-onboarding/media/..%2fcourse.yaml", 404),
        ("/media/partner-onboarding/media/%2e%2e/%2e%2e/pyproject.toml", 404),
        ("/media/unknown/media/x.png", 404),
        ("/media/partner-onboarding/media/missing.png", 404),
    ],
)
def test_media_is_served_only_from_media_folders(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    if status == 200:
        assert response.mimetype == "image/png"


def test_simulator_can_be_switched_off():
    app = create_app(Config.from_env({"SIMULATOR": "off"}, dotenv=None))
    assert app.test_client().get("/simulator").status_code == 404


def test_the_root_leads_to_the_simulator_or_the_admin(client, config):
    """Issue 17: `/` was a 404 for whoever opened the printed address."""
    assert client.get("/").headers["Location"].endswith("/simulator")
    hidden = create_app(
        config.replace(simulator=False, data_dir=Path(fresh_data_dir()))
    ).test_client()
    assert hidden.get("/").headers["Location"].endswith("/admin")
