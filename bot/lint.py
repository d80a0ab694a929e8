"""Channel lint: what WhatsApp and Slack will do to a reply that does not fit their limits.

A reply is measured as the channel's own code would send it (`bot.channels.slack_blocks`,
the WhatsApp limits and cut of `bot.channels.whatsapp_limits`, `bot.split`), so an author
sees in `trainbot content check` and on `/admin/content` the label a learner will read.

Warning or error: every channel adapts to its limits (a label is cut with "…", a long text
arrives as several messages), so the course still works and those are warnings. An error
is what stops a reply from being delivered at all, e.g. an image address longer than Slack
accepts (Slack refuses the whole message). More than 10 options, which a WhatsApp list
cannot show, is an error of the question itself (`bot.content`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.channels.slack_blocks import (
    BLOCKS_PER_MESSAGE,
    BUTTON_LABEL_LIMIT,
    HEADER_LIMIT,
    SECTION_LIMIT,
    plain,
    to_messages,
)
from bot.channels.whatsapp_limits import (
    QUICK_REPLY_MAX,
    TEMPLATE_BODY_MAX,
    button_width,
    clip,
    media_problem,
)
from bot.render import to_slack, to_whatsapp
from bot.security import media_type
from bot.split import WHATSAPP_LIMIT, split_text
from flows.events import Reply

SLACK_IMAGE_URL_LIMIT = 3000  # an image block's image_url
PUBLIC_BASE = "https://trainbot.example"  # measures Slack with images as image blocks


@dataclass(frozen=True)
class Finding:
    """One way a reply will not arrive as written."""

    message: str
    error: bool = False


def lint(reply: Reply, size_of: Callable[[str], int | None] = lambda _: None) -> list[Finding]:
    """Everything WhatsApp and Slack will cut, split or refuse in `reply`; `size_of` gives
    a media file's size in bytes (None when unknown, e.g. a web address)."""
    return _whatsapp(reply) + _whatsapp_media(reply, size_of) + _slack(reply)


def _whatsapp_media(reply: Reply, size_of: Callable[[str], int | None]) -> list[Finding]:
    """WhatsApp's media types and sizes: the sender sends a type WhatsApp does not show as
    a link (a warning); a file over the size limit would fail at WhatsApp (an error)."""
    found = []
    for media in reply.media:
        mime = media_type(media.path)
        if problem := media_problem(mime):
            found.append(Finding(f"{problem} ('{media.path}'): WhatsApp learners get a link"))
        elif problem := media_problem(mime, size_of(media.path)):
            found.append(Finding(f"'{media.path}': {problem}: WhatsApp refuses it", error=True))
    return found


def shown_label(channel: str, title: str, count: int) -> str:
    """The label `channel` shows for a button titled `title` among `count` buttons."""
    if channel == "whatsapp":
        return clip(title, button_width(count))
    if channel == "slack":
        return str(plain(title, BUTTON_LABEL_LIMIT)["text"])
    return title


def _whatsapp(reply: Reply) -> list[Finding]:
    text = to_whatsapp(reply.text)
    found = []
    if len(text) > WHATSAPP_LIMIT:
        parts = len(split_text(text, WHATSAPP_LIMIT))
        found.append(
            Finding(
                f"{len(text)} characters on WhatsApp: will arrive as about {parts} messages "
                f"(limit {WHATSAPP_LIMIT})"
            )
        )
    if not reply.buttons:
        return found
    width = button_width(len(reply.buttons))
    kind = "reply button" if len(reply.buttons) <= QUICK_REPLY_MAX else "list row"
    cut = [
        f"'{b.title}' shows as '{shown_label('whatsapp', b.title, len(reply.buttons))}'"
        for b in reply.buttons
        if len(b.title) > width
    ]
    if cut:
        found.append(Finding(f"WhatsApp cuts a {kind} to {width} characters: {'; '.join(cut)}"))
    # A session's navigation buttons under the last part of a long text are normal; a
    # question's options must be read with the buttons that answer them.
    last = split_text(text, WHATSAPP_LIMIT)[-1] if text else ""
    if reply.kind != "session" and len(last) > TEMPLATE_BODY_MAX:
        found.append(
            Finding(
                f"WhatsApp: the {len(last)} characters before the buttons are over the "
                f"{TEMPLATE_BODY_MAX} an interactive message carries: the buttons come "
                "apart from the start of the question"
            )
        )
    return found


def _slack(reply: Reply) -> list[Finding]:
    found = []
    cut = [
        f"'{b.title}' shows as '{shown_label('slack', b.title, len(reply.buttons))}'"
        for b in reply.buttons
        if len(b.title) > BUTTON_LABEL_LIMIT
    ]
    if cut:
        found.append(
            Finding(f"Slack cuts a button to {BUTTON_LABEL_LIMIT} characters: {'; '.join(cut)}")
        )
    if reply.kind == "session" and len(reply.title) > HEADER_LIMIT:
        found.append(Finding(f"Slack cuts the title to {HEADER_LIMIT} characters"))
    longest = max((len(p) for p in to_slack(reply.text).split("\n\n")), default=0)
    if longest > SECTION_LIMIT:
        found.append(
            Finding(
                f"Slack: a paragraph of {longest} characters is split mid-paragraph "
                f"({SECTION_LIMIT} per section block)"
            )
        )
    messages = to_messages(reply, PUBLIC_BASE)
    if len(messages) > 1:
        blocks = sum(len(m["blocks"]) for m in messages)
        found.append(
            Finding(
                f"Slack: {blocks} blocks, over {BLOCKS_PER_MESSAGE} a message: will arrive "
                f"as {len(messages)} messages"
            )
        )
    for media in reply.media:
        if len(media.path) > SLACK_IMAGE_URL_LIMIT:
            found.append(
                Finding(
                    f"Slack refuses a message whose image address is over "
                    f"{SLACK_IMAGE_URL_LIMIT} characters: '{media.path[:60]}…'",
                    error=True,
                )
            )
    return found
