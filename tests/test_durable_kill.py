"""`kill -9` of the real server, `trainbot serve` as `make run` starts it (gunicorn master
and worker, the embedded store in DATA_DIR), in the middle of a burst of signed WhatsApp
webhooks, replies going to a local fake Twilio through the real `twilio` client.

After a restart on the same data directory, and Twilio retrying every webhook that got no
answer (as it does with a fallback URL), each learner must end with exactly the replies of
a run that was never killed, in order, and their certificate must still verify.

On main before the durable store, the restarted server had forgotten everyone: learners
were welcomed again and queued replies never went out.
"""

from __future__ import annotations

import difflib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from tests.conftest import ROOT, fresh_data_dir, quizless_sample
from tests.fakes.twilio_api import FakeTwilio
from tests.harness import ACCOUNT, BUSINESS, ENROL, TOKEN, Served, bodies_to, message, phone
from tests.layout import children
from tests.wire import free_port

LEARNERS = 8
SCRIPT = [ENROL, "next", "menu", "next", "previous", "next", "next", "next", "next", "next"]
SCRIPT += ["next", "certificate"]  # the last `next` completes the course: a certificate


def normal(text: str) -> str:
    """A reply without what differs between runs: the base URL and certificate codes."""
    text = re.sub(r"https?://[^/\s]+/", "BASE/", text)
    text = re.sub(r"/certificates/[A-Z0-9-]+", "/certificates/CODE", text)
    return re.sub(r"\b[A-Z0-9]{4}(-[A-Z0-9]{4}){3}\b", "CODE", text)


@lru_cache
def replies(steps: int = len(SCRIPT)) -> list[str]:
    """One learner's replies to the first `steps` messages of the script when nothing goes
    wrong (every learner runs the same script)."""
    with FakeTwilio(ACCOUNT, TOKEN) as fake:
        bot = Served(fake, CONTENT_DIR=str(quizless_sample()))
        for n, text in enumerate(SCRIPT[:steps]):
            assert bot.post(message(n, phone(0), text)).status_code == 200
        return [normal(b) for b in bodies_to(fake, phone(0))]


@pytest.fixture(scope="module")
def reference() -> list[str]:
    return replies()


class Server:
    """`trainbot serve` in its own process group, so that kill -9 takes master and worker."""

    def __init__(self, data_dir: str, twilio_url: str, *command: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATA_DIR": data_dir,
            "CONTENT_DIR": str(quizless_sample()),
            "PUBLIC_BASE_URL": self.base,
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_WHATSAPP_FROM": BUSINESS,
            "TWILIO_API_BASE_URL": twilio_url,
        }
        env.pop("MONGODB_URI", None)
        command = command or (sys.executable, "-m", "bot.cli", "serve", "--port", "{port}")
        self.proc = subprocess.Popen(
            [part.format(port=self.port) for part in command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/readyz", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise AssertionError(f"server did not start: {self.proc.stderr.read()}")

    def post(self, params: dict[str, str]) -> int | None:
        """Post a signed webhook as Twilio does; the status, or None when no answer came."""
        path = "/webhooks/whatsapp"
        signature = RequestValidator(TOKEN).compute_signature(self.base + path, params)
        request = urllib.request.Request(
            self.base + path,
            data=urlencode(params).encode(),
            headers={"X-Twilio-Signature": signature},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return None

    def get(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.base + path, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


@contextmanager
def server(data_dir: str, twilio_url: str, *command: str) -> Iterator[Server]:
    running = Server(data_dir, twilio_url, *command)
    try:
        yield running
    finally:
        if running.proc.poll() is None:
            running.kill()


def burst(running: Server, kill_after: int) -> dict[tuple[int, int], int | None]:
    """Every learner's script, learners in parallel; kill -9 once `kill_after` messages
    have been answered. Returns each message's answer (None: none came)."""
    answers: dict[tuple[int, int], int | None] = {}
    answered = threading.Semaphore(0)

    def learner(n: int) -> None:
        for step, text in enumerate(SCRIPT):
            status = running.post(message(n * 100 + step, phone(n), text))
            answers[n, step] = status
            if status is None:
                return  # the server is gone: Twilio will retry the rest
            answered.release()

    with ThreadPoolExecutor(max_workers=LEARNERS) as pool:
        jobs = [pool.submit(learner, n) for n in range(LEARNERS)]
        for _ in range(kill_after):
            answered.acquire(timeout=30)
        running.kill()
        for job in jobs:
            job.result()
    return answers


def retry_everything(running: Server) -> None:
    """Twilio retries what got no answer; here every message is posted again, in order,
    so replays of the answered ones are covered too."""
    for n in range(LEARNERS):
        for step, text in enumerate(SCRIPT):
            params = message(n * 100 + step, phone(n), text)
            statuses = []
            while 200 not in statuses:  # Twilio retries until it gets an answer
                assert len(statuses) < 5, (n, step, statuses)
                statuses.append(running.post(params))


def delivered(fake: FakeTwilio, reference: list[str], timeout: float = 90) -> dict[int, list]:
    deadline = time.monotonic() + timeout
    while True:
        got = {n: [normal(b) for b in bodies_to(fake, phone(n))] for n in range(LEARNERS)}
        if all(len(v) >= len(reference) for v in got.values()) or time.monotonic() > deadline:
            time.sleep(0.5)  # anything extra (a duplicate) has time to arrive
            return {n: [normal(b) for b in bodies_to(fake, phone(n))] for n in range(LEARNERS)}
        time.sleep(0.2)


def test_kill_9_while_twilio_is_down_loses_nothing(reference: list[str]):
    """Twilio is unreachable during the burst, so every reply is queued when the server dies
    (sent replies cannot be in flight): afterwards each learner gets exactly the replies of
    an undisturbed run, once each, in order."""
    data_dir = fresh_data_dir()
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    with server(data_dir, down) as first:
        answers = burst(first, kill_after=LEARNERS * len(SCRIPT) // 2)
    acknowledged = sum(status == 200 for status in answers.values())
    assert acknowledged >= LEARNERS * len(SCRIPT) // 2
    with FakeTwilio(ACCOUNT, TOKEN) as fake, server(data_dir, fake.url) as second:
        assert second.get("/readyz") == 200
        retry_everything(second)
        got = delivered(fake, reference)
        for n in range(LEARNERS):
            assert got[n] == reference, "\n".join(
                difflib.unified_diff(reference, got[n], lineterm="")
            )
        codes = {
            m
            for n in range(LEARNERS)
            for m in re.findall(r"/certificates/([A-Z0-9-]+)", "\n".join(bodies_to(fake, phone(n))))
        }
        assert len(codes) == LEARNERS
        assert {second.get(f"/certificates/{code}") for code in codes} == {200}


def test_kill_9_during_delivery_loses_nothing_and_keeps_order(reference: list[str]):
    """Twilio is up: the kill can land between Twilio accepting a reply and the bot
    recording it. The deliverer leaves word on the entry before each send, so the next one
    looks the message up instead of sending it again: nothing lost, nothing twice, in
    order. (Before, that reply went out twice: Twilio takes no idempotency key.)"""
    data_dir = fresh_data_dir()
    with FakeTwilio(ACCOUNT, TOKEN) as fake:
        for kill_after in (LEARNERS * 3, LEARNERS * 7):
            with server(data_dir, fake.url) as running:
                burst(running, kill_after)
        with server(data_dir, fake.url) as last:
            retry_everything(last)
            got = delivered(fake, reference)
        for n in range(LEARNERS):
            assert resent(got[n], reference) == [], n


def resent(got: list[str], reference: list[str]) -> list[str]:
    """The replies of `got` that repeat the one just before them, once `reference` is
    found in order in the rest (fails if a reply is missing or out of order)."""
    expected, repeats = iter(reference), []
    wanted = next(expected, None)
    for i, body in enumerate(got):
        if body == wanted:
            wanted = next(expected, None)
        else:
            assert i > 0 and body == got[i - 1], f"reply {i} out of order: {body[:60]}"
            repeats.append(body[:80])
    assert wanted is None, f"never delivered: {wanted[:60]}"
    return repeats


# as the Procfile runs it (bot/gunicorn_conf.py: one gthread worker on the embedded store)
GUNICORN = (str(Path(sys.executable).parent / "gunicorn"), "-c", "python:bot.gunicorn_conf")
GUNICORN += ("app:app", "-b", "127.0.0.1:{port}")


def test_gunicorn_with_two_workers_on_the_embedded_store_stops_and_names_the_fix():
    """Two workers used to get two separate stores (6–12 replies per message)."""
    proc = subprocess.run(
        [*[p.format(port=free_port()) for p in GUNICORN], "--workers", "2"],
        cwd=ROOT,
        env={**os.environ, "DATA_DIR": fresh_data_dir(), "CONTENT_DIR": str(quizless_sample())},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "Worker failed to boot" in proc.stderr
    assert "--workers 1" in proc.stderr and "MONGODB_URI" in proc.stderr


def test_a_respawned_gunicorn_worker_keeps_every_learner_and_runs_the_clock():
    """`gunicorn app:app` as the Procfile runs it, one worker: kill -9 of the worker, and
    gunicorn's new worker carries on the same conversations and retries what Twilio
    refused before (the clock's jobs run in the worker on the embedded store)."""
    data_dir = fresh_data_dir()
    with FakeTwilio(ACCOUNT, TOKEN) as fake, server(data_dir, fake.url, *GUNICORN) as running:
        fake.fail(500, times=8)  # Twilio fails the first two attempts (4 tries each)
        for step, text in enumerate(SCRIPT[:3]):
            assert running.post(message(step, phone(0), text)) == 200
        (worker,) = children(running.proc.pid)
        os.kill(worker, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while children(running.proc.pid) in ([], [worker]) and time.monotonic() < deadline:
            time.sleep(0.2)
        for step, text in enumerate(SCRIPT[3:6], start=3):
            statuses = [running.post(message(step, phone(0), text)) for _ in range(3)]
            assert 200 in statuses
        expected = replies(6)
        fake.wait_for(len(expected), timeout=40)  # a dead lease would hold them 60 s
        time.sleep(0.5)  # time for a duplicate to show
        assert [normal(b) for b in bodies_to(fake, phone(0))] == expected
