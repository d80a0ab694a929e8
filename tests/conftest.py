"""Shared fixtures: the sample catalog, a small pure course, and fully wired services."""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import Message
from functools import lru_cache
from pathlib import Path

import pytest
import yaml
from flask import Flask
from werkzeug.serving import make_server

from bot import config as config_module
from bot.config import Config
from bot.content import check
from bot.observability import configure_logging
from bot.store import Store
from flows.course import Catalog, Course, Session
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.smtp import smtp_server
from tests.fakes.twilio_api import FakeTwilio
from tests.wire import Wire, wire_server

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "content"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SLACK_TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
SLACK_TEAM = "T0TEAM"
STORES = ("embedded", "wire")
"""Every store the contract tests run on: the embedded one and MongoDB over the wire."""


@pytest.fixture(scope="session")
def wire() -> Iterator[Wire]:
    """MongoDB over the wire: MONGODB_URI's server, else a SecantusDB started once for the
    whole session (only when a test asks for it) and killed at its end."""
    with wire_server() as server:
        yield server


@contextmanager
def a_store(request: pytest.FixtureRequest, kind: str, prefix: str) -> Iterator[Store]:
    """A fresh embedded store, or a throw-away database on the wire server (`kind` is one
    of `STORES`)."""
    if kind == "embedded":  # durable, as `make run` has it
        store = Store.connect(None, data_dir=Path(fresh_data_dir()))
        yield store
        store.close()
        return
    with request.getfixturevalue("wire").store(prefix) as store:
        yield store


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """The contract suites' store: each test runs once on every store of `STORES` (a
    module names its wire databases with `STORE_PREFIX`)."""
    prefix = getattr(request.module, "STORE_PREFIX", "trainbot_test")
    with a_store(request, request.param, prefix) as store:
        yield store


_STORES: list[Path] = []  # the session's folder for data directories


@pytest.fixture(scope="session", autouse=True)
def stores_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where tests' data directories go (set before module-scoped fixtures run)."""
    _STORES.append(tmp_path_factory.mktemp("stores"))
    return _STORES[-1]


def fresh_data_dir() -> str:
    """A new data directory, for a bot that must not share its store with the test's
    other bots (one store has one owner)."""
    return tempfile.mkdtemp(prefix="data-", dir=_STORES[-1])


@pytest.fixture(autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's embedded store is durable, in a directory of its own, as `make run`'s
    is (DATA_DIR's default, and the environment of the subprocesses tests start)."""
    path = tmp_path_factory.mktemp("data")
    monkeypatch.setattr(config_module, "DEFAULT_DATA_DIR", path)
    monkeypatch.setenv("DATA_DIR", str(path))
    return path


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """The app on a free port of 127.0.0.1, in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


# --- one fixture per provider fake: each starts a local server on 127.0.0.1 ---------------


@pytest.fixture
def twilio_fake() -> Iterator[FakeTwilio]:
    """The Twilio REST API for the harness's account (tests/harness.py)."""
    from tests.harness import ACCOUNT, TOKEN  # the harness imports this module

    with FakeTwilio(ACCOUNT, TOKEN) as server:
        yield server


@pytest.fixture
def slack_ids() -> tuple[str, str]:
    """The bot token and team id `slack_fake` serves; a module that tests with other ids
    (real-length ones, to notice them in logs) overrides this fixture."""
    return SLACK_TOKEN, SLACK_TEAM


@pytest.fixture
def slack_fake(slack_ids: tuple[str, str]) -> Iterator[FakeSlackAPI]:
    """The Slack Web API with no users yet (`add_user` the ones a test talks as)."""
    token, team = slack_ids
    api = FakeSlackAPI(token=token, team_id=team).start()
    yield api
    api.stop()


@pytest.fixture
def openai_fake() -> Iterator[FakeOpenAI]:
    """An OpenAI-compatible API (`answer` sets what the model says)."""
    server = FakeOpenAI()
    yield server
    server.close()


@pytest.fixture
def smtp_fake() -> Iterator[tuple[str, list[Message]]]:
    """A mail server: its `smtp://` URL and the messages it received."""
    with smtp_server() as (url, inbox):
        yield url, inbox


def make_course(
    n: int = 4,
    course_id: str = "demo",
    navigation: str = "sequential",
    enroll: tuple[str, ...] = ("start demo training",),
    **kw,
) -> Course:
    """A small in-memory course: sessions s1..sn titled "Topic i"."""
    sessions = tuple(
        Session(f"s{i}", f"Topic {i}", f"Body of topic {i}. Word{i} appears here.")
        for i in range(1, n + 1)
    )
    return Course(
        id=course_id,
        title=f"{course_id.title()} Course",
        sessions=sessions,
        description="A demo.",
        enroll=enroll,
        navigation=navigation,
        **kw,
    )


def copy_without_quizzes(target: Path) -> Path:
    """The sample content with its quizzes removed, for tests about navigation, channels
    and the assistant, where a quiz would stand between `next` and the next session."""
    shutil.copytree(SAMPLE, target)
    for path in target.glob("*/*.md"):
        _, front, body = path.read_text(encoding="utf-8").split("---\n", 2)
        meta = {k: v for k, v in yaml.safe_load(front).items() if k != "quiz"}
        path.write_text(f"---\n{yaml.safe_dump(meta)}---\n{body}", encoding="utf-8")
    return target


@lru_cache(maxsize=1)
def quizless_sample() -> Path:
    """One quiz-free copy of the sample per test run (read-only by convention)."""
    return copy_without_quizzes(Path(tempfile.mkdtemp(prefix="trainbot-quizless-")) / "content")


@pytest.fixture(scope="session")
def sample_catalog() -> Catalog:
    result = check(SAMPLE)
    assert not result.errors, result.errors
    return Catalog(tuple(result.courses))


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A config with no credentials and no .env, on the embedded store, simulator on."""
    return Config.from_env({"SIMULATOR": "on"}, dotenv=None)


@pytest.fixture
def log_lines():
    """What the production log handler (JSON lines, redacted) writes at INFO."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging(logging.INFO, json_lines=True)
    stream = io.StringIO()
    root.handlers[0].setStream(stream)
    yield stream.getvalue
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def trainbot(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the `trainbot` command as a user would, in a subprocess at the project root."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=env,
    )


class FakeClock:
    """A clock a test moves by hand (pass it where the bot takes `clock=`)."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
