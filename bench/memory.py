"""Memory and document size, in-process on the embedded store (channel `web`):

- resident memory after start-up and after 10,000 messages from 1,000 learners;
- the largest learner document after 1,000 messages from one learner, whose history,
  outbox, processed ids and flood window must all be capped (target ≤ 64 KB).
"""

from __future__ import annotations

import itertools
import logging
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import bson

from bench.table import Figure, rss_mb
from bot.config import Config
from bot.services import Services, build_services, senders_for
from flows.events import Inbound

LEARNERS, PER_LEARNER, ONE_LEARNER = 1000, 10, 1000
DOCUMENT_LIMIT = 64 * 1024
# A learner doing everything: enrol, move around, answer quizzes, retake, restart.
SCRIPT = ("next", "1", "2", "menu", "next", "A", "true", "help", "previous", "next", "3")
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def services() -> tuple[Services, list[datetime]]:
    """Services on a fresh durable embedded store (as `make run`'s) with a clock the
    benchmark moves."""
    config = Config.from_env({"DATA_DIR": tempfile.mkdtemp(prefix="bench-memory-")}, dotenv=None)
    built = build_services(config, senders_for(config))
    now = [START]
    built.conversations.clock = built.outbox.clock = lambda: now[0]
    return built, now


def send(built: Services, key: str, texts: Iterable[str], ids: Iterable[int]) -> None:
    for text, number in zip(texts, ids, strict=False):
        built.conversations.handle(
            Inbound(key=key, channel="web", text=text, message_id=f"bench-{number}")
        )


def largest(built: Services) -> tuple[int, str]:
    """The largest learner document's BSON size and key."""
    return max(
        (len(bson.encode(doc)), doc["_id"]) for doc in built.store.learners.collection.find()
    )


def section() -> list[Figure]:
    logging.disable(logging.WARNING)  # 11,000 messages: keep the table readable
    ids = itertools.count()
    try:
        built, now = services()
        started_mb = rss_mb()
        for round_ in range(PER_LEARNER):
            for learner in range(LEARNERS):
                text = "I am a new partner" if round_ == 0 else SCRIPT[round_ % len(SCRIPT)]
                send(built, f"web:learner-{learner}", [text], ids)
            now[0] += timedelta(seconds=5)
        loaded_mb = rss_mb()
        crowd_size, _ = largest(built)
        messages = LEARNERS * PER_LEARNER

        one, clock = services()
        for n in range(ONE_LEARNER):
            text = "I am a new partner" if n % 200 == 0 else SCRIPT[n % len(SCRIPT)]
            send(one, "web:busy", [text], ids)
            clock[0] += timedelta(seconds=3)  # 20 a minute: under the flood limit
        busy_size, _ = largest(one)
        fields = one.store.load("web:busy") or {}
        biggest = max(fields, key=lambda name: len(bson.encode({name: fields[name]})))
    finally:
        logging.disable(logging.NOTSET)
    conditions = f"{messages:,} messages from {LEARNERS:,} learners, embedded store"
    return [
        Figure("memory", "RSS after start-up", f"{started_mb:.0f} MB"),
        Figure("memory", "RSS after the messages", f"{loaded_mb:.0f} MB", conditions=conditions),
        Figure(
            "memory",
            "growth per learner",
            f"{(loaded_mb - started_mb) * 1000 / LEARNERS:.0f} KB",
            conditions=conditions + " (store, deliveries and events in RAM)",
        ),
        Figure(
            "memory",
            "largest learner doc",
            f"{crowd_size / 1024:.1f} KB",
            "≤ 64 KB",
            crowd_size <= DOCUMENT_LIMIT,
            f"after {PER_LEARNER} messages each",
        ),
        Figure(
            "memory",
            "learner doc after 1,000 messages",
            f"{busy_size / 1024:.1f} KB",
            "≤ 64 KB",
            busy_size <= DOCUMENT_LIMIT,
            f"one learner; largest field: {biggest}",
        ),
    ]
