"""The durable embedded store (`bot/store/durable/`) against the same store in memory:

- WhatsApp webhook throughput under gunicorn (`app:app`, as in `gunicorn_webhooks`), the
  durable store ÷ the in-memory one (goal ≥ 0.85), and ÷ the sends-only floor. The two
  stores are measured in alternation, twice each, and the best of each pair kept, so that
  a noisy neighbour does not decide the ratio.
- Restart time with 10,000 learners (goal < 2 s): replaying a journal, and loading a
  compacted snapshot.
- The data directory's size for 10,000 learners × 100 messages, extrapolated from 100
  learners × 100 messages through the real conversation pipeline (learners, deliveries,
  events, after compaction).

    python -m bench.durable_store
"""

from __future__ import annotations

import itertools
import logging
import math
import shutil
import tempfile
import time
from pathlib import Path

from bench.gunicorn_webhooks import (
    ENROL,
    METRICS_TOKEN,
    PER_LEARNER,
    PUBLIC,
    Twilio,
    drained,
    fake_api,
    gunicorn,
    run_clients,
    sends_only,
)
from bench.memory import SCRIPT
from bench.table import Figure, render
from bot.channels.web import WebSender
from bot.config import Config
from bot.services import build_services
from bot.store.durable import Embedded
from flows.events import Inbound

CLIENTS, REQUESTS, ROUNDS = 10, 500, 2
RESTART_LEARNERS, SIZE_LEARNERS, SIZE_MESSAGES, SIZE_TARGET = 10_000, 100, 100, 10_000


def throughput(data_dir: str) -> float:
    """Webhooks/s at CLIENTS concurrent learners until every reply was delivered."""
    with fake_api(Twilio) as fake_url:
        env = {**Twilio.env(fake_url), "PUBLIC_BASE_URL": PUBLIC, "MONGODB_URI": ""}
        env["METRICS_TOKEN"] = METRICS_TOKEN
        with gunicorn("app:app", {**env, "DATA_DIR": data_dir}, "/readyz") as base:
            poster = Twilio(base)
            pool = math.ceil(REQUESTS / CLIENTS / PER_LEARNER)

            def say(http, client: int, n: int, after: int = 0) -> None:
                n += after
                text = ENROL if n < pool else ("next", "menu")[n // pool % 2]
                poster.post(http, client * pool + n % pool, text)

            run_clients(CLIENTS, pool, say)
            drained(base, poster)
            started = time.perf_counter()
            latencies, _ = run_clients(
                CLIENTS, REQUESTS // CLIENTS, lambda h, c, n: say(h, c, n, after=pool)
            )
            drained(base, poster)
            return len(latencies) / (time.perf_counter() - started)


def throughput_figures() -> list[Figure]:
    durable, memory = [], []
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory(prefix="bench-data-") as folder:
            durable.append(throughput(folder))
        memory.append(throughput(":memory:"))
    floor = sends_only(Twilio)[CLIENTS][0]
    ratio = max(durable) / max(memory)
    conditions = f"{CLIENTS} concurrent, best of {ROUNDS} alternating runs each"
    name = "durable store (gunicorn, whatsapp)"
    return [
        Figure(name, "throughput, durable", f"{max(durable):.0f} req/s", conditions=conditions),
        Figure(name, "throughput, in memory", f"{max(memory):.0f} req/s", conditions=conditions),
        Figure(name, "durable ÷ in memory", f"{ratio:.2f}", "≥ 0.85", ratio >= 0.85, conditions),
        Figure(
            name,
            "durable ÷ sends-only floor",
            f"{max(durable) / floor:.2f}",
            conditions=f"{CLIENTS} concurrent; floor: signature check + 2 sends, no store",
        ),
    ]


def sized_store(folder: Path) -> int:
    """SIZE_LEARNERS learners × SIZE_MESSAGES messages through the real pipeline into a
    durable store in `folder`, then compacted; the data directory's bytes."""
    config = Config.from_env({"DATA_DIR": str(folder)}, dotenv=None)
    built = build_services(config, {"web": WebSender()})
    ids = itertools.count()
    for learner in range(SIZE_LEARNERS):
        key = f"web:learner-{learner}"
        for n in range(SIZE_MESSAGES):
            text = ENROL if n == 0 else SCRIPT[n % len(SCRIPT)]
            built.conversations.handle(
                Inbound(key=key, channel="web", text=text, message_id=f"m{next(ids)}")
            )
    built.store.engine.compact()
    built.store.close()
    return sum(p.stat().st_size for p in folder.iterdir())


def restart_seconds(sized: Path, folder: Path, compact: bool) -> float:
    """A copy of the `sized` store grown to RESTART_LEARNERS learners (copies of its
    own, beside its deliveries and events), then the time it takes to open again."""
    shutil.copytree(sized, folder)
    (folder / "LOCK").unlink()
    engine = Embedded(folder)
    db = engine.client["trainbot"]
    learners = list(db["learners"].find())
    for n in range(RESTART_LEARNERS - len(learners)):
        db["learners"].insert_one({**learners[n % len(learners)], "_id": f"web:copy-{n}"})
    if compact:
        engine.compact()
    engine.close()
    started = time.perf_counter()
    Embedded(folder).close()
    return time.perf_counter() - started


def store_figures() -> list[Figure]:
    logging.disable(logging.WARNING)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
            sized = Path(tmp) / "sized"
            size = sized_store(sized)
            figures = [
                Figure(
                    "durable store (in process)",
                    f"data directory, {SIZE_TARGET:,} learners × {SIZE_MESSAGES} messages",
                    f"{size / SIZE_LEARNERS * SIZE_TARGET / 2**20:,.0f} MB",
                    conditions=(
                        f"extrapolated from {SIZE_LEARNERS} learners × {SIZE_MESSAGES} "
                        f"messages ({size / 2**20:.1f} MB compacted); deliveries and events "
                        "expire after 90 days"
                    ),
                )
            ]
            for compact, how in ((False, "journal replay"), (True, "snapshot load")):
                seconds = restart_seconds(sized, Path(tmp) / how.replace(" ", "-"), compact)
                figures.append(
                    Figure(
                        "durable store (in process)",
                        f"restart with {RESTART_LEARNERS:,} learners, {how}",
                        f"{seconds:.2f} s",
                        "< 2 s",
                        seconds < 2,
                        f"plus {SIZE_LEARNERS} learners' deliveries and events",
                    )
                )
        return figures
    finally:
        logging.disable(logging.NOTSET)


def section() -> list[Figure]:
    return store_figures() + throughput_figures()


if __name__ == "__main__":
    print(render(section()))
