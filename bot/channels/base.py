"""What a channel is, to the rest of the bot: the `Channel` record and the `Adapter` protocol.

A `Channel` (one entry of `bot.channels.registry.CHANNELS`) carries what every part of the
shell asks about a channel without sending or receiving anything: whether the configuration
enables it, how it renders Markdown and fits button labels, what the content lint checks
(its limits), the outbox's retry budget and the size of its delivery lane. What sends and
receives (Twilio, Bolt, Flask routes) lives in the channel's *adapter* module, named here
by its dotted path and imported only when the app, a CLI command or the clock builds the
channel's sender or routes: the light part is imported by the content check, the outbox
and the lanes, which must not pull in Twilio or Bolt, nor depend on the adapters (that
was the `bot.services` ↔ channels import cycle of issue 19).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol, cast

from bot.config import Config
from flows.events import Reply

if TYPE_CHECKING:  # types only: adapters import these, the registry never does
    from flask import Flask

    from bot.content import Library
    from bot.conversation import Conversations
    from bot.engagement import Engagement
    from bot.guard import FailureLimiter, Limits
    from bot.notify import ManagerNotifier
    from bot.outbox import Outbox, Sender
    from bot.store import Store


@dataclass(frozen=True)
class Finding:
    """One way a reply will not arrive as written (see `bot.lint`)."""

    message: str
    error: bool = False


class Deps(Protocol):
    """Everything the app hands to a channel's routes. Each adapter declares the narrower
    protocol it really uses (e.g. `WhatsAppDeps`); `bot.services.Services` satisfies all."""

    @property
    def config(self) -> Config: ...
    @property
    def store(self) -> Store: ...
    @property
    def library(self) -> Library: ...
    @property
    def conversations(self) -> Conversations: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def guard(self) -> FailureLimiter: ...
    @property
    def limits(self) -> Limits: ...
    @property
    def engagement(self) -> Engagement | None: ...


class Adapter(Protocol):
    """A channel's adapter module: its sender, its routes, and its manager notifiers."""

    def sender(self, config: Config) -> Sender:
        """The outbox's sender for this channel (only asked when the channel is enabled)."""
        ...

    def routes(self, app: Flask, deps: Deps) -> None:
        """Register the channel's webhooks or pages on `app`."""
        ...

    def notifiers(self, outbox: Outbox) -> Sequence[ManagerNotifier]:
        """Ways this channel reaches managers (the digest), given the outbox's sender."""
        ...


def _as_is(title: str, count: int) -> str:
    return title


# A course media file's size in bytes, by its path in the course (None: unknown, e.g. a
# web address): the content check gives it so a channel can check its size limits.
SizeOf = Callable[[str], int | None]


def unknown_size(_: str) -> int | None:
    return None


def _fits(reply: Reply, size_of: SizeOf = unknown_size) -> list[Finding]:
    return []


@dataclass(frozen=True)
class Channel:
    """One channel as the shell sees it; `adapter` is imported on first use."""

    name: str
    title: str  # how admins and authors read its name ("WhatsApp")
    enabled: Callable[[Config], bool]  # credentials present (the web channel: always)
    adapter: str  # dotted module path of its `Adapter`
    render: Callable[[str], str]  # Markdown → the text a learner sees on this channel
    label: Callable[[str, int], str] = _as_is  # a button's label, given how many buttons
    lint: Callable[[Reply, SizeOf], list[Finding]] = _fits  # what its limits do to a reply
    budget: timedelta | None = None  # the outbox's retry budget (None: the default)
    threads: int = 2  # its delivery lane's threads (`bot.lanes`)
    announce: str = ""  # `trainbot serve`'s line for it; {base} and {public} are filled in

    def load(self) -> Adapter:
        """The adapter module (imports the channel's SDKs)."""
        return cast("Adapter", importlib.import_module(self.adapter))
