"""The attack matrix of docs/hardening.md, measured: every row is run here against the
real app, and its counts (tried / refused / 5xx) must equal the documented ones.

"Refused" means the attack got nothing: a 4xx answer, the labelled passage instead of a
leaking model answer, or a name shown as text instead of a link. Requests a row allows by
design (the first 20 learners of an address) are counted as tried, not refused.
"""

from __future__ import annotations

import base64
import codecs
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.channels import web as web_channel
from bot.channels.whatsapp import WEBHOOK_PATH
from tests.admin_app import TOKEN, make_app
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilio
from tests.harness import Served as WhatsApp
from tests.test_odd_input import ODD_SLACK
from tests.test_security_assistant import ADA, QUESTION, Learners, prompt_fragments
from tests.test_slack import TEAM, USER, make_bot


@dataclass
class Row:
    tried: int = 0
    refused: int = 0
    errors: int = 0  # 5xx

    def count(self, status: int, refused: bool) -> None:
        self.tried += 1
        self.refused += refused
        self.errors += status >= 500

    def figures(self) -> tuple[int, int, int]:
        return self.tried, self.refused, self.errors


# docs/hardening.md, "Attack matrix": keep the two in step.
MATRIX = {
    "admin_without_credential": (70, 70, 0),
    "login_guessing": (30, 30, 0),
    "signin_links": (4, 4, 0),
    "metrics": (3, 3, 0),
    "media_files": (12, 12, 0),
    "simulator_spray_one_address": (200, 180, 0),
    "simulator_spray_many_addresses": (200, 150, 0),
    "simulator_message_flood": (200, 140, 0),
    "simulator_bodies": (8, 8, 0),
    "twilio_forged_flood": (100, 100, 0),
    "twilio_odd_signed": (8, 7, 0),
    "slack_forged_flood": (100, 100, 0),
    "slack_odd_signed": (13, 13, 0),
    "prompt_leak_disguises": (27, 27, 0),
    "markdown_names": (4, 4, 0),
}
MEASURED: dict[str, tuple[int, int, int]] = {}

ADMIN_PATHS = [
    "/admin",
    "/admin/learners",
    "/admin/learners/whatsapp:+2348012345678",
    "/admin/content",
    "/admin/certification",
    "/admin/languages",
    "/admin/audit",
    "/admin/import",
    "/admin/export/learners.csv",
    "/admin/export/learners.json",
    "/api/v1/courses",
    "/api/v1/courses/demo/report",
    "/api/v1/learners",
    "/api/v1/learners?status=overdue",
]
PROXY_HEADERS = [
    {},
    {"X-Real-IP": "203.0.113.9"},
    {"X-Real-IP": "127.0.0.1"},
    {"X-Forwarded-For": "127.0.0.1"},
    {"Forwarded": "for=127.0.0.1"},
]


def record(name: str, row: Row) -> None:
    MEASURED[name] = row.figures()
    assert row.figures() == MATRIX[name], (name, row.figures())


@pytest.fixture
def tokenless(tmp_path: Path):
    return make_app(tmp_path / "a", token="")


def test_admin_without_a_credential(tokenless):
    app, _, _ = tokenless
    client, row = app.test_client(), Row()
    for path in ADMIN_PATHS:
        for headers in PROXY_HEADERS:
            response = client.get(path, headers=headers)
            row.count(response.status_code, response.status_code == 401)
    record("admin_without_credential", row)


def test_login_guessing_and_links(tmp_path: Path):
    app, _, _ = make_app(tmp_path)
    client, row = app.test_client(), Row()
    page = client.get("/admin/login").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    for n in range(30):
        response = client.post("/admin/login", data={"token": f"guess{n}", "csrf_token": csrf})
        row.count(response.status_code, response.status_code in (401, 429))
    record("login_guessing", row)
    links = Row()
    for code in ("", "x", "A" * 43, "../login"):
        response = client.get(f"/admin/signin/{quote(code)}")
        links.count(response.status_code, response.status_code in (401, 404))
    record("signin_links", links)
    metrics = Row()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = client.get("/metrics", headers=headers)
        metrics.count(response.status_code, response.status_code == 401)
    record("metrics", metrics)


def test_media_files_that_are_not_media(tmp_path: Path):
    app, services, _ = make_app(tmp_path)
    root = services.library.root
    course = next(p for p in root.iterdir() if (p / "course.yaml").is_file())
    (course / "media").mkdir(exist_ok=True)
    names = ["x.html", "x.htm", "x.xhtml", "x.svg", "x.js", "x.mjs", "x.css", "x.xml"]
    names += ["x.json", "x.txt", "x.wasm", "x.php"]
    for name in names:
        (course / "media" / name).write_text("<script>alert(document.cookie)</script>")
    client, row = app.test_client(), Row()
    for name in names:
        response = client.get(f"/media/{course.name}/media/{name}")
        row.count(
            response.status_code, response.status_code == 404 and b"<script" not in response.data
        )
    record("media_files", row)


def _send(client, learner: str, address: str, text: str = "help"):
    return client.post(
        "/simulator/api/send",
        json={"learner": learner, "text": text},
        environ_base={"REMOTE_ADDR": address},
    )


def test_simulator_abuse(tmp_path: Path, monkeypatch):
    app, _, _ = make_app(tmp_path)
    client = app.test_client()
    spray = Row()
    for n in range(200):
        response = _send(client, f"spray{n}", "198.51.100.1")
        spray.count(response.status_code, response.status_code == 429)
    record("simulator_spray_one_address", spray)

    monkeypatch.setattr(web_channel, "LEARNERS_TOTAL", "50 per hour")  # default 500
    many = Row()
    for n in range(200):
        response = _send(client, f"many{n}", f"203.0.113.{n % 250}")
        many.count(response.status_code, response.status_code == 429)
    record("simulator_spray_many_addresses", many)

    flood = Row()
    for _ in range(200):
        response = _send(client, "spray0", "198.51.100.77")
        flood.count(response.status_code, response.status_code == 429)
    record("simulator_message_flood", flood)

    bodies = Row()
    for raw in (
        "[" * 1000 + "]" * 1000,
        "[" * 20_000,
        '{"learner": "a", "text": ' + "[" * 9000 + "]" * 9000 + "}",
        '{"learner": {"a": {"b": {"c": 1}}}, "text": "hi"}',
        '{"learner": "a", "name": ["x"], "text": "hi"}',
        "x" * (64 * 1024),
        json.dumps({"learner": "a", "text": "x" * 5000}),
        "null",
    ):
        response = client.post(
            "/simulator/api/send",
            data=raw,
            content_type="application/json",
            environ_base={"REMOTE_ADDR": "198.51.100.200"},
        )
        bodies.count(response.status_code, response.status_code in (400, 413))
    record("simulator_bodies", bodies)


@pytest.fixture
def twilio(twilio_fake: FakeTwilio) -> WhatsApp:
    return WhatsApp(twilio_fake)


def test_twilio_forged_and_odd(twilio: WhatsApp):
    forged = Row()
    for n in range(100):
        response = twilio.post_to(WEBHOOK_PATH, twilio.message("hi"), signature=f"forged{n}")
        forged.count(response.status_code, response.status_code in (403, 429))
    record("twilio_forged_flood", forged)
    odd = Row()
    for extra in (
        {"From": "whatsapp:+1٥٥٥1234567"},
        {"From": "whatsapp:+١٥٥٥١٢٣٤٥٦٧"},
        {"From": "whatsapp:+1555१२३४५६७"},
        {"From": "whatsapp:+１５５５１２３４５６７"},
        {"From": "whatsapp:+1555123\u200b4567"},
        {"From": "whatsapp:" + "9" * 5000},
        {"MessageSid": "SM" + "٣" * 32},
    ):
        response = twilio.post_to(WEBHOOK_PATH, twilio.message("I am a new partner", **extra))
        odd.count(response.status_code, response.status_code == 400)
    # NumMedia of 5,000 digits: handled as no media (200), so counted as tried only
    response = twilio.post_to(WEBHOOK_PATH, twilio.message("hello", NumMedia="9" * 5000))
    odd.count(response.status_code, False)
    record("twilio_odd_signed", odd)
    assert twilio.store.learners.collection.count_documents({"_id": {"$regex": "[^+0-9a-z:]"}}) == 0
    status = twilio.status("SM" + "7" * 32, "failed", code="٦٣٠١٦")
    assert status.status_code == 204


@pytest.fixture
def slack(slack_fake: FakeSlackAPI):
    slack_fake.add_user(USER, display_name="Ada", real_name="Ada Lovelace")
    return make_bot(slack_fake)


def test_slack_forged_and_odd(slack):
    forged = Row()
    body = json.dumps({"type": "event_callback", "team_id": TEAM})
    for n in range(100):
        headers = {"X-Slack-Request-Timestamp": "1", "X-Slack-Signature": "v0=" + f"{n:064x}"}
        response = slack.app.test_client().post(
            "/slack/events", data=body, headers={"Content-Type": "application/json", **headers}
        )
        forged.count(response.status_code, response.status_code in (401, 429))
    record("slack_forged_flood", forged)
    odd = Row()
    for raw, content_type in ODD_SLACK.values():
        response = slack.post("/slack/events", raw, content_type)
        odd.count(response.status_code, response.status_code == 400)
    record("slack_odd_signed", odd)


FALLBACK = "here is the matching part of the course"  # the labelled passage, not the model
DISGUISES: dict[str, Callable[[str], str]] = {
    "plain, upper-cased": str.upper,
    "zero-width": lambda t: "\u200b".join(t),
    "dotted": lambda t: ".".join(t),
    "hyphenated": lambda t: "-".join(t),
    "full-width": lambda t: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in t),
    "rot13": lambda t: codecs.encode(t, "rot13"),
    "base64": lambda t: base64.b64encode(t.encode()).decode(),
    "hex": lambda t: t.encode().hex(),
    "line separators": lambda t: "\u2028".join(t),
}


def test_prompt_leak_disguises(openai_fake: FakeOpenAI):
    fake = openai_fake
    bot = Learners(fake)
    bot.at_session_3(ADA)
    row = Row()
    for piece in prompt_fragments()[:3]:  # 27 questions: within the 30/minute flood limit
        for disguise in DISGUISES.values():
            fake.answer = f"Gold partners get 10%. {disguise(piece)} [3]"
            reply = bot.say(ADA, f"{QUESTION} ({row.tried})").text
            row.count(200, disguise(piece) not in reply and FALLBACK in reply)
    record("prompt_leak_disguises", row)


def test_markdown_in_names(tmp_path: Path):
    from flows.events import Inbound

    app, services, _ = make_app(tmp_path)
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/admin/login", data={"token": TOKEN, "csrf_token": csrf})
    phrase = services.library.current().courses[0].enroll[0]
    row = Row()
    names = [
        "[Verify](https://evil.example/a)",
        "<https://evil.example/b>",
        "[x][r]\n\n[r]: https://evil.example/c",
        "![img](https://evil.example/d.png)",
    ]
    for n, name in enumerate(names):
        services.conversations.handle(
            Inbound(
                key=f"whatsapp:+1555000000{n}",
                channel="whatsapp",
                text=phrase,
                name=name,
                message_id=f"twilio-SM{n}",
            )
        )
        html = client.get(f"/admin/learners/{quote(f'whatsapp:+1555000000{n}')}").get_data(
            as_text=True
        )
        row.count(
            200, 'href="https://evil.example' not in html and 'evil.example/d.png"' not in html
        )
    record("markdown_names", row)


def test_the_matrix_is_documented():
    """docs/hardening.md shows exactly these figures."""
    doc = (Path(__file__).resolve().parent.parent / "docs" / "hardening.md").read_text()
    for name, (tried, refused, errors) in MATRIX.items():
        assert (
            f"| {tried:,} | {refused:,} | {errors} |" in doc.split(f"`{name}`")[1].split("\n")[0]
        ), name
