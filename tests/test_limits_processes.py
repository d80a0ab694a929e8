"""Rate limits hold across processes (issue 16), on a MongoDB-wire server.

Two OS processes, each building the whole app on the same `MONGODB_URI` (as two gunicorn
workers or two hosts do), share one sign-in failure budget: wrong tokens sent to either
count together, and the right token still gets in. On main each process kept its own
counts in memory, so N workers gave an attacker N budgets. The server is the suite's
MongoDB over the wire (`tests/wire.py`: SecantusDB on 127.0.0.1, or MONGODB_URI's).
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.admin_app import TOKEN
from tests.conftest import ROOT, quizless_sample
from tests.wire import Wire

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


def test_sign_in_failures_count_across_processes(wire: Wire):
    """Regression (issue 16): per-process counters gave every worker its own budget."""
    name = wire.fresh_name("trainbot_limits")
    try:
        first = _worker(wire.database_uri(name), 3)
        second = _worker(wire.database_uri(name), 3)
        assert f"{name}_limits" in wire.client.list_database_names()  # the counters
    finally:
        wire.client.drop_database(name)
        wire.client.drop_database(f"{name}_limits")
    assert first["wrong"] == [401, 401, 401]
    assert second["wrong"] == [401, 401, 429]  # the sixth wrong token overall
    assert first["right"] == second["right"] == 302  # the right token always gets in
