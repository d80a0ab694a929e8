"""Wiring: the store, content, outbox, assistant and conversations built from a Config.

The web app, the console and the clock all build the same `Services`, so every entry point
runs the same code paths. Channels are not named here: they come from the registry
(`bot.channels.registry`), and they never import this module (their routes take the
narrow protocol they use, which `Services` satisfies).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.assistant import Assistant, Settings
from bot.channels.registry import budgets, enabled, senders_for
from bot.config import Config
from bot.content import Library
from bot.conversation import Background, Conversations, inline
from bot.engagement import Engagement, build_engagement
from bot.guard import FailureLimiter, Limits, limits_for
from bot.outbox import Outbox, Sender
from bot.store import Store
from bot.webhooks import Webhooks
from bot.xapi_queue import XapiQueue

__all__ = ["Services", "build_services", "connect_store", "senders_for"]  # senders_for: moved

log = logging.getLogger(__name__)


def connect_store(config: Config) -> Store:
    """The store this configuration names (MongoDB, or the embedded store in DATA_DIR),
    announced in the log; `DataDirLocked` when another process owns the data directory."""
    store = Store.connect(config.mongodb_uri, data_dir=config.data_dir)
    if store.engine is not None and store.engine.durable:
        store.end_dead_leases()  # a killed owner's: delivery resumes at once, not in 60 s
        found = store.engine.recovery
        log.info(
            "store: embedded, durable in %s: %d documents recovered in %.2f s",
            store.engine.directory,
            found.documents,
            found.seconds,
        )
    elif store.engine is not None:
        log.warning("store: embedded IN MEMORY (DATA_DIR=:memory:): lost when this process stops")
    return store


@dataclass
class Services:
    """Everything an entry point needs, built once."""

    config: Config
    store: Store
    library: Library
    outbox: Outbox
    conversations: Conversations
    engagement: Engagement | None = None
    limits: Limits = field(default_factory=Limits)  # shared counters (see bot/guard.py)
    webhooks: Webhooks | None = None  # outgoing webhooks (bot/webhooks.py)
    xapi: XapiQueue | None = None  # statements to a learning record store (XAPI_ENDPOINT)
    guard: FailureLimiter = field(init=False)  # webhooks' per-IP limit of failed signatures

    def __post_init__(self) -> None:
        self.guard = FailureLimiter(self.limits)


def build_services(
    config: Config,
    senders: Mapping[str, Sender],
    background: Background = inline,
    store: Store | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Services:
    """Connect the store, load content, and wire the conversation pipeline."""
    store = store or connect_store(config)
    store.ensure_indexes()
    for sender in senders.values():
        if hasattr(sender, "bind_store"):  # senders that remember channel addresses
            sender.bind_store(store)
    library = Library(config.content_dir, check_every=config.content_check_seconds)
    for sender in senders.values():
        if hasattr(sender, "bind_courses"):  # senders that word hints in a course's language
            sender.bind_courses(lambda course_id: library.current().get(course_id))
    outbox = Outbox(
        store, senders, clock=clock, budgets=budgets(), combine_replies=library.combines_replies
    )
    assistant = Assistant(Settings.from_config(config), store, library.folder_of, clock=clock)
    assistant.prepare(library.current().courses)
    conversations = Conversations(store, library, outbox, assistant, background, clock=clock)
    engagement = build_engagement(config, store, library, conversations, outbox, clock)
    for channel in enabled(config):  # e.g. managers named by a Slack id get digests as DMs
        engagement.notifiers = (*engagement.notifiers, *channel.load().notifiers(outbox))
    secret = config.webhook_secret.get_secret_value()
    webhooks = Webhooks(store.webhooks, config.webhook_urls, secret, clock)
    webhooks.ensure_indexes()
    engagement.webhooks = webhooks
    conversations.xapi = build_xapi(config, store, library, clock)
    config.log_channels()
    limits = limits_for(config)
    return Services(
        config,
        store,
        library,
        outbox,
        conversations,
        engagement,
        limits,
        webhooks,
        conversations.xapi,
    )


def build_xapi(
    config: Config, store: Store, library: Library, clock: Callable[[], datetime]
) -> XapiQueue | None:
    """The xAPI statement queue when XAPI_ENDPOINT is set (else one log line)."""
    if not config.xapi_endpoint:
        log.info("xapi: off (set XAPI_ENDPOINT, XAPI_KEY, XAPI_SECRET to send statements)")
        return None
    xapi = XapiQueue(
        store,
        library,
        config.xapi_endpoint,
        config.xapi_key,
        config.xapi_secret.get_secret_value(),
        config.public_base_url,
        clock,
    )
    xapi.ensure_indexes()
    return xapi
