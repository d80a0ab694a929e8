"""WhatsApp's limits for interactive messages, and how a text is fitted to one.

A module of its own so that the content check (`bot.lint`) measures with the very numbers
and cut the sender uses, without importing Twilio and Flask.
"""

from __future__ import annotations

QUICK_REPLY_MAX, QUICK_REPLY_TITLE = 3, 20  # WhatsApp's limits for reply buttons
LIST_ROWS_MAX, LIST_ROW_TITLE = 10, 24  # …and for list messages
TEMPLATE_BODY_MAX = 1024  # a Content template's body: the text an interactive message carries


def clip(text: str, limit: int) -> str:
    """`text` cut at a word boundary to fit `limit`, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut.rsplit(None, 1)[0] if " " in cut else cut).rstrip() + "…"


def button_width(count: int) -> int:
    """How many characters of a button's title WhatsApp shows when a message has `count`
    buttons: reply buttons up to three, list rows beyond."""
    return QUICK_REPLY_TITLE if count <= QUICK_REPLY_MAX else LIST_ROW_TITLE
