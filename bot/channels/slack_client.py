"""Slack's Web API: clients with retries, the workspace's bot token, and API errors as the
outbox understands them (moved from `slack.py`, issue 19).

`Workspaces.token_for` is the one place that knows which bot token serves a workspace
(`SLACK_BOT_TOKEN` for now; see docs/slack.md for the OAuth plan).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Config
from bot.outbox import DeliveryError

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
CLIENT_TIMEOUT = 10  # seconds per Web API call
MAX_INLINE_WAIT = 10  # longest Retry-After waited inside a delivery (the outbox lease is 60 s)
RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class RateLimitRetry(RateLimitErrorRetryHandler):
    """slack_sdk's rate-limit handler (sleeps `Retry-After`, then retries), for waits short
    enough to stay inside the outbox's delivery lease; a longer `Retry-After` surfaces as a
    `ratelimited` error and the outbox tries again later."""

    def __init__(self, max_retry_count: int = 2, max_wait: float = MAX_INLINE_WAIT) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        values = {k.lower(): v for k, v in (response.headers or {}).items()}.get("retry-after")
        try:
            wait = float((values or ["1"])[0])
        except ValueError:
            wait = 1.0
        return wait <= self.max_wait


def api_url(config: Config) -> str:
    """The Web API base URL (`SLACK_API_URL`, for local fakes), ending in a slash."""
    url = config.slack_api_url or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


def make_client(config: Config, token: str | None = None) -> WebClient:
    """A Web API client with retries for connection errors, 5xx and rate limits."""
    return WebClient(
        token=token,
        base_url=api_url(config),
        timeout=CLIENT_TIMEOUT,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            ServerErrorRetryHandler(max_retry_count=2),
            RateLimitRetry(),
        ],
    )


class Workspaces:
    """Which bot token serves which workspace, and a Web API client for each."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._clients: dict[str, WebClient] = {}
        self._identities: dict[str, dict[str, Any]] = {}

    def token_for(self, team_id: str | None = None, enterprise_id: str | None = None) -> str | None:
        """The bot token for a workspace: the one function every Slack call goes through.

        Single workspace: `SLACK_BOT_TOKEN` serves every request. Multi-workspace (OAuth,
        see docs/slack.md) replaces the body with the installation store's bot token for
        `team_id` (or `enterprise_id` for org-wide installs)."""
        return self.config.slack_bot_token.get_secret_value() or None

    def client_for(self, team_id: str | None = None, enterprise_id: str | None = None) -> WebClient:
        """A client carrying the workspace's token (clients are reused per token)."""
        token = self.token_for(team_id, enterprise_id)
        if not token:
            raise DeliveryError(f"no Slack token for workspace {team_id}", retryable=False)
        with self._lock:
            client = self._clients.get(token)
            if client is None:
                client = self._clients[token] = make_client(self.config, token)
            return client

    def identity(self, token: str) -> dict[str, Any]:
        """The bot behind a token (`auth.test`: team, bot user id), asked once."""
        with self._lock:
            known = self._identities.get(token)
        if known is not None:
            return known
        body = make_client(self.config, token).auth_test().data
        if not isinstance(body, dict):  # only file downloads answer bytes
            raise TypeError("auth.test did not answer a JSON object")
        data = dict(body)
        with self._lock:
            self._identities[token] = data
        return data

    def authorize(
        self, enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult | None:
        """Bolt's authorize step: the token for the request's workspace, and who the bot is
        (so Bolt drops the bot's own events)."""
        token = self.token_for(team_id, enterprise_id)
        if not token:
            log.warning("slack: no token for workspace %s; request ignored", team_id)
            return None
        me = self.identity(token)
        return AuthorizeResult(
            enterprise_id=enterprise_id or me.get("enterprise_id"),
            team_id=team_id or me.get("team_id"),
            team=me.get("team"),
            url=me.get("url"),
            bot_user_id=me.get("user_id"),
            bot_id=me.get("bot_id"),
            bot_token=token,
            user_id=user_id,
        )

    def check(self) -> None:
        """Log whether the configured token works (start-up; never raises)."""
        token = self.token_for()
        if not token:
            return
        try:
            me = self.identity(token)
            log.info("slack: connected to %s as @%s", me.get("team"), me.get("user"))
        except Exception as exc:
            log.error("slack: auth.test failed (%s); check SLACK_BOT_TOKEN", error_of(exc))


def error_of(exc: Exception) -> str:
    """A failed Web API call in a few words, for the log."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return f"{type(exc).__name__}: {exc}"


def delivery_error(exc: Exception) -> DeliveryError:
    """A failed Web API call as the outbox understands it: worth retrying or not."""
    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error") or "")
        status = exc.response.status_code
        retryable = error in RETRYABLE_ERRORS or status == 429 or status >= 500
        return DeliveryError(f"slack: {error or status}", retryable=retryable, code=error)
    return DeliveryError(f"slack: {type(exc).__name__}: {exc}", retryable=True)
