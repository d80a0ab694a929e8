"""MongoDB over the wire for the tests: a SecantusDB server started once per test session,
or the real MongoDB at `MONGODB_URI` when that is set.

The embedded store (mongomock-ng) accepts things a real server rejects (conflicting update
paths, `$setOnInsert` and `$set` on one path) and has no connections to drop; the same
tests through the real pymongo over a socket catch both. SecantusDB (PyPI `secantusdb`,
a test dependency only) is a single-node, MongoDB-wire-compatible server on WiredTiger
that starts in ~2 s with no installation; `--enable-test-commands` gives it mongod's
`configureFailPoint`, so fault tests can make it drop a connection or fail a write.

Its writes are ~4× faster without retryable writes (each one is otherwise recorded for
replay in its oplog), so the URI it hands out says `retryWrites=false`: the tests that
need the driver not to hide a fault set it themselves, whatever the server.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pymongo
from pymongo.errors import OperationFailure, PyMongoError

from bot.store import Store

START_TIMEOUT = 30.0  # seconds; it starts in ~2.3 s on an idle machine, longer on a busy one
OPLOG_ENTRIES = 10_000  # a small oplog keeps its writes fast (nothing here replays it)
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child process before exec: be killed when the test process dies (a timeout, a
    ^C), so no server outlives the run that started it. Linux only, a no-op elsewhere."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Wire:
    """A MongoDB server reached over the wire: its URI (with no database) and a client."""

    uri: str
    client: pymongo.MongoClient

    def database_uri(self, name: str) -> str:
        """The URI of database `name` on this server (for a subprocess's MONGODB_URI)."""
        return urlunsplit(urlsplit(self.uri)._replace(path=f"/{name}"))

    def fresh_name(self, prefix: str) -> str:
        """A database name no other test uses."""
        return f"{prefix}_{uuid.uuid4().hex[:8]}"

    @contextmanager
    def store(self, prefix: str = "trainbot_test") -> Iterator[Store]:
        """A `Store` on a throw-away database, dropped afterwards."""
        store = Store(self.client, self.fresh_name(prefix))
        try:
            yield store
        finally:
            self.client.drop_database(store.db.name)

    def can_fail(self) -> bool:
        """Whether the server takes `configureFailPoint` (a mongod needs test commands on)."""
        try:
            self.client.admin.command("configureFailPoint", "failCommand", mode="off")
            return True
        except OperationFailure:
            return False

    @contextmanager
    def fail_command(self, times: int = 1, **data: Any) -> Iterator[None]:
        """Arm mongod's `failCommand` fail point for the next `times` matching commands
        (`data`: `failCommands`, `closeConnection`, `errorCode`, `appName`…); always
        disarmed on exit."""
        self.client.admin.command(
            "configureFailPoint", "failCommand", mode={"times": times}, data=data
        )
        try:
            yield
        finally:
            self.client.admin.command("configureFailPoint", "failCommand", mode="off")


def _ping(uri: str, timeout: float) -> pymongo.MongoClient:
    """A client of the server at `uri` once it answers `ping` (or raise after `timeout`)."""
    client: pymongo.MongoClient = pymongo.MongoClient(
        uri, tz_aware=True, serverSelectionTimeoutMS=int(timeout * 1000)
    )
    try:
        client.admin.command("ping")
    except PyMongoError:
        client.close()
        raise
    return client


@contextmanager
def secantusdb() -> Iterator[Wire]:
    """A SecantusDB server on a free port of 127.0.0.1, its data in a temporary folder;
    killed (and the folder removed) on exit. The server's log goes to that folder and is
    shown if it does not come up."""
    folder = Path(tempfile.mkdtemp(prefix="trainbot-secantus-"))
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("secantusd-py")),
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--storage-path", str(folder / "data")),
        *("--oplog-max-entries", str(OPLOG_ENTRIES)),
        "--enable-test-commands",
        *("--log-level", "WARNING"),
    ]
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
    )
    uri = f"mongodb://127.0.0.1:{port}/?retryWrites=false&directConnection=true"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                client = _ping(uri, timeout=1.0)
                break
            except PyMongoError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"SecantusDB did not start:\n{(folder / 'server.log').read_text()}"
                    ) from None
        yield Wire(uri, client)
        client.close()
    finally:
        process.kill()
        process.wait(timeout=10)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def wire_server() -> Iterator[Wire]:
    """The real MongoDB at MONGODB_URI when set (its databases are left as found: each
    test drops the one it made), otherwise a SecantusDB started for this session."""
    uri = os.environ.get("MONGODB_URI", "").strip()
    if not uri:
        with secantusdb() as wire:
            yield wire
        return
    client = _ping(uri, timeout=5.0)
    try:
        yield Wire(uri, client)
    finally:
        client.close()
