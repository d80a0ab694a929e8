"""A real xAPI learning record store for the tests: ralph-malph's LRS API (FastAPI under
uvicorn) on a free port of 127.0.0.1, storing statements in files (the `fs` backend needs
no database server), with one HTTP Basic user written to its auth file.

ralph 5.1.0's file backend writes every batch with the `create` operation, which refuses
an existing file, so its second POST fails with 500 ("overwrite is not allowed"); the
launcher below makes it append, as an LRS must. That is the only change to ralph.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import urllib3

KEY, SECRET = "trainbot", "lrs-test-secret"

LAUNCHER = """
import sys
import uvicorn
from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend

FSLRSBackend.default_operation_type = BaseOperationType.APPEND
uvicorn.run("ralph.api:app", host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Lrs:
    """A running LRS: its xAPI endpoint and credentials, and a reader for what it holds."""

    endpoint: str
    folder: Path

    def post(self, statements: list[dict[str, Any]]) -> int:
        """Store statements directly (as another system would); the HTTP status."""
        response = urllib3.PoolManager().request(
            "POST", f"{self.endpoint}/statements", json=statements, headers=self._headers()
        )
        return response.status

    def _headers(self) -> dict[str, str]:
        return {
            "X-Experience-API-Version": "1.0.3",
            **urllib3.make_headers(basic_auth=f"{KEY}:{SECRET}"),
        }

    def statements(self, agent: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every statement stored (about `agent`), read back through GET /xAPI/statements,
        following the `more` links."""
        http, headers = urllib3.PoolManager(), self._headers()
        fields = {"limit": "100", **({"agent": json.dumps(agent)} if agent else {})}
        url = f"{self.endpoint}/statements"
        found: list[dict[str, Any]] = []
        while True:
            response = http.request("GET", url, fields=fields, headers=headers)
            assert response.status == 200, response.data
            page = response.json()
            found += page["statements"]
            if not page.get("more"):
                return found
            url, fields = self.endpoint.rsplit("/xAPI", 1)[0] + page["more"], {}


@contextmanager
def running_lrs(folder: Path, port: int | None = None) -> Iterator[Lrs]:
    """Start ralph on `port` (default: a free one), wait until it answers, stop it after."""
    port = port or free_port()
    data = folder / "statements"
    data.mkdir(parents=True, exist_ok=True)
    hashed = bcrypt.hashpw(SECRET.encode(), bcrypt.gensalt(rounds=4)).decode()
    user = {"username": KEY, "hash": hashed, "scopes": ["all"]}
    user["agent"] = {"mbox": "mailto:trainbot-lrs@example.org"}
    (folder / "auth.json").write_text(json.dumps([user]))
    env = {
        **os.environ,
        "RALPH_APP_DIR": str(folder / "app"),
        "RALPH_AUTH_FILE": str(folder / "auth.json"),
        "RALPH_RUNSERVER_BACKEND": "fs",
        "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(data),
        "RALPH_BACKENDS__DATA__FS__DEFAULT_DIRECTORY_PATH": str(data),
    }
    log = (folder / "ralph.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(port)], env=env, stdout=log, stderr=log
    )
    try:
        _wait_ready(port, process, folder)
        yield Lrs(f"http://127.0.0.1:{port}/xAPI", folder)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _wait_ready(port: int, process: subprocess.Popen[bytes], folder: Path) -> None:
    http = urllib3.PoolManager(retries=False, timeout=1.0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ralph exited: {(folder / 'ralph.log').read_text()[-2000:]}")
        try:
            if http.request("GET", f"http://127.0.0.1:{port}/__heartbeat__").status == 200:
                return
        except urllib3.exceptions.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("ralph did not answer within 60 s")
