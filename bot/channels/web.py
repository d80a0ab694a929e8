"""The web chat simulator: learn in the browser as channel `web`.

The page posts what the learner types and polls the learner's delivered replies, so
answers produced after the request (the assistant) appear the same way as the rest.

Anyone who can reach it can create learners, so it is off unless `SIMULATOR=on` or
`trainbot serve` binds to loopback, and bounded: a small JSON object body (a deeply nested
one is a 400, never a RecursionError), `MESSAGES_PER_IP` messages a minute per address,
and new anonymous learners limited per address and in total (20,000 of them in two
minutes once made the admin overview take 22 s). The counters are shared by every worker
(`bot.guard`).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from flask import Blueprint, Flask, Response, abort, jsonify, render_template, request

from bot.config import Config
from bot.conversation import Conflict
from bot.outbox import reply_from_doc
from bot.render import to_html
from flows.events import Inbound, Reply

if TYPE_CHECKING:
    from bot.content import Library
    from bot.conversation import Conversations
    from bot.guard import Limits
    from bot.notify import ManagerNotifier
    from bot.outbox import Outbox
    from bot.store import Store

log = logging.getLogger(__name__)

LEARNER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TEXT = 4000
MAX_BODY = 32 * 1024  # 4,000 characters of text, \u-escaped, and the other fields
MESSAGES_PER_IP = "60 per minute"
LEARNERS_PER_IP = "20 per hour"
LEARNERS_TOTAL = "500 per hour"


class WebDeps(Protocol):
    """What the simulator uses of the app's wiring (`bot.services.Services` has it)."""

    @property
    def config(self) -> Config: ...
    @property
    def store(self) -> Store: ...
    @property
    def library(self) -> Library: ...
    @property
    def conversations(self) -> Conversations: ...
    @property
    def limits(self) -> Limits: ...


class WebSender:
    """Nothing to send: the page reads the delivery log (`Store.transcript`)."""

    def send(self, learner: Mapping[str, Any], reply: Reply) -> str | None:
        return f"web-{uuid.uuid4().hex[:12]}"


def _body() -> dict[str, Any]:
    """The posted JSON object with string (or absent) fields; 400/413 for anything else."""
    if (request.content_length or 0) > MAX_BODY:
        abort(413, f"request too large (max {MAX_BODY} bytes)")
    raw = request.get_data(cache=True)
    if len(raw) > MAX_BODY:
        abort(413, f"request too large (max {MAX_BODY} bytes)")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # deep nesting: refused, not a traceback
        abort(400, "expected a JSON object")
    if not isinstance(body, dict):
        abort(400, "expected a JSON object")
    for name in ("learner", "text", "payload", "name", "message_id"):
        if body.get(name) is not None and not isinstance(body[name], str):
            abort(400, f"{name} must be a string")
    return body


def _learner_key(learner: str) -> str:
    if not LEARNER_ID.match(learner):
        abort(400, "learner must be 1-64 letters, digits, - or _")
    return f"web:{learner}"


def _admit(services: WebDeps, key: str) -> Response | None:
    """A 429 when this address sends too fast, or may not create another learner."""
    limits, address = services.limits, request.remote_addr or "-"
    if not limits.hit(MESSAGES_PER_IP, "simulator", address):
        return _too_many("too many messages from your address; wait a minute")
    if services.store.load(key) is not None:
        return None
    if not (
        limits.allows(LEARNERS_PER_IP, "simulator-learners", address)
        and limits.allows(LEARNERS_TOTAL, "simulator-learners")
    ):
        if limits.once("1/minute", "simulator-learners", address):
            log.warning("simulator: refused new learners from %s (limit reached)", address)
        return _too_many("too many new learners; try again later")
    limits.hit(LEARNERS_PER_IP, "simulator-learners", address)
    limits.hit(LEARNERS_TOTAL, "simulator-learners")
    return None


def _too_many(message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = 429
    response.headers["Retry-After"] = "60"
    return response


def blueprint(services: WebDeps) -> Blueprint:
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
        body = _body()
        key = _learner_key(body.get("learner") or "")
        text, payload = body.get("text") or "", body.get("payload")
        if len(text) > MAX_TEXT:
            return jsonify({"error": f"message too long (max {MAX_TEXT} characters)"}), 413
        refused = _admit(services, key)
        if refused is not None:
            return refused
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
        key = _learner_key(request.args.get("learner", ""))
        after = request.args.get("after", "0")
        if not re.fullmatch(r"[0-9]{1,12}", after):
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


def sender(config: Config) -> WebSender:
    """The outbox's sender for `web` (`Adapter.sender`): always on, nothing to configure."""
    return WebSender()


def routes(app: Flask, deps: WebDeps) -> None:
    """The simulator's page and API, when the configuration serves it (`Adapter.routes`)."""
    if deps.config.simulator:
        app.register_blueprint(blueprint(deps))
    else:
        log.info("simulator: off (SIMULATOR=on serves it; `trainbot serve` on loopback does)")


def notifiers(outbox: Outbox) -> tuple[ManagerNotifier, ...]:
    """The simulator reaches no managers (`Adapter.notifiers`)."""
    return ()
