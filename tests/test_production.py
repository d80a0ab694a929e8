"""The production layout, as real processes on MongoDB over the wire (tests/layout.py):
gunicorn with the Procfile's two gthread workers, `trainbot clock`, a fake Twilio on
127.0.0.1 and 50 learners × 10 signed webhooks. Every reply reaches Twilio once and in
order per learner, also when a worker is killed with SIGKILL mid-burst.

The reference is the same script said by one learner on the embedded store, in process.
What Twilio accepted is matched with the deliveries the bot recorded (by message sid).
These tests take ~15 s and ~90 s (marked `layout`; `pytest -m "not layout"` skips them).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.store import Store
from tests.conftest import quizless_sample
from tests.fakes.twilio_api import FakeTwilio
from tests.harness import ACCOUNT, ENROL, TOKEN, Served, bodies_to, message, phone
from tests.layout import Layout, Learners, environment, production
from tests.wire import Wire

pytestmark = pytest.mark.layout

LEARNERS = range(50)
SCRIPT = [ENROL, *["next", "menu"] * 4, "next"]  # ten messages: sessions 1–6 and menus
DELIVERY_TIMEOUT = 120.0  # a dead worker's delivery lease (60 s) + the clock's period (10 s)


def reference() -> list[str]:
    """What one learner saying SCRIPT receives, on the embedded store, in process."""
    with FakeTwilio(ACCOUNT, TOKEN) as fake:
        bot = Served(fake, CONTENT_DIR=str(quizless_sample()))
        for n, text in enumerate(SCRIPT):
            assert bot.post(message(n, phone(0), text)).status_code == 200
        return bodies_to(fake, phone(0))


@dataclass
class Running:
    """The layout, the fake Twilio it sends to, and its database (to read what it did)."""

    layout: Layout
    fake: FakeTwilio
    store: Store

    def delivered(self, per_learner: int) -> None:
        """Wait until Twilio accepted `per_learner` messages for every learner and no
        reply is left in an outbox, then a little more for any late extra copy."""
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        while time.monotonic() < deadline:
            complete = len(self.fake.messages) >= per_learner * len(LEARNERS)
            if complete and self.store.pending_count() == 0:
                time.sleep(1.0)
                return
            time.sleep(0.2)
        pytest.fail(f"{len(self.fake.messages)} messages delivered\n{self.layout.log()}")

    def split(self) -> tuple[dict[int, list[str]], list[dict[str, Any]]]:
        """Per learner, the bodies of the messages a recorded delivery accounts for, in
        Twilio's arrival order; and the messages none does (sent, then the sender died
        before it could record them: no provider offers a way to ask)."""
        recorded = {
            sid
            for record in self.store.deliveries.collection.find({}, {"provider_ids": 1})
            for sid in record.get("provider_ids") or ()
        }
        mine = [m for m in self.fake.messages if m["sid"] in recorded]
        orphans = [m for m in self.fake.messages if m["sid"] not in recorded]
        by_learner = {n: [m["Body"][0] for m in mine if m["To"][0] == phone(n)] for n in LEARNERS}
        return by_learner, orphans


@pytest.fixture
def running(wire: Wire, tmp_path: Path) -> Iterator[Running]:
    name = wire.fresh_name("trainbot_layout")
    try:
        with FakeTwilio(ACCOUNT, TOKEN) as fake:
            env = environment(wire.database_uri(name), fake.url, quizless_sample())
            with production(env, tmp_path / "logs") as layout:
                yield Running(layout, fake, Store(wire.client, name))
    finally:
        wire.client.drop_database(name)


def differing(got: dict[int, list[str]], expected: list[str]) -> dict[int, list[str]]:
    """The learners who did not get exactly `expected`: the first line of what they got."""
    return {
        n: [b.splitlines()[0][:40] for b in sent] for n, sent in got.items() if sent != expected
    }


def test_two_workers_and_a_clock_deliver_every_reply_once_in_order(running: Running):
    expected = reference()
    learners = Learners(running.layout.base)
    started = time.perf_counter()
    learners.converse(LEARNERS, SCRIPT)
    running.delivered(len(expected))
    rate = len(LEARNERS) * len(SCRIPT) / (time.perf_counter() - started)
    print(f"\n{rate:.0f} messages/s answered and delivered", end=" ")
    got, orphans = running.split()
    assert learners.retried == 0 and orphans == []
    assert differing(got, expected) == {}
    assert len(running.fake.messages) == len(expected) * len(LEARNERS)


def test_a_worker_killed_mid_burst_loses_nothing_and_records_each_reply_once(running: Running):
    """SIGKILL one of the two workers once a third of the messages were answered: requests
    it held get no answer and are posted again, gunicorn starts a new worker, and the
    clock takes over what the dead worker was delivering once its lease has run out.

    No reply is lost, none is sent or recorded twice, and each learner's messages are
    exactly the reference, in order. A message Twilio accepted in the instant before the
    dead worker recorded it used to go out again (Twilio's API takes no idempotency key;
    1 extra copy in some runs): each send now leaves word on its outbox entry first, and
    the successor looks such a message up through the real client instead."""
    expected = reference()
    learners = Learners(running.layout.base)
    victim = running.layout.workers()[0]
    killed_at: list[int] = []

    def kill_mid_burst() -> None:
        learners.wait_answered(len(LEARNERS) * len(SCRIPT) // 3)
        killed_at.append(learners.answered)
        os.kill(victim, signal.SIGKILL)

    killer = threading.Thread(target=kill_mid_burst)
    killer.start()
    learners.converse(LEARNERS, SCRIPT)
    killer.join()
    running.delivered(len(expected))
    got, orphans = running.split()
    print(
        f"\nkilled after {killed_at[0]} answers; {learners.retried} posts retried; "
        f"{len(orphans)} message(s) sent twice",
        end=" ",
    )
    assert killed_at[0] < len(LEARNERS) * len(SCRIPT)  # mid-burst
    workers = running.layout.workers()
    assert victim not in workers and len(workers) == 2  # gunicorn started a new one
    assert differing(got, expected) == {}
    assert orphans == []  # each send left word first: the successor looked it up
    assert len(running.fake.messages) == len(expected) * len(LEARNERS)
