"""What the admin's page modules share: the safe "back" target of a form and a reply
rendered as the web shows it, and a session as admins read it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from flask import request

from bot.outbox import reply_from_doc
from bot.render import to_html
from bot.reports.common import _session_ref
from flows.course import Catalog, Course


def _back(default: str) -> str:
    """A same-site path to return to after a form (never an open redirect)."""
    target = request.form.get("next") or request.args.get("next") or ""
    parsed = urlparse(target)
    if target.startswith("/admin") and not parsed.netloc and not parsed.scheme:
        return target
    return default


def _html(reply_doc: dict[str, Any]) -> str:
    """A delivered or queued reply rendered as the web shows it (escaped, media inline)."""
    reply = reply_from_doc(reply_doc)
    return to_html(reply.text[:2000], f"/media/{reply.course_id}" if reply.course_id else "")


def course_label(catalog: Catalog, course_id: str | None) -> str:
    """A course as admins read it: its title (the bare id when it is no longer served)."""
    course = catalog.get(course_id) if course_id else None
    return course.title if course else course_id or ""


def session_label(course: Course | None, session_id: str | None) -> str:
    """A session as admins read it, "3. Site survey" (ids such as "site-survey" go in a
    tooltip); the bare id when the course no longer has that session, "" for none."""
    if not session_id:
        return ""
    ref = _session_ref(course, session_id)
    return f"{ref['number']}. {ref['title']}" if ref["number"] else session_id
