"""Splitting long chat text into readable messages.

WhatsApp shows a 4,000-character session as one wall of text (and Twilio refuses bodies
over 1,600 characters), so long text goes out as a few messages, cut at the best boundary
that fits: a blank line (paragraph), then a line break, then the end of a sentence, then a
space. A cut never falls inside a word or inside a `*bold*` / `_italic_` / `~strike~` span
or a ``` block. Only when one such span is itself longer than the limit is it cut, closed at
the end of one message and reopened at the start of the next; only a single "word" longer
than the limit (a giant URL) is ever cut mid-word.
"""

from __future__ import annotations

import re

WHATSAPP_LIMIT = 1500

# Chat markup spans as WhatsApp recognises them: the marker hugs non-space text and is
# not glued to a word on its outer side.
_SPANS = re.compile(
    r"```.*?```"
    r"|(?<![\w*])\*(?=\S)[^*]*?(?<=\S)\*(?![\w*])"
    r"|(?<![\w_])_(?=\S)[^_]*?(?<=\S)_(?![\w_])"
    r"|(?<![\w~])~(?=\S)[^~]*?(?<=\S)~(?![\w~])",
    re.DOTALL,
)
_PARAGRAPH = re.compile(r"[ \t]*\n[ \t]*\n\s*")
_LINE = re.compile(r"[ \t]*\n\s*")
_SPACE = re.compile(r"\s+")
_SENTENCE_END = ".!?…"
_CLOSERS = "\"'”’)]*_~"


def _sentence_breaks(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Whitespace runs that follow the end of a sentence (closing quotes/markers allowed)."""
    found = []
    for m in _SPACE.finditer(text, start, end):
        before = text[start : m.start()].rstrip(_CLOSERS)
        if before and before[-1] in _SENTENCE_END:
            found.append((m.start(), m.end()))
    return found


def _inside(spans: list[tuple[int, int]], pos: int) -> tuple[int, int] | None:
    return next(((s, e) for s, e in spans if s < pos < e), None)


def _best_break(
    text: str, start: int, end: int, spans: list[tuple[int, int]]
) -> tuple[int, int] | None:
    """The last allowed cut (whitespace run) of the most preferred kind within the limit."""
    candidates = (
        [(m.start(), m.end()) for m in _PARAGRAPH.finditer(text, start, end + 1)],
        [(m.start(), m.end()) for m in _LINE.finditer(text, start, end + 1)],
        _sentence_breaks(text, start, end + 1),
        [(m.start(), m.end()) for m in _SPACE.finditer(text, start, end + 1)],
    )
    for level in candidates:
        allowed = [c for c in level if start < c[0] <= end and not _inside(spans, c[0])]
        if allowed:
            return allowed[-1]
    return None


def _marker(text: str, span: tuple[int, int]) -> str:
    return "```" if text.startswith("```", span[0]) else text[span[0]]


def split_text(text: str, limit: int = WHATSAPP_LIMIT) -> list[str]:
    """`text` as messages of at most `limit` characters each, in order (see module doc)."""
    text = text.strip()
    chunks: list[str] = []
    while len(text) > limit:
        spans = [m.span() for m in _SPANS.finditer(text)]
        cut = _best_break(text, 0, limit, spans)
        if cut is not None:
            chunks.append(text[: cut[0]].rstrip())
            text = text[cut[1] :]
            continue
        # No clean cut fits: a markup span or a word is longer than the limit.
        room = limit - 4  # space to close and reopen a marker
        space = [m for m in _SPACE.finditer(text, 0, room + 1) if m.start() > 8]
        at, resume = (space[-1].start(), space[-1].end()) if space else (room, room)
        span = _inside(spans, at)
        marker = _marker(text, span) if span else ""
        close, reopen = (f"\n{marker}", f"{marker}\n") if marker == "```" else (marker, marker)
        chunks.append(text[:at].rstrip() + close)
        text = reopen + text[resume:]
    if text:
        chunks.append(text)
    return chunks
