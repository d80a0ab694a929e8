"""Channel lint: what WhatsApp and Slack will do to a reply that does not fit their limits.

A reply is measured as the channel's own code would send it (each channel's `lint` in the
registry: `bot.channels.slack_limits`, `bot.channels.whatsapp_limits`), so an author
sees in `trainbot content check` and on `/admin/content` the label a learner will read.

Warning or error: every channel adapts to its limits (a label is cut with "…", a long text
arrives as several messages), so the course still works and those are warnings. An error
is what stops a reply from being delivered at all, e.g. an image address longer than Slack
accepts (Slack refuses the whole message). More than 10 options, which a WhatsApp list
cannot show, is an error of the question itself (`bot.content`).
"""

from __future__ import annotations

from bot.channels.base import Finding, SizeOf, unknown_size
from bot.channels.registry import CHANNELS, channel
from flows.events import Reply

__all__ = ["Finding", "lint", "shown_label"]


def lint(reply: Reply, size_of: SizeOf = unknown_size) -> list[Finding]:
    """Everything the channels (WhatsApp, Slack) will cut, split or refuse in `reply`;
    `size_of` gives a media file's size (for the channels' size limits)."""
    return [finding for c in CHANNELS for finding in c.lint(reply, size_of)]


def shown_label(name: str, title: str, count: int) -> str:
    """The label channel `name` shows for a button titled `title` among `count` buttons."""
    found = channel(name)
    return found.label(title, count) if found else title
