"""Every session of a course as WhatsApp, Slack and the web would show it, with the
channel limits an author should know about."""

from __future__ import annotations

from typing import Any

from bot.content import WHATSAPP_LIMIT
from bot.render import to_html, to_slack, to_whatsapp
from flows.course import Course
from flows.machine import session_reply

SLACK_SECTION_LIMIT = 3000  # characters in one Block Kit section
WHATSAPP_BUTTONS = 3
WHATSAPP_BUTTON_TITLE = 20


def previews(course: Course) -> list[dict[str, Any]]:
    """One entry per session: the three renderings and the warnings."""
    out = []
    for number, session in enumerate(course.sessions, start=1):
        reply = session_reply(course, number)
        whatsapp, slack = to_whatsapp(reply.text), to_slack(reply.text)
        warnings = []
        if len(whatsapp) > WHATSAPP_LIMIT:
            warnings.append(
                f"WhatsApp: {len(whatsapp)} characters, over {WHATSAPP_LIMIT}: "
                f"arrives as {-(-len(whatsapp) // WHATSAPP_LIMIT)} messages"
            )
        if len(slack) > SLACK_SECTION_LIMIT:
            warnings.append(
                f"Slack: {len(slack)} characters, over one section's {SLACK_SECTION_LIMIT}"
            )
        if len(reply.buttons) > WHATSAPP_BUTTONS:
            warnings.append(
                f"WhatsApp: {len(reply.buttons)} buttons, at most {WHATSAPP_BUTTONS} reply buttons"
            )
        for button in reply.buttons:
            if len(button.title) > WHATSAPP_BUTTON_TITLE:
                warnings.append(
                    f"WhatsApp: button '{button.title}' is over {WHATSAPP_BUTTON_TITLE} characters"
                )
        out.append(
            {
                "number": number,
                "session": session,
                "whatsapp": whatsapp,
                "slack": slack,
                "html": to_html(reply.text, f"/media/{course.id}"),
                "buttons": [b.title for b in reply.buttons],
                "warnings": warnings,
            }
        )
    return out
