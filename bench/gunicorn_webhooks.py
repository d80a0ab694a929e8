"""Signed Twilio webhooks (`next` / `menu`) against a bare Flask route, both served by the
production server (gunicorn, gthread workers), at 1, 10 and 50 concurrent learners.

The bot runs as production runs it (`gunicorn app:app`, configured from the environment,
replies through the real `twilio` client to a local fake Twilio API, delivery on the app's
thread pool). A level's throughput counts until every reply has left the outbox, so
delivery work cannot hide behind the benchmark's end. With the embedded store there is one
worker process (the store lives in it); the hello app gets the same configuration.

    python -m bench.gunicorn_webhooks
"""

from __future__ import annotations

import functools
import itertools
import math
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from twilio.request_validator import RequestValidator

from bench.table import Figure, percentile, render
from bot.channels.whatsapp import WEBHOOK_PATH
from tests.fakes.twilio_api import FakeTwilio

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT, TOKEN, PUBLIC = "AC" + "0" * 32, "bench-token", "https://bot.example.com"
GUNICORN = ["--worker-class", "gthread", "--workers", "1", "--threads", "8"]
LEVELS = {1: 200, 10: 500, 50: 1000}  # concurrent learners: webhook requests measured
ENROL = "I am a new partner"
PACED_LEARNERS, PACE, PACED_ROUNDS = 50, 1.0, 8  # 50 learners, one message a second each
PER_LEARNER = 20  # messages per learner per level: below the 30/minute flood limit
_PENDING = re.compile(r"^trainbot_outbox_learners_pending (\S+)$", re.M)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(target: str, env: Mapping[str, str], probe: str) -> Iterator[str]:
    """Serve `target` (module:app) with gunicorn on a free local port; its base URL."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", target, *GUNICORN, "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if requests.get(base + probe, timeout=1).status_code < 500:
                        break
                except (requests.ConnectionError, requests.Timeout):
                    time.sleep(0.05)
            else:
                log.seek(0)
                raise RuntimeError(f"gunicorn {target} did not start:\n{log.read().decode()}")
            yield base
        finally:
            process.terminate()
            process.wait(timeout=10)


def run_clients(
    clients: int,
    per_client: int,
    post: Callable[[requests.Session, int, int], None],
    wait: Callable[[int, int], None] = lambda client, n: None,
) -> tuple[list[float], float]:
    """`clients` threads, each posting `per_client` requests one after the other
    (`post(session, client, n)`, after `wait(client, n)`, which is not timed); every
    request's latency and the wall time."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def client(number: int) -> None:
        http = requests.Session()
        barrier.wait()
        for n in range(per_client):
            wait(number, n)
            started = time.perf_counter()
            post(http, number, n)
            latencies[number].append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return list(itertools.chain(*latencies)), time.perf_counter() - started


class Twilio:
    """Signs webhooks as Twilio does; one learner pool per concurrency level."""

    def __init__(self, base: str) -> None:
        self.url = base + WEBHOOK_PATH
        self.validator = RequestValidator(TOKEN)
        self.counter = itertools.count()
        self.next_learner = itertools.count()

    def params(self, learner: int, body: str) -> dict[str, str]:
        return {
            "MessageSid": f"SM{next(self.counter):032d}",
            "From": f"whatsapp:+23480{learner:08d}",
            "To": "whatsapp:+14155238886",
            "Body": body,
            "ProfileName": f"Learner {learner}",
            "NumMedia": "0",
        }

    def post(self, http: requests.Session, learner: int, body: str) -> None:
        params = self.params(learner, body)
        signature = self.validator.compute_signature(PUBLIC + WEBHOOK_PATH, params)
        response = http.post(self.url, data=params, headers={"X-Twilio-Signature": signature})
        response.raise_for_status()


def _serve_fake(urls: Any, stop: Any) -> None:
    with FakeTwilio(ACCOUNT, TOKEN) as fake:
        urls.put(fake.url)
        stop.wait()


@contextmanager
def fake_twilio() -> Iterator[str]:
    """The fake Twilio API in its own process (in the load generator's, it would compete
    with the clients for the interpreter lock and slow delivery down); its URL."""
    context = multiprocessing.get_context("spawn")
    urls, stop = context.Queue(), context.Event()
    process = context.Process(target=_serve_fake, args=(urls, stop), daemon=True)
    process.start()
    try:
        yield urls.get(timeout=30)
    finally:
        stop.set()
        process.join(timeout=10)


def drained(base: str, timeout: float = 120) -> None:
    """Wait until every learner's outbox is empty (all replies accepted by the fake API)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = _PENDING.search(requests.get(base + "/metrics", timeout=5).text)
        if pending and float(pending.group(1)) == 0:
            return
        time.sleep(0.02)
    raise RuntimeError("the outbox did not drain")


def measure_webhooks(base: str) -> dict[int, tuple[float, list[float], int]]:
    """Per level: throughput (requests/s until delivered), latencies, learners in store."""
    twilio = Twilio(base)
    results = {}
    learners_total = 0
    for clients, total in LEVELS.items():
        per_client = total // clients
        pool = math.ceil(per_client / PER_LEARNER)  # learners per client
        first = learners_total
        learners_total += clients * pool

        def say(
            http: requests.Session,
            client: int,
            n: int,
            after: int = 0,
            first: int = first,
            pool: int = pool,
        ) -> None:
            """Enrol each learner with its first message, then alternate `next` and `menu`."""
            n += after
            text = ENROL if n < pool else ("next", "menu")[n // pool % 2]
            twilio.post(http, first + client * pool + n % pool, text)

        run_clients(clients, pool, say)
        drained(base)
        started = time.perf_counter()
        latencies, _ = run_clients(clients, per_client, functools.partial(say, after=pool))
        drained(base)
        throughput = len(latencies) / (time.perf_counter() - started)
        results[clients] = (throughput, latencies, learners_total)
    return results


def measure_paced(base: str, first: int) -> tuple[list[float], int]:
    """PACED_LEARNERS learners each writing once every PACE seconds (people read between
    messages): latencies when the server is not saturated, and the learners enrolled."""
    twilio = Twilio(base)
    learners = range(first, first + PACED_LEARNERS)
    run_clients(PACED_LEARNERS, 1, lambda http, c, n: twilio.post(http, learners[c], ENROL))
    drained(base)
    start = time.perf_counter() + 0.1

    def wait(client: int, n: int) -> None:
        # spread the learners over the interval, as people do not write in step
        due = start + n * PACE + client * PACE / PACED_LEARNERS
        time.sleep(max(0.0, due - time.perf_counter()))

    def post(http: requests.Session, client: int, n: int) -> None:
        twilio.post(http, learners[client], ("next", "menu")[n % 2])

    latencies, _ = run_clients(PACED_LEARNERS, PACED_ROUNDS, post, wait)
    return latencies, first + PACED_LEARNERS


def measure_hello(base: str) -> dict[int, tuple[float, list[float]]]:
    body = Twilio(base).params(1, "next")
    results = {}
    for clients, total in LEVELS.items():

        def post(http: requests.Session, client: int, n: int) -> None:
            http.post(base + "/hello", data=body).raise_for_status()

        latencies, wall = run_clients(clients, total // clients, post)
        results[clients] = (len(latencies) / wall, latencies)
    return results


def section() -> list[Figure]:
    ms = 1000
    with fake_twilio() as fake_url:
        env = {
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
            "TWILIO_API_BASE_URL": fake_url,
            "PUBLIC_BASE_URL": PUBLIC,
            "MONGODB_URI": "",
        }
        with gunicorn("app:app", env, "/readyz") as base:
            webhooks = measure_webhooks(base)
            in_store = max(learners for _, _, learners in webhooks.values())
            paced, learners = measure_paced(base, first=in_store)
    with gunicorn("bench.hello_app:app", {}, "/hello") as base:
        hello = measure_hello(base)
    figures = []
    name = "whatsapp webhook (gunicorn)"
    for clients, (throughput, latencies, learners) in webhooks.items():
        conditions = f"{clients} concurrent, {learners} learners in the embedded store"
        p99 = percentile(latencies, 0.99) * ms
        figures += [
            Figure(
                name, f"throughput at {clients}", f"{throughput:.0f} req/s", conditions=conditions
            ),
            Figure(
                name,
                f"p50 / p99 at {clients}",
                f"{percentile(latencies, 0.5) * ms:.1f} / {p99:.1f} ms",
                *(("p99 < 50 ms", p99 < 50) if clients == 50 else ()),
                conditions=conditions,
            ),
        ]
    p99 = percentile(paced, 0.99) * ms
    figures.append(
        Figure(
            name,
            f"p50 / p99, {PACED_LEARNERS} learners at 1 msg/s",
            f"{percentile(paced, 0.5) * ms:.1f} / {p99:.1f} ms",
            "p99 < 50 ms",
            p99 < 50,
            f"{PACED_LEARNERS} learners writing every {PACE:.0f} s, {learners} in the store",
        )
    )
    for clients, (throughput, latencies) in hello.items():
        p50, p99 = percentile(latencies, 0.5) * ms, percentile(latencies, 0.99) * ms
        conditions = f"{clients} concurrent"
        figures += [
            Figure("flask hello (gunicorn)", f"throughput at {clients}", f"{throughput:.0f} req/s"),
            Figure(
                "flask hello (gunicorn)", f"p50 / p99 at {clients}", f"{p50:.1f} / {p99:.1f} ms"
            ),
        ]
    for clients in LEVELS:
        ratio = webhooks[clients][0] / hello[clients][0]
        figures.append(
            Figure(
                "webhook ÷ hello",
                f"throughput at {clients}",
                f"{ratio:.2f}",
                "≥ 0.5",
                ratio >= 0.5,
                f"{clients} concurrent",
            )
        )
    return figures


if __name__ == "__main__":
    print(render(section()))
