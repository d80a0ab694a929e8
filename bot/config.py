"""Configuration: the environment (and a `.env` file) read once into one typed object.

The settings themselves, a section per subsystem, are in `bot.settings`; `Config` inherits
them all and adds what is decided at start rather than configured (a generated admin
token). A value that does not fit its field stops the process at start with one line that
names the variable and says what it expects (`ConfigError`, `startup_config`), instead of
being noticed, or silently replaced by a default, in the middle of a request.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from dotenv import dotenv_values
from pydantic import BaseModel, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.settings import (
    IN_MEMORY,
    SHIPPED_CONTENT,
    AdminSettings,
    ContentSettings,
    EngagementSettings,
    LimitsSettings,
    OpenAISettings,
    SlackSettings,
    StoreSettings,
    TwilioSettings,
    WebhookSettings,
    WebSettings,
    XapiSettings,
)

__all__ = ["DEFAULT_DATA_DIR", "IN_MEMORY", "SHIPPED_CONTENT", "Config", "ConfigError"]

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path("data")  # the embedded store's directory when DATA_DIR is unset

# gunicorn's "App failed to load" status: a worker that exits with it stops the master
# instead of being restarted forever; outside gunicorn it is just a non-zero exit.
APP_LOAD_ERROR = 4
# Values that can never carry a credential, so an error may repeat them.
_ECHOED = (int, float, bool, int | None, bool | None)


class ConfigError(ValueError):
    """A setting has a value its field does not accept; the message is one line per
    variable and never contains the value of a text setting (it may be a secret)."""


class _Variables(PydanticBaseSettingsSource):
    """The settings' environment variables in one mapping, empty values left out (unset and
    empty have always meant "the default"), surrounding blanks stripped."""

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, str | None]):
        super().__init__(settings_cls)
        self.values = values

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        name = VARIABLES.get(field_name, "")
        return (self.values.get(name) or "").strip(), name, False

    def __call__(self) -> dict[str, Any]:
        fields = self.settings_cls.model_fields
        found = {name: self.get_field_value(fields[name], name)[0] for name in VARIABLES}
        return {name: value for name, value in found.items() if value}


class Config(
    StoreSettings,
    ContentSettings,
    WebSettings,
    AdminSettings,
    LimitsSettings,
    TwilioSettings,
    SlackSettings,
    OpenAISettings,
    EngagementSettings,
    WebhookSettings,
    XapiSettings,
    BaseSettings,
):
    """Every setting the bot reads; see the README's configuration table."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", validate_default=False)

    # Decided at start, never configured: see bot/admin/signin.py.
    admin_token_generated: bool = False  # no ADMIN_TOKEN: a random one for this start
    admin_signin_code: str = Field("", repr=False)  # the one-time sign-in link's code

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """`Config(...)` is exactly what it is given (tests build one without the machine's
        environment leaking in); the environment is read by `from_env` alone."""
        return (init_settings,)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, dotenv: str | None = ".env"
    ) -> Config:
        """Settings from `environ` (default: the process environment) over a `.env` file
        (python-dotenv's parser; a variable set in the environment wins). Raises
        ConfigError naming every variable whose value does not fit."""
        values: dict[str, str | None] = {
            **(dotenv_values(dotenv) if dotenv and Path(dotenv).is_file() else {})
        }
        values.update(os.environ if environ is None else environ)
        found = {"data_dir": DEFAULT_DATA_DIR, **_Variables(cls, values)()}
        try:
            return cls(**found)
        except ValidationError as exc:
            raise ConfigError(_explain(exc, values)) from None

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes`, validated like the original (`dataclasses.replace`)."""
        try:
            return self.model_validate({**dict(self), **changes})
        except ValidationError as exc:
            raise ConfigError(_explain(exc, {})) from None

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


# Every environment variable the bot reads, by field name: the fields of Config's sections
# (its bases), so that a new section is listed once, as a base.
VARIABLES: dict[str, str] = {
    name: name.upper()
    for section in Config.__bases__
    if issubclass(section, BaseModel) and section is not BaseSettings
    for name in section.model_fields
}


def _explain(error: ValidationError, values: Mapping[str, str | None]) -> str:
    """One line: each bad variable, its value when it cannot be a secret, what it expects."""
    problems = []
    for detail in error.errors():
        field = str(detail["loc"][0]) if detail["loc"] else ""
        name = VARIABLES.get(field, field)
        info = Config.model_fields.get(field)
        expected = (info.description if info else None) or detail["msg"]
        shown = name
        if info is not None and info.annotation in _ECHOED and values.get(name) is not None:
            shown = f"{name}={(values.get(name) or '').strip()!r}"
        problems.append(f"{shown} is not valid: expected {expected}")
    return "config: " + "; ".join(dict.fromkeys(problems))


def startup_config() -> Config:
    """`Config.from_env()` for a process's entry point (gunicorn's config, the WSGI app):
    a bad setting prints one line and exits (no traceback), with gunicorn's "App failed to
    load" status so that a gunicorn master stops instead of restarting workers."""
    try:
        return Config.from_env()
    except ConfigError as exc:
        print(f"trainbot: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(APP_LOAD_ERROR) from None
