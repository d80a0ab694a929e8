"""`trainbot serve` as `make run` starts it: gunicorn, the embedded store, printed URLs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

from tests.conftest import ROOT, quizless_sample
from tests.wire import free_port


def test_serve_prints_urls_and_answers_health(data_dir):
    """Also issue 17: PORT picks the port (it bound 8000 whatever PORT said), links point
    at the server when PUBLIC_BASE_URL is unset (they pointed at port 8000), and the
    scheduler does not log every run at INFO."""
    port = free_port()
    unset = ("MONGODB_URI", "ADMIN_TOKEN", "PUBLIC_BASE_URL")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(PORT=str(port), CONTENT_DIR=str(quizless_sample()))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    body = json.load(r)
            except OSError:
                time.sleep(0.2)
        assert body is not None, "server did not answer /healthz"
        assert body["status"] == "ok" and body["store"]["embedded"] is True
        assert body["store"]["durable"] is True and body["store"]["where"] == str(data_dir)
        texts = converse(f"http://127.0.0.1:{port}", ["I am a new partner", *["next"] * 7])
        assert f"http://127.0.0.1:{port}/certificates/" in texts[-1]
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/simulator" in out
    assert f"http://127.0.0.1:{port}/healthz" in out
    # issue 16: no "this machine only" mode; a one-time sign-in link instead (checked
    # against a live server in tests/test_signin.py)
    assert f"one-time sign-in link): http://127.0.0.1:{port}/admin/signin/" in out
    assert f"store:              embedded, durable in {data_dir} (DATA_DIR)" in out
    assert f"store: embedded, durable in {data_dir}: 0 documents recovered" in err
    assert "whatsapp: disabled" in err and "slack: disabled" in err
    assert "apscheduler" not in err


def converse(base: str, texts: list[str]) -> list[str]:
    """Say `texts` in the web simulator, one after the other; every reply's text."""
    for text in texts:
        body = json.dumps({"learner": "ada", "name": "Ada", "text": text}).encode()
        request = urllib.request.Request(
            f"{base}/simulator/api/send", body, {"Content-Type": "application/json"}
        )
        urllib.request.urlopen(request, timeout=10).close()
    deadline = time.monotonic() + 20
    while True:
        with urllib.request.urlopen(f"{base}/simulator/api/messages?learner=ada") as r:
            replies = [m["html"] for m in json.load(r)]
        if any("/certificates/" in t for t in replies) or time.monotonic() > deadline:
            return replies
        time.sleep(0.2)
