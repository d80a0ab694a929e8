"""Signed webhooks (`next` / `menu`) of one channel against a bare Flask route, both served
by the production server (gunicorn, gthread workers), at 1, 10 and 50 concurrent learners:
Twilio's WhatsApp webhook, and Slack's `message.im` events.

The bot runs as production runs it (`gunicorn app:app`, configured from the environment,
replies through the real `twilio` / `slack_sdk` client to a local fake API in a process of
its own, delivery on the app's thread pool). A channel is a small class (`Twilio`,
`Slack`): how to sign and post one learner message, its fake API and its environment;
everything else is shared. A level's throughput counts until every message was processed
(`trainbot_messages_in_total`; Slack is acknowledged before the work) and every reply has
left the outbox, so neither can hide behind the benchmark's end. With the embedded store
there is one worker process (the store lives in it); the hello app gets the same
configuration and is measured once per run.

    python -m bench.gunicorn_webhooks [whatsapp|slack]
"""

from __future__ import annotations

import functools
import itertools
import json
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
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import requests
from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

from bench.table import Figure, percentile, render
from bot.channels.whatsapp import WEBHOOK_PATH
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.twilio_api import FakeTwilio

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT, TOKEN, PUBLIC = "AC" + "0" * 32, "bench-token", "https://bot.example.com"
SLACK_TOKEN, SLACK_SECRET, SLACK_TEAM = "xoxb-bench-token", "bench-signing-secret", "T0BENCH"
METRICS_TOKEN = "bench-metrics-token"  # /metrics needs one; `drained` reads it
GUNICORN = ["-c", "python:bot.gunicorn_conf"]  # production's settings (Procfile)
LEVELS = {1: 200, 10: 500, 50: 1000}  # concurrent learners: webhook requests measured
ENROL = "I am a new partner"
PACED_LEARNERS, PACE, PACED_ROUNDS = 50, 1.0, 8  # 50 learners, one message a second each
PER_LEARNER = 20  # messages per learner per level: below the 30/minute flood limit
_PENDING = re.compile(r"^trainbot_outbox_learners_pending (\S+)$", re.M)
_IN = r'^trainbot_messages_in_total\{{channel="{channel}",status="[^"]*"\}} (\S+)$'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bare_environment() -> dict[str, str]:
    """This process's environment without WEB_CONCURRENCY: every bench app runs one worker
    (gunicorn itself reads the variable, and refuses it empty)."""
    return {k: v for k, v in os.environ.items() if k != "WEB_CONCURRENCY"}


@contextmanager
def gunicorn(target: str, env: Mapping[str, str], probe: str) -> Iterator[str]:
    """Serve `target` (module:app) with gunicorn on a free local port, as production is
    configured on the embedded store (one worker: no MONGODB_URI here, not even from a
    developer's environment, so every app is measured alike); its base URL."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", target, *GUNICORN, "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env={**bare_environment(), "MONGODB_URI": "", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if requests.get(base + probe, timeout=1).status_code < 500:
                        break
                except (requests.ConnectionError, requests.Timeout):  # starting, or busy
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


class Channel(ABC):
    """One channel's side of the benchmark: sign and post a learner's message (counted),
    its fake API (in its own process: in the load generator's, it would compete with the
    clients for the interpreter lock and slow delivery down) and the bot's environment."""

    name: ClassVar[str]
    path: ClassVar[str]

    def __init__(self, base: str) -> None:
        self.url = base + self.path
        self.counter = itertools.count()
        self._lock = threading.Lock()
        self.posted = 0

    serve_fake: ClassVar[Callable[[Any, Any], None]]
    """Runs the fake API until `stop` (2nd argument) is set, its URL put on the 1st."""

    @staticmethod
    @abstractmethod
    def env(fake_url: str) -> dict[str, str]:
        """The bot's environment for this channel, talking to the fake API."""

    @abstractmethod
    def request(self, learner: int, body: str) -> tuple[Any, dict[str, str]]:
        """The signed request for one learner message: (data, headers)."""

    def post(self, http: requests.Session, learner: int, body: str) -> None:
        data, headers = self.request(learner, body)
        http.post(self.url, data=data, headers=headers).raise_for_status()
        with self._lock:
            self.posted += 1


def _serve_twilio(urls: Any, stop: Any) -> None:
    with FakeTwilio(ACCOUNT, TOKEN) as fake:
        urls.put(fake.url)
        stop.wait()


def _serve_slack(urls: Any, stop: Any) -> None:
    fake = FakeSlackAPI(token=SLACK_TOKEN, team_id=SLACK_TEAM).start()
    urls.put(fake.base_url)
    stop.wait()
    fake.stop()


class Twilio(Channel):
    """Signs webhooks as Twilio does."""

    name, path = "whatsapp", WEBHOOK_PATH
    serve_fake = staticmethod(_serve_twilio)
    validator = RequestValidator(TOKEN)

    @staticmethod
    def env(fake_url: str) -> dict[str, str]:
        return {
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
            "TWILIO_API_BASE_URL": fake_url,
        }

    def params(self, learner: int, body: str) -> dict[str, str]:
        return {
            "MessageSid": f"SM{next(self.counter):032d}",
            "From": f"whatsapp:+23480{learner:08d}",
            "To": "whatsapp:+14155238886",
            "Body": body,
            "ProfileName": f"Learner {learner}",
            "NumMedia": "0",
        }

    def request(self, learner: int, body: str) -> tuple[Any, dict[str, str]]:
        params = self.params(learner, body)
        return params, {
            "X-Twilio-Signature": self.validator.compute_signature(PUBLIC + self.path, params)
        }


class Slack(Channel):
    """Signs `message.im` events as Slack does (the Events API, one per DM)."""

    name, path = "slack", "/slack/events"
    serve_fake = staticmethod(_serve_slack)
    verifier = SignatureVerifier(SLACK_SECRET)

    @staticmethod
    def env(fake_url: str) -> dict[str, str]:
        return {
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SLACK_SECRET,
            "SLACK_API_URL": fake_url,
        }

    def request(self, learner: int, body: str) -> tuple[Any, dict[str, str]]:
        n, now = next(self.counter), time.time()
        user = f"U{learner:010d}"
        data = json.dumps(
            {
                "type": "event_callback",
                "team_id": SLACK_TEAM,
                "api_app_id": "A0BENCH",
                "event_id": f"Ev{n:012d}",
                "event_time": int(now),
                "event": {
                    "type": "message",
                    "channel_type": "im",
                    "channel": "D" + user[1:],
                    "user": user,
                    "text": body,
                    "ts": f"{now:.6f}",
                    "client_msg_id": f"bench-{n}",
                },
            }
        )
        timestamp = str(int(now))
        return data, {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": self.verifier.generate_signature(timestamp=timestamp, body=data),
        }


@contextmanager
def fake_api(channel: type[Channel]) -> Iterator[str]:
    """The channel's fake API in its own process; its URL."""
    context = multiprocessing.get_context("spawn")
    urls, stop = context.Queue(), context.Event()
    process = context.Process(target=channel.serve_fake, args=(urls, stop), daemon=True)
    process.start()
    try:
        yield urls.get(timeout=30)
    finally:
        stop.set()
        process.join(timeout=10)


def drained(base: str, channel: Channel, timeout: float = 120) -> None:
    """Wait until every posted message was processed and every learner's outbox is empty
    (all replies accepted by the fake API)."""
    processed = re.compile(_IN.format(channel=channel.name), re.M)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        metrics = requests.get(
            base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5
        ).text
        pending = _PENDING.search(metrics)
        done = sum(float(count) for count in processed.findall(metrics))
        if pending and float(pending.group(1)) == 0 and done >= channel.posted:
            return
        time.sleep(0.02)
    raise RuntimeError(f"the {channel.name} messages were not all processed and delivered")


def measure_webhooks(
    base: str, channel: type[Channel], drain: Callable[[str, Channel], None] = drained
) -> tuple[dict[int, tuple[float, list[float], int]], Channel]:
    """Per level: throughput (requests/s until `drain` says all was processed and
    delivered), latencies, learners in store; and the channel's poster (for the messages
    counted so far)."""
    twilio = channel(base)
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
        drain(base, twilio)
        started = time.perf_counter()
        latencies, _ = run_clients(clients, per_client, functools.partial(say, after=pool))
        drain(base, twilio)
        throughput = len(latencies) / (time.perf_counter() - started)
        results[clients] = (throughput, latencies, learners_total)
    return results, twilio


def measure_paced(base: str, twilio: Channel, first: int) -> tuple[list[float], int]:
    """PACED_LEARNERS learners each writing once every PACE seconds (people read between
    messages): latencies when the server is not saturated, and the learners enrolled."""
    learners = range(first, first + PACED_LEARNERS)
    run_clients(PACED_LEARNERS, 1, lambda http, c, n: twilio.post(http, learners[c], ENROL))
    drained(base, twilio)
    start = time.perf_counter() + 0.1

    def wait(client: int, n: int) -> None:
        # spread the learners over the interval, as people do not write in step
        due = start + n * PACE + client * PACE / PACED_LEARNERS
        time.sleep(max(0.0, due - time.perf_counter()))

    def post(http: requests.Session, client: int, n: int) -> None:
        twilio.post(http, learners[client], ("next", "menu")[n % 2])

    latencies, _ = run_clients(PACED_LEARNERS, PACED_ROUNDS, post, wait)
    return latencies, first + PACED_LEARNERS


@functools.cache
def hello() -> dict[int, tuple[float, list[float]]]:
    """The bare Flask route under the same gunicorn configuration, once per run (both
    channels' ratios are taken against the same figures)."""
    with gunicorn("bench.hello_app:app", {}, "/hello") as base:
        body = Twilio(base).params(1, "next")
        return measure_route(
            lambda http, client, n: http.post(base + "/hello", data=body).raise_for_status()
        )


@functools.cache
def sends_only(channel: type[Channel]) -> dict[int, tuple[float, list[float]]]:
    """The channel's delivery floor (`bench.sends_app`): signed webhooks that only send
    two replies through the bot's sender, under the same gunicorn configuration."""
    with fake_api(channel) as fake_url:
        env = {**channel.env(fake_url), "PUBLIC_BASE_URL": PUBLIC}
        with gunicorn("bench.sends_app:app", env, channel.path) as base:
            poster = channel(base)
            return measure_route(lambda http, client, n: poster.post(http, client, "next"))


def measure_route(post: Callable[[requests.Session, int, int], None]) -> dict[int, Any]:
    """Per level: throughput (requests/s) and latencies of `post` (no store to drain)."""
    results = {}
    for clients, total in LEVELS.items():
        latencies, wall = run_clients(clients, total // clients, post)
        results[clients] = (len(latencies) / wall, latencies)
    return results


def channel_figures(channel: type[Channel]) -> list[Figure]:
    """The channel's figures under gunicorn, and its throughput ÷ the hello route's."""
    ms = 1000
    with fake_api(channel) as fake_url:
        env = {**channel.env(fake_url), "PUBLIC_BASE_URL": PUBLIC, "MONGODB_URI": ""}
        env["METRICS_TOKEN"] = METRICS_TOKEN
        with (
            tempfile.TemporaryDirectory() as data,
            gunicorn("app:app", {**env, "DATA_DIR": data}, "/readyz") as base,
        ):
            webhooks, poster = measure_webhooks(base, channel)
            in_store = max(learners for _, _, learners in webhooks.values())
            paced, learners = measure_paced(base, poster, first=in_store)
    figures = []
    name = f"{channel.name} webhook (gunicorn)"
    for clients, (throughput, latencies, learners_then) in webhooks.items():
        conditions = f"{clients} concurrent, {learners_then} learners in the embedded store"
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
    throughputs = {clients: webhooks[clients][0] for clients in LEVELS}
    return figures + hello_ratios(f"{channel.name} ÷ hello", throughputs, judged=True)


def hello_ratios(
    name: str, throughputs: Mapping[int, float], judged: bool, conditions: str = ""
) -> list[Figure]:
    """Throughput ÷ the hello route's, per level; `judged` against the issue's ≥ 0.5."""
    figures = []
    for clients, throughput in throughputs.items():
        ratio = throughput / hello()[clients][0]
        target = ("≥ 0.5", ratio >= 0.5) if judged else ("", None)
        figures.append(
            Figure(
                name,
                f"throughput at {clients}",
                f"{ratio:.2f}",
                *target,
                conditions or f"{clients} concurrent",
            )
        )
    return figures


def route_figures(name: str, results: dict[int, tuple[float, list[float]]]) -> list[Figure]:
    ms, figures = 1000, []
    for clients, (throughput, latencies) in results.items():
        p50, p99 = percentile(latencies, 0.5) * ms, percentile(latencies, 0.99) * ms
        figures += [
            Figure(name, f"throughput at {clients}", f"{throughput:.0f} req/s"),
            Figure(name, f"p50 / p99 at {clients}", f"{p50:.1f} / {p99:.1f} ms"),
        ]
    return figures


def floor_figures(channel: type[Channel]) -> list[Figure]:
    """The channel's delivery floor and its ratio to hello: the most the webhook's ratio
    can be."""
    floor = sends_only(channel)
    return route_figures(f"{channel.name} sends only (gunicorn)", floor) + hello_ratios(
        f"{channel.name} sends only ÷ hello",
        {clients: throughput for clients, (throughput, _) in floor.items()},
        judged=False,
        conditions="signature check + 2 replies through the channel's sender; no store",
    )


def section() -> list[Figure]:
    """WhatsApp webhooks, the delivery floor, and the hello route they (and Slack's
    events) are compared with."""
    return (
        channel_figures(Twilio)
        + floor_figures(Twilio)
        + route_figures("flask hello (gunicorn)", hello())
    )


def slack_section() -> list[Figure]:
    """Slack `message.im` events, signed, through Bolt (acknowledged, then processed),
    and Slack's delivery floor."""
    return channel_figures(Slack) + floor_figures(Slack)


if __name__ == "__main__":
    print(render(slack_section() if sys.argv[1:] == ["slack"] else section()))
