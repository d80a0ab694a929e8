"""One gunicorn configuration (bot/gunicorn_conf.py) for the Procfile, `trainbot serve` and
the benchmarks (issue 17: workers, threads and timeouts were set in three places)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.gunicorn_webhooks import GUNICORN
from bot import gunicorn_conf
from bot.cli import main
from bot.config import Config
from tests.conftest import ROOT

CONFIG = ["-c", "python:bot.gunicorn_conf"]
TUNING = ("--workers", "-w", "--threads", "--worker-class", "-k", "--timeout", "-t")


def printed(env: dict[str, str], cwd: Path) -> dict[str, str]:
    """gunicorn's own reading of the config module under `env` (`--print-config`)."""
    unset = ("MONGODB_URI", "PORT", "WEB_CONCURRENCY")
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    (cwd / "hello.py").write_text("def app(environ, start_response):\n    return []\n")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "gunicorn"), *CONFIG, "--print-config", "hello:app"],
        cwd=cwd,  # no .env here (a developer's MONGODB_URI would count)
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {
        name.strip(): value.strip()
        for name, _, value in (line.partition("=") for line in proc.stdout.splitlines())
    }


def test_the_procfile_and_the_bench_load_the_config_and_tune_nothing_themselves():
    web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line[:4] == "web:")
    argv = shlex.split(web[4:])
    assert argv[0] == "gunicorn" and argv[1:3] == CONFIG and "app:app" in argv
    assert not set(argv) & set(TUNING) and "--bind" not in argv
    assert GUNICORN == CONFIG


@pytest.mark.parametrize(
    ("env", "workers", "bind"),
    [
        ({}, "1", "['0.0.0.0:8000']"),  # the embedded store has one owner process
        ({"PORT": "18123"}, "1", "['0.0.0.0:18123']"),
        ({"MONGODB_URI": "mongodb://db.example:27017/t"}, "2", "['0.0.0.0:8000']"),
        ({"MONGODB_URI": "mongodb://db.example:27017/t", "WEB_CONCURRENCY": "4"}, "4", None),
    ],
)
def test_gunicorn_reads_the_production_defaults(tmp_path, env, workers, bind):
    settings = printed(env, tmp_path)
    assert settings["worker_class"] == "gthread"
    assert settings["threads"] == "8"
    assert settings["timeout"] == "30"
    assert settings["graceful_timeout"] == "20"
    assert settings["workers"] == workers
    if bind:
        assert settings["bind"] == bind


def test_serve_takes_the_same_settings_on_its_own_address():
    assert gunicorn_conf.settings(True, "127.0.0.1:9000", Config.from_env({}, None)) == {
        "bind": "127.0.0.1:9000",
        "workers": 1,
        "worker_class": "gthread",
        "threads": 8,
        "timeout": 30,
        "graceful_timeout": 20,
    }
    assert gunicorn_conf.settings(False, "h:1", Config.from_env({}, None))["workers"] == 2
    three = Config.from_env({"WEB_CONCURRENCY": "3"}, None)
    assert gunicorn_conf.settings(True, "h:1", three)["workers"] == 3


def test_serve_refuses_web_concurrency_above_one_on_the_embedded_store(tmp_path):
    """Two workers would each open their own embedded store; refused before starting."""
    result = CliRunner().invoke(
        main,
        ["serve"],
        env={"WEB_CONCURRENCY": "2", "MONGODB_URI": "", "DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 2
    assert "WEB_CONCURRENCY=1" in result.output and "MONGODB_URI" in result.output
