"""Receiving from Slack: the Bolt app and its listeners (DMs, the App Home, `/train`,
buttons, the question modal), each turned into an `Inbound` for `Conversations.handle`
(moved from `slack.py`, issue 19).

Every listener is split in two (Bolt's lazy listeners, `process_before_response=True`): the
ack runs on the request's own thread and answers Slack at once, and the work runs after it
on a thread pool of the channel's own (see `slack.py`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from slack_bolt import App

from bot.channels import slack_shape
from bot.channels.slack_blocks import (
    ACTION_PREFIX,
    ASK_ACTION,
    ASK_BLOCK,
    ASK_VIEW,
    BLOCKS_PER_MESSAGE,
    ask_modal,
    note,
    retire_buttons,
    to_messages,
)
from bot.channels.slack_client import error_of, make_client
from bot.channels.slack_send import SlackSender
from bot.channels.slack_users import Names, learner_key, plain_text
from bot.config import Config
from bot.conversation import Conflict, Handled, inline
from bot.outbox import mask
from bot.store import Store
from flows.commands import normalize
from flows.events import Inbound, Reply
from flows.machine import step
from flows.state import from_doc

if TYPE_CHECKING:
    from bot.content import Library
    from bot.conversation import Conversations
    from bot.engagement import Engagement
    from bot.guard import FailureLimiter
    from bot.outbox import Outbox

log = logging.getLogger(__name__)

LISTENER_THREADS = 16
READ_ONLY = frozenset({"", "menu", "options", "progress", "status", "courses", "catalog", "help"})
"""`/train` arguments answered privately (ephemeral) from the stored state, changing nothing."""


class SlackDeps(Protocol):
    """What the Slack channel uses of the app's wiring (`bot.services.Services` has it)."""

    @property
    def config(self) -> Config: ...
    @property
    def store(self) -> Store: ...
    @property
    def library(self) -> Library: ...
    @property
    def conversations(self) -> Conversations: ...
    @property
    def outbox(self) -> Outbox: ...  # its Slack sender is shared (`slack.connect`)
    @property
    def guard(self) -> FailureLimiter: ...  # per-IP limit of bad signatures
    @property
    def engagement(self) -> Engagement | None: ...  # the digests' Nudge buttons


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


def _listener_executor(services: SlackDeps) -> Executor:
    """Where Bolt runs the listeners' work (their lazy part) after the ack: a pool of
    their own, so that slow work elsewhere (the assistant, on the services' lanes) never
    delays it; the acks never wait for this pool."""
    if services.conversations.background is inline:
        return _InlineExecutor()
    return ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="slack")


class SlackChannel:
    """The Bolt app and its listeners, wired to the conversation pipeline."""

    def __init__(self, services: SlackDeps, sender: SlackSender) -> None:
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
            slack_shape.slack_id(context.get("team_id"))
            or slack_shape.slack_id(body.get("team_id"))
            or slack_shape.slack_id(team.get("id") if isinstance(team, dict) else team)
            or slack_shape.slack_id(context.get("enterprise_id"))
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
        user, team = slack_shape.slack_id(event.get("user")), self._team(body, context)
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
        user, team = slack_shape.slack_id(event.get("user")), self._team(body, context)
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
        user, team = slack_shape.slack_id(command.get("user_id")), self._team(command, context)
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
        blocks = slack_shape.unique_ids(blocks)[:BLOCKS_PER_MESSAGE]
        fallback = next((b["text"]["text"] for b in blocks if b["type"] == "section"), "Trainbot")
        return {"text": fallback[:3000], "blocks": blocks, "response_type": "ephemeral"}

    # --- buttons and the question modal -----------------------------------------------

    def on_button(self, body, action, context, respond) -> None:
        """A button stands for its typed command; the pressed message loses its buttons."""
        user, team = slack_shape.user(body), self._team(body, context)
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
                message_id=slack_shape.press_id(body, action),
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
        blocks = retire_buttons([slack_shape.clean(b) for b in message.get("blocks") or []], title)
        try:
            self.workspaces.client_for(team).chat_update(
                channel=channel, ts=ts, text=message.get("text") or title, blocks=blocks
            )
        except Exception as exc:  # deleted message, lost scope: the press still counted
            log.info("slack: could not retire the buttons of %s: %s", ts, error_of(exc))

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
            log.warning("slack: views.open failed: %s", error_of(exc))

    def ack_question(self, ack, view) -> None:
        """The question modal: closed, or kept open with a hint when it is empty."""
        if not slack_shape.question(view):
            ack(response_action="errors", errors={ASK_BLOCK: "Please type your question."})
            return
        ack()

    def on_question(self, body, view, context) -> None:
        """After `ack_question`: the question goes to the assistant."""
        question = slack_shape.question(view)
        user, team = slack_shape.user(body), self._team(body, context)
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
