"""`trainbot serve` as `make run` starts it: gunicorn, the embedded store, printed URLs."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_prints_urls_and_answers_health(data_dir):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "ADMIN_TOKEN")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--port", str(port)],
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
