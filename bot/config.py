"""Configuration: the environment (and a `.env` file) read once into one typed object."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

log = logging.getLogger(__name__)

SHIPPED_CONTENT = Path(__file__).resolve().parent.parent / "content"
DEFAULT_DATA_DIR = Path("data")  # the embedded store's directory when DATA_DIR is unset
IN_MEMORY = ":memory:"  # DATA_DIR value for a throwaway store (nothing survives the process)


def _switch(value: str) -> bool | None:
    """`on`/`off` (and the usual synonyms) as a bool; empty or unknown as None (default)."""
    value = value.lower()
    if value in ("1", "on", "true", "yes"):
        return True
    if value in ("0", "off", "false", "no"):
        return False
    return None


@dataclass(frozen=True)
class Config:
    """Every setting the bot reads; see the README's configuration table."""

    mongodb_uri: str = ""
    data_dir: Path | None = None  # the embedded store's directory; None: in memory
    content_dir: Path = SHIPPED_CONTENT
    public_base_url: str = "http://127.0.0.1:8000"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_whatsapp_from: str = ""
    twilio_api_base_url: str = ""
    twilio_content_sids: str = ""  # Content templates by role, see the README
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_api_url: str = ""
    openai_api_key: str = ""
    openai_base_url: str = ""
    openai_model: str = "gpt-4o-mini"
    admin_token: str = ""
    admin_token_generated: bool = False  # no ADMIN_TOKEN: see bot/admin/signin.py
    admin_signin_code: str = ""  # the one-time sign-in link's code, when generated
    metrics_token: str = ""
    # None: on only when `trainbot serve` binds to loopback (see `simulator_for`)
    simulator: bool | None = None
    content_check_seconds: float = 2.0
    xapi_endpoint: str = ""  # a learning record store's xAPI base URL; unset: no statements
    xapi_key: str = ""
    xapi_secret: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, dotenv: str | None = ".env"
    ) -> Config:
        """Settings from `environ` (default: the process environment) over a `.env` file."""
        values = {**(dotenv_values(dotenv) if dotenv and Path(dotenv).is_file() else {})}
        values.update(os.environ if environ is None else environ)
        get = lambda name, default="": (values.get(name) or default).strip()  # noqa: E731
        return cls(
            mongodb_uri=get("MONGODB_URI"),
            data_dir=_data_dir(get("DATA_DIR")),
            content_dir=Path(get("CONTENT_DIR") or SHIPPED_CONTENT),
            public_base_url=get("PUBLIC_BASE_URL", cls.public_base_url).rstrip("/"),
            twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
            twilio_whatsapp_from=get("TWILIO_WHATSAPP_FROM"),
            twilio_api_base_url=get("TWILIO_API_BASE_URL"),
            twilio_content_sids=get("TWILIO_CONTENT_SIDS"),
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_api_url=get("SLACK_API_URL"),
            openai_api_key=get("OPENAI_API_KEY"),
            openai_base_url=get("OPENAI_BASE_URL"),
            openai_model=get("OPENAI_MODEL", cls.openai_model),
            admin_token=get("ADMIN_TOKEN"),
            metrics_token=get("METRICS_TOKEN"),
            simulator=_switch(get("SIMULATOR")),
            xapi_endpoint=get("XAPI_ENDPOINT"),
            xapi_key=get("XAPI_KEY"),
            xapi_secret=get("XAPI_SECRET"),
            extra={k: v for k, v in values.items() if v is not None},
        )

    def simulator_for(self, host: str) -> bool:
        """Whether a server bound to `host` serves the simulator: as `SIMULATOR` says, else
        only on a loopback address (nobody else can reach it, so nobody can flood it)."""
        if self.simulator is not None:
            return self.simulator
        return host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")

    @property
    def store_description(self) -> str:
        """Which store this configuration uses, in words (the start-up banner)."""
        if self.mongodb_uri:
            return "MongoDB (MONGODB_URI)"
        if self.data_dir is None:
            return "embedded, IN MEMORY (DATA_DIR=:memory:): nothing survives a restart"
        return f"embedded, durable in {self.data_dir.resolve()} (DATA_DIR)"

    @property
    def whatsapp_enabled(self) -> bool:
        return bool(
            self.twilio_account_sid and self.twilio_auth_token and self.twilio_whatsapp_from
        )

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret)

    def log_channels(self) -> None:
        """One line per channel that is off for lack of credentials."""
        if not self.whatsapp_enabled:
            log.info(
                "whatsapp: disabled (set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, "
                "TWILIO_WHATSAPP_FROM to enable)"
            )
        if not self.slack_enabled:
            log.info("slack: disabled (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to enable)")
        if not self.openai_api_key:
            log.info("assistant: no OPENAI_API_KEY, answering with passages from the course")


def _data_dir(value: str) -> Path | None:
    """DATA_DIR: a folder (default `./data`), or `:memory:` for a throwaway store."""
    if value == IN_MEMORY:
        return None
    return Path(value) if value else DEFAULT_DATA_DIR
