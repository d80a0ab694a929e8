"""Sending to WhatsApp through Twilio: `WhatsAppSender` (moved from `whatsapp.py`, issue 19).

It renders a `Reply` as one or more Twilio messages (media first, then text split at
readable boundaries, navigation last as quick-reply buttons or typed hints), respects the
24-hour customer-service window, and retries Twilio's 429/5xx answers with backoff. The
Twilio error codes it acts on (`learner_flags`) mean the same when a status callback
(`whatsapp.py`) reports them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from tenacity import Retrying, before_sleep_log, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from urllib3.exceptions import HTTPError, ProtocolError, ReadTimeoutError

from bot.channels import whatsapp_templates
from bot.channels.twilio_http import NETWORK_ERRORS, TwilioHttp
from bot.channels.whatsapp_limits import (
    CAPTIONED,
    LIST_ROWS_MAX,
    QUICK_REPLY_MAX,
    TEMPLATE_BODY_MAX,
    button_width,
    clip,
    media_problem,
)
from bot.config import Config
from bot.outbox import DeliveryError, Parts, Unconfirmed, mask
from bot.render import to_whatsapp
from bot.security import media_type
from bot.split import WHATSAPP_LIMIT, split_text
from bot.store import Store
from flows.course import Course, Media
from flows.events import Button, Reply
from flows.messages import typed_hint

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/whatsapp"
STATUS_PATH = "/webhooks/whatsapp/status"  # where Twilio reports on each message sent
WINDOW = timedelta(hours=24)  # WhatsApp's customer-service window after a learner writes

TEMPLATE_VARIABLE_MAX = 900  # the text put into a proactive template's {{1}}

OUTSIDE_WINDOW, UNSUBSCRIBED, BLOCKED = 63016, 21610, 63014
LOOKUP_PAGE = 50  # recent messages to a learner searched for one whose answer was lost
# Twilio error codes that no retry can fix (bad or unreachable recipient, window closed).
# The table of codes the bot acts on, and where each comes from: README, "Connect WhatsApp".
PERMANENT = {21211, 21408, 21610, 21612, 21614, 63003, 63014, 63016, 63024}
# Rate limits Twilio may answer a send with under a 4xx status: worth retrying with backoff.
RATE_LIMITED = {20429, 63018}


def learner_flags(code: int | None, sent_at: datetime, now: datetime) -> dict[str, Any]:
    """What a Twilio error code says about the learner, as fields to set on them: the one
    place both paths meet (`messages.create` raising it, and a status callback reporting
    it), so a code means the same wherever it arrives. `sent_at`: when the message that
    failed went out (a late 63016 must not close a window the learner has reopened since).
    """
    if code == OUTSIDE_WINDOW:
        return {"whatsapp.window_closed_at": min(sent_at, now)}
    if code == UNSUBSCRIBED:  # the learner replied STOP to the business: opted out
        return {"opted_out": True, "whatsapp.unsubscribed_at": now}
    if code == BLOCKED:  # the learner blocked the business: nothing gets through
        return {"whatsapp.blocked_at": now}
    return {}


def parse_content_sids(raw: str) -> dict[str, str]:
    """`TWILIO_CONTENT_SIDS`: a JSON object or `name=HX…,name=HX…` (see the README)."""
    raw = raw.strip()
    if not raw:
        return {}
    try:
        pairs = (
            json.loads(raw)
            if raw.startswith("{")
            else dict(item.split("=", 1) for item in raw.split(",") if item.strip())
        )
    except (ValueError, TypeError) as exc:
        log.error("whatsapp: TWILIO_CONTENT_SIDS is not name=HX…,… or JSON (%s); ignored", exc)
        return {}
    return {str(k).strip(): str(v).strip() for k, v in pairs.items() if str(v).strip()}


@dataclass(frozen=True)
class Part:
    """One Twilio message: text, a media URL (with caption), or a Content template."""

    body: str = ""
    media_url: str = ""
    content_sid: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """Text Twilio keeps in the message's body, to find it again in a lookup."""
        return self.variables.get("1", "") if self.content_sid else self.body

    def params(self) -> dict[str, Any]:
        if self.content_sid:
            return {
                "content_sid": self.content_sid,
                "content_variables": json.dumps(dict(self.variables), ensure_ascii=False),
            }
        params: dict[str, Any] = {"body": self.body}
        if self.media_url:
            params["media_url"] = [self.media_url]
        return params


def utc(value: datetime | None) -> datetime | None:
    """`value` as an aware UTC time: BSON datetimes come back naive unless the client is
    tz-aware."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _ambiguous(exc: BaseException) -> bool:
    """The request went out but no answer came back (a read timeout, a connection closed
    after sending): Twilio may have accepted the message, so it must not be sent again
    blindly. A refused or timed-out connection never carried the request."""
    return isinstance(exc, ReadTimeoutError | ProtocolError)


def _transient(exc: BaseException) -> bool:
    """Worth retrying at once: rate limits, Twilio's own failures, a network that never
    carried the request."""
    if isinstance(exc, TwilioRestException):
        return exc.status == 429 or exc.status >= 500 or exc.code in RATE_LIMITED
    return isinstance(exc, NETWORK_ERRORS) and not _ambiguous(exc)


class WhatsAppSender:
    """Sends replies with the real `twilio` client (`Sender` protocol of `bot.outbox`)."""

    def __init__(
        self,
        config: Config,
        client: Client | None = None,
        attempts: int = 4,
        retry_wait: float = 0.25,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.client = client or Client(
            config.twilio_account_sid,
            config.twilio_auth_token.get_secret_value(),
            http_client=TwilioHttp(config.twilio_api_base_url),
        )
        self.messages = self.client.messages  # resolve Twilio's lazy modules at start-up
        self.templates = parse_content_sids(config.twilio_content_sids)
        self.clock = clock
        self.course_of: Callable[[str | None], Course | None] = lambda _: None
        sender = config.twilio_whatsapp_from
        self.origin = (
            {"messaging_service_sid": sender}
            if sender.startswith("MG")
            else {"from_": sender if sender.startswith("whatsapp:") else f"whatsapp:{sender}"}
        )
        self.retrying = Retrying(
            retry=retry_if_exception(_transient),
            stop=stop_after_attempt(attempts),
            wait=wait_random_exponential(multiplier=retry_wait, max=retry_wait * 16),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )

    def bind_courses(self, course_of: Callable[[str | None], Course | None]) -> None:
        """Look courses up by id (the app's content library), so that typed hints are in
        the course's language; unbound, they are in English."""
        self.course_of = course_of

    def check_templates(self, store: Store) -> None:
        """Check the configured Content templates against Twilio (the clock's `templates`
        job, at start and hourly) and keep what is wrong on the admin overview."""
        problems = whatsapp_templates.check(self.client, self.templates)
        whatsapp_templates.record(store, self.templates, problems, self.clock())

    # --- the Sender protocol --------------------------------------------------------------

    def send(self, learner: Mapping[str, Any], reply: Reply) -> str | None:
        """Send every message of `reply`; the first message's SID."""
        sids = self._deliver(learner, reply, [], None)
        return sids[0] if sids else None

    def send_parts(self, learner: Mapping[str, Any], reply: Reply, parts: Parts) -> list[str]:
        """Send the messages of `reply` that earlier attempts did not (see `Parts`)."""
        return self._deliver(learner, reply, parts.sent, parts)

    def look_up(
        self,
        learner: Mapping[str, Any],
        fingerprint: str,
        since: datetime,
        taken: Callable[[str], bool] = lambda _: False,
    ) -> str | None:
        """The SID of a message Twilio accepted for this learner since `since` carrying
        `fingerprint` (its text, or a template's text variable) that no delivery accounts
        for yet (`taken`: the same text may have gone out earlier), if any: the outbox
        asks after a request whose answer was lost, before sending it again."""
        since = (utc(since) or self.clock()) - timedelta(minutes=1)
        try:
            # Newest first; not filtered by DateSent, which a still-queued message lacks.
            found = self.messages.list(to=str(learner["_id"]), limit=LOOKUP_PAGE)
        except (TwilioRestException, HTTPError) as exc:
            raise DeliveryError(f"twilio lookup failed: {exc}") from exc
        wanted = " ".join(fingerprint.split())
        for message in found:
            created = utc(message.date_created)
            if created is not None and created < since:
                continue
            text = " ".join((message.body or "").split())
            if wanted and wanted in text and not taken(str(message.sid)):
                return str(message.sid)
        return None

    def combine(self, replies: list[Reply]) -> Reply | None:
        """Consecutive replies of one turn as one message, or None when they do not make
        one: media, buttons anywhere but on the last, a notice, or more than one message's
        worth of text (`WHATSAPP_LIMIT`). Each Twilio message is billed: a turn such as
        "✅ Correct" + the next question costs one instead of two."""
        if any(r.media or r.proactive for r in replies) or any(r.buttons for r in replies[:-1]):
            return None
        last = replies[-1]
        merged = replace(last, text="\n\n".join(r.text for r in replies if r.text))
        return merged if len(self.plan(merged, window_open=True)) == 1 else None

    # --- planning ---------------------------------------------------------------------------

    def window_open(self, learner: Mapping[str, Any]) -> bool:
        """Whether the learner wrote within 24 hours (and Twilio has not said otherwise)."""
        last = utc(learner.get("last_inbound_at"))
        closed = utc((learner.get("whatsapp") or {}).get("window_closed_at"))
        if last is None or (closed is not None and closed >= last):
            return False
        return self.clock() - last < WINDOW

    def plan(self, reply: Reply, window_open: bool, course_id: str | None = None) -> list[Part]:
        """The Twilio messages for a reply, in sending order (deterministic, so a retry
        can skip the ones already sent). `course_id` is the learner's course, whose
        language words the typed hint of a reply that names no course."""
        course_media = self.media_url(reply.course_id, "") if reply.course_id else ""
        text = to_whatsapp(reply.text, course_media)
        if not window_open:
            template = self.templates.get("notify")
            if not template:
                raise DeliveryError(
                    "not sent: the learner's last message is older than 24 hours and no "
                    "approved template is configured (TWILIO_CONTENT_SIDS notify=HX…)",
                    retryable=False,
                    unreachable=True,
                )
            # An approved template's variable may not hold line breaks: one line of text.
            line = " ".join(text.split())
            return [Part(content_sid=template, variables={"1": clip(line, TEMPLATE_VARIABLE_MAX)})]
        parts = [
            part
            for media in (reply.media if reply.course_id else ())
            for part in self._media_parts(reply.course_id or "", media)
        ]
        buttons = self._button_template(reply.buttons)
        if buttons is None:  # typed words instead, in the course's language
            course = self.course_of(reply.course_id or course_id)
            hint = typed_hint(text, [b.payload for b in reply.buttons], course)
            text = "\n\n".join(filter(None, [text, hint]))
        chunks = split_text(text, WHATSAPP_LIMIT)
        if buttons is not None and chunks and len(chunks[-1]) > TEMPLATE_BODY_MAX:
            chunks = chunks[:-1] + split_text(chunks[-1], TEMPLATE_BODY_MAX)
        parts += [Part(body=chunk) for chunk in chunks]
        if buttons is not None and chunks:
            sid, variables = buttons
            parts[-1] = Part(content_sid=sid, variables={"1": chunks[-1], **variables})
        return parts

    def _media_parts(self, course_id: str, media: Media) -> list[Part]:
        """A session's file as WhatsApp shows it: an image or video with its text as the
        caption; a PDF or audio after its text (WhatsApp shows no caption on those; the
        file's name stays in the body, so a lookup can find the message); any other type
        as a link, since WhatsApp would refuse it later and the learner would get nothing."""
        url = self.media_url(course_id, media.path)
        name = PurePosixPath(media.path).name
        mime = media_type(media.path)
        if media_problem(mime):
            return [Part(body=clip(f"{media.alt or name}: {url}", WHATSAPP_LIMIT))]
        if mime and mime.startswith(CAPTIONED):
            return [Part(body=clip(media.alt, 1000), media_url=url)]
        text = [Part(body=clip(media.alt, WHATSAPP_LIMIT))] if media.alt.strip() else []
        return [*text, Part(body=name, media_url=url)]

    def media_url(self, course_id: str | None, path: str) -> str:
        """Where Twilio fetches a session's image or PDF (the app's /media route)."""
        return f"{self.config.public_base_url}/media/{quote(course_id or '')}/{quote(path)}"

    def _button_template(self, buttons: tuple[Button, ...]) -> tuple[str, dict[str, str]] | None:
        """The Content template showing these buttons, and its variables beyond {{1}}
        (the body): title/id pairs from {{2}} on; None when none is configured."""
        if not buttons:
            return None
        width = button_width(len(buttons))
        buttons = buttons[:LIST_ROWS_MAX]
        # One template per count: WhatsApp fills a template's unset rows with its samples.
        kind = "quick_reply" if len(buttons) <= QUICK_REPLY_MAX else "list"
        sid = self.templates.get(f"{kind}_{len(buttons)}")
        if not sid:
            return None
        variables: dict[str, str] = {}
        for number, button in enumerate(buttons):
            variables[str(2 + 2 * number)] = clip(button.title, width)
            variables[str(3 + 2 * number)] = button.payload
        return sid, variables

    # --- sending ----------------------------------------------------------------------------

    def _deliver(
        self,
        learner: Mapping[str, Any],
        reply: Reply,
        already: list[str],
        parts: Parts | None,
    ) -> list[str]:
        key = str(learner["_id"])
        self._check_reachable(key, learner)
        window_open = self.window_open(learner)
        if already and not window_open:
            raise DeliveryError(
                f"not sent: the 24-hour window closed after {len(already)} message(s) of this "
                "reply went out",
                retryable=False,
                unreachable=True,
            )
        plan = self.plan(reply, window_open, learner.get("active_course"))
        sids = list(already)
        for number, part in enumerate(plan[len(sids) :], start=len(sids) + 1):
            if parts is not None:
                parts.intend(part.fingerprint(), last=number == len(plan))
            try:
                sid = self._create(key, part, parts.renew if parts else None)
            except Unconfirmed as exc:
                raise Unconfirmed(str(exc), exc.fingerprint, last=number == len(plan)) from exc
            sids.append(sid)
            if parts is not None and number < len(plan):
                parts.add(sid)  # the last one is recorded by the outbox with the whole reply
        return sids

    @staticmethod
    def _check_reachable(key: str, learner: Mapping[str, Any]) -> None:
        """Refuse to send while Twilio's last word is that the learner cannot be reached
        (21610 STOP, 63014 blocked) and they have not written since: every send would fail
        the same way, so the queue waits for the learner instead (`unreachable`)."""
        last = utc(learner.get("last_inbound_at"))
        flags = learner.get("whatsapp") or {}
        for name, why, code in (
            ("unsubscribed_at", "unsubscribed", UNSUBSCRIBED),
            ("blocked_at", "blocked", BLOCKED),
        ):
            since = utc(flags.get(name))
            if since is not None and (last is None or since >= last):
                raise DeliveryError(
                    f"not sent: Twilio reported {mask(key)} {why} ({code})",
                    retryable=False,
                    unreachable=True,
                )

    def _create(self, to: str, part: Part, fence: Callable[[], None] | None = None) -> str:
        """One `messages.create`, retried on 429/5xx and refused connections (`fence`
        runs before each try: the outbox's lease check); failures become DeliveryError,
        a lost answer `Unconfirmed`."""
        params = {
            "to": to,
            "status_callback": self.config.public_base_url + STATUS_PATH,
            **self.origin,
            **part.params(),
        }
        retrying = self.retrying.copy(before=lambda _: fence()) if fence else self.retrying
        try:
            message = retrying(self.messages.create, **params)
        except TwilioRestException as exc:
            retryable = _transient(exc) and exc.code not in PERMANENT
            now = self.clock()
            raise DeliveryError(
                f"twilio {exc.status} (code {exc.code}): {exc.msg}",
                retryable=retryable,
                unreachable=exc.code in (OUTSIDE_WINDOW, UNSUBSCRIBED, BLOCKED),
                flags=learner_flags(exc.code, now, now),
            ) from exc
        except HTTPError as exc:
            if _ambiguous(exc):
                raise Unconfirmed(
                    f"twilio did not answer: {exc}", part.fingerprint(), last=True
                ) from exc
            raise DeliveryError(f"twilio unreachable: {exc}", retryable=True) from exc
        return str(message.sid)
