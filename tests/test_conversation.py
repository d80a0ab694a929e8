"""The pipeline: load → step → one guarded write → ordered delivery, under bad input."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from bot.assistant import Assistant
from bot.content import Library
from bot.conversation import Conversations
from bot.outbox import DeliveryError, Outbox
from bot.store import Store
from flows.events import Inbound, Reply
from tests.conftest import SAMPLE, T0, FakeClock

KEY = "web:ada"


class Recorder:
    """A channel sender that records what it sent and can be told to fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.failures: list[DeliveryError] = []
        self.lock = threading.Lock()

    def send(self, learner: Mapping[str, Any], reply: Reply) -> str | None:
        with self.lock:
            if self.failures:
                raise self.failures.pop(0)
            self.sent.append((learner["_id"], reply.text))
            return f"id-{len(self.sent)}"


@pytest.fixture
def world():
    store = Store.connect(None)
    clock = FakeClock()
    sender = Recorder()
    outbox = Outbox(store, {"web": sender}, clock=clock)
    conversations = Conversations(store, Library(SAMPLE), outbox, Assistant(), clock=clock)
    return conversations, store, sender, clock


def message(text: str, mid: str, key: str = KEY, **kw) -> Inbound:
    return Inbound(key=key, channel="web", text=text, name="Ada", message_id=mid, **kw)


def test_replies_are_delivered_in_order_and_logged(world):
    conversations, store, sender, _ = world
    conversations.handle(message("I am a new partner", "m1"))
    conversations.handle(message("next", "m2"))
    texts = [t for _, t in sender.sent]
    assert "Welcome, Ada" in texts[0]
    assert "Session 1:" in texts[1] and "Session 2:" in texts[2]
    assert [r["seq"] for r in store.transcript(KEY)] == [1, 2, 3]
    assert store.load(KEY)["outbox"] == []


def test_a_repeated_message_id_changes_nothing(world):
    conversations, store, sender, _ = world
    conversations.handle(message("I am a new partner", "m1"))
    conversations.handle(message("next", "m2"))
    before = store.load(KEY)
    for _ in range(3):
        assert conversations.handle(message("next", "m2")).status == "duplicate"
    after = store.load(KEY)
    assert after["version"] == before["version"]
    assert after["progress"] == before["progress"]
    assert len(sender.sent) == 3


def test_question_is_answered_from_the_course(world):
    conversations, _, sender, _ = world
    conversations.handle(message("I am a new partner", "m1"))
    conversations.handle(message("How long is the battery warranty?", "m2"))
    answer = sender.sent[-1][1]
    assert "Installation and warranty" in answer
    assert "not a personal answer" in answer


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "🙂🙂🙂",
        "x" * 5000,
        "<script>alert(1)</script>",
        "{name} {{ }} %s",
        "\x00\x01",
        "section 99999999999999999999",
    ],
)
def test_bad_input_gets_an_answer_and_loses_nothing(world, text):
    conversations, store, sender, _ = world
    conversations.handle(message("I am a new partner", "m1"))
    conversations.handle(message("next", "m2"))
    before = store.load(KEY)["progress"]
    handled = conversations.handle(message(text, "m3"))
    assert handled.status == "ok"
    assert (
        store.load(KEY)["progress"]["partner-onboarding"]["completed"]
        == (before["partner-onboarding"]["completed"])
    )
    assert len(sender.sent) >= 4  # every message got an answer


def test_long_messages_are_cut_before_the_flows(world):
    conversations, store, _, _ = world
    conversations.handle(message("I am a new partner", "m1"))
    conversations.handle(message("why " * 3000, "m2"))
    event = store.events.collection.find_one({"message_id": "m2"})
    assert len(event["text"]) == 1000


def test_concurrent_messages_from_one_learner_lose_no_update(world):
    conversations, store, sender, _ = world
    conversations.handle(message("I am a new partner", "m0"))
    barrier = threading.Barrier(6)

    def press(i: int) -> None:
        barrier.wait()
        conversations.handle(message("complete" if i % 2 else "menu", f"c{i}"))

    threads = [threading.Thread(target=press, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    doc = store.load(KEY)
    assert sorted(doc["processed"]) == sorted(["m0", *(f"c{i}" for i in range(6))])
    assert doc["version"] == 7
    assert doc["progress"]["partner-onboarding"]["completed"] == ["welcome"]
    assert len(sender.sent) == 2 + 6  # welcome + session 1, then one reply per press
    assert doc["outbox"] == []


def test_concurrent_learners_each_get_their_own_replies_in_order(world):
    conversations, store, sender, _ = world

    def learn(n: int) -> None:
        key = f"web:l{n}"
        for i, text in enumerate(["I am a new partner", "next", "previous", "next"]):
            conversations.handle(message(text, f"{key}-{i}", key=key))

    threads = [threading.Thread(target=learn, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n in range(8):
        mine = [text for key, text in sender.sent if key == f"web:l{n}"]
        sessions = [t.split("\n")[0] for t in mine if t.startswith("📚")]
        assert sessions == [
            "📚 **Session 1: Welcome to Solaro**",
            "📚 **Session 2: The three Solaro kits**",
            "📚 **Session 1: Welcome to Solaro**",
            "📚 **Session 2: The three Solaro kits**",
        ]
        assert store.load(f"web:l{n}")["progress"]["partner-onboarding"]["current"] == "products"


def test_failed_delivery_is_retried_in_order_and_never_dropped(world):
    conversations, store, sender, clock = world
    sender.failures.append(DeliveryError("timeout", retryable=True))
    conversations.handle(message("I am a new partner", "m1"))
    assert sender.sent == []  # first reply failed, the second waits behind it
    doc = store.load(KEY)
    assert [e["seq"] for e in doc["outbox"]] == [1, 2]
    assert doc["outbox"][0]["attempts"] == 1 and doc["outbox"][0]["error"] == "timeout"
    conversations.handle(message("next", "m2"))  # queued behind the failed one
    assert sender.sent == []
    clock.now += timedelta(minutes=1)
    assert conversations.outbox.flush_due() == 3
    assert [
        "Welcome" in sender.sent[0][1],
        "Session 1:" in sender.sent[1][1],
        "Session 2:" in sender.sent[2][1],
    ] == [True, True, True]


def test_a_permanent_failure_parks_the_queue_instead_of_skipping_the_head(world):
    """Issue 15 changed this: the head failing for good used to be logged as failed while
    the replies behind it went out; now the queue waits, whole, for an admin."""
    conversations, store, sender, clock = world
    sender.failures.append(DeliveryError("invalid number", retryable=False))
    conversations.handle(message("I am a new partner", "m1"))
    assert store.transcript(KEY) == [] and sender.sent == []
    doc = store.load(KEY)
    assert doc["parked"]["seq"] == 1 and doc["parked"]["error"] == "invalid number"
    assert [e["seq"] for e in doc["outbox"]] == [1, 2]
    conversations.handle(message("next", "m2"))  # later replies wait behind it
    assert sender.sent == [] and store.due_outboxes(clock.now) == []
    assert store.unpark(KEY, 1, clock.now)  # the admin's Retry
    assert conversations.outbox.flush(KEY) == 3
    assert ["Welcome" in sender.sent[0][1], "Session 2:" in sender.sent[2][1]] == [True, True]


def test_retries_for_the_channels_time_budget_then_parks(world):
    conversations, store, sender, clock = world
    sender.failures.extend(DeliveryError("down") for _ in range(100))
    conversations.handle(message("I am a new partner", "m1"))
    budget = conversations.outbox.budget("web")
    while clock.now - T0 <= budget + timedelta(minutes=10):
        clock.now += timedelta(minutes=5)
        conversations.outbox.flush_due()
    doc = store.load(KEY)
    assert doc["parked"]["seq"] == 1 and doc["parked"]["attempts"] >= 12
    assert store.transcript(KEY) == [] and len(doc["outbox"]) == 2  # nothing skipped


def test_a_crashing_sender_keeps_the_reply(world):
    conversations, store, sender, _ = world

    def boom(learner, reply):
        raise RuntimeError("bug")

    sender.send = boom
    conversations.handle(message("I am a new partner", "m1"))
    assert len(store.load(KEY)["outbox"]) == 2


def test_restart_resumes_undelivered_replies(world):
    conversations, store, sender, clock = world
    sender.failures.append(DeliveryError("network down"))
    conversations.handle(message("I am a new partner", "m1"))
    # a new process: same store, fresh outbox and senders
    fresh = Recorder()
    outbox = Outbox(store, {"web": fresh}, clock=clock)
    clock.now += timedelta(minutes=5)
    assert outbox.flush_due() == 2
    assert "Welcome" in fresh.sent[0][1]


def test_unknown_channel_is_postponed_not_lost(world):
    conversations, store, _, _ = world
    conversations.handle(
        Inbound(key="fax:1", channel="fax", text="I am a new partner", message_id="f1")
    )
    (entry,) = store.load("fax:1")["outbox"]
    assert entry["attempts"] == 1 and "not enabled" in entry["error"]


def test_a_flood_gets_one_slow_down_reply_and_changes_nothing_else(world):
    conversations, store, sender, _ = world
    conversations.handle(message("I am a new partner", "m0"))
    statuses = [conversations.handle(message("menu", f"f{i}")).status for i in range(40)]
    # the enrollment used one slot: 29 menus, one slow-down reply, then 10 dropped
    assert statuses.count("ok") == 30 and statuses.count("rate_limited") == 10
    slow = [t for _, t in sender.sent if "a lot of messages" in t]
    assert len(slow) == 1
    assert store.load(KEY)["progress"]["partner-onboarding"]["current"] == "welcome"


def test_a_deliverer_that_died_mid_flush_is_taken_over_without_resending(world):
    conversations, store, sender, clock = world
    sender.failures.append(DeliveryError("network down"))
    conversations.handle(message("I am a new partner", "m1"))  # welcome + session 1 queued
    # A deliverer takes the lease, sends and records the welcome, then dies before release.
    clock.now += timedelta(minutes=1)
    doc = store.claim_outbox(KEY, clock.now, clock.now + timedelta(seconds=60))
    first = min(doc["outbox"], key=lambda e: e["seq"])
    store.delivered(
        KEY,
        first,
        {
            "learner": KEY,
            "seq": first["seq"],
            "status": "sent",
            "reply": first["reply"],
            "at": clock.now,
        },
        pull=False,
    )
    clock.now += timedelta(minutes=2)  # its lease has expired
    assert conversations.outbox.flush(KEY) == 1
    assert [t.split("\n")[0] for _, t in sender.sent] == ["📚 **Session 1: Welcome to Solaro**"]
    assert store.load(KEY)["outbox"] == []


def test_the_clock_hands_each_due_learner_to_its_lane_once(world):
    """Issue 15: the retry job queues each due learner once on its channel's lane; a
    learner whose retry still waits in a (stuck) lane is not queued again every tick."""
    conversations, store, sender, clock = world
    sender.failures.append(DeliveryError("timeout", retryable=True))
    conversations.handle(message("I am a new partner", "m1"))
    clock.now += timedelta(minutes=1)
    waiting: list = []
    conversations.background = waiting.append  # a lane that never runs
    assert conversations.deliver_due() == 1 and conversations.deliver_due() == 0
    waiting.pop()()  # the lane runs it
    assert "Welcome" in sender.sent[0][1] and store.load(KEY)["outbox"] == []
    assert conversations.deliver_due() == 0
