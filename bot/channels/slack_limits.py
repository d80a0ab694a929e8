"""Slack's limits, as the content lint measures them: what Block Kit will cut or refuse.

Measured with the very blocks the sender posts (`slack_blocks.to_messages`), so an author
reads in `trainbot content check` the label a learner will see. No Bolt or slack_sdk here:
the content check imports this module.
"""

from __future__ import annotations

from bot.channels.base import Finding, SizeOf, unknown_size
from bot.channels.slack_blocks import (
    BLOCKS_PER_MESSAGE,
    BUTTON_LABEL_LIMIT,
    HEADER_LIMIT,
    SECTION_LIMIT,
    plain,
    to_messages,
)
from bot.render import to_slack
from flows.events import Reply

SLACK_IMAGE_URL_LIMIT = 3000  # an image block's image_url
PUBLIC_BASE = "https://trainbot.example"  # measures Slack with images as image blocks


def shown_label(title: str, count: int) -> str:
    """The label Slack shows for a button titled `title` (the same among any `count`)."""
    return str(plain(title, BUTTON_LABEL_LIMIT)["text"])


def lint(reply: Reply, size_of: SizeOf = unknown_size) -> list[Finding]:
    """Everything Slack will cut, split or refuse in `reply` (Slack documents no media
    size limit: `size_of` is not used)."""
    found = []
    cut = [
        f"'{b.title}' shows as '{shown_label(b.title, len(reply.buttons))}'"
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
