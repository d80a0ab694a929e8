"""Sending to Slack: `SlackSender` renders a `Reply` as Block Kit (`slack_blocks`) and posts
it to the learner's DM with `chat.postMessage` (moved from `slack.py`, issue 19).

Answers to questions go in the thread of the session message they are about. Rate limits
are waited out by slack_sdk's retry handlers (`Retry-After`) when short, and otherwise
handed back to the outbox's backoff.
"""

from __future__ import annotations

import html
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.channels.slack_blocks import (
    BLOCKS_PER_MESSAGE,
    has_images,
    home_view,
    section,
    split_mrkdwn,
    to_messages,
    without_images,
)
from bot.channels.slack_client import Workspaces, delivery_error, error_of
from bot.channels.slack_users import address
from bot.config import Config
from bot.outbox import DeliveryError, Parts, Unconfirmed, mask
from bot.render import to_slack
from bot.store import Store
from flows.course import Catalog
from flows.events import Reply
from flows.state import from_doc

log = logging.getLogger(__name__)

THREADS_KEPT = 50_000


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
            raise delivery_error(exc) from exc
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
            raise delivery_error(exc) from exc
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
            log.warning("slack: views.publish for %s failed: %s", mask(key), error_of(exc))

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
