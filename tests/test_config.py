"""Configuration from the environment and `.env`, and channels switched off cleanly."""

from __future__ import annotations

import logging
from pathlib import Path

from bot.config import SHIPPED_CONTENT, Config


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
