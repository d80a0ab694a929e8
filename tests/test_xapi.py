"""xAPI statements reach a real learning record store (ralph, started once per session):
a learner's walk read back verb by verb, no phone number anywhere, nothing lost while the
LRS is down or the bot restarts, nothing sent twice (issue 20)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.scheduler import jobs
from bot.services import Services, build_services
from bot.store import Store
from bot.web import create_app
from bot.xapi import VERBS
from bot.xapi_queue import PENDING
from flows.events import Inbound, Reply
from tests.conftest import FakeClock, fresh_data_dir
from tests.lrs import KEY, SECRET, Lrs, free_port, running_lrs
from tests.test_admin import login

BASE = "https://train.example.com"
ADMIN = "xapi-admin-token"
LEARNER = "whatsapp:+15551234567"
COURSE = {
    "course.yaml": """title: Tiny Course
description: Two sessions and a certificate.
enroll: ["start tiny training"]
channels: [whatsapp, slack, web]
quiz: {pass_mark: 80, max_attempts: 3}
certificate: {title: Tiny Expert, valid_days: 365}
""",
    "01-colours.md": """---
title: Colours
quiz:
  - q: Which colour is the sky?
    options: ["Red", "Blue"]
    answer: 2
---
The sky is blue.
""",
    "02-facts.md": """---
title: Facts
quiz:
  - q: Water is wet.
    type: true_false
    answer: true
---
Water is wet.
""",
}


class Sink:
    """A WhatsApp sender that delivers nowhere."""

    def send(self, learner: Mapping[str, Any], reply: Reply) -> str | None:
        return None


@pytest.fixture(scope="session")
def lrs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lrs]:
    with running_lrs(tmp_path_factory.mktemp("lrs")) as running:
        yield running


@pytest.fixture(scope="module")
def content(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("xapi-content") / "tiny"
    folder.mkdir()
    for name, text in COURSE.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder.parent


def bot(content: Path, endpoint: str, data_dir: str, clock: FakeClock) -> Services:
    settings = {"PUBLIC_BASE_URL": BASE, "XAPI_KEY": KEY, "XAPI_SECRET": SECRET}
    settings["ADMIN_TOKEN"] = ADMIN
    config = Config.from_env({**settings, "XAPI_ENDPOINT": endpoint}, None)
    config = config.replace(content_dir=content)
    store = Store.connect(None, data_dir=Path(data_dir))
    return build_services(config, {"whatsapp": Sink()}, store=store, clock=clock)


def walk(services: Services, clock: FakeClock) -> None:
    """Enrol, fail the first quiz, pass it on a retake, pass the second: course completed,
    certificate issued."""
    for text in ("start tiny training", "next", "1", "quiz", "2", "next", "next", "true"):
        clock.advance(minutes=3)
        services.conversations.handle(Inbound(LEARNER, "whatsapp", text=text, name="Ada"))


def agent(services: Services) -> dict[str, Any]:
    assert services.xapi is not None
    return {"account": {"homePage": BASE, "name": services.xapi.learner_id(LEARNER)}}


def test_a_learners_walk_reads_back_from_the_lrs_without_a_phone_number(
    lrs: Lrs, content: Path
) -> None:
    clock = FakeClock()
    services = bot(content, lrs.endpoint, fresh_data_dir(), clock)
    assert services.xapi is not None
    assert jobs(services)["xapi"] == services.xapi.send_due  # the clock sends every 10 s
    walk(services, clock)
    queued = services.xapi.status()["waiting"]
    assert services.xapi.send_due() == queued > 0
    stored = lrs.statements(agent(services))
    services.store.close()

    assert len(stored) == queued == len({s["id"] for s in stored})
    verbs = Counter(s["verb"]["id"] for s in stored)
    for verb in ("registered", "experienced", "answered", "passed", "failed", "completed"):
        assert verbs[VERBS[verb]] >= 1, verb
    assert verbs[VERBS["earned"]] == 1
    assert verbs[VERBS["failed"]] == 1 and verbs[VERBS["passed"]] == 2
    assert verbs[VERBS["answered"]] == 3
    by_verb = {s["verb"]["id"]: s for s in stored}
    failed, earned = by_verb[VERBS["failed"]], by_verb[VERBS["earned"]]
    assert failed["result"]["score"]["scaled"] == 0 and failed["result"]["success"] is False
    assert failed["object"]["id"] == f"{BASE}/courses/tiny/sessions/colours/quiz"
    answers = [s for s in stored if s["verb"]["id"] == VERBS["answered"]]
    assert {(a["result"]["response"], a["result"]["success"]) for a in answers} == {
        ("Red", False),
        ("Blue", True),
        ("True", True),
    }
    assert earned["object"]["definition"]["name"] == {"en": "Tiny Expert"}
    registrations = {s["context"]["registration"] for s in stored}
    assert len(registrations) == 1
    assert {s["context"]["platform"] for s in stored} == {"Trainbot"}
    text = json.dumps(stored)
    assert "5551234567" not in text and "whatsapp" not in text


def test_statements_wait_for_the_lrs_through_a_restart_and_arrive_exactly_once(
    tmp_path: Path, content: Path
) -> None:
    port = free_port()  # nothing listens there yet: the LRS is down
    endpoint, data_dir, clock = f"http://127.0.0.1:{port}/xAPI", fresh_data_dir(), FakeClock()
    services = bot(content, endpoint, data_dir, clock)
    assert services.xapi is not None
    walk(services, clock)
    assert services.xapi.send_due() == 0
    down = services.xapi.status()
    assert down["waiting"] > 0 and down["failures"] == 1
    assert "127.0.0.1" in down["last_error"] or "Connection" in down["last_error"]
    client = create_app(services.config, services).test_client()
    metrics = client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN}"}).text
    assert f'trainbot_xapi_statements{{status="pending"}} {down["waiting"]}.0' in metrics
    assert 'trainbot_xapi_failures_total{reason="unreachable"}' in metrics
    login(client, ADMIN)
    overview = client.get("/admin").text
    assert f"xAPI: {down['waiting']} statement(s) waiting" in overview and "last error" in overview
    services.store.close()

    restarted = bot(content, endpoint, data_dir, clock)  # the same DATA_DIR: nothing lost
    assert restarted.xapi is not None
    assert restarted.xapi.status()["waiting"] == down["waiting"]
    assert restarted.xapi.send_due() == 0  # still backing off: no request at all
    with running_lrs(tmp_path, port) as back:
        clock.advance(minutes=11)
        assert restarted.xapi.send_due() == down["waiting"]
        assert restarted.xapi.record(LEARNER) == 0  # derived again: all already queued
        restarted.conversations.handle(Inbound(LEARNER, "whatsapp", text="progress"))
        assert restarted.xapi.send_due() == 0
        stored = back.statements(agent(restarted))
    after = restarted.xapi.status()
    restarted.store.close()
    assert len(stored) == down["waiting"] == len({s["id"] for s in stored})
    assert after["waiting"] == 0 and after["failures"] == 0


def test_a_statement_the_lrs_rejects_holds_no_other_and_a_known_id_counts_as_sent(
    lrs: Lrs, content: Path
) -> None:
    clock = FakeClock()
    services = bot(content, lrs.endpoint, fresh_data_dir(), clock)
    assert services.xapi is not None
    services.conversations.handle(Inbound(LEARNER, "whatsapp", text="start tiny training"))
    good = services.xapi.statements.collection.find_one({"status": PENDING})["statement"]
    known = {**good, "id": "0b8e2f4e-7d1c-4a57-9a53-3c0d5f1e9a01"}
    assert lrs.post([{**known, "result": {"response": "an earlier version"}}]) == 200
    broken = {k: v for k, v in good.items() if k != "actor"}
    broken["id"] = "0b8e2f4e-7d1c-4a57-9a53-3c0d5f1e9a02"
    for doc in (known, broken):  # queued as if derived: one the LRS holds, one invalid
        services.xapi.statements.collection.insert_one(
            {"_id": doc["id"], "statement": doc, "status": PENDING, "created_at": clock()}
        )
    waiting = services.xapi.status()["waiting"]
    assert services.xapi.send_due() == waiting - 1
    status = services.xapi.status()
    services.store.close()
    assert status["waiting"] == 0 and status["rejected"] == 1 and status["failures"] == 0
    assert "HTTP 422" in status["last_error"] and "actor" in status["last_error"]
    ids = {s["id"] for s in lrs.statements()}
    assert known["id"] in ids and broken["id"] not in ids and good["id"] in ids
