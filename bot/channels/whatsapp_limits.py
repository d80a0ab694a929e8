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
