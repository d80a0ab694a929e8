"""The pieces a delivery round and the channel senders share: the errors a sender raises
(`DeliveryError`, `Unconfirmed`), the `Sender` protocol, the fenced `Lease` and the `Parts`
of a reply already sent, and how a reply is stored in the outbox. Every write that records
a step is guarded by the round's fencing token, so a deliverer that lost its lease stops.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.store import Store
from flows.course import Media
from flows.events import Button, Reply


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
