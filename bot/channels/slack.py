"""The Slack channel, through Bolt: DMs, buttons, `/train`, the App Home, and delivery.

Receiving: one Bolt `App` served by `SlackRequestHandler` at `POST /slack/events` (events,
interactivity and the slash command may all point there). Bolt checks the signing secret
(5-minute window: unsigned or stale requests get 401 and change nothing). Every listener
is split in two (Bolt's lazy listeners, `process_before_response=True`): the ack runs on
the request's own thread and answers Slack at once, and the work runs after it on a thread
pool of the channel's own. Acking on the pool let a busy pool hold the ack past Slack's
3 seconds, and Bolt then answered 404 (issue 21); so an ack never waits for any work. Each
event becomes an `Inbound` for `Conversations.handle`, keyed `slack:<team>:<user>`, whose
message id makes Slack's retries (`X-Slack-Retry-Num`) and double-pressed buttons
duplicates that change nothing.

Sending: `SlackSender` renders a `Reply` as Block Kit (`slack_blocks`) and posts it to the
learner's DM with `chat.postMessage`; answers to questions go in the thread of the session
message they are about. Rate limits are waited out by slack_sdk's retry handlers
(`Retry-After`) when short, and otherwise handed back to the outbox's backoff.

Tokens: `Workspaces.token_for` is the one place that knows which bot token serves a
workspace (`SLACK_BOT_TOKEN` for now; see docs/slack.md for the OAuth plan).
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, request
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier

from bot.channels import slack_shape
from bot.channels.slack_blocks import (
    ACTION_PREFIX,
    ACTIONS_BLOCK,
    ASK_ACTION,
    ASK_BLOCK,
    ASK_INPUT,
    ASK_VIEW,
    BLOCKS_PER_MESSAGE,
    ask_modal,
    has_images,
    home_view,
    note,
    retire_buttons,
    section,
    split_mrkdwn,
    to_messages,
    without_images,
)
from bot.channels.slack_shape import slack_id
from bot.config import Config
from bot.conversation import Conflict, Handled, inline
from bot.outbox import DeliveryError, Parts, Unconfirmed, mask
from bot.render import to_slack
from bot.services import Services
from bot.store import Store
from flows.commands import normalize
from flows.course import Catalog
from flows.events import Inbound, Reply
from flows.machine import step
from flows.state import from_doc

log = logging.getLogger(__name__)
# Bolt logs a refused request's whole body (message text, user and team ids) at INFO; the
# blueprint logs the refusal itself, without the body. A filter, because Bolt resets the
# level of its loggers from the app's logger (and keeps filters already there).
logging.getLogger("slack_bolt.RequestVerification").addFilter(
    lambda record: record.levelno >= logging.WARNING
)

DEFAULT_API_URL = "https://slack.com/api/"
CLIENT_TIMEOUT = 10  # seconds per Web API call
MAX_INLINE_WAIT = 10  # longest Retry-After waited inside a delivery (the outbox lease is 60 s)
NAME_TTL = 3600.0  # display names are cached this long
NAMES_KEPT = 10_000
THREADS_KEPT = 50_000
LISTENER_THREADS = 16
RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
READ_ONLY = frozenset({"", "menu", "options", "progress", "status", "courses", "catalog", "help"})
"""`/train` arguments answered privately (ephemeral) from the stored state, changing nothing."""


# --- keys --------------------------------------------------------------------------------


def learner_key(team_id: str, user_id: str) -> str:
    """`slack:T123:U456`: one learner per person per workspace."""
    return f"slack:{team_id}:{user_id}"


def address(key: str) -> tuple[str, str]:
    """(team id, user id) of a Slack learner key."""
    _, team, user = [*key.split(":", 2), "", ""][:3]
    return team, user


_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)\|([^>]+)>")
_BARE_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)>")


def plain_text(mrkdwn: str) -> str:
    """What a person typed, from Slack's encoding of it (`&lt;`, `<url|label>`)."""
    text = _LINK.sub(r"\2 (\1)", mrkdwn)
    text = _BARE_LINK.sub(r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# --- Web API clients and tokens -----------------------------------------------------------


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
            log.error("slack: auth.test failed (%s); check SLACK_BOT_TOKEN", _error_of(exc))


def _error_of(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return f"{type(exc).__name__}: {exc}"


def _delivery_error(exc: Exception) -> DeliveryError:
    """A failed Web API call as the outbox understands it: worth retrying or not."""
    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error") or "")
        status = exc.response.status_code
        retryable = error in RETRYABLE_ERRORS or status == 429 or status >= 500
        return DeliveryError(f"slack: {error or status}", retryable=retryable, code=error)
    return DeliveryError(f"slack: {type(exc).__name__}: {exc}", retryable=True)


class Names:
    """Display names from `users.info`, cached (a DM costs no lookup after the first)."""

    def __init__(self, workspaces: Workspaces, ttl: float = NAME_TTL) -> None:
        self.workspaces = workspaces
        self.ttl = ttl
        self._lock = threading.Lock()
        self._names: dict[tuple[str, str], tuple[float, str]] = {}

    def cached(self, team_id: str, user_id: str) -> str | None:
        with self._lock:
            found = self._names.get((team_id, user_id))
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def get(self, team_id: str, user_id: str) -> str:
        """The person's display name (or real name); "" when Slack will not say."""
        known = self.cached(team_id, user_id)
        if known is not None:
            return known
        try:
            user = self.workspaces.client_for(team_id).users_info(user=user_id)["user"] or {}
        except SlackApiError as exc:
            log.warning("slack: users.info failed: %s", _error_of(exc))
            name = ""  # unknown user or missing scope: remember that too
        except Exception as exc:
            log.warning("slack: users.info failed: %s", _error_of(exc))
            return ""  # network trouble: ask again next time
        else:
            profile = user.get("profile") or {}
            name = (
                profile.get("display_name")
                or profile.get("real_name")
                or user.get("real_name")
                or user.get("name")
                or ""
            ).strip()[:80]
        with self._lock:
            if len(self._names) >= NAMES_KEPT:
                self._names.clear()
            self._names[(team_id, user_id)] = (time.monotonic() + self.ttl, name)
        return name


# --- sending -------------------------------------------------------------------------------


class SlackSender:
    """Delivers replies to a learner's DM with the app (the outbox's Slack sender)."""

    def __init__(self, config: Config, workspaces: Workspaces | None = None) -> None:
        self.config = config
        self.workspaces = workspaces or Workspaces(config)
        self.store: Store | None = None
        self._lock = threading.Lock()
        self._threads: dict[str, tuple[str, str]] = {}  # learner → (channel, session ts)

    def bind_store(self, store: Store) -> None:
        """Where the DM channel and the session message's ts are remembered."""
        self.store = store

    def send(self, learner: Mapping[str, Any], reply: Reply) -> str | None:
        """Post a reply (several messages when long); returns `channel:ts` of the first."""
        posted = self._deliver(learner, reply, None)
        return posted[0] if posted else None

    def send_parts(self, learner: Mapping[str, Any], reply: Reply, parts: Parts) -> list[str]:
        """Post the messages of `reply` that earlier attempts did not (see `Parts`)."""
        return self._deliver(learner, reply, parts)

    def _deliver(self, learner: Mapping[str, Any], reply: Reply, parts: Parts | None) -> list[str]:
        """Post the reply's messages after the `parts` already sent; `channel:ts` of each."""
        key = learner["_id"]
        team, user = address(key)
        client = self.workspaces.client_for(team)
        thread = self._thread_of(key, learner) if reply.kind == "answer" else None
        messages = list(to_messages(reply, self.config.public_base_url))
        posted = list(parts.sent) if parts else []
        for number, message in enumerate(messages[len(posted) :], start=len(posted) + 1):
            if parts is not None:
                parts.intend(message["text"], last=number == len(messages))
            try:
                channel, ts = self._post(client, user, message, thread)
            except Unconfirmed as exc:
                raise Unconfirmed(str(exc), exc.fingerprint, last=number == len(messages)) from exc
            posted.append(f"{channel}:{ts}")
            if parts is not None and number < len(messages):
                parts.add(posted[-1])  # the last one is recorded by the outbox
        if not posted:
            return []
        channel, _, ts = posted[0].partition(":")
        self._remember(key, learner, (channel, ts), session=reply.kind == "session")
        return posted

    def look_up(
        self,
        learner: Mapping[str, Any],
        fingerprint: str,
        since: datetime,
        taken: Callable[[str], bool] = lambda _: False,
    ) -> str | None:
        """`channel:ts` of a message the app posted to the learner since `since` (a minute's
        margin) whose text is `fingerprint`, in the DM or the session thread an answer goes
        to, and that no delivery accounts for yet (`taken`: the same text may have gone out
        earlier): the outbox asks after a `chat.postMessage` whose answer was lost."""
        key = learner["_id"]
        team, user = address(key)
        client = self.workspaces.client_for(team)
        oldest = f"{since.timestamp() - 60:.6f}"
        wanted = " ".join(fingerprint.split())
        try:
            channel = self.dm_channel(learner) or str(
                client.conversations_open(users=user)["channel"]["id"]
            )
            found = list(client.conversations_history(channel=channel, oldest=oldest)["messages"])
            thread = self._thread_of(key, learner)
            if thread is not None:
                replies = client.conversations_replies(
                    channel=thread[0], ts=thread[1], oldest=oldest
                )
                found += replies["messages"]
        except Exception as exc:
            raise _delivery_error(exc) from exc
        for message in found:
            posted = f"{channel}:{message['ts']}"
            text = " ".join(html.unescape(str(message.get("text") or "")).split())
            if text == wanted and not taken(posted):
                return posted
        return None

    def _post(
        self,
        client: WebClient,
        user: str,
        message: dict[str, Any],
        thread: tuple[str, str] | None,
    ) -> tuple[str, str]:
        channel, thread_ts = thread if thread else (user, None)
        try:
            try:
                response = client.chat_postMessage(
                    channel=channel,
                    thread_ts=thread_ts,
                    text=message["text"],
                    blocks=message["blocks"],
                    unfurl_links=False,
                    unfurl_media=False,
                )
            except SlackApiError as exc:
                error = exc.response.get("error")
                if error == "invalid_blocks" and has_images(message):
                    # Slack could not fetch an image (say, PUBLIC_BASE_URL is not public):
                    # send the text with links to the images instead of losing it.
                    log.warning("slack: image refused (%s); sending links instead", error)
                    return self._post(client, user, without_images(message), thread)
                if thread and error in ("thread_not_found", "message_not_found"):
                    return self._post(client, user, message, None)
                raise
        except DeliveryError:
            raise  # from the retry without images or thread, already classified
        except TimeoutError as exc:  # the request went out; Slack may have posted it
            raise Unconfirmed(f"slack did not answer: {exc}", message["text"], last=True) from exc
        except Exception as exc:
            raise _delivery_error(exc) from exc
        return str(response.get("channel") or channel), str(response.get("ts") or "")

    def _thread_of(self, key: str, learner: Mapping[str, Any]) -> tuple[str, str] | None:
        """The latest session message: what this process sent last, or what the learner
        document says (another process may have sent a newer one); Slack's `ts` grow."""
        slack = learner.get("slack") or {}
        found = []
        if slack.get("channel") and slack.get("session_ts"):
            found.append((str(slack["channel"]), str(slack["session_ts"])))
        with self._lock:
            if key in self._threads:
                found.append(self._threads[key])
        return max(found, key=lambda thread: float(thread[1] or 0)) if found else None

    def _remember(
        self, key: str, learner: Mapping[str, Any], first: tuple[str, str], session: bool
    ) -> None:
        channel, ts = first
        stored = learner.get("slack") or {}
        fields: dict[str, Any] = {}
        if session:
            with self._lock:
                if len(self._threads) >= THREADS_KEPT:
                    self._threads.clear()  # the learner documents still have them
                self._threads[key] = first
            fields["slack.session_ts"] = ts
        if channel.startswith("D") and (session or stored.get("channel") != channel):
            fields["slack.channel"] = channel
        if fields and self.store is not None:
            self.store.set_fields(key, fields)

    def dm_channel(self, learner: Mapping[str, Any] | None) -> str:
        """The learner's DM channel with the app, once a message has gone there."""
        return str(((learner or {}).get("slack") or {}).get("channel") or "")

    def publish_home(
        self, key: str, learner: Mapping[str, Any] | None, catalog: Catalog, name: str = ""
    ) -> None:
        """Publish the learner's App Home tab (errors are logged, not raised)."""
        team, user = address(key)
        state = from_doc(key, learner)
        if name and not state.name:
            state = replace(state, name=name)
        try:
            self.workspaces.client_for(team).views_publish(
                user_id=user, view=home_view(state, catalog)
            )
        except Exception as exc:
            log.warning("slack: views.publish for %s failed: %s", mask(key), _error_of(exc))

    def notify_manager(
        self,
        manager_slack_id: str,
        text: str,
        team_id: str = "",
        extra_blocks: Sequence[dict[str, Any]] = (),
    ) -> str:
        """Send a manager a DM (Markdown text, then `extra_blocks` such as the digest's
        Nudge buttons); returns `channel:ts`, raises DeliveryError.

        `manager_slack_id` is a user id (`U123`) or a learner key (`slack:T1:U123`)."""
        if manager_slack_id.startswith("slack:"):
            team_id, manager_slack_id = address(manager_slack_id)
        if not re.fullmatch(r"[UWCG][A-Z0-9]{2,}", manager_slack_id or ""):  # user or channel
            raise DeliveryError(f"not a Slack user id: {manager_slack_id!r}", retryable=False)
        client = self.workspaces.client_for(team_id)
        blocks = [section(piece) for piece in split_mrkdwn(to_slack(text))]
        blocks = [*blocks, *extra_blocks][:BLOCKS_PER_MESSAGE]
        message = {"text": (blocks[0]["text"]["text"] if blocks else text)[:3000], "blocks": blocks}
        channel, ts = self._post(client, manager_slack_id, message, None)
        return f"{channel}:{ts}"


def notify_manager(
    manager_slack_id: str,
    text: str,
    *,
    sender: SlackSender | None = None,
    config: Config | None = None,
    team_id: str = "",
) -> str:
    """Tell a manager something in Slack (for the engagement jobs): a DM from the app.

    Pass the running `SlackSender` (`services.outbox.senders["slack"]`) when there is one;
    otherwise one is made from `config` (default: the environment). Raises DeliveryError."""
    if sender is None:
        config = config or Config.from_env()
        if not config.slack_enabled:
            raise DeliveryError("slack is not configured", retryable=False)
        sender = SlackSender(config)
    return sender.notify_manager(manager_slack_id, text, team_id=team_id)


# --- receiving -----------------------------------------------------------------------------


class _InlineExecutor(Executor):
    """Runs listeners in the request's own thread: for services whose background work is
    inline (tests), so that a request returns with all its work done."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def _listener_executor(services: Services) -> Executor:
    """Where Bolt runs the listeners' work (their lazy part) after the ack: a pool of
    their own, so that slow work elsewhere (the assistant, on the services' lanes) never
    delays it; the acks never wait for this pool."""
    if services.conversations.background is inline:
        return _InlineExecutor()
    return ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="slack")


_IMAGE_KEYS = {"type", "block_id", "image_url", "alt_text", "title"}


def _clean(block: dict[str, Any]) -> dict[str, Any]:
    """A block read back from an interaction payload, fit to send again (Slack adds
    read-only fields such as an image's size)."""
    if block.get("type") == "image":
        return {k: v for k, v in block.items() if k in _IMAGE_KEYS}
    return block


class SlackChannel:
    """The Bolt app and its listeners, wired to the conversation pipeline."""

    def __init__(self, services: Services, sender: SlackSender) -> None:
        self.services = services
        self.sender = sender
        self.workspaces = sender.workspaces
        self.names = Names(self.workspaces)
        workspaces = self.workspaces

        def authorize(enterprise_id, team_id, user_id):  # Bolt passes arguments by name
            return workspaces.authorize(enterprise_id, team_id, user_id)

        app = App(
            name="trainbot",
            signing_secret=services.config.slack_signing_secret.get_secret_value(),
            client=make_client(services.config),  # no token: `authorize` gives one per request
            authorize=authorize,
            # The ack part of each listener runs on the request thread and answers Slack;
            # the lazy part (the work) is handed to `listener_executor` after it.
            process_before_response=True,
            listener_executor=_listener_executor(services),
            logger=logging.getLogger("bot.channels.slack.bolt"),
        )
        app.event("message")(ack=_ack, lazy=[self.on_message])
        app.event("app_home_opened")(ack=_ack, lazy=[self.on_home_opened])
        app.event(re.compile(".*"))(self.on_other_event)
        # the app's one command, `/train`
        app.command(re.compile(".*"))(ack=self.ack_train, lazy=[self.on_train])
        app.action(ASK_ACTION)(ack=_ack, lazy=[self.on_ask])
        app.action(re.compile(f"^{re.escape(ACTION_PREFIX)}"))(ack=_ack, lazy=[self.on_button])
        app.view(ASK_VIEW)(ack=self.ack_question, lazy=[self.on_question])
        self.app = app

    # --- helpers ---------------------------------------------------------------------

    @staticmethod
    def _team(body: Mapping[str, Any], context: Mapping[str, Any]) -> str:
        """The workspace id, or "" when none has a Slack id's shape."""
        team = body.get("team")
        return (
            slack_id(context.get("team_id"))
            or slack_id(body.get("team_id"))
            or slack_id(team.get("id") if isinstance(team, dict) else team)
            or slack_id(context.get("enterprise_id"))
        )

    def _handle(self, inbound: Inbound) -> Handled | None:
        try:
            return self.services.conversations.handle(inbound)
        except Conflict:
            log.error("slack: %s not processed (conflicting writes)", mask(inbound.key))
            return None

    def _publish_home(self, key: str, name: str = "") -> None:
        doc = self.services.store.load(key)
        self.sender.publish_home(key, doc, self.services.library.current(), name)

    # --- events ----------------------------------------------------------------------

    def on_message(self, body, event, context) -> None:
        """A DM to the app: a command, an enrollment phrase, or a question."""
        if event.get("channel_type") != "im":
            return  # only DMs are conversations with the bot
        if event.get("bot_id") or event.get("subtype") not in (None, "file_share"):
            return  # other bots, and edits, deletions, joins…
        user, team = slack_id(event.get("user")), self._team(body, context)
        if not user or not team:
            log.info("slack: message event without user or team ignored")
            return
        message_id = body.get("event_id") or event.get("client_msg_id") or event.get("ts") or ""
        self._handle(
            Inbound(
                key=learner_key(team, user),
                channel="slack",
                text=plain_text(str(event.get("text") or "")),
                name=self.names.get(team, user),
                message_id=f"slack-event:{message_id}" if message_id else "",
                media_count=len(event.get("files") or ()),
            )
        )

    def on_home_opened(self, body, event, context) -> None:
        """Home tab: publish the learner's courses. Messages tab, first time: the catalog."""
        user, team = slack_id(event.get("user")), self._team(body, context)
        if not user or not team:
            return
        key = learner_key(team, user)
        if event.get("tab") == "messages":
            if self.services.store.load(key) is None:
                self._handle(
                    Inbound(
                        key=key,
                        channel="slack",
                        text="menu",
                        name=self.names.get(team, user),
                        message_id=f"slack-event:{body.get('event_id', '')}",
                    )
                )
            return
        self._publish_home(key, self.names.get(team, user))

    def on_other_event(self, body, event) -> None:
        """Events the bot does not use: acknowledged (so Slack does not retry) and dropped."""
        log.debug("slack: %s event ignored", (event or {}).get("type"))

    # --- /train --------------------------------------------------------------------

    def _train_args(
        self, command: Mapping[str, Any], context: Mapping[str, Any]
    ) -> tuple[str, str, str] | None:
        """(team, user, text) of a `/train`, or None when it names no Slack user."""
        user, team = slack_id(command.get("user_id")), self._team(command, context)
        if not user or not team:
            return None
        return team, user, plain_text(str(command.get("text") or "")).strip()

    def ack_train(self, ack, command, context) -> None:
        """`/train` [menu|progress|courses|help] privately, from the stored state (a local
        read); anything else: where the answer will arrive (`on_train` does the work)."""
        args = self._train_args(command, context)
        if args is None:
            ack()
            return
        team, user, text = args
        key = learner_key(team, user)
        if normalize(text) in READ_ONLY:
            ack(**self._private_view(key, normalize(text) or "menu", team, user))
            return
        doc = self.services.store.load(key)
        if command.get("channel_id") and command.get("channel_id") == self.sender.dm_channel(doc):
            ack()  # the answer arrives right here
        else:
            app = command.get("api_app_id") or ""
            link = f"<slack://app?team={team}&id={app}&tab=messages|our direct messages>"
            ack(text=f"📬 I'll answer in {link}." if app else "📬 I'll answer in our DM.")

    def on_train(self, command, context) -> None:
        """After `ack_train`: `/train <anything but a look>` as if typed in the DM."""
        args = self._train_args(command, context)
        if args is None or normalize(args[2]) in READ_ONLY:
            return
        team, user, text = args
        key = learner_key(team, user)
        self._handle(
            Inbound(
                key=key,
                channel="slack",
                text=text,
                name=self.names.get(team, user) or str(command.get("user_name") or ""),
                message_id=f"slack-command:{command.get('trigger_id') or time.time_ns()}",
            )
        )

    def _private_view(self, key: str, word: str, team: str, user: str) -> dict[str, Any]:
        """What `/train`, `/train progress`… show, computed from the stored state by the same
        flows as a typed command, but not committed (a look changes nothing)."""
        doc = self.services.store.load(key)
        learner = from_doc(key, doc)
        catalog = self.services.library.current()
        now = datetime.now(UTC)
        name = learner.name or self.names.cached(team, user) or ""

        def replies_to(text: str) -> tuple[Reply, ...]:
            event = Inbound(key=key, channel="slack", text=text, name=name)
            return step(learner, catalog, event, now).replies

        replies = list(replies_to(word))
        in_course = learner.active_course and not learner.paused
        if word == "menu" and learner.progress and not in_course:
            replies += replies_to("progress")
        blocks: list[dict[str, Any]] = []
        for reply in replies:
            for message in to_messages(reply, self.services.config.public_base_url):
                blocks += message["blocks"]
        blocks = _unique_ids(blocks)[:BLOCKS_PER_MESSAGE]
        fallback = next((b["text"]["text"] for b in blocks if b["type"] == "section"), "Trainbot")
        return {"text": fallback[:3000], "blocks": blocks, "response_type": "ephemeral"}

    # --- buttons and the question modal -----------------------------------------------

    def on_button(self, body, action, context, respond) -> None:
        """A button stands for its typed command; the pressed message loses its buttons."""
        user, team = _user(body), self._team(body, context)
        payload = str(action.get("value") or "")
        if not user or not team or not payload:
            return
        key = learner_key(team, user)
        title = str((action.get("text") or {}).get("text") or payload)
        container = body.get("container") or {}
        handled = self._handle(
            Inbound(
                key=key,
                channel="slack",
                text=title,
                payload=payload,
                name=self.names.get(team, user),
                message_id=_press_id(body, action),
            )
        )
        if handled is None or handled.status != "ok":
            return  # a second press of the same message: the first one did the work
        if container.get("type") == "view":
            self._publish_home(key)
        elif container.get("is_ephemeral") or not body.get("message"):
            if body.get("response_url"):
                try:
                    respond(replace_original=True, text=f"✔ {title}", blocks=[note(f"✔ {title}")])
                except Exception as exc:
                    log.info("slack: could not update an ephemeral message: %s", exc)
        else:
            self._retire(team, body, title)

    def _retire(self, team: str, body: Mapping[str, Any], title: str) -> None:
        container, message = body.get("container") or {}, body.get("message") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        ts = container.get("message_ts") or message.get("ts")
        if not channel or not ts:
            return
        blocks = retire_buttons([_clean(b) for b in message.get("blocks") or []], title)
        try:
            self.workspaces.client_for(team).chat_update(
                channel=channel, ts=ts, text=message.get("text") or title, blocks=blocks
            )
        except Exception as exc:  # deleted message, lost scope: the press still counted
            log.info("slack: could not retire the buttons of %s: %s", ts, _error_of(exc))

    def on_ask(self, body, context) -> None:
        """The "Ask a question" button: a modal to type the question in."""
        team = self._team(body, context)
        if not body.get("trigger_id") or not team:
            return
        try:
            self.workspaces.client_for(team).views_open(
                trigger_id=body["trigger_id"], view=ask_modal()
            )
        except Exception as exc:
            log.warning("slack: views.open failed: %s", _error_of(exc))

    def ack_question(self, ack, view) -> None:
        """The question modal: closed, or kept open with a hint when it is empty."""
        if not _question(view):
            ack(response_action="errors", errors={ASK_BLOCK: "Please type your question."})
            return
        ack()

    def on_question(self, body, view, context) -> None:
        """After `ack_question`: the question goes to the assistant."""
        question = _question(view)
        user, team = _user(body), self._team(body, context)
        if not question or not user or not team:
            return
        self._handle(
            Inbound(
                key=learner_key(team, user),
                channel="slack",
                text=question,
                name=self.names.get(team, user),
                message_id=f"slack-view:{view.get('id', '')}",
            )
        )


def _ack(ack) -> None:
    """The ack of a listener whose work is all in its lazy part."""
    ack()


def _question(view: Mapping[str, Any]) -> str:
    """The question typed in the modal ("" when none)."""
    values = ((view.get("state") or {}).get("values") or {}).get(ASK_BLOCK) or {}
    return str((values.get(ASK_INPUT) or {}).get("value") or "").strip()


def _user(body: Mapping[str, Any]) -> str:
    """The id of the user who pressed or submitted, or "" when it is not a Slack id."""
    user = body.get("user")
    return slack_id(user.get("id") if isinstance(user, dict) else None)


def _press_id(body: Mapping[str, Any], action: Mapping[str, Any]) -> str:
    """The message id of a button press: one per message (or per Home view version), so a
    second press of any button on the same message is a duplicate, however fast."""
    container = body.get("container") or {}
    if container.get("type") == "view":
        view = body.get("view") or {}
        return f"slack-press:{view.get('id', '')}:{view.get('hash', '')}"
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    if ts:
        return f"slack-press:{channel}:{ts}"
    return f"slack-press:{action.get('action_ts') or time.time_ns()}"


def _unique_ids(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blocks of several replies joined into one message, with their button ids made unique
    (Slack refuses repeated block or action ids)."""
    out = []
    for n, block in enumerate(blocks):
        if block.get("type") == "actions":
            elements = [
                {**e, "action_id": f"{ACTION_PREFIX}{n}.{i}"}
                if str(e.get("action_id", "")).startswith(ACTION_PREFIX)
                else e
                for i, e in enumerate(block["elements"])
            ]
            block = {**block, "block_id": f"{ACTIONS_BLOCK}_{n}", "elements": elements}
        out.append(block)
    return out


def connect(services: Services) -> SlackChannel:
    """The Slack channel for these services, sharing the outbox's sender (made and
    registered when the services were built without one)."""
    sender = services.outbox.senders.get("slack")
    if not isinstance(sender, SlackSender):
        sender = SlackSender(services.config)
        sender.bind_store(services.store)
        services.outbox.senders["slack"] = sender
    threading.Thread(target=sender.workspaces.check, name="slack-check", daemon=True).start()
    return SlackChannel(services, sender)


_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


def well_formed_signature() -> bool:
    """Whether the request's signature headers have Slack's shape (a Unix time, `v0=` and
    64 hex digits). Bolt's verifier raises on a non-numeric timestamp or a non-ASCII
    signature, which made a forged request a 500 with a traceback in the logs; such
    requests are refused here instead, as unsigned."""
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    return bool(_TIMESTAMP.fullmatch(timestamp) and _SIGNATURE.fullmatch(signature))


def blueprint(channel: SlackChannel) -> Blueprint:
    """`POST /slack/events` for everything the Slack app sends (events, interactivity, the
    slash command); `/slack/interactions` and `/slack/commands` are the same handler.

    The signature is checked here first (Bolt checks it again), so that an unsigned
    request is refused as such (401, or 429 for an address over the failure limit) and a
    signed one with a shape Slack never sends is a 400 (`slack_shape`), before Bolt's
    parser could raise on it."""
    handler = SlackRequestHandler(channel.app)
    verifier = SignatureVerifier(channel.services.config.slack_signing_secret.get_secret_value())
    guard = channel.services.guard
    bp = Blueprint("slack", __name__, url_prefix="/slack")

    @bp.post("/events")
    @bp.post("/interactions")
    @bp.post("/commands")
    def events():
        raw = request.get_data(cache=True)
        if not well_formed_signature() or not verifier.is_valid(
            raw,
            request.headers["X-Slack-Request-Timestamp"],
            request.headers["X-Slack-Signature"],
        ):
            if guard.failed(request.remote_addr or "-"):
                return {"error": "too many requests"}, 429
            log.warning("slack: refused %s with an invalid or stale signature", request.path)
            return {"error": "invalid request"}, 401
        reason = slack_shape.problem(raw, request.content_type or "")
        if reason:
            log.warning("slack: refused a signed %s: %s", request.path, reason)
            return {"error": "malformed request"}, 400
        # Listeners run after the ack, so a failure in here is Bolt failing to parse a
        # shape `slack_shape` does not know yet, never our failure to process a good
        # request: 400 (Slack must not retry it) and one line, not a 500 and a traceback.
        try:
            response = handler.handle(request)
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            log.warning("slack: Bolt could not parse a signed %s (%s)", request.path, exc)
            return {"error": "malformed request"}, 400
        if response.status_code >= 500:  # a Bolt middleware raised (Bolt logged it)
            log.warning("slack: refused a signed %s that Bolt could not parse", request.path)
            return {"error": "malformed request"}, 400
        return response

    return bp
