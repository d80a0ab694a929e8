"""The delivery loop: a round claims a learner's queue under a fresh fencing token and
sends the due replies in order (combining a turn's replies where the channel and course
allow, settling an unconfirmed message before any resend); what happens after a failure is
`bot.outbox.policy`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.observability import DELIVERY_UNCONFIRMED, MESSAGES_OUT
from bot.outbox.fencing import (
    DeliveryError,
    Lease,
    LeaseLost,
    Parts,
    Sender,
    Unconfirmed,
    channel_of,
    destination,
    reply_from_doc,
)
from bot.outbox.policy import SETTLE_AFTER, Retrying
from bot.privacy import mask
from bot.store import Store
from flows.events import Reply

log = logging.getLogger(__name__)


class Outbox(Retrying):
    """Sends learners' queued replies through the channel senders."""

    def __init__(
        self,
        store: Store,
        senders: Mapping[str, Sender],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        lease: timedelta = timedelta(seconds=60),
        base_delay: timedelta = timedelta(seconds=5),
        budgets: Mapping[str, timedelta] | None = None,
        settle_after: timedelta = SETTLE_AFTER,
        combine_replies: Callable[[str | None], bool] = lambda course_id: False,
    ) -> None:
        self.store = store
        self.senders = dict(senders)
        self.clock = clock
        self.lease = lease
        self.base_delay = base_delay
        self.budgets = dict(budgets or {})
        self.settle_after = settle_after
        self.combine_replies = combine_replies  # a course's `whatsapp.combine_replies`

    def flush(self, key: str) -> int:
        """Send every due reply for one learner, in order; returns how many were sent."""
        sent = 0
        for _ in range(10):  # bounded: re-check for replies queued while we were sending
            now = self.clock()
            doc = self.store.claim_outbox(key, now, now + self.lease)
            if doc is None:
                return sent  # another deliverer has this learner (or its queue is parked)
            lease = Lease(self.store, key, doc["claim"], self.lease, self.clock)
            done = self._taken_over(doc)  # sent and recorded: removed on release
            try:
                sent += self._send_due(doc, now, lease, done)
            except LeaseLost:
                log.warning("outbox: lost the lease on %s to another deliverer", mask(key))
                return sent
            finally:
                doc = self.store.release_outbox(key, doc, done)
            if not self._due(doc, self.clock()):
                return sent
        return sent

    def flush_due(self) -> int:
        """Send what is due for every learner (the clock's retry job)."""
        return sum(self.flush(key) for key in self.store.due_outboxes(self.clock()))

    def _taken_over(self, doc: Mapping[str, Any]) -> list[int]:
        """Entries an earlier round sent before it died or lost its lease: flagged `done`
        on the entry (recorded here if it died before its delivery record), or recorded as
        sent before the flag existed."""
        key, entries = doc["_id"], doc.get("outbox", [])
        flagged = [e for e in entries if e.get("done")]
        if doc.get("lease") is None and not flagged:
            return []
        recorded = set(self.store.already_sent(key, [e["seq"] for e in entries]))
        for entry in flagged:
            if entry["seq"] not in recorded:
                ids = list(entry.get("sent_parts", ()))
                record = self._record(key, entry, "sent", ids[0] if ids else None)
                self.store.delivered(key, entry, {**record, "provider_ids": ids}, pull=False)
        return sorted(recorded | {e["seq"] for e in flagged})

    @staticmethod
    def _due(doc: Mapping[str, Any] | None, now: datetime) -> bool:
        entries = (doc or {}).get("outbox", [])
        return bool(entries) and min(entries, key=lambda e: e["seq"])["next_at"] <= now

    def _send_due(
        self, doc: Mapping[str, Any], now: datetime, lease: Lease, done: list[int]
    ) -> int:
        key = doc["_id"]
        sent = 0
        entries = sorted(doc.get("outbox", []), key=lambda e: e["seq"])
        waiting = [e for e in entries if e["seq"] not in done]
        while waiting:
            entry = waiting[0]
            if entry["next_at"] > now:
                break  # keep order: nothing after a postponed reply goes first
            to = destination(entry, key)
            channel = channel_of(to)
            sender = self.senders.get(channel)
            if sender is None:
                error = DeliveryError(f"channel '{channel}' is not enabled")
                if self._fail(lease, entry, reply_from_doc(entry["reply"]), error, done):
                    waiting.pop(0)
                    continue
                break
            batch, reply = self._batch(sender, waiting)
            if reply.proactive and doc.get("opted_out"):
                # STOP was committed after this reminder was queued: it must not go out.
                log.info(
                    "outbox: proactive reply %s to %s suppressed (STOP)", entry["seq"], mask(key)
                )
                self._finish(lease, batch, "suppressed", [], done)
                del waiting[: len(batch)]
                continue
            try:
                view = doc if to == key else {**doc, "_id": to}
                provider_ids = self._send(sender, view, entry, reply, lease)
            except Unconfirmed as exc:
                self._unconfirmed(lease, entry, exc)
                break
            except DeliveryError as exc:
                if self._fail(lease, entry, reply, exc, done):
                    del waiting[: len(batch)]
                    continue
                break
            except LeaseLost:
                raise
            except Exception as exc:  # a sender bug must not lose the reply
                log.exception("outbox: %s sender crashed", channel)
                if self._fail(lease, entry, reply, DeliveryError(f"sender error: {exc}"), done):
                    del waiting[: len(batch)]
                    continue
                break
            self._finish(lease, batch, "sent", provider_ids, done)
            MESSAGES_OUT.labels(channel, "sent").inc(len(batch))
            sent += len(batch)
            del waiting[: len(batch)]
        return sent

    def _batch(
        self, sender: Sender, waiting: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], Reply]:
        """The head entry and the entries after it that go in the same message: consecutive
        replies of the same turn (queued together), when the channel can combine them
        (`combine(replies) -> Reply | None`, WhatsApp) and the course allows it. The same
        entries always make the same batch, so a retry re-sends exactly what was tried."""
        head = waiting[0]
        reply = reply_from_doc(head["reply"])
        combine = getattr(sender, "combine", None)
        if combine is None or head.get("sent_parts") or not self.combine_replies(reply.course_id):
            return [head], reply
        batch, replies = [head], [reply]
        for entry in waiting[1:]:
            if entry["created_at"] != head["created_at"] or entry.get("attempts"):
                break
            if destination(entry, "") != destination(head, ""):
                break
            merged = combine([*replies, reply_from_doc(entry["reply"])])
            if merged is None:
                break
            batch.append(entry)
            replies.append(reply_from_doc(entry["reply"]))
            reply = merged
        return batch, reply

    def _send(
        self,
        sender: Sender,
        doc: Mapping[str, Any],
        entry: Mapping[str, Any],
        reply: Reply,
        lease: Lease,
    ) -> list[str]:
        """Send one entry (after settling an unconfirmed message of it); the provider ids
        of every message it took."""
        parts = Parts(self.store, lease, entry)
        if entry.get("unconfirmed"):
            found = self._settle(sender, doc, entry, lease)
            if found and entry["unconfirmed"].get("last"):
                return [*parts.sent, found]
            if found:
                parts.add(found)
        lease.renew()
        send_parts = getattr(sender, "send_parts", None)
        if send_parts is not None:
            return list(send_parts(doc, reply, parts))
        provider_id = sender.send(doc, reply)
        return [provider_id] if provider_id else []

    def _settle(
        self, sender: Sender, doc: Mapping[str, Any], entry: Mapping[str, Any], lease: Lease
    ) -> str | None:
        """Whether the provider did accept the message whose answer was lost: the id a
        status callback brought, or a lookup through the provider's API. None: it was
        never accepted, so sending it again duplicates nothing."""
        attempt = entry["unconfirmed"]
        found = attempt.get("sid")
        look_up = getattr(sender, "look_up", None)
        if not found and look_up is not None:
            # the same text may have gone out earlier (a session read again): only a
            # message no delivery accounts for can be the one in doubt
            found = look_up(doc, attempt["fingerprint"], attempt["at"], self.store.recorded)
        outcome = "found" if found else "not_sent"
        DELIVERY_UNCONFIRMED.labels(channel_of(doc["_id"]), outcome).inc()
        log.info("outbox: unconfirmed reply %s to %s: %s", entry["seq"], mask(doc["_id"]), outcome)
        lease.confirm(self.store.settle_unconfirmed(doc["_id"], lease.claim, entry["seq"]), False)
        return found

    def _unconfirmed(self, lease: Lease, entry: Mapping[str, Any], exc: Unconfirmed) -> None:
        now = self.clock()
        DELIVERY_UNCONFIRMED.labels(channel_of(lease.key), "pending").inc()
        log.warning(
            "outbox: reply %s to %s unconfirmed (%s); settling it before any resend",
            entry["seq"],
            mask(lease.key),
            exc,
        )
        attempt = {"at": now, "fingerprint": exc.fingerprint, "last": exc.last}
        held = self.store.unconfirmed(
            lease.key, lease.claim, entry["seq"], attempt, now + self.settle_after
        )
        lease.confirm(held, extended=False)
