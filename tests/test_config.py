"""Configuration from the environment and `.env`, and channels switched off cleanly."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import SHIPPED_CONTENT, VARIABLES, Config, ConfigError
from tests.conftest import ROOT


def test_defaults_without_anything():
    config = Config.from_env({}, dotenv=None)
    assert config.mongodb_uri == "" and config.content_dir == SHIPPED_CONTENT
    assert not config.whatsapp_enabled and not config.slack_enabled
    assert config.simulator is None  # decided by where the server listens


def test_the_simulator_is_on_only_when_enabled_or_on_loopback():
    """Issue 16: the simulator was on by default on every address; anyone could create
    thousands of learners. Unset, it is on only for a server bound to loopback."""
    auto = Config.from_env({}, dotenv=None)
    assert auto.simulator_for("127.0.0.1") and auto.simulator_for("::1")
    assert not auto.simulator_for("0.0.0.0") and not auto.simulator_for("10.0.0.5")
    on = Config.from_env({"SIMULATOR": "on"}, dotenv=None)
    off = Config.from_env({"SIMULATOR": "off"}, dotenv=None)
    assert on.simulator_for("0.0.0.0") and not off.simulator_for("127.0.0.1")


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text(
        "CONTENT_DIR=/from/dotenv\nOPENAI_MODEL=gpt-x\nPUBLIC_BASE_URL=https://a.example/\n"
    )
    config = Config.from_env({"OPENAI_MODEL": "gpt-env"}, dotenv=str(env_file))
    assert config.content_dir == Path("/from/dotenv")
    assert config.openai_model == "gpt-env"
    assert config.public_base_url == "https://a.example"


def test_channels_need_all_their_credentials(caplog):
    partial = Config.from_env({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"}, dotenv=None)
    assert not partial.whatsapp_enabled
    full = Config.from_env(
        {
            "TWILIO_ACCOUNT_SID": "AC1",
            "TWILIO_AUTH_TOKEN": "t",
            "TWILIO_WHATSAPP_FROM": "whatsapp:+1555",
        },
        dotenv=None,
    )
    assert full.whatsapp_enabled
    with caplog.at_level(logging.INFO):
        partial.log_channels()
    lines = [r.getMessage() for r in caplog.records]
    assert sum("whatsapp: disabled" in line for line in lines) == 1
    assert sum("slack: disabled" in line for line in lines) == 1


# --- issue 19: typed settings, validated at start ---------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TRUSTED_PROXY_HOPS": "abc"}, "TRUSTED_PROXY_HOPS='abc' is not valid: expected a whole"),
        ({"CONTENT_CHECK_SECONDS": "-1"}, "CONTENT_CHECK_SECONDS='-1' is not valid: expected"),
        ({"PUBLIC_BASE_URL": "bot.example.com"}, "PUBLIC_BASE_URL is not valid: expected an http"),
        ({"PUBLIC_BASE_URL": "https://bot.example.com:port"}, "PUBLIC_BASE_URL is not valid"),
        ({"SIMULATOR": "maybe"}, "SIMULATOR='maybe' is not valid: expected on or off"),
        ({"PORT": "99999"}, "PORT='99999' is not valid: expected a TCP port"),
        ({"WEB_CONCURRENCY": "0"}, "WEB_CONCURRENCY='0' is not valid"),
        ({"OPENAI_BASE_URL": "localhost:8080"}, "OPENAI_BASE_URL is not valid: expected an http"),
        ({"MONGODB_URI": "db.example.com"}, "MONGODB_URI is not valid: expected a MongoDB URI"),
        ({"DIGEST_DAYS": "400"}, "DIGEST_DAYS='400' is not valid: expected a number of days"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_it_expects(env, expected):
    with pytest.raises(ConfigError) as caught:
        Config.from_env(env, dotenv=None)
    message = str(caught.value)
    assert message.startswith("config: ") and expected in message
    assert "\n" not in message and "pydantic" not in message


def test_every_bad_value_is_named_at_once():
    env = {"TRUSTED_PROXY_HOPS": "-1", "OPENAI_TIMEOUT": "soon", "SIMULATOR": "yes"}
    with pytest.raises(ConfigError) as caught:
        Config.from_env(env, dotenv=None)
    message = str(caught.value)
    assert "TRUSTED_PROXY_HOPS" in message and "OPENAI_TIMEOUT" in message
    assert "SIMULATOR" not in message  # `yes` is a synonym, as it always was


def test_switches_numbers_and_urls_are_typed():
    config = Config.from_env(
        {
            "SIMULATOR": " Yes ",
            "TRUSTED_PROXY_HOPS": "2",
            "PUBLIC_BASE_URL": "https://bot.example.com/",
            "DATA_DIR": ":memory:",
            "DIGEST_CHANNELS": "partner-onboarding=C0123, sales-basics=ops@example.com",
            "ASSISTANT_PROMPT_FILE": "prompt.txt",
        },
        dotenv=None,
    )
    assert config.simulator is True and config.trusted_proxy_hops == 2
    assert config.public_base_url == "https://bot.example.com" and config.data_dir is None
    assert config.digest_channels == {
        "partner-onboarding": "C0123",
        "sales-basics": "ops@example.com",
    }
    assert config.assistant_prompt_file == Path("prompt.txt")
    assert Config.from_env({"SIMULATOR": "0"}, dotenv=None).simulator is False
    with pytest.raises(ConfigError, match="TRUSTED_PROXY_HOPS"):
        config.replace(trusted_proxy_hops=-1)  # a copy is validated too


def test_secrets_are_never_shown():
    secrets = {
        "TWILIO_AUTH_TOKEN": "tw-s3cret",
        "SLACK_BOT_TOKEN": "xoxb-s3cret",
        "SLACK_SIGNING_SECRET": "sl-s3cret",
        "OPENAI_API_KEY": "sk-s3cret",
        "ADMIN_TOKEN": "ad-s3cret",
        "METRICS_TOKEN": "me-s3cret",
        "SECRET_KEY": "se-s3cret",
        "SMTP_URL": "smtp://bot:pw-s3cret@mail.example.com:587",
        "MONGODB_URI": "mongodb://bot:pw-s3cret@db.example.com/trainbot",
        "RATELIMIT_STORAGE_URI": "redis://:pw-s3cret@cache.example.com:6379",
    }
    config = Config.from_env(secrets, dotenv=None)
    assert "s3cret" not in repr(config) and "s3cret" not in str(config)
    assert config.twilio_auth_token.get_secret_value() == "tw-s3cret"
    bad = {**secrets, "SMTP_URL": "mailto:pw-s3cret", "MONGODB_URI": "pw-s3cret"}
    with pytest.raises(ConfigError) as caught:
        Config.from_env(bad, dotenv=None)
    message = str(caught.value)
    assert "SMTP_URL" in message and "MONGODB_URI" in message and "s3cret" not in message


def _entry_point(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """Run a start command under `env` (no `.env` in `cwd`) and return what it did."""
    clean = {k: v for k, v in os.environ.items() if k not in VARIABLES.values()}
    return subprocess.run(
        argv,
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(ROOT), "DATA_DIR": str(cwd / "data"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "command",
    [
        ["trainbot", "serve"],
        ["trainbot", "content", "check"],
        ["python", "-c", "import app"],
        ["gunicorn", "-c", "python:bot.gunicorn_conf", "app:app"],
        ["gunicorn", "--bind", "127.0.0.1:0", "app:app"],  # no config module: the worker stops
    ],
)
def test_every_entry_point_stops_with_one_line(tmp_path: Path, command: list[str]):
    argv = [str(Path(sys.executable).parent / command[0]), *command[1:]]
    env = {"TRUSTED_PROXY_HOPS": "abc", "ADMIN_TOKEN": "ad-s3cret"}
    done = _entry_point(argv, env, tmp_path)
    assert done.returncode != 0
    assert "TRUSTED_PROXY_HOPS='abc' is not valid: expected a whole number" in done.stderr
    assert "Traceback" not in done.stderr and "pydantic" not in done.stderr
    assert "s3cret" not in done.stderr + done.stdout
