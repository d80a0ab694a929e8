"""Delivering queued replies: in order per learner, retried with backoff, never dropped.

Replies are written to the learner's `outbox` in the same update as the state that caused
them. `flush` takes a per-learner lease so only one deliverer sends a learner's replies
(keeping them in order across threads and processes), sends what is due, and logs each
delivery; a failure stops that learner's queue until the entry's next attempt is due.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.observability import DELIVERY_FAILURES, MESSAGES_OUT
from bot.privacy import mask
from bot.store import Store
from flows.course import Media
from flows.events import Button, Reply

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A send failed; `retryable` says whether trying again can help."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Sender(Protocol):
    """A channel's way of sending one reply; returns the provider's message id. `learner`
    is the learner's delivery view (`bot.store.DELIVERY_VIEW`), not the whole document."""

    def send(self, learner: Mapping[str, Any], reply: Reply) -> str | None: ...


class Parts:
    """The messages of one outbox entry already sent by earlier attempts.

    A channel that delivers one reply as several provider messages (WhatsApp splits long
    text) implements `send_parts(learner, reply, parts) -> list[provider_id]`, skips the
    first `len(parts.sent)` messages of its (deterministic) plan and calls `parts.add` after
    each further one, so a retry after a partial failure never re-sends a part.
    """

    def __init__(self, store: Store, key: str, entry: Mapping[str, Any]) -> None:
        self.store = store
        self.key = key
        self.seq = entry["seq"]
        self.sent: list[str] = list(entry.get("sent_parts", ()))

    def add(self, provider_id: str) -> None:
        """Record one more sent message (before the next one is attempted)."""
        self.sent.append(provider_id)
        self.store.part_sent(self.key, self.seq, self.sent)


def reply_to_doc(reply: Reply) -> dict[str, Any]:
    """A reply as stored in the outbox."""
    return asdict(reply)


def reply_from_doc(doc: Mapping[str, Any]) -> Reply:
    """A reply read back from the outbox."""
    return Reply(
        text=doc.get("text", ""),
        buttons=tuple(Button(**b) for b in doc.get("buttons", ())),
        media=tuple(Media(**m) for m in doc.get("media", ())),
        course_id=doc.get("course_id"),
        kind=doc.get("kind", ""),
        title=doc.get("title", ""),
        proactive=bool(doc.get("proactive", False)),
    )


def channel_of(key: str) -> str:
    """The channel a learner key belongs to (`whatsapp:+1555…` → `whatsapp`)."""
    return key.split(":", 1)[0]


class Outbox:
    """Sends learners' queued replies through the channel senders."""

    def __init__(
        self,
        store: Store,
        senders: Mapping[str, Sender],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        lease: timedelta = timedelta(seconds=60),
        max_attempts: int = 8,
        base_delay: timedelta = timedelta(seconds=5),
    ) -> None:
        self.store = store
        self.senders = dict(senders)
        self.clock = clock
        self.lease = lease
        self.max_attempts = max_attempts
        self.base_delay = base_delay

    def flush(self, key: str) -> int:
        """Send every due reply for one learner, in order; returns how many were sent."""
        sent = 0
        for _ in range(10):  # bounded: re-check for replies queued while we were sending
            now = self.clock()
            doc = self.store.claim_outbox(key, now, now + self.lease)
            if doc is None:
                return sent  # another deliverer has this learner; it will send ours too
            done: list[int] = []  # sent and recorded: removed from the outbox on release
            if doc.get("lease") is not None:  # the last deliverer died mid-flush
                done = self.store.already_sent(key, [e["seq"] for e in doc.get("outbox", [])])
                doc = {**doc, "outbox": [e for e in doc.get("outbox", []) if e["seq"] not in done]}
            try:
                sent += self._send_due(doc, now, done)
            finally:
                doc = self.store.release_outbox(key, doc, done)
            if not self._due(doc, self.clock()):
                return sent
        return sent

    def flush_due(self) -> int:
        """Send what is due for every learner (the clock's retry job)."""
        return sum(self.flush(key) for key in self.store.due_outboxes(self.clock()))

    @staticmethod
    def _due(doc: Mapping[str, Any] | None, now: datetime) -> bool:
        entries = (doc or {}).get("outbox", [])
        return bool(entries) and min(entries, key=lambda e: e["seq"])["next_at"] <= now

    def _send_due(self, doc: Mapping[str, Any], now: datetime, done: list[int]) -> int:
        key = doc["_id"]
        channel = channel_of(key)
        sender = self.senders.get(channel)
        sent = 0
        for entry in sorted(doc.get("outbox", []), key=lambda e: e["seq"]):
            if entry["next_at"] > now:
                break  # keep order: nothing after a postponed reply goes first
            if sender is None:
                self._fail(key, entry, f"channel '{channel}' is not enabled", retryable=True)
                break
            reply = reply_from_doc(entry["reply"])
            if reply.proactive and doc.get("opted_out"):
                # STOP was committed after this reminder was queued: it must not go out.
                log.info(
                    "outbox: proactive reply %s to %s suppressed (STOP)", entry["seq"], mask(key)
                )
                self.store.delivered(key, entry, self._record(key, entry, "suppressed"))
                continue
            try:
                provider_ids = self._send(sender, doc, entry, reply)
            except DeliveryError as exc:
                self._fail(key, entry, str(exc), exc.retryable)
                if exc.retryable:
                    break
                continue
            except Exception as exc:  # a sender bug must not lose the reply
                log.exception("outbox: %s sender crashed", channel)
                self._fail(key, entry, f"sender error: {exc}", retryable=True)
                break
            record = self._record(key, entry, "sent", provider_ids[0] if provider_ids else None)
            self.store.delivered(key, entry, {**record, "provider_ids": provider_ids}, pull=False)
            done.append(entry["seq"])
            MESSAGES_OUT.labels(channel, "sent").inc()
            sent += 1
        return sent

    def _send(
        self, sender: Sender, doc: Mapping[str, Any], entry: Mapping[str, Any], reply: Reply
    ) -> list[str]:
        """Send one entry; the provider ids of every message it took."""
        send_parts = getattr(sender, "send_parts", None)
        if send_parts is not None:
            return list(send_parts(doc, reply, Parts(self.store, doc["_id"], entry)))
        provider_id = sender.send(doc, reply)
        return [provider_id] if provider_id else []

    def _record(
        self,
        key: str,
        entry: Mapping[str, Any],
        status: str,
        provider_id: str | None = None,
        error: str = "",
    ) -> dict[str, Any]:
        return {
            "learner": key,
            "channel": channel_of(key),
            "seq": entry["seq"],
            "reply": entry["reply"],
            "status": status,
            "provider_id": provider_id,
            "attempts": entry.get("attempts", 0) + 1,
            "error": error,
            "at": self.clock(),
        }

    def _fail(self, key: str, entry: Mapping[str, Any], error: str, retryable: bool) -> None:
        attempts = entry.get("attempts", 0) + 1
        DELIVERY_FAILURES.labels(channel_of(key), str(retryable).lower()).inc()
        if not retryable or attempts >= self.max_attempts:
            MESSAGES_OUT.labels(channel_of(key), "failed").inc()
            log.error(
                "outbox: giving up on reply %s to %s after %d attempt(s): %s",
                entry["seq"],
                mask(key),
                attempts,
                error,
            )
            self.store.delivered(key, entry, self._record(key, entry, "failed", error=error))
            return
        delay = min(self.base_delay * 2 ** (attempts - 1), timedelta(hours=1))
        delay *= random.uniform(0.5, 1.0)  # jitter spreads retries of many learners
        log.warning(
            "outbox: reply %s to %s failed (attempt %d), retry in %ds: %s",
            entry["seq"],
            mask(key),
            attempts,
            delay.total_seconds(),
            error,
        )
        self.store.postpone(key, entry["seq"], attempts, self.clock() + delay, error)
