"""The Slack channel, through Bolt: its adapter (sender, routes, notifiers) and the webhook.

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

The channel by concern (issue 19): this module (the adapter the registry loads, the
signed webhook), `slack_events` (the Bolt app and its listeners), `slack_send` (delivery),
`slack_client` (Web API clients, tokens, errors), `slack_users` (keys and names),
`slack_blocks` (Reply → Block Kit), `slack_limits` (the content lint), `slack_shape`
(payload shapes), `slack_notify` (manager digests).
"""

from __future__ import annotations

import logging
import re
import threading

from flask import Blueprint, Flask, request
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier

from bot.channels import slack_notify, slack_shape
from bot.channels.slack_events import SlackChannel, SlackDeps
from bot.channels.slack_send import SlackSender, notify_manager
from bot.channels.slack_users import address, learner_key, plain_text
from bot.config import Config
from bot.notify import ManagerNotifier
from bot.outbox import Outbox

__all__ = [  # importable from here as before the split (tests, other modules)
    "SlackChannel",
    "SlackSender",
    "address",
    "blueprint",
    "connect",
    "learner_key",
    "notifiers",
    "notify_manager",
    "plain_text",
    "routes",
    "sender",
]

log = logging.getLogger(__name__)
# Bolt logs a refused request's whole body (message text, user and team ids) at INFO; the
# blueprint logs the refusal itself, without the body. A filter, because Bolt resets the
# level of its loggers from the app's logger (and keeps filters already there).
logging.getLogger("slack_bolt.RequestVerification").addFilter(
    lambda record: record.levelno >= logging.WARNING
)


def connect(services: SlackDeps) -> SlackChannel:
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


def sender(config: Config) -> SlackSender:
    """The outbox's Slack sender (`Adapter.sender`)."""
    return SlackSender(config)


def routes(app: Flask, deps: SlackDeps) -> None:
    """`/slack/*` on `app`, with the digests' Nudge buttons (`Adapter.routes`)."""
    channel = connect(deps)
    slack_notify.listen(channel)
    app.extensions["slack"] = channel
    app.register_blueprint(blueprint(channel))


def notifiers(outbox: Outbox) -> tuple[ManagerNotifier, ...]:
    """Managers named by a Slack id get the digest as a DM (`Adapter.notifiers`)."""
    return (slack_notify.SlackNotifier(outbox),)
