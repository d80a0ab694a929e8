"""The web chat simulator: learn in the browser as channel `web`.

The page posts what the learner types and polls the learner's delivered replies, so
answers produced after the request (the assistant) appear the same way as the rest.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request

from bot.conversation import Conflict
from bot.outbox import reply_from_doc
from bot.render import to_html
from bot.services import Services
from flows.events import Inbound, Reply

LEARNER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TEXT = 4000


class WebSender:
    """Nothing to send: the page reads the delivery log (`Store.transcript`)."""

    def send(self, learner: Mapping[str, Any], reply: Reply) -> str | None:
        return f"web-{uuid.uuid4().hex[:12]}"


def _learner_key() -> str:
    learner = str(
        (request.get_json(silent=True) or {}).get("learner") or request.args.get("learner", "")
    )
    if not LEARNER_ID.match(learner):
        abort(400, "learner must be 1-64 letters, digits, - or _")
    return f"web:{learner}"


def blueprint(services: Services) -> Blueprint:
    """The simulator page and its small JSON API."""
    bp = Blueprint("simulator", __name__, url_prefix="/simulator")

    @bp.get("")
    def page():
        return render_template("simulator.html")

    @bp.get("/api/courses")
    def courses():
        catalog = services.library.current()
        return jsonify(
            [
                {
                    "id": c.id,
                    "title": c.title,
                    "description": c.description,
                    "phrase": c.enroll[0] if c.enroll else "",
                    "sessions": len(c.sessions),
                }
                for c in catalog.for_channel("web")
            ]
        )

    @bp.post("/api/send")
    def send():
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            abort(400, "expected a JSON object")
        key = _learner_key()
        text, payload = body.get("text", ""), body.get("payload")
        if not isinstance(text, str) or (payload is not None and not isinstance(payload, str)):
            abort(400, "text and payload must be strings")
        if len(text) > MAX_TEXT:
            return jsonify({"error": f"message too long (max {MAX_TEXT} characters)"}), 413
        name = str(body.get("name") or "")[:80]
        message_id = str(body.get("message_id") or uuid.uuid4().hex)[:80]
        try:
            handled = services.conversations.handle(
                Inbound(
                    key=key,
                    channel="web",
                    text=text,
                    payload=payload,
                    name=name,
                    message_id=f"web-{message_id}",
                )
            )
        except Conflict:
            return jsonify({"error": "busy, please resend"}), 409
        return jsonify({"status": handled.status})

    @bp.get("/api/messages")
    def messages():
        key = _learner_key()
        after = request.args.get("after", "0")
        if not after.isdecimal():
            abort(400, "after must be a number")
        out = []
        for record in services.store.transcript(key, int(after)):
            reply = reply_from_doc(record["reply"])
            media_url = f"/media/{reply.course_id}" if reply.course_id else ""
            out.append(
                {
                    "seq": record["seq"],
                    "html": to_html(reply.text, media_url),
                    "buttons": [{"title": b.title, "payload": b.payload} for b in reply.buttons],
                }
            )
        return jsonify(out)

    return bp
