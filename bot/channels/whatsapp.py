"""WhatsApp through Twilio: the signed webhooks in (here), `messages.create` out.

Inbound (`POST /webhooks/whatsapp`) is verified with Twilio's `RequestValidator` against
`PUBLIC_BASE_URL` + path (the URL Twilio called, whatever proxies sit in between), turned
into an `Inbound` and handed to `Conversations.handle`; Twilio gets empty TwiML at once and
the replies go out through the outbox. `WhatsAppSender` renders a `Reply` as one or more
Twilio messages (media first, then text split at readable boundaries, navigation last as
quick-reply buttons or typed hints), respects the 24-hour customer-service window, and
retries Twilio's 429/5xx answers with backoff. Status callbacks
(`POST /webhooks/whatsapp/status`) record what happened to every message and mark learners
Twilio cannot reach.

The channel by concern (issue 19): this module (the adapter the registry loads, the
webhooks, learner keys), `whatsapp_send` (the sender, Twilio's error codes),
`whatsapp_limits` (interactive message limits and the content lint), `twilio_http`
(Twilio's HTTP client).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from flask import Blueprint, Flask, Response, abort, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from bot.channels.whatsapp_send import (
    STATUS_PATH,
    WEBHOOK_PATH,
    WhatsAppSender,
    learner_flags,
    parse_content_sids,
    utc,
)
from bot.config import Config
from bot.conversation import Conflict
from flows.events import Inbound

if TYPE_CHECKING:
    from bot.conversation import Conversations
    from bot.guard import FailureLimiter
    from bot.notify import ManagerNotifier
    from bot.outbox import Outbox
    from bot.store import Store

__all__ = [  # importable from here as before the split (tests, other modules)
    "STATUS_PATH",
    "WEBHOOK_PATH",
    "WhatsAppSender",
    "blueprint",
    "learner_key",
    "notifiers",
    "parse_content_sids",
    "routes",
    "sender",
]

log = logging.getLogger(__name__)

# Message statuses in the order they progress; failures end it.
STATUS_ORDER = ("queued", "accepted", "scheduled", "sending", "sent", "delivered", "read")
FAILURES = ("failed", "undelivered", "canceled")

_SID = re.compile(r"^[A-Za-z0-9]{10,64}$")
_STATUS = re.compile(r"^[a-z_]{1,32}$")
_PHONE_NOISE = re.compile(r"[\s\-().]")
# ASCII digits only: `\d` (and str.isdecimal) also take Arabic-Indic and other digits,
# which made `whatsapp:+1٥٥٥…` a learner and a Twilio recipient.
_E164 = re.compile(r"^\+?([1-9][0-9]{6,14})$")
# Meta's business-scoped user id (BSUID), what Twilio gives for a user who took a WhatsApp
# username and shares no phone number: a country code, a dot, up to 128 letters and digits
# (`US.13491208655302741918`; a parent id has `ENT.`). Kept exactly as received.
_BSUID = re.compile(r"^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$")
_SMALL_INT = re.compile(r"^[0-9]{1,6}$")  # NumMedia, ErrorCode: int() of 5,000 digits raises
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def learner_key(address: str) -> str | None:
    """`whatsapp:+E164` for a WhatsApp `From`/`To`, tolerating spacing and a missing `+`
    (so one person never becomes two learners), or `whatsapp:<BSUID>` for a user Meta
    identifies by a business-scoped id only; None for anything that is neither."""
    channel, sep, number = address.strip().partition(":")
    if not sep or channel.lower() != "whatsapp":
        return None
    if _BSUID.match(number.strip()):
        return f"whatsapp:{number.strip()}"
    match = _E164.match(_PHONE_NOISE.sub("", number))
    return f"whatsapp:+{match.group(1)}" if match else None


def _small_int(text: str) -> int | None:
    """A form field that Twilio fills with a small count or code; None for anything else."""
    return int(text) if _SMALL_INT.match(text) else None


class WhatsAppDeps(Protocol):
    """What the webhooks use of the app's wiring (`bot.services.Services` has it)."""

    @property
    def config(self) -> Config: ...
    @property
    def store(self) -> Store: ...
    @property
    def conversations(self) -> Conversations: ...
    @property
    def guard(self) -> FailureLimiter: ...  # per-IP limit of bad signatures


def sender(config: Config) -> WhatsAppSender:
    """The outbox's WhatsApp sender (`Adapter.sender`)."""
    return WhatsAppSender(config)


def routes(app: Flask, deps: WhatsAppDeps) -> None:
    """Twilio's webhooks on `app` (`Adapter.routes`)."""
    app.register_blueprint(blueprint(deps))


def notifiers(outbox: Outbox) -> tuple[ManagerNotifier, ...]:
    """Digests do not go to managers over WhatsApp (`Adapter.notifiers`)."""
    return ()


# --- webhooks ---------------------------------------------------------------------------------


def _press_id(pressed_on: str, payload: str | None) -> str:
    """The message id of a button press: one per button per message, so a double tap (two
    MessageSids for the same press) changes the learner's state once. "" for typed text."""
    if not payload or not _SID.match(pressed_on):
        return ""
    return f"twilio-press:{pressed_on}:{payload[:100]}"


def _replaces(state: str) -> list[str] | None:
    """The statuses a report of `state` moves forward from (None: a status Twilio added
    since, recorded as a receipt only)."""
    if state in FAILURES:
        return list(STATUS_ORDER)
    if state in STATUS_ORDER:
        return list(STATUS_ORDER[: STATUS_ORDER.index(state)])
    return None


# The answer to every inbound webhook (replies go through the outbox); serialising it
# with ElementTree on each request was ~5% of a message's CPU under gunicorn.
EMPTY_TWIML = str(MessagingResponse())


def _twiml() -> Response:
    return Response(EMPTY_TWIML, mimetype="text/xml")


def blueprint(services: WhatsAppDeps) -> Blueprint:
    """The Twilio webhooks: inbound messages and message status callbacks."""
    config = services.config
    validator = RequestValidator(config.twilio_auth_token.get_secret_value())
    bp = Blueprint("whatsapp", __name__)
    if config.public_base_url.startswith(("http://127.0.0.1", "http://localhost")):
        log.warning(
            "whatsapp: PUBLIC_BASE_URL is %s; set it to the public URL Twilio calls, or every "
            "webhook will fail its signature check and Twilio cannot fetch media",
            config.public_base_url,
        )

    def verify() -> None:
        """403 unless X-Twilio-Signature signs the public URL and the posted form."""
        signature = request.headers.get("X-Twilio-Signature", "")
        query = request.query_string.decode("utf-8", "replace")
        url = config.public_base_url + request.path + (f"?{query}" if query else "")
        if not signature or not validator.validate(url, request.form, signature):
            if services.guard.failed(request.remote_addr or "-"):
                abort(429)  # a flood of forged requests: logged once by the guard
            log.warning(
                "whatsapp: refused %s with %s signature (check PUBLIC_BASE_URL=%s)",
                request.path,
                "a wrong" if signature else "no",
                config.public_base_url,
            )
            abort(403)

    def form_text(name: str) -> str:
        return _CONTROL.sub(" ", request.form.get(name, "")).strip()

    @bp.post(WEBHOOK_PATH)
    def inbound() -> Response:
        verify()
        sid, sender = request.form.get("MessageSid", ""), request.form.get("From", "")
        if not _SID.match(sid) or not sender:
            log.warning(
                "whatsapp: malformed webhook (MessageSid %r, From %r)", sid[:40], sender[:40]
            )
            abort(400, "MessageSid and From are required")
        key = learner_key(sender)
        if key is None:
            log.warning("whatsapp: unsupported From %r (message %s)", sender[:40], sid)
            abort(400, "From must be a WhatsApp address such as whatsapp:+15551234567")
        if not key.startswith("whatsapp:+"):
            # A business-scoped id: while WhatsApp still shares the number (`WaId`), the
            # person stays the phone-number learner they were (one person, one learner).
            key = learner_key("whatsapp:+" + form_text("WaId")) or key
        count = request.form.get("NumMedia", "0").strip()
        payload = form_text("ButtonPayload") or form_text("ListId") or None
        pressed_on = form_text("OriginalRepliedMessageSid")
        text = request.form.get("Body", "")
        if not payload and not text.strip():
            text = form_text("ButtonText") or form_text("ListTitle")
        try:
            services.conversations.handle(
                Inbound(
                    key=key,
                    channel="whatsapp",
                    text=text,
                    payload=payload,
                    name=form_text("ProfileName")[:80],
                    message_id=_press_id(pressed_on, payload) or f"twilio-{sid}",
                    media_count=_small_int(count) or 0,
                )
            )
        except Conflict:
            return Response("busy, please retry", status=503)  # Twilio retries / falls back
        return _twiml()

    @bp.post(STATUS_PATH)
    def status() -> Response:
        verify()
        sid = request.form.get("MessageSid", "")
        state = request.form.get("MessageStatus", "").strip().lower()
        if not _SID.match(sid) or not _STATUS.match(state):
            abort(400, "MessageSid and MessageStatus are required")
        code_text = request.form.get("ErrorCode", "").strip()
        code = _small_int(code_text)
        now = datetime.now(UTC)
        fields: dict[str, Any] = {f"receipts.{sid}.{state}": now}
        if code is not None:
            fields[f"receipts.{sid}.error_code"] = code
        if state in FAILURES:
            fields.update(status="failed", error=f"twilio {state} (code {code})")
        record = services.store.delivery_status(sid, state, _replaces(state), fields)
        key = record["learner"] if record else learner_key(request.form.get("To", ""))
        if record is None and key and services.store.confirm_by_callback(key, sid, now):
            log.info("whatsapp: status %s settles the unconfirmed message %s", state, sid)
        elif record is None:
            log.info("whatsapp: status %s for unknown message %s", state, sid)
        flags = learner_flags(code, utc((record or {}).get("at")) or now, now)
        if key and flags:
            services.store.flag_learner(key, flags)
        return Response(status=204)

    return bp
