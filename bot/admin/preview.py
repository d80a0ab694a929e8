"""Every session of a course as each channel (`bot.channels.registry`) would show it, with
the channel limits an author should know about."""

from __future__ import annotations

from typing import Any

from bot.channels.registry import CHANNELS
from bot.lint import lint
from bot.render import to_html
from flows.course import Course
from flows.machine import quiz_replies, session_reply


def previews(course: Course) -> list[dict[str, Any]]:
    """One entry per session: each chat channel's text (the web's as HTML, with its media),
    and the channel lint (`bot.lint`) of the session and its quiz questions, the same
    findings `content check` reports."""
    out = []
    for number, session in enumerate(course.sessions, start=1):
        reply = session_reply(course, number)
        texts = [(c.title, c.render(reply.text)) for c in CHANNELS if c.render is not to_html]
        warnings = [f.message for f in lint(reply)]
        for index, question in enumerate(quiz_replies(course, number), start=1):
            warnings += [f"Question {index}: {f.message}" for f in lint(question)]
        out.append(
            {
                "number": number,
                "session": session,
                "texts": texts,
                "html": to_html(reply.text, f"/media/{course.id}"),
                "buttons": [b.title for b in reply.buttons],
                "warnings": warnings,
            }
        )
    return out
