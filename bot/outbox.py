"""Delivering queued replies: in order per learner, never twice, never skipped.

Replies are written to the learner's `outbox` in the same update as the state that caused
them. A delivery round (`flush`) claims the learner's lease under a fresh **fencing token**:
the lease is renewed before every provider call, and every write the round makes (entry
sent, part sent, postponed, parked, release) is guarded by the token, so a deliverer whose
lease passed to another (it stalled past the lease) can neither send nor record again.

A failure stops the learner's queue until the head entry's next attempt: transient failures
are retried with capped backoff for the channel's **time budget** (`budgets`); when the head
finally fails the queue is **parked**, not skipped (the rest of a conversation makes no sense
without it), for an admin to retry or drop (`bot/admin`). A message the provider may have
accepted without answering (`Unconfirmed`) is never re-sent blindly: it is settled by a
status callback or a lookup first. See docs/hardening.md, "Delivery faults".
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.observability import (
    DELIVERY_FAILURES,
    DELIVERY_UNCONFIRMED,
    MESSAGES_OUT,
    OUTBOX_PARKED,
)
from bot.privacy import mask
from bot.store import Store
from flows.course import Media
from flows.events import Button, Reply

log = logging.getLogger(__name__)

# How long a head reply is retried before its queue is parked, for a channel with no
# `budget` of its own in the registry (`bot.channels.registry`, passed in by `bot.services`).
DEFAULT_BUDGET = timedelta(hours=1)
MAX_DELAY = timedelta(minutes=5)  # longest wait between attempts: bounds recovery time
SETTLE_AFTER = timedelta(minutes=2)  # wait for a status callback before looking a message up


class DeliveryError(Exception):
    """A send failed; `retryable` says whether trying again can help, `unreachable` that
    the learner cannot be reached until they write (blocked us, window closed), `flags`
    fields the provider's answer sets on the learner (opted out, blocked): the outbox
    records them, as a status callback carrying the same error code would. `code` is the
    provider's own error code when it gave one (`not_in_channel`, "21610"), for callers
    that tell people what to fix."""

    def __init__(
        self,
        message: str,
        retryable: bool = True,
        unreachable: bool = False,
        flags: Mapping[str, Any] | None = None,
        code: str = "",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.retryable = retryable
        self.unreachable = unreachable
        self.flags = dict(flags or {})


class Unconfirmed(DeliveryError):
    """The request reached the provider but its answer did not (a read timeout, a connection
    closed after sending): the message may have been accepted. `fingerprint` is text the
    message carried (to find it in a lookup); `last` whether it was the entry's last one."""

    def __init__(self, message: str, fingerprint: str, last: bool) -> None:
        super().__init__(message)
        self.fingerprint = fingerprint
        self.last = last


class LeaseLost(Exception):
    """Another deliverer holds this learner's lease now: stop sending and recording."""


class Sender(Protocol):
    """A channel's way of sending one reply; returns the provider's message id. `learner`
    is the learner's delivery view (`bot.store.DELIVERY_VIEW`), not the whole document.
    A sender that can raise `Unconfirmed` also has `look_up(learner, fingerprint, since)
    -> provider id | None`."""

    def send(self, learner: Mapping[str, Any], reply: Reply) -> str | None: ...


class Lease:
    """One delivery round's hold on a learner's queue (the fencing token is `claim`)."""

    def __init__(
        self,
        store: Store,
        key: str,
        claim: str,
        length: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.key = key
        self.claim = claim
        self.length = length
        self.clock = clock
        self.confirmed_at = clock()

    def until(self) -> datetime:
        """The expiry a guarded write made now sets."""
        return self.clock() + self.length

    def renew(self) -> None:
        """Make sure the lease is still ours before a provider call, and extend it. The
        write is skipped while a third of the lease has not passed since the last guarded
        write: until the lease expires nobody else can claim it."""
        now = self.clock()
        if now - self.confirmed_at < self.length / 3:
            return
        self.confirm(self.store.renew_lease(self.key, self.claim, now + self.length))

    def confirm(self, held: bool, extended: bool = True) -> None:
        """A guarded write's result: raise `LeaseLost` when it did not land."""
        if not held:
            raise LeaseLost(self.key)
        if extended:
            self.confirmed_at = self.clock()


class Parts:
    """The messages of one outbox entry already sent by earlier attempts.

    A channel that delivers one reply as several provider messages (WhatsApp splits long
    text) implements `send_parts(learner, reply, parts) -> list[provider_id]`, skips the
    first `len(parts.sent)` messages of its (deterministic) plan, calls `parts.renew()`
    before each provider call and `parts.add` after each message but the last, so a retry
    after a partial failure never re-sends a part and a stale deliverer never sends one.
    """

    def __init__(self, store: Store, lease: Lease, entry: Mapping[str, Any]) -> None:
        self.store = store
        self.lease = lease
        self.seq = entry["seq"]
        self.sent: list[str] = list(entry.get("sent_parts", ()))

    def renew(self) -> None:
        """Fence the next provider call (raises `LeaseLost`)."""
        self.lease.renew()

    def intend(self, fingerprint: str, last: bool) -> None:
        """Fence the next message (raises `LeaseLost`) and leave word of it on the entry:
        `fingerprint` is the text a lookup recognises it by, `last` whether it ends the
        reply. A deliverer that dies between the provider's answer and the write that
        records it (kill -9, OOM) used to make its successor send that message again;
        the successor now settles it first (`Outbox._settle`)."""
        attempt = {"at": self.lease.clock(), "fingerprint": fingerprint, "last": last}
        held = self.store.intend(
            self.lease.key, self.lease.claim, self.seq, attempt, self.lease.until()
        )
        self.lease.confirm(held)

    def add(self, provider_id: str) -> None:
        """Record one more sent message (before the next one is attempted)."""
        self.sent.append(provider_id)
        recorded = self.store.part_sent(self.lease.key, self.seq, self.sent, self.lease.claim)
        self.lease.confirm(recorded, extended=False)


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


def destination(entry: Mapping[str, Any], key: str) -> str:
    """The address a queued reply goes to: the one the learner wrote from when that is not
    their primary key (`to`, issue 17), else the key (reminders, entries queued before
    `to` existed)."""
    return str(entry["reply"].get("to") or key)


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

    def _finish(
        self,
        lease: Lease,
        batch: list[dict[str, Any]],
        status: str,
        provider_ids: list[str],
        done: list[int],
        error: str = "",
    ) -> None:
        """Flag the batch's entries done (one fenced write), then log each one's delivery;
        they leave the outbox on release."""
        key, seqs = lease.key, [e["seq"] for e in batch]
        lease.confirm(self.store.mark_done(key, lease.claim, seqs, provider_ids, lease.until()))
        for entry in batch:
            first = provider_ids[0] if provider_ids else None
            record = self._record(key, entry, status, first, error)
            if provider_ids:
                record["provider_ids"] = provider_ids
            if len(batch) > 1:
                record["combined"] = seqs  # one provider message carried these replies
            self.store.delivered(key, entry, record, pull=False)
        done.extend(seqs)

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

    def budget(self, channel: str) -> timedelta:
        """How long a failing head reply of `channel` is retried before its queue parks."""
        return self.budgets.get(channel, DEFAULT_BUDGET)

    def _fail(
        self,
        lease: Lease,
        entry: Mapping[str, Any],
        reply: Reply,
        exc: DeliveryError,
        done: list[int],
    ) -> bool:
        """Retry later, or give up on the entry: True when the queue goes on without it
        (a proactive notice nothing later depends on), False when it waits."""
        key, channel, now, error = lease.key, channel_of(lease.key), self.clock(), str(exc)
        attempts = entry.get("attempts", 0) + 1
        first = entry.get("first_failed_at") or now
        DELIVERY_FAILURES.labels(channel, str(exc.retryable).lower()).inc()
        if exc.flags:  # unfenced: the provider's word on the learner holds whoever sends
            self.store.flag_learner(key, exc.flags)
        if exc.retryable and now - first < self.budget(channel):
            # (the exponent is capped: a day of retries would overflow a timedelta)
            delay = min(self.base_delay * 2 ** min(attempts - 1, 16), MAX_DELAY)
            delay *= random.uniform(0.5, 1.0)  # jitter spreads retries of many learners
            log.warning(
                "outbox: reply %s to %s failed (attempt %d), retry in %ds: %s",
                entry["seq"],
                mask(key),
                attempts,
                delay.total_seconds(),
                error,
            )
            held = self.store.postpone(
                key, entry["seq"], attempts, now + delay, error, lease.claim, first
            )
            lease.confirm(held, extended=False)
            return False
        MESSAGES_OUT.labels(channel, "failed").inc()
        if reply.proactive:
            log.error(
                "outbox: giving up on notice %s to %s after %d attempt(s): %s",
                entry["seq"],
                mask(key),
                attempts,
                error,
            )
            self._finish(lease, [{**entry, "attempts": attempts - 1}], "failed", [], done, error)
            return True
        OUTBOX_PARKED.labels(channel).inc()
        log.error(
            "outbox: reply %s to %s failed after %d attempt(s); queue parked: %s",
            entry["seq"],
            mask(key),
            attempts,
            error,
        )
        held = self.store.park(key, lease.claim, entry, attempts, error, now, exc.unreachable)
        lease.confirm(held, extended=False)
        return False
