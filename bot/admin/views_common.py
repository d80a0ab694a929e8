"""What the admin's page modules share: the safe "back" target of a form and a reply
rendered as the web shows it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from flask import request

from bot.outbox import reply_from_doc
from bot.render import to_html


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
