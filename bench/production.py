"""The production layout's throughput: the Procfile's `web` (gunicorn, two gthread
workers) and `clock` as real processes on MongoDB over the wire (a SecantusDB started
here, as the tests do: tests/wire.py, tests/layout.py), signed WhatsApp webhooks at the
same levels as the embedded store's rows, counted until every message was processed and
every reply handed to the fake Twilio; as a ratio to the hello route of the same run.

With several workers `/metrics` counts per process, so the drain reads the database: one
`events` record per processed message, and no outbox left with replies.

    python -m bench.production
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.gunicorn_webhooks import (
    LEVELS,
    PUBLIC,
    Channel,
    Twilio,
    fake_api,
    hello_ratios,
    measure_webhooks,
)
from bench.table import Figure, percentile, render
from bot.store import Store
from tests.conftest import SAMPLE
from tests.layout import environment, production
from tests.wire import Wire, secantusdb

CONDITIONS = "2 gthread workers + clock, SecantusDB over the wire (retryWrites=false)"


def drained_in(store: Store, timeout: float = 180) -> Callable[[str, Channel], None]:
    """A drain for `measure_webhooks` that asks the database."""

    def drain(base: str, channel: Channel) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            processed = store.events.collection.count_documents({})
            if processed >= channel.posted and store.pending_count() == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("the production layout did not process and deliver everything")

    return drain


def turns_per_second(wire: Wire, turns: int = 1000) -> float:
    """The server's own pace: one learner read and one guarded commit (a message's two
    store calls), one after the other, through the real pymongo."""
    with wire.store("bench_turns") as store:
        now = datetime.now(UTC)
        store.commit("k", None, {"n": 0}, [], "m0", now)
        started = time.perf_counter()
        for n in range(1, turns + 1):
            assert store.commit("k", store.load("k"), {"n": n}, [], f"m{n}", now).ok
        return turns / (time.perf_counter() - started)


def section() -> list[Figure]:
    """The server's turns/s; the layout's throughput and latency per level, and its
    throughput ÷ the hello route's."""
    with secantusdb() as wire, fake_api(Twilio) as fake_url:
        turns = turns_per_second(wire)
        env = {
            **environment(wire.database_uri("bench"), fake_url, SAMPLE),
            **Twilio.env(fake_url),
            "PUBLIC_BASE_URL": PUBLIC,
        }
        with (
            tempfile.TemporaryDirectory() as logs,
            production(env, Path(logs)) as layout,
        ):
            store = Store(wire.client, "bench")
            results, _ = measure_webhooks(layout.base, Twilio, drained_in(store))
    name, ms = "production layout (2 workers, wire)", 1000
    figures = [
        Figure(
            "SecantusDB (wire server)",
            "turns per second",
            f"{turns:.0f}",
            conditions="one thread: load + guarded commit of one learner; retryWrites=false",
        )
    ]
    for clients, (throughput, latencies, learners) in results.items():
        conditions = f"{clients} concurrent, {learners} learners; {CONDITIONS}"
        p50, p99 = percentile(latencies, 0.5) * ms, percentile(latencies, 0.99) * ms
        figures += [
            Figure(
                name, f"throughput at {clients}", f"{throughput:.0f} req/s", "", None, conditions
            ),
            Figure(name, f"p50 / p99 at {clients}", f"{p50:.1f} / {p99:.1f} ms"),
        ]
    throughputs = {clients: results[clients][0] for clients in LEVELS}
    return figures + hello_ratios("production layout ÷ hello", throughputs, judged=False)


if __name__ == "__main__":
    print(render(section()))
