"""Rate limits hold across processes (issue 16), on a MongoDB-wire server.

Two OS processes, each building the whole app on the same `MONGODB_URI` (as two gunicorn
workers or two hosts do), share one sign-in failure budget: wrong tokens sent to either
count together, and the right token still gets in. On main each process kept its own
counts in memory, so N workers gave an attacker N budgets. The server is SecantusDB
(`secantusd-py`, a test dependency), started here on 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.admin_app import TOKEN
from tests.conftest import ROOT, quizless_sample

WORKER = """
import json, re, sys
from bot.config import Config
from bot.web import create_app
uri, content, token, guesses = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
config = Config.from_env({"MONGODB_URI": uri, "CONTENT_DIR": content, "ADMIN_TOKEN": token},
                         dotenv=None)
client = create_app(config).test_client()
page = client.get("/admin/login").get_data(as_text=True)
csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
codes = [client.post("/admin/login", data={"token": f"guess{n}", "csrf_token": csrf}).status_code
         for n in range(guesses)]
right = client.post("/admin/login", data={"token": token, "csrf_token": csrf}).status_code
print(json.dumps({"wrong": codes, "right": right}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mongodb_uri() -> Iterator[str]:
    server = Path(sys.executable).parent / "secantusd-py"  # installed with the test extras
    if not server.is_file():
        pytest.skip("secantusd-py (pip install secantusdb) is not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [str(server), "--host", "127.0.0.1", "--port", str(port), "--storage-path", ":memory:"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("secantusd-py did not start")
        yield f"mongodb://127.0.0.1:{port}/trainbot?retryWrites=false"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _worker(uri: str, guesses: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, uri, str(quizless_sample()), TOKEN, str(guesses)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_sign_in_failures_count_across_processes(mongodb_uri: str):
    """Regression (issue 16): per-process counters gave every worker its own budget."""
    first = _worker(mongodb_uri, 3)
    second = _worker(mongodb_uri, 3)
    assert first["wrong"] == [401, 401, 401]
    assert second["wrong"] == [401, 401, 429]  # the sixth wrong token overall
    assert first["right"] == second["right"] == 302  # the right token always gets in
