"""The outbox: replies queued in the learner documents, and the delivery lease.

One deliverer per learner (holding the lease under a fencing token) sends the replies in
order; every write of a deliverer is fenced by its token, so one whose lease passed to
another never lands. Delivery records go to `deliveries` (`bot/store/deliveries.py`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument

from bot.store.deliveries import Deliveries
from bot.store.repository import Repository

# What a deliverer reads of a learner: the outbox and what senders need to address, gate
# and word a reply (`active_course`: the language of typed hints on a reply naming no
# course; not progress, history or the processed ids, copied on every claim).
DELIVERY_VIEW = {
    field: 1
    for field in (
        *("outbox", "lease", "seq", "opted_out", "last_inbound_at", "whatsapp", "slack"),
        "active_course",
    )
}
NOT_PARKED = {"parked": None}  # a parked queue waits for an admin (or for the learner)


class Outbox(Repository):
    """The outbox and lease fields of `learners`, and the deliveries they become."""

    name = "learners"

    def __init__(self, db: Any, deliveries: Deliveries) -> None:
        super().__init__(db)
        self.deliveries = deliveries

    def claim_outbox(
        self, key: str, now: datetime, until: datetime, token: str | None = None
    ) -> dict[str, Any] | None:
        """Take the learner's delivery lease (one deliverer per learner keeps replies in
        order) under a fresh fencing token; returns the learner's delivery view
        (`DELIVERY_VIEW`) as it was before, with the token as `claim` (its `lease` is set
        when an earlier deliverer's lease expired: it died or stalled mid-flush), or None
        when another deliverer holds the lease or the queue is parked."""
        token = token or uuid.uuid4().hex
        doc = self.collection.find_one_and_update(
            {"_id": key, **NOT_PARKED, "$or": [{"lease": None}, {"lease": {"$lt": now}}]},
            {"$set": {"lease": until, "lease_token": token}},
            projection=DELIVERY_VIEW,
            return_document=ReturnDocument.BEFORE,
        )
        if doc is not None:
            doc["claim"] = token
        return doc

    def renew_lease(self, key: str, claim: str, until: datetime) -> bool:
        """Extend a lease still held under `claim`; False once another deliverer took it."""
        return self._fenced(key, claim, {"$set": {"lease": until}})

    def _fenced(
        self, key: str, claim: str | None, update: Mapping[str, Any], seq: int | None = None
    ) -> bool:
        """Apply `update` only while `claim` holds the lease (and entry `seq`, when given,
        is still queued): the write of a deliverer whose lease passed to another never
        lands. Without a claim (admin tools, tests) the write is unguarded."""
        guard: dict[str, Any] = {"_id": key}
        if claim is not None:
            guard["lease_token"] = claim
        if seq is not None:
            guard["outbox.seq"] = seq
        return self.collection.update_one(guard, dict(update)).matched_count == 1

    def end_dead_leases(self) -> int:
        """Expire every delivery lease at once: called when the embedded store is opened,
        whose one owner is this process, so any lease found was held by a dead one. Set
        to the past, not removed, so the next flush checks what it had already sent."""
        result = self.collection.update_many(
            {"lease": {"$ne": None}}, {"$set": {"lease": datetime(1970, 1, 1, tzinfo=UTC)}}
        )
        return result.modified_count

    def already_sent(self, key: str, seqs: Sequence[int]) -> list[int]:
        """Which of these outbox entries a deliverer sent and recorded before it died
        (they are still in the outbox because it removes them only on release)."""
        return self.deliveries.sent_of([f"{key}#{seq}" for seq in seqs])

    def mark_done(
        self,
        key: str,
        claim: str,
        seqs: Sequence[int],
        provider_ids: Sequence[str],
        until: datetime,
    ) -> bool:
        """Flag entries `seqs` sent (one message may carry several: their provider ids)
        and extend the lease, in one write, if `claim` still holds it. Written before the
        delivery records, so a deliverer taking over after a crash in between finds the
        flags and never sends the entries again."""
        result = self.collection.update_one(
            {"_id": key, "lease_token": claim, "outbox.seq": seqs[0]},
            {
                "$set": {
                    "outbox.$[sent].done": True,
                    "outbox.$[sent].sent_parts": list(provider_ids),
                    "lease": until,
                }
            },
            array_filters=[{"sent.seq": {"$in": list(seqs)}}],
        )
        return result.matched_count == 1

    def release_outbox(
        self, key: str, claimed: Mapping[str, Any], done: Sequence[int] = ()
    ) -> dict[str, Any] | None:
        """Give the lease back, removing the entries `done` (delivered and recorded with
        `delivered(..., pull=False)`: one learner write per flush instead of one per reply).

        Returns None when no reply was queued since `claimed` (the view `claim_outbox`
        gave): the write is guarded by the learner's `seq`, which every queued reply moves,
        and whatever the flush left in the outbox is not due yet. Otherwise the outbox
        (only) as it is now, for the deliverer to go on (copying the whole document was a
        measurable share of each message). Both writes are fenced by the claim's token: a
        deliverer that lost its lease releases nothing (and gets None)."""
        update: dict[str, Any] = {"$set": {"lease": None, "lease_token": None}}
        if done:
            update["$pull"] = {"outbox": {"seq": {"$in": list(done)}}}
        fence = {"lease_token": claimed["claim"]} if claimed.get("claim") else {}
        unchanged = {"_id": key, "seq": claimed.get("seq", 0), **fence}
        if self.collection.update_one(unchanged, update).matched_count:
            return None
        return self.collection.find_one_and_update(
            {"_id": key, **fence},
            update,
            projection={"outbox": 1},
            return_document=ReturnDocument.AFTER,
        )

    def delivered(
        self, key: str, entry: Mapping[str, Any], record: Mapping[str, Any], pull: bool = True
    ) -> None:
        """Log a delivery and remove it from the outbox (log first: a crash in between
        re-sends rather than loses); with `pull=False` the lease holder removes it when it
        releases the lease (`release_outbox(key, claimed, done)`)."""
        self.deliveries.record(f"{key}#{entry['seq']}", record)
        if pull:
            self.collection.update_one({"_id": key}, {"$pull": {"outbox": {"seq": entry["seq"]}}})

    def part_sent(self, key: str, seq: int, sent: list[str], claim: str | None = None) -> bool:
        """Messages of a multi-message reply went out (`sent`, in order, the last one new):
        remember them on the outbox entry (a retry skips them) and on the delivery record
        (status callbacks find it by any of them). Fenced by `claim`: False (and nothing
        recorded) when the lease passed to another deliverer."""
        provider_id = sent[-1]
        update = {
            "$set": {"outbox.$.sent_parts": list(sent)},
            "$unset": {"outbox.$.unconfirmed": ""},
        }
        if not self._fenced(key, claim, update, seq):
            return False
        self.deliveries.add_part(key, seq, provider_id)
        return True

    def postpone(
        self,
        key: str,
        seq: int,
        attempts: int,
        next_at: datetime,
        error: str,
        claim: str | None = None,
        first_failed_at: datetime | None = None,
    ) -> bool:
        """Record a failed attempt; the entry is retried at `next_at` (its retry budget
        runs from `first_failed_at`)."""
        fields: dict[str, Any] = {
            "outbox.$.attempts": attempts,
            "outbox.$.next_at": next_at,
            "outbox.$.error": error,
        }
        if first_failed_at is not None:
            fields["outbox.$.first_failed_at"] = first_failed_at
        # the provider refused the message outright: nothing is in doubt any more
        update = {"$set": fields, "$unset": {"outbox.$.unconfirmed": ""}}
        return self._fenced(key, claim, update, seq)

    def intend(
        self, key: str, claim: str, seq: int, attempt: Mapping[str, Any], until: datetime
    ) -> bool:
        """A message of entry `seq` is about to go to the provider (`attempt`: when, and
        the text it carries): should this deliverer die before it records the answer, the
        next one finds the entry unconfirmed and settles it (status callback or lookup)
        instead of sending it blind. Fenced by `claim`; extends the lease."""
        update = {"$set": {"outbox.$.unconfirmed": dict(attempt), "lease": until}}
        return self._fenced(key, claim, update, seq)

    def unconfirmed(
        self, key: str, claim: str, seq: int, attempt: Mapping[str, Any], next_at: datetime
    ) -> bool:
        """The provider may have accepted a message of entry `seq` (its answer was lost):
        keep what identifies it (`attempt`: when, and the text it carried) and settle it
        at `next_at`, by a status callback meanwhile or a lookup, never by a blind resend."""
        update = {"$set": {"outbox.$.unconfirmed": dict(attempt), "outbox.$.next_at": next_at}}
        return self._fenced(key, claim, update, seq)

    def settle_unconfirmed(self, key: str, claim: str, seq: int) -> bool:
        """The unconfirmed message of entry `seq` is settled (found, or proven not sent)."""
        return self._fenced(key, claim, {"$unset": {"outbox.$.unconfirmed": ""}}, seq)

    def confirm_by_callback(self, key: str, provider_id: str, now: datetime) -> bool:
        """A status callback named a message no delivery record knows while the learner's
        head reply waits unconfirmed: that is the message whose answer was lost (a
        learner's queue has one message in flight at a time). Its id settles the entry at
        once."""
        result = self.collection.update_one(
            {"_id": key, "outbox.unconfirmed.at": {"$exists": True}},
            {"$set": {"outbox.$.unconfirmed.sid": provider_id, "outbox.$.next_at": now}},
        )
        return result.matched_count == 1

    def park(
        self,
        key: str,
        claim: str,
        entry: Mapping[str, Any],
        attempts: int,
        error: str,
        now: datetime,
        unreachable: bool,
    ) -> bool:
        """Stop the learner's queue at entry `seq`, which finally failed: nothing behind it
        goes out (a conversation with a hole in it makes no sense) until an admin retries
        or drops it, or, when the learner could not be reached at all (`unreachable`), the
        learner writes again."""
        parked = {
            "seq": entry["seq"],
            "error": error,
            "at": now,
            "attempts": attempts,
            "unreachable": unreachable,
        }
        update = {
            "$set": {"parked": parked, "outbox.$.attempts": attempts, "outbox.$.error": error}
        }
        return self._fenced(key, claim, update, entry["seq"])

    def parked_learners(self, limit: int = 200) -> list[dict[str, Any]]:
        """Learners whose queue is parked, oldest first, with their waiting replies."""
        cursor = self.collection.find(
            {"parked": {"$type": "object"}},
            {"parked": 1, "name": 1, "outbox": 1},
        ).sort("parked.at", 1)
        return list(cursor.limit(limit))

    def unpark(self, key: str, seq: int, now: datetime) -> bool:
        """Resume a parked queue with its head due now and a fresh retry budget."""
        result = self.collection.update_one(
            {"_id": key, "parked.seq": seq, "outbox.seq": seq},
            {
                "$set": {
                    "parked": None,
                    "outbox.$.next_at": now,
                    "outbox.$.attempts": 0,
                    "outbox.$.first_failed_at": None,
                }
            },
        )
        return result.matched_count == 1

    def drop_parked(self, key: str, seq: int, record: Mapping[str, Any]) -> bool:
        """Give up on a parked head reply (logged as `record`) and resume the queue."""
        result = self.collection.update_one(
            {"_id": key, "parked.seq": seq},
            {"$set": {"parked": None}, "$pull": {"outbox": {"seq": seq}}},
        )
        if result.matched_count == 1:
            self.deliveries.set(f"{key}#{seq}", record)
        return result.matched_count == 1

    def due_outboxes(self, now: datetime, limit: int = 100) -> list[str]:
        """Learners with replies waiting whose next attempt is due (not parked)."""
        cursor = self.collection.find(
            {**NOT_PARKED, "outbox": {"$elemMatch": {"next_at": {"$lte": now}}}}, {"_id": 1}
        ).limit(limit)
        return [doc["_id"] for doc in cursor]

    def pending_count(self) -> int:
        """How many learners have replies waiting (a queue-depth gauge)."""
        return self.collection.count_documents({"outbox.0": {"$exists": True}})
