"""Wiring: the store, content, outbox, assistant and conversations built from a Config.

The web app, the console and the clock all build the same `Services`, so every entry point
runs the same code paths.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.assistant import Assistant, Settings
from bot.config import Config
from bot.content import Library
from bot.conversation import Background, Conversations, inline
from bot.engagement import Engagement, build_engagement
from bot.guard import FailureLimiter
from bot.outbox import Outbox, Sender
from bot.store import Store

log = logging.getLogger(__name__)

EMBEDDED_WARNING = (
    "store: no MONGODB_URI set, using the EMBEDDED IN-MEMORY store: all progress is lost "
    "when this process stops (fine for trying the bot, tests and small pilots)"
)


def senders_for(config: Config) -> dict[str, Sender]:
    """A sender for every channel this configuration enables."""
    from bot.channels.web import WebSender

    senders: dict[str, Sender] = {"web": WebSender()}
    if config.whatsapp_enabled:
        from bot.channels.whatsapp import WhatsAppSender

        senders["whatsapp"] = WhatsAppSender(config)
    if config.slack_enabled:
        from bot.channels.slack import SlackSender

        senders["slack"] = SlackSender(config)
    return senders


@dataclass
class Services:
    """Everything an entry point needs, built once."""

    config: Config
    store: Store
    library: Library
    outbox: Outbox
    conversations: Conversations
    engagement: Engagement | None = None
    guard: FailureLimiter = field(default_factory=FailureLimiter)  # webhooks' per-IP limit


def build_services(
    config: Config,
    senders: Mapping[str, Sender],
    background: Background = inline,
    store: Store | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Services:
    """Connect the store, load content, and wire the conversation pipeline."""
    store = store or Store.connect(config.mongodb_uri)
    if store.embedded:
        log.warning(EMBEDDED_WARNING)
    store.ensure_indexes()
    for sender in senders.values():
        if hasattr(sender, "bind_store"):  # senders that remember channel addresses
            sender.bind_store(store)
    library = Library(config.content_dir, check_every=config.content_check_seconds)
    outbox = Outbox(store, senders, clock=clock)
    assistant = Assistant(Settings.from_config(config), store, library.folder_of, clock=clock)
    assistant.prepare(library.current().courses)
    conversations = Conversations(store, library, outbox, assistant, background, clock=clock)
    engagement = build_engagement(config, store, library, conversations, outbox, clock)
    if config.slack_enabled:  # managers named by a Slack id get the digest as a DM
        from bot.channels.slack_notify import SlackNotifier

        engagement.notifiers = (*engagement.notifiers, SlackNotifier(outbox))
    config.log_channels()
    return Services(config, store, library, outbox, conversations, engagement)
