"""WhatsApp's limits for interactive messages, and how a text is fitted to one.

A module of its own so that the content check (`bot.lint`) measures with the very numbers
and cut the sender uses, without importing Twilio and Flask.
"""

from __future__ import annotations

from bot.channels.base import Finding, SizeOf, unknown_size
from bot.render import to_whatsapp
from bot.security import media_type
from bot.split import WHATSAPP_LIMIT, split_text
from flows.events import Reply

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


def shown_label(title: str, count: int) -> str:
    """The label WhatsApp shows for a button titled `title` among `count` buttons."""
    return clip(title, button_width(count))


def lint(reply: Reply, size_of: SizeOf = unknown_size) -> list[Finding]:
    """Everything WhatsApp will cut, split or refuse in `reply`."""
    text = to_whatsapp(reply.text)
    found = _media(reply, size_of)
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
        f"'{b.title}' shows as '{shown_label(b.title, len(reply.buttons))}'"
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


# What WhatsApp takes as media through Twilio ("Guidance on WhatsApp Media Messages"):
# the MIME type Twilio reads from the media URL's Content-Type, and the largest size.
# Anything else (GIF, SVG, WAV, WebM…) fails at WhatsApp, later, in a status callback.
IMAGE_MAX, MEDIA_MAX = 5_000_000, 16_000_000  # bytes: images 5 MB, any other media 16 MB
WHATSAPP_MEDIA = {
    "image/jpeg": IMAGE_MAX,
    "image/png": IMAGE_MAX,
    "image/webp": IMAGE_MAX,
    "audio/mpeg": MEDIA_MAX,
    "audio/ogg": MEDIA_MAX,
    "audio/amr": MEDIA_MAX,
    "audio/aac": MEDIA_MAX,
    "video/mp4": MEDIA_MAX,
    "video/3gpp": MEDIA_MAX,
    "application/pdf": MEDIA_MAX,
}
# Media WhatsApp shows with a caption; it shows none on documents and audio, so their
# text goes in a message of its own.
CAPTIONED = ("image/", "video/")


def media_problem(mime: str | None, size: int | None = None) -> str | None:
    """Why WhatsApp will not show a file of this type (and size, when known) as media, or
    None when it will."""
    limit = WHATSAPP_MEDIA.get(mime or "")
    if limit is None:
        return f"WhatsApp does not show {mime or 'this file type'} as media"
    if size is not None and size > limit:
        return f"{size:,} bytes is over WhatsApp's {limit / 1e6:.0f} MB for {mime}"
    return None


def _media(reply: Reply, size_of: SizeOf) -> list[Finding]:
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
