"""The settings, one section per subsystem, typed and validated (pydantic).

Every field of a section is one environment variable: its name upper-cased
(`trusted_proxy_hops` is `TRUSTED_PROXY_HOPS`). `bot.config.Config` inherits every section,
so callers keep reading flat attributes (`config.twilio_auth_token`) and a subsystem can
declare that it needs only its own section (`def limits_for(config: LimitsSettings)`).
A field's `description` is what a value must look like: the start-up error names the
variable and says it. Tokens and keys are `SecretStr`, so neither a repr, a log line nor an
error message can show them; other strings that may carry a password (`MONGODB_URI`,
`RATELIMIT_STORAGE_URI`) are left out of the repr and are never echoed either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)

SHIPPED_CONTENT = Path(__file__).resolve().parent.parent / "content"
IN_MEMORY = ":memory:"  # DATA_DIR value for a throwaway store (nothing survives the process)
ON = ("1", "on", "true", "yes")
OFF = ("0", "off", "false", "no")


def switch(value: object) -> object:
    """`on`/`off` and the usual synonyms (what `SIMULATOR` has always accepted) as a bool."""
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ON:
            return True
        if word in OFF:
            return False
        raise ValueError("not on/off")
    return value


def _http_url(value: str) -> str:
    """An `http(s)://host[:port][/path]` URL, without its trailing slash; empty stays empty."""
    value = value.strip().rstrip("/")
    if not value:
        return value
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        raise ValueError("bad port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("not an http(s) URL")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
Switch = Annotated[bool | None, BeforeValidator(switch)]
Days = Annotated[float, Field(gt=0, le=366, description="a number of days from 1 to 366")]


class StoreSettings(BaseModel):
    """Where learners, deliveries and jobs live (bot/store.py, bot/durable.py)."""

    mongodb_uri: str = Field(
        "", repr=False, description="a MongoDB URI: mongodb://… or mongodb+srv://…"
    )
    # None: in memory. Unset in the environment: `bot.config.DEFAULT_DATA_DIR` (from_env).
    data_dir: Path | None = Field(None, description="a folder, or :memory: for a throwaway store")

    @field_validator("mongodb_uri")
    @classmethod
    def _mongodb(cls, value: str) -> str:
        if value and not value.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError("not a MongoDB URI")
        return value

    @field_validator("data_dir", mode="before")
    @classmethod
    def _data_dir(cls, value: Any) -> Any:
        return None if value == IN_MEMORY else value


class ContentSettings(BaseModel):
    """The course folder and how often the running server looks for edits (bot/content/)."""

    content_dir: Path = Field(SHIPPED_CONTENT, description="a course folder")
    content_check_seconds: float = Field(
        2.0, ge=0, description="seconds between checks for edited content, 0 or more"
    )


class WebSettings(BaseModel):
    """The web app and how it is served (bot/web.py, bot/gunicorn_conf.py)."""

    public_base_url: HttpUrl = Field(
        "http://127.0.0.1:8000", description="an http(s) URL such as https://bot.example.com"
    )
    trusted_proxy_hops: int = Field(0, ge=0, description="a whole number of proxies, 0 or more")
    secret_key: SecretStr = Field(SecretStr(""), description="any text")
    # None: on only when `trainbot serve` binds to loopback (see `Config.simulator_for`)
    simulator: Switch = Field(None, description="on or off (or 1/0, true/false, yes/no)")
    port: int = Field(8000, ge=1, le=65535, description="a TCP port from 1 to 65535")
    web_concurrency: int | None = Field(
        None, ge=1, description="a whole number of worker processes, 1 or more"
    )


class AdminSettings(BaseModel):
    """Who may use the admin pages, the admin API and /metrics (bot/admin/)."""

    admin_token: SecretStr = Field(SecretStr(""), description="any text (32+ characters)")
    metrics_token: SecretStr = Field(SecretStr(""), description="any text")


class LimitsSettings(BaseModel):
    """Where rate-limit counters live (bot/guard.py)."""

    ratelimit_storage_uri: str = Field(
        "", repr=False, description="a `limits` storage URI such as redis://host:6379"
    )

    @field_validator("ratelimit_storage_uri")
    @classmethod
    def _storage(cls, value: str) -> str:
        if value and "://" not in value:
            raise ValueError("not a URI")
        return value


class TwilioSettings(BaseModel):
    """WhatsApp through Twilio (bot/channels/whatsapp.py)."""

    twilio_account_sid: str = Field("", description="an account SID (AC…)")
    twilio_auth_token: SecretStr = Field(SecretStr(""), description="the auth token")
    twilio_whatsapp_from: str = Field("", description="whatsapp:+<number> or a service SID")
    twilio_api_base_url: HttpUrl = Field("", description="an http(s) URL")
    twilio_content_sids: str = Field("", description="name=HX… pairs or a JSON object")


class SlackSettings(BaseModel):
    """The Slack app (bot/channels/slack.py) and the workspace the roster import assumes."""

    slack_bot_token: SecretStr = Field(SecretStr(""), description="a bot token (xoxb-…)")
    slack_signing_secret: SecretStr = Field(SecretStr(""), description="the signing secret")
    slack_api_url: HttpUrl = Field("", description="an http(s) URL ending in /api/")
    slack_team_id: str = Field("", description="a workspace id (T…)")


class OpenAISettings(BaseModel):
    """The model the assistant asks and how much it may spend (bot/assistant/)."""

    openai_api_key: SecretStr = Field(SecretStr(""), description="an API key")
    openai_base_url: HttpUrl = Field("", description="an http(s) URL")
    openai_model: str = Field("gpt-4o-mini", min_length=1, description="a model name")
    openai_timeout: float = Field(10.0, gt=0, description="a number of seconds above 0")
    assistant_daily_tokens: int = Field(
        20000, ge=0, description="a whole number of tokens, 0 (no limit) or more"
    )
    assistant_prompt_tokens: int = Field(1000, ge=1, description="a whole number of tokens")
    assistant_history_turns: int = Field(3, ge=0, description="a whole number, 0 or more")
    assistant_prompt_file: Path | None = Field(None, description="a prompt file")


class EngagementSettings(BaseModel):
    """Manager e-mail and digests (bot/engagement.py, bot/notify.py)."""

    smtp_url: SecretStr = Field(
        SecretStr(""), description="smtp://user:pass@host:587?from=bot@example.com or smtps://…"
    )
    digest_days: Days = 7.0
    overdue_days: Days = 7.0
    ob_issuer_name: str = Field(
        "Trainbot", min_length=1, description="the issuer's name on Open Badges credentials"
    )
    digest_channels: dict[str, str] = Field(
        default_factory=dict,
        description="course-id=recipient pairs separated by commas",
    )

    @field_validator("smtp_url")
    @classmethod
    def _smtp(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if url:
            try:
                parts = urlsplit(url)
                ok = parts.scheme in ("smtp", "smtps") and bool(parts.hostname) and parts.port != 0
            except ValueError:
                ok = False
            if not ok:
                raise ValueError("not an SMTP URL")
        return value

    @field_validator("digest_channels", mode="before")
    @classmethod
    def _channels(cls, value: Any) -> Any:
        """`partner-onboarding=C0123,sales-basics=ops@example.com` as a mapping."""
        if not isinstance(value, str):
            return value
        channels = {}
        for entry in filter(None, (part.strip() for part in value.split(","))):
            course_id, _, recipient = entry.partition("=")
            if not course_id.strip() or not recipient.strip():
                raise ValueError("an entry is not course-id=recipient")
            channels[course_id.strip()] = recipient.strip()
        return channels


class WebhookSettings(BaseModel):
    """Outgoing webhooks (bot/webhooks.py): the receivers, and the secret that signs them."""

    webhook_secret: SecretStr = Field(SecretStr(""), description="a long random secret")
    webhook_urls: tuple[str, ...] = Field(
        (), description="http:// or https:// URLs separated by commas, with WEBHOOK_SECRET set"
    )

    @field_validator("webhook_urls", mode="before")
    @classmethod
    def _urls(cls, value: Any, info: ValidationInfo) -> Any:
        """Comma-separated http(s) URLs; refused without a secret (a receiver could not tell
        our events from anyone's). The secret is declared first so it is read already."""
        urls = (
            tuple(filter(None, (u.strip() for u in value.split(","))))
            if isinstance(value, str)
            else value
        )
        for url in urls:
            try:
                parts = urlsplit(url)
                ok = parts.scheme in ("http", "https") and bool(parts.hostname)
            except ValueError:  # e.g. an unclosed IPv6 bracket
                ok = False
            if not ok:
                raise ValueError("not an http:// or https:// URL")
        secret = info.data.get("webhook_secret")
        if urls and not (secret and secret.get_secret_value()):
            raise ValueError("WEBHOOK_SECRET is not set")
        return urls


class XapiSettings(BaseModel):
    """xAPI statements to a learning record store (bot/xapi.py, bot/xapi_queue.py)."""

    xapi_endpoint: HttpUrl = Field(
        "", description="the LRS's xAPI base URL, e.g. https://lrs.example.com/xAPI"
    )
    xapi_key: str = Field("", description="the LRS's Basic-auth key")
    xapi_secret: SecretStr = Field(SecretStr(""), description="the LRS's Basic-auth secret")
