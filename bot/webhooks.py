"""Outgoing webhooks: `course.completed` and `certificate.issued`, POSTed to `WEBHOOK_URLS`.

Durable first, then sent: `emit` records one delivery per configured URL in the `webhooks`
collection (in the store, so a restart or a receiver that is down loses nothing), and the
clock's `run_due` sends what is due, retrying with exponential backoff for `GIVE_UP_AFTER`.
The schedule lives in the store rather than in an in-process retry loop (tenacity's), so it
survives restarts and never holds a clock thread while a receiver is down.

Every event has a stable id (a UUIDv5 of what happened), so a completion whose effect is
performed twice records one event, and a receiver can drop a repeat delivery by
`Trainbot-Event-Id`. Each attempt is signed Stripe-style:
`Trainbot-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>`
(README, "Outgoing webhooks", shows how to verify it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import urllib3

from bot.channels.twilio_http import pool_for
from bot.store.webhooks import WebhookDeliveries
from flows.course import Course

log = logging.getLogger(__name__)

EVENTS = ("course.completed", "certificate.issued")
# A fixed namespace: the same event gets the same id in every process and after restarts.
NAMESPACE = uuid.UUID("6f1c2a8e-3d4b-5e6f-8a9b-0c1d2e3f4a5b")
FIRST_RETRY = timedelta(seconds=10)  # then 20 s, 40 s, … doubling up to MAX_GAP
MAX_GAP = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(days=3)  # as Stripe: a receiver down for longer must catch up by hand
LEASE = timedelta(seconds=60)  # a claimed delivery whose sender died is due again after this
TIMEOUT = urllib3.Timeout(connect=5.0, read=10.0)
BATCH = 50  # deliveries sent per clock tick


class Transport(Protocol):
    """Sends one signed POST: (status code, response text)."""

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, str]: ...


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `Trainbot-Signature` header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 10 s, 20 s, 40 s … at most an hour."""
    return min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 20), MAX_GAP)


def event_id(kind: str, *identity: str) -> str:
    """A stable id for an event: the same completion or certificate always gets the same."""
    return str(uuid.uuid5(NAMESPACE, "|".join((kind, *identity))))


class Urllib3Transport:
    """POSTs through a urllib3 pool per receiver (proxy and CA bundle chosen as for Twilio's
    calls); never follows a redirect (a 3xx is a failed attempt, as for Stripe's webhooks)."""

    def __init__(self) -> None:
        self.pools: dict[str, urllib3.PoolManager] = {}

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        pool = self.pools.get(origin) or self.pools.setdefault(origin, pool_for(origin))
        response = pool.request(
            "POST", url, body=body, headers=dict(headers), timeout=TIMEOUT, redirect=False
        )
        return response.status, response.data[:500].decode("utf-8", "replace")


class Webhooks:
    """The `webhooks` collection: one record per (event, URL), and the sender."""

    def __init__(
        self,
        records: WebhookDeliveries,
        urls: Sequence[str],
        secret: str,
        clock: Callable[[], datetime],
        transport: Transport | None = None,
    ) -> None:
        self.records = records
        self.urls = tuple(urls)
        self.secret = secret
        self.clock = clock
        self.transport: Transport = transport or Urllib3Transport()

    def ensure_indexes(self) -> None:
        self.records.ensure_indexes()

    @property
    def enabled(self) -> bool:
        return bool(self.urls)

    # --- recording events -----------------------------------------------------------------

    def emit(self, kind: str, identity: Sequence[str], data: Mapping[str, Any]) -> str:
        """Record `kind` for every configured URL, once however often it is emitted (the
        effect that emits it may be performed again after a crash). Returns the event id."""
        if kind not in EVENTS:
            raise ValueError(f"unknown webhook event {kind!r}")
        eid = event_id(kind, *identity)
        if not self.urls:
            return eid
        now = self.clock()
        body = json.dumps(
            {"id": eid, "type": kind, "created": _iso(now), "data": dict(data)},
            default=_iso,
            separators=(",", ":"),
        )
        for url in self.urls:
            record = {
                "event_id": eid,
                "type": kind,
                "url": url,
                "body": body,
                "status": "pending",
                "attempts": 0,
                "created": now,
                "since": now,  # retries go on until GIVE_UP_AFTER past this
                "next_at": now,
                "last_code": None,
                "last_error": None,
            }
            self.records.record(str(uuid.uuid5(uuid.UUID(eid), url)), record)
        log.info("webhooks: %s %s recorded for %d URL(s)", kind, eid, len(self.urls))
        return eid

    def course_completed(self, key: str, name: str, course: Course, completed_at: datetime) -> str:
        """`course.completed`: one event per completion (a restarted course completes anew)."""
        return self.emit(
            "course.completed",
            (key, course.id, _iso(completed_at)),
            {
                "learner": {"key": key, "name": name},
                "course": {"id": course.id, "title": course.title},
                "completed_at": completed_at,
            },
        )

    def certificate_issued(self, cert: Mapping[str, Any], url: str, verify_url: str) -> str:
        """`certificate.issued`: one event per certificate code."""
        return self.emit(
            "certificate.issued",
            (cert["code"],),
            {
                "learner": {"key": cert["learner"], "name": cert.get("name", "")},
                "course": {"id": cert["course"], "title": cert.get("course_title", "")},
                "certificate": {
                    "code": cert["code"],
                    "title": cert.get("title", ""),
                    "issued": cert["issued"],
                    "expires": cert.get("expires"),
                    "url": url,
                    "verify_url": verify_url,
                },
            },
        )

    # --- sending (the clock's job) ----------------------------------------------------------

    def run_due(self) -> int:
        """Send every delivery that is due (claimed one at a time, so two clocks never send
        the same attempt). How many were attempted."""
        sent = 0
        while sent < BATCH and (doc := self._claim(self.clock())) is not None:
            self._attempt(doc)
            sent += 1
        return sent

    def _claim(self, now: datetime) -> dict[str, Any] | None:
        """The next due delivery, leased to this sender. Only to URLs still configured: a
        receiver removed from WEBHOOK_URLS gets nothing more (its deliveries wait)."""
        return self.records.claim(now, self.urls, LEASE, uuid.uuid4().hex)

    def _attempt(self, doc: Mapping[str, Any]) -> None:
        now = self.clock()
        body = doc["body"].encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Trainbot-Webhooks/1",
            "Trainbot-Event-Id": doc["event_id"],
            "Trainbot-Event-Type": doc["type"],
            "Trainbot-Signature": sign(self.secret, int(now.timestamp()), body),
        }
        code: int | None = None
        try:
            code, text = self.transport(doc["url"], body, headers)
            error = None if 200 <= code < 300 else f"HTTP {code}: {text[:200]}".strip()
        except Exception as exc:  # refused, timed out, TLS: the receiver is down
            error = f"{type(exc).__name__}: {exc}"[:300]
        done = self.clock()
        fields: dict[str, Any] = {"last_code": code, "last_error": error, "last_at": done}
        if error is None:
            fields |= {"status": "delivered", "done_at": done}
        elif done - _aware(doc["since"]) >= GIVE_UP_AFTER:
            fields |= {"status": "failed", "done_at": done}
        else:
            fields["next_at"] = done + backoff(doc["attempts"])
        self.records.settle(doc["_id"], doc["claim"], fields)
        level = logging.INFO if error is None else logging.WARNING
        log.log(level, "webhooks: %s attempt %d: %s", doc["type"], doc["attempts"], error or code)

    # --- the admin page ---------------------------------------------------------------------

    def recent(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest deliveries, for the admin page."""
        return self.records.recent(limit)

    def retry(self, delivery_id: str) -> bool:
        """An admin's Retry: a failed (or waiting) delivery is due now, with a fresh window."""
        return self.records.retry(delivery_id, self.clock())


def _iso(value: Any) -> str:
    """Datetimes in events as ISO 8601 UTC."""
    if isinstance(value, datetime):
        return _aware(value).astimezone(UTC).isoformat().replace("+00:00", "Z")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
