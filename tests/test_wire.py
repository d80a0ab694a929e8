"""The bot on MongoDB over the wire (tests/wire.py: SecantusDB, or MONGODB_URI's server)
through the real pymongo: a WhatsApp conversation through the signed webhook, every report
against the embedded store's figures on the same data, and the server failing the commit
of a learner's message (mongod's `failCommand` fail point), with and without the driver's
retryable writes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pymongo
import pytest
from bson import ObjectId
from pymongo import monitoring

from bot.reports import Reports
from bot.store import Store
from flows.course import Catalog
from tests.admin_data import NOW, seed
from tests.fakes.twilio_api import FakeTwilio
from tests.harness import Served, bodies_to, message, phone
from tests.test_reliability import SCRIPTS, content, fake, reference, stable
from tests.test_reports import COURSE
from tests.wire import Wire

__all__ = ["content", "fake"]  # test_reliability's fixtures: unshuffled sample, fake Twilio
CATALOG = Catalog((COURSE,))


def test_a_whatsapp_conversation_over_the_wire(wire: Wire, fake: FakeTwilio, content: str):
    """Two learners' twenty-message scripts (navigation, quizzes, restart) leave exactly the
    state and the replies they leave on the embedded store; a retried webhook changes
    nothing."""
    expected = reference(content)
    with wire.store("trainbot_chat") as store:
        bot = Served(fake, store=store, CONTENT_DIR=content)
        for number, script in enumerate(SCRIPTS):
            for n, text in enumerate(script):
                assert bot.post(message(number * 100 + n, phone(number), text)).status_code == 200
        assert bot.post(message(100, phone(1), SCRIPTS[1][0])).status_code == 200  # a retry
        for number, (state, sent) in enumerate(expected):
            doc = store.load(phone(number)) or {}
            assert stable(doc) == state
            assert bodies_to(fake, phone(number)) == sent
            transcript = store.transcript(phone(number))
            assert [r["seq"] for r in transcript] == list(range(1, len(transcript) + 1))
            assert doc["outbox"] == [] and len(doc["processed"]) == len(SCRIPTS[number])


def _plain(value: Any) -> Any:
    """A report without what differs between two stores holding the same data: generated
    ids (`ObjectId`s) and the datetime class (`tz_aware` pymongo gives its own UTC)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not isinstance(v, ObjectId)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat().replace("+00:00", "Z")
    return value


def every_report(store: Store) -> dict[str, Any]:
    """Every figure `bot.reports` computes, on the known data set of tests/admin_data."""
    seed(store)
    reports = Reports(store)
    later = NOW.replace(year=2027)  # certificates expired, Grace overdue
    figures: dict[str, Any] = {
        "overview": reports.overview(CATALOG, NOW),
        "quiz_items": reports.quiz_items(COURSE),
        "questions": reports.questions(COURSE),
        "certification": reports.certification(COURSE, NOW),
        "expiring": reports.expiring(COURSE.id, NOW),
        "gaps": reports.gaps(COURSE),
        "learner_list": reports.learner_list(),
        "attempts": reports.attempts(),
        "attempts_demo": reports.attempts(COURSE.id),
        "certificates": reports.certificate_rows(NOW),
        "certificates_later": reports.certificate_rows(later),
    }
    filters = {"course": "demo", "role": "sales", "manager": "Maria", "channel": "whatsapp"}
    for name, value in {**filters, "search": "lovel"}.items():
        figures[f"rows {name}"] = reports.learner_rows(NOW, **{name: value})
    for when in (NOW, later):
        figures[f"rows {when.year}"] = reports.learner_rows(when)
        for status in ("in_progress", "completed", "overdue", "expired", "not_started"):
            figures[f"{status} {when.year}"] = reports.learner_rows(when, status=status)
    for doc in store.learners.collection.find().sort("_id", 1):
        figures[f"page {doc['_id']}"] = reports.learner_page(doc, CATALOG, NOW)
    return _plain(figures)


def test_every_report_agrees_with_the_embedded_store(wire: Wire):
    embedded = every_report(Store.connect(None))
    with wire.store("trainbot_reports") as store:
        over_the_wire = every_report(store)
    assert over_the_wire.keys() == embedded.keys()
    for name, figures in embedded.items():
        assert over_the_wire[name] == figures, name
    assert embedded["overview"][0]["enrolled"] == 3  # the data set is there to compare


# --- faults: the server drops the connection or fails the write of a commit ---------------

APP = "trainbot-faulty"  # the fail point's target: this client's appname
FAULTS = {
    "dropped connection": {"closeConnection": True},
    "failed write": {"errorCode": 11600, "errorMessage": "interrupted at shutdown"},
}


class Failed(monitoring.CommandListener):
    """The names of the commands that failed on this client (what the driver saw)."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.names.append(event.command_name)


@pytest.fixture
def own_client(wire: Wire, fake: FakeTwilio) -> Iterator[Callable[[bool], tuple[Served, Failed]]]:
    """`(retry_writes) -> (bot, failed commands)`: the bot on a client of its own, named so
    the fail point hits this client only. Without retryable writes (`retryWrites=false` in
    MONGODB_URI) a fault reaches the code; with them (the default, and docs/deploy.md's
    URI) the driver tries a failed write once more by itself."""
    if not wire.can_fail():
        pytest.skip("the server at MONGODB_URI does not take configureFailPoint")
    opened: list[tuple[pymongo.MongoClient, str]] = []

    def bot(retry_writes: bool) -> tuple[Served, Failed]:
        failed = Failed()
        client: pymongo.MongoClient = pymongo.MongoClient(
            wire.uri,
            tz_aware=True,
            retryWrites=retry_writes,
            appname=APP,
            event_listeners=[failed],
        )
        opened.append((client, wire.fresh_name("trainbot_faults")))
        return Served(fake, store=Store(client, opened[-1][1])), failed

    yield bot
    for client, name in opened:
        client.drop_database(name)
        client.close()


def enrolled(bot: Served, fake: FakeTwilio) -> tuple[dict[str, Any], int, int]:
    """A learner who enrolled: their document, the events logged and messages sent."""
    assert bot.post(message(1, phone(0), "I am a new partner")).status_code == 200
    return (
        bot.store.load(phone(0)) or {},
        bot.store.events.collection.count_documents({}),
        len(fake.messages),
    )


def processed_once(bot: Served, fake: FakeTwilio, params: dict[str, str], before: dict, sent: int):
    """The message `params` changed the learner once and its reply went out once."""
    doc = bot.store.load(phone(0)) or {}
    message_id = f"twilio-{params['MessageSid']}"
    assert doc["version"] == before["version"] + 1 and doc["processed"].count(message_id) == 1
    assert bot.store.events.collection.count_documents({"message_id": message_id}) == 1
    replies = bodies_to(fake, phone(0))[sent:]
    assert "Session 2" in replies[-1] and len(set(replies)) == len(replies)
    records = bot.store.transcript(phone(0))
    assert [r["seq"] for r in records] == list(range(1, doc["seq"] + 1))
    assert doc["outbox"] == []


@pytest.mark.parametrize("fault", FAULTS)
def test_a_commit_failing_on_the_server_answers_5xx_and_the_retry_is_processed_once(
    wire: Wire, own_client, fake: FakeTwilio, fault: str
):
    """A learner's update fails in the server (connection closed, or an error): Twilio gets a
    5xx and retries; nothing of the message was written (state, processed id, outbox, event
    log, replies), and the retry is processed exactly once."""
    bot, failed = own_client(False)
    before, events, sent = enrolled(bot, fake)
    params = message(2, phone(0), "next")
    with wire.fail_command(failCommands=["update"], appName=APP, **FAULTS[fault]):
        response = bot.post(params)
    assert failed.names == ["update"]
    assert response.status_code == 503 and b"Traceback" not in response.data
    assert bot.store.load(phone(0)) == before
    assert bot.store.events.collection.count_documents({}) == events and len(fake.messages) == sent
    for _ in range(2):  # Twilio's retry, and one more for good measure
        assert bot.post(params).status_code == 200
    processed_once(bot, fake, params, before, sent)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_new_learners_first_commit_failing_answers_5xx_and_creates_nothing(
    wire: Wire, own_client, fake: FakeTwilio, fault: str
):
    """The first message of a learner is an insert: failing it leaves no learner, no
    event and no reply; Twilio's retry enrols the learner once."""
    bot, failed = own_client(False)
    params = message(1, phone(0), "I am a new partner")
    with wire.fail_command(failCommands=["insert"], appName=APP, **FAULTS[fault]):
        assert bot.post(params).status_code == 503
    assert failed.names == ["insert"]
    assert bot.store.load(phone(0)) is None and bot.store.events.collection.count_documents({}) == 0
    assert fake.messages == []
    for _ in range(2):
        assert bot.post(params).status_code == 200
    doc = bot.store.load(phone(0)) or {}
    assert doc["version"] == 1 and doc["processed"] == [f"twilio-{params['MessageSid']}"]
    assert bot.store.events.collection.count_documents({}) == 1
    sent = bodies_to(fake, phone(0))
    assert "Welcome" in sent[0] and len(set(sent)) == len(sent) and doc["outbox"] == []


def test_a_failure_right_after_the_commit_is_retried_as_a_duplicate_that_delivers(
    wire: Wire, own_client, fake: FakeTwilio
):
    """The commit went through, then the next write (the audit event) failed: Twilio gets
    a 5xx; its retry is recognised as processed (state unchanged) and sends the replies
    the first attempt saved, without waiting for the clock."""
    bot, failed = own_client(False)
    before, _, sent = enrolled(bot, fake)
    params = message(2, phone(0), "next")
    with wire.fail_command(failCommands=["insert"], appName=APP, closeConnection=True):
        assert bot.post(params).status_code == 503
    assert failed.names == ["insert"]
    assert len(fake.messages) == sent and bot.store.pending_count() == 1  # saved, not sent
    assert bot.post(params).status_code == 200
    doc = bot.store.load(phone(0)) or {}
    assert doc["version"] == before["version"] + 1 and doc["outbox"] == []
    replies = bodies_to(fake, phone(0))[sent:]
    assert "Session 2" in replies[-1] and len(set(replies)) == len(replies)


def test_with_retryable_writes_the_driver_itself_retries_a_dropped_commit(
    wire: Wire, own_client, fake: FakeTwilio
):
    if "setName" not in wire.client.admin.command("hello"):
        pytest.skip("a standalone mongod has no retryable writes (a replica set has)")
    bot, failed = own_client(True)
    before, _, sent = enrolled(bot, fake)
    params = message(2, phone(0), "next")
    with wire.fail_command(failCommands=["update"], appName=APP, closeConnection=True):
        assert bot.post(params).status_code == 200
    assert failed.names == ["update"]  # the connection was dropped once, under the driver
    processed_once(bot, fake, params, before, sent)
