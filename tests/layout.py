"""The production layout as the Procfile runs it, as real processes on 127.0.0.1: `web`
(gunicorn `app:app`, two gthread workers) and `clock` (`trainbot clock`), both on one
MongoDB, plus a learner's side that signs webhooks as Twilio does and, like Twilio with a
fallback URL, posts a message again while it gets no answer or a 5xx.

Used by tests/test_production.py and by `make bench` (bench/production.py).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import requests
from twilio.request_validator import RequestValidator

from bot.channels.whatsapp import WEBHOOK_PATH
from tests.harness import ACCOUNT, BUSINESS, PUBLIC, TOKEN, phone
from tests.wire import die_with_parent, free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the virtualenv's console scripts: gunicorn, trainbot
START_TIMEOUT = 60.0  # seconds for both workers to load courses, tokenizer and indexes


def procfile(name: str, port: int) -> list[str]:
    """The Procfile's `name` command as an argv, run from this virtualenv; gunicorn bound to
    127.0.0.1:`port` instead of the config's `0.0.0.0:$PORT` (its command line wins)."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        process, _, command = line.partition(":")
        if process.strip() == name:
            argv = shlex.split(command)
            if argv[0] == "gunicorn":
                argv += ["--bind", f"127.0.0.1:{port}"]
            return [str(BIN / argv[0]), *argv[1:]]
    raise LookupError(f"no '{name}' process in the Procfile")


def children(pid: int) -> list[int]:
    """The live child processes of `pid` (a gunicorn master's workers), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return sorted(found)


@dataclass
class Layout:
    """The running processes: gunicorn's master (`web`), the clock, and the web's URL."""

    base: str
    web: subprocess.Popen
    clock: subprocess.Popen
    logs: Path

    def workers(self) -> list[int]:
        return children(self.web.pid)

    def log(self) -> str:
        """Both processes' output so far (shown when a test fails)."""
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')}"
            for path in sorted(self.logs.glob("*.log"))
        )


def _start(argv: Sequence[str], env: Mapping[str, str], log: IO[bytes]) -> subprocess.Popen:
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent,
    )


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def production(env: Mapping[str, str], logs: Path) -> Iterator[Layout]:
    """Start `web` and `clock` from the Procfile with `env` (MONGODB_URI, TWILIO_…); yield
    once both web workers answer; stop them (SIGTERM, as a platform does) on exit."""
    port = free_port()
    logs.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        web_log = stack.enter_context((logs / "web.log").open("wb"))
        clock_log = stack.enter_context((logs / "clock.log").open("wb"))
        web = _start(procfile("web", port), env, web_log)
        stack.callback(_stop, web)
        clock = _start(procfile("clock", port), env, clock_log)
        stack.callback(_stop, clock)
        layout = Layout(f"http://127.0.0.1:{port}", web, clock, logs)
        _wait_ready(layout)
        yield layout


def _wait_ready(layout: Layout) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if layout.web.poll() is not None or layout.clock.poll() is not None:
            break
        try:
            ready = requests.get(layout.base + "/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            ready = False
        if ready and len(layout.workers()) == 2:
            return
        time.sleep(0.1)
    raise RuntimeError(f"the production layout did not start:\n{layout.log()}")


def environment(mongodb_uri: str, twilio_url: str, content: Path) -> dict[str, str]:
    """What a deployment sets (docs/deploy.md), pointed at local servers."""
    return {
        "MONGODB_URI": mongodb_uri,
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_WHATSAPP_FROM": BUSINESS,
        "TWILIO_API_BASE_URL": twilio_url,
        "PUBLIC_BASE_URL": PUBLIC,
        "CONTENT_DIR": str(content),
        "ADMIN_TOKEN": "layout-admin-token",
        "SIMULATOR": "off",
    }


@dataclass
class Learners:
    """Learners writing to the bot's WhatsApp webhook, each message signed as Twilio signs
    it; a message that got no answer or a 5xx is posted again (same MessageSid) until it
    gets a 200, as Twilio's retry to a fallback URL does. Counts what happened."""

    base: str
    retry_wait: float = 0.2
    tries: int = 100  # ~20 s of retries: a respawned worker answers within a few seconds
    answered: int = 0
    retried: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)

    def say(self, learner: int, n: int, text: str) -> None:
        """Learner `learner`'s `n`th message, until the bot answers 200 (a connection per
        post, as Twilio's webhooks come: each one goes to whichever worker accepts it)."""
        params = {
            "MessageSid": f"SM{learner:016d}{n:016d}",
            "AccountSid": ACCOUNT,
            "From": phone(learner),
            "To": BUSINESS,
            "Body": text,
            "NumMedia": "0",
            "ProfileName": "Ada",
        }
        headers = {
            "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(
                PUBLIC + WEBHOOK_PATH, params
            )
        }
        for _ in range(self.tries):
            try:
                status = requests.post(
                    self.base + WEBHOOK_PATH, data=params, headers=headers, timeout=20
                ).status_code
            except requests.RequestException:
                status = None  # the worker died with the request: no answer
            if status == 200:
                break
            if status is not None and status < 500:
                raise AssertionError(f"learner {learner} message {n}: HTTP {status}")
            with self.changed:
                self.retried += 1
            time.sleep(self.retry_wait)
        else:
            raise AssertionError(f"learner {learner} message {n}: no 200 in {self.tries} posts")
        with self.changed:
            self.answered += 1
            self.changed.notify_all()

    def converse(self, learners: range, script: Sequence[str]) -> None:
        """Every learner says the whole `script`, one message after the other (the next
        once the last was answered), all learners at the same time; raises what any
        learner's thread raised."""

        def one(learner: int) -> None:
            for n, text in enumerate(script):
                self.say(learner, n, text)

        with ThreadPoolExecutor(max_workers=len(learners)) as pool:
            list(pool.map(one, learners))

    def wait_answered(self, count: int, timeout: float = 60.0) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.answered >= count, timeout)
