"""The one list of channels. Adding a channel is one entry here plus its own modules.

Everything that used to name channels one by one iterates `CHANNELS`: the app factory
(routes), the outbox's senders (`senders_for`) and retry budgets, the delivery lanes, the
content lint and `content preview`, the manager notifiers and `trainbot serve`'s banner.
The console (`trainbot chat`) is not listed: it is a terminal front end that the CLI wires
itself, with no webhook, no configuration switch and no provider limits.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from bot.channels import slack_limits, whatsapp_limits
from bot.channels.base import Channel
from bot.config import Config
from bot.render import to_html, to_slack, to_whatsapp

if TYPE_CHECKING:
    from bot.channels import slack, web, whatsapp
    from bot.channels.base import Adapter
    from bot.outbox import Sender

    # mypy checks each adapter module against the protocol (its narrow deps included)
    _ADAPTERS: tuple[Adapter, ...] = (web, whatsapp, slack)


def _always(config: Config) -> bool:
    return True


def _whatsapp_enabled(config: Config) -> bool:
    return config.whatsapp_enabled


def _slack_enabled(config: Config) -> bool:
    return config.slack_enabled


CHANNELS: tuple[Channel, ...] = (
    Channel(
        name="web",
        title="Web",
        enabled=_always,  # its sender always; its pages when the simulator is on
        adapter="bot.channels.web",
        render=to_html,
        threads=2,
    ),
    Channel(
        name="whatsapp",
        title="WhatsApp",
        enabled=_whatsapp_enabled,
        adapter="bot.channels.whatsapp",
        render=to_whatsapp,
        label=whatsapp_limits.shown_label,
        lint=whatsapp_limits.lint,
        # past the end of the learner's 24-hour window, after which the sender switches to
        # the approved template (`WhatsAppSender.plan`) for the rest
        budget=timedelta(hours=36),
        threads=8,
        announce="WhatsApp webhook:   {public}/webhooks/whatsapp (status: …/status)",
    ),
    Channel(
        name="slack",
        title="Slack",
        enabled=_slack_enabled,
        adapter="bot.channels.slack",
        render=to_slack,
        label=slack_limits.shown_label,
        lint=slack_limits.lint,
        budget=timedelta(hours=6),  # no window: hours of outage are ridden out
        threads=4,
        announce="slack events:       {base}/slack/events (events, buttons, /train)",
    ),
)


def channel(name: str) -> Channel | None:
    """The channel called `name`, if there is one."""
    return next((c for c in CHANNELS if c.name == name), None)


def enabled(config: Config) -> list[Channel]:
    """The channels this configuration turns on, in the list's order."""
    return [c for c in CHANNELS if c.enabled(config)]


def senders_for(config: Config) -> dict[str, Sender]:
    """A sender for every channel this configuration enables."""
    return {c.name: c.load().sender(config) for c in enabled(config)}


def budgets() -> dict[str, timedelta]:
    """The outbox's retry budget of each channel that sets one."""
    return {c.name: c.budget for c in CHANNELS if c.budget is not None}
