"""MongoDB persistence: learners (state + outbox), deliveries, and the health check.

Every inbound message costs one read and one write: the new state, the outgoing replies and
the message id go into the learner document in one `update_one`, guarded by `version` and
by the list of recently processed message ids. Without `MONGODB_URI` the same code runs on
the embedded store (`bot/durable.py`: mongomock-ng journaled to `DATA_DIR`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymongo
from pymongo.errors import DuplicateKeyError, PyMongoError

from bot.durable import Embedded
from bot.privacy import mask

log = logging.getLogger(__name__)

PROCESSED_KEPT = 200  # recent inbound message ids kept in the learner (the atomic fast path)
INBOUND_KEPT_DAYS = 8  # every inbound id, in `inbound`, for Twilio's and Slack's late retries
KEPT_SECONDS = 90 * 24 * 3600  # deliveries and events expire after 90 days (TTL indexes)
OUTBOX_KEPT = 200  # undelivered replies kept per learner; beyond that the oldest fail
# What a deliverer reads of a learner: the outbox and what senders need to address and
# gate a reply (not progress, history or the processed ids, copied on every claim).
DELIVERY_VIEW = {
    field: 1
    for field in ("outbox", "lease", "seq", "opted_out", "last_inbound_at", "whatsapp", "slack")
}
NOT_PARKED = {"parked": None}  # a parked queue waits for an admin (or for the learner)


@dataclass(frozen=True)
class Commit:
    """Result of a guarded write: `ok`, or why not (`duplicate` message, `conflict`)."""

    status: str
    seqs: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"


WRITES = frozenset(
    {
        "insert_one",
        "insert_many",
        "update_one",
        "update_many",
        "replace_one",
        "delete_one",
        "delete_many",
        "find_one_and_update",
        "find_one_and_replace",
        "find_one_and_delete",
        "bulk_write",
    }
)


_ABSENT = object()


def changed(before: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """The `fields` whose value differs from `before` (the document the guarded write is
    based on, so unchanged fields already hold these values). A message changes a few of
    the learner's ~20 state fields; setting all of them cost the embedded store a copy and
    a BSON check of each (about a fifth of a message's store time) and MongoDB the bytes."""
    return {k: v for k, v in fields.items() if before.get(k, _ABSENT) != v}


# Single-document reads the guarded read-modify-write relies on (`load` is a find_one).
# mongomock changes a stored document in place, key by key, so a read copying it while a
# write is under way could see the new `version` with old state, and its commit would
# then pass the guard and lose the other write (seen once, in a full-suite run on a busy
# machine, by the concurrency contract test). Cursors (`find`, `aggregate`) stay unlocked:
# reports and admin pages read many documents and must not hold the webhooks up; none of
# them writes back.
LOCKED_READS = frozenset({"find_one", "count_documents", "distinct", "estimated_document_count"})


class _AtomicCollection:
    """An embedded collection whose writes are atomic, as on a MongoDB server.

    mongomock matches a filter and applies the update in two steps, so two threads can
    both pass a `version` guard; the engine's lock around writes (and the reads in
    `LOCKED_READS`) restores the guarantees the store relies on.
    """

    def __init__(self, collection: Any, lock: threading.RLock) -> None:
        self._collection = collection
        self._lock = lock

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        if name not in WRITES and name not in LOCKED_READS:
            return attr

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return locked


class _AtomicDatabase:
    """An embedded database handing out `_AtomicCollection`s."""

    def __init__(self, database: Any, lock: threading.RLock) -> None:
        self._database = database
        self._lock = lock

    def __getitem__(self, name: str) -> _AtomicCollection:
        return _AtomicCollection(self._database[name], self._lock)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._database, name)
        return _AtomicCollection(attr, self._lock) if hasattr(attr, "find_one") else attr


class Store:
    """The one place that talks to MongoDB."""

    def __init__(
        self, client: Any, db_name: str = "trainbot", engine: Embedded | None = None
    ) -> None:
        self.client = client
        self.engine = engine
        self.embedded = engine is not None
        self.db = _AtomicDatabase(client[db_name], engine.lock) if engine else client[db_name]
        self.learners = self.db["learners"]
        self.deliveries = self.db["deliveries"]
        self.events = self.db["events"]
        self.questions = self.db["questions"]
        self.inbound = self.db["inbound"]
        self.problems = self.db["problems"]  # standing set-up problems for the admin

    @classmethod
    def connect(
        cls, uri: str | None, db_name: str = "trainbot", data_dir: Path | None = None
    ) -> Store:
        """Real MongoDB at `uri`; else the embedded store, durable in `data_dir` (which this
        process then owns: `DataDirLocked` if another does), or in memory without one."""
        if uri:
            client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
                uri, tz_aware=True, serverSelectionTimeoutMS=3000
            )
            return cls(client, pymongo.uri_parser.parse_uri(uri).get("database") or db_name)
        from bot import embedded

        embedded.install()
        engine = Embedded(data_dir)
        return cls(engine.client, db_name, engine)

    def status(self) -> dict[str, Any]:
        """Which store, where, and whether it survives a crash (/healthz, the banner)."""
        if self.engine is not None:
            return self.engine.status()
        nodes = ", ".join(f"{host}:{port}" for host, port in self.client.nodes) or "?"
        return {"backend": "mongodb", "durable": True, "where": nodes, "db": self.db.name}

    def writable(self, now: datetime) -> bool:
        """Whether a write reaches the store now (readiness): one small upsert."""
        try:
            self.db["health"].update_one({"_id": "ready"}, {"$set": {"at": now}}, upsert=True)
            return True
        except (PyMongoError, OSError) as exc:
            log.error("store: write check failed: %s: %s", type(exc).__name__, exc)
            return False

    def close(self) -> None:
        """Release the client (and the embedded store's data directory)."""
        if self.engine is not None:
            self.engine.close()
        else:
            self.client.close()

    def ensure_indexes(self) -> None:
        """Create the indexes the queries rely on (idempotent, run at start-up)."""
        self.learners.create_index([("active_course", 1)])
        self.learners.create_index([("outbox.next_at", 1)], sparse=True)
        self.deliveries.create_index([("learner", 1), ("seq", 1)])
        self.deliveries.create_index([("provider_ids", 1)], sparse=True)
        self.deliveries.create_index([("at", 1)], expireAfterSeconds=KEPT_SECONDS)
        self.events.create_index([("at", 1)], expireAfterSeconds=KEPT_SECONDS)
        self.questions.create_index([("course", 1), ("session", 1), ("at", -1)])
        self.inbound.create_index([("at", 1)], expireAfterSeconds=INBOUND_KEPT_DAYS * 24 * 3600)

    def ping(self) -> bool:
        """Whether the database answers."""
        try:
            self.client.admin.command("ping")
            return True
        except PyMongoError as exc:
            log.warning("store: ping failed: %s", exc)
            return False

    # --- learners ----------------------------------------------------------------------

    def load(self, key: str) -> dict[str, Any] | None:
        """The learner document, or None for a learner never seen."""
        return self.learners.find_one({"_id": key})

    def commit(
        self,
        key: str,
        before: Mapping[str, Any] | None,
        state: Mapping[str, Any],
        replies: list[dict[str, Any]],
        message_id: str | None,
        now: datetime,
        effects: Sequence[Mapping[str, Any]] = (),
        done: str | None = None,
    ) -> Commit:
        """Write new state and queue replies atomically, if nobody wrote in between.

        `before` is the document the state was computed from (None for a new learner).
        The write fails with `conflict` when the version moved on, and with `duplicate`
        when `message_id` was already processed; the caller reloads and decides.
        `effects` (what must happen after this turn: an answer, a certificate) are kept
        with the state until performed; `done` names one performed by this write.
        """
        version = int(before.get("version", 0)) if before else 0
        first = int(before.get("seq", 0)) + 1 if before else 1
        seqs = tuple(range(first, first + len(replies)))
        entries = [
            {"seq": seq, "reply": reply, "attempts": 0, "next_at": now, "created_at": now}
            for seq, reply in zip(seqs, replies, strict=True)
        ]
        fields = {**state, "version": version + 1, "seq": first - 1 + len(replies)}
        try:
            if before is None:
                self.learners.insert_one(
                    {
                        "_id": key,
                        **fields,
                        "outbox": entries,
                        "created_at": now,
                        "processed": [message_id] if message_id else [],
                        "effects": list(effects),
                    }
                )
                return Commit("ok", seqs)
            if message_id and (before.get("parked") or {}).get("unreachable"):
                fields["parked"] = None  # the learner wrote: reachable again, resume
            fields = changed(before, fields)
            guard: dict[str, Any] = {"_id": key, "version": version}
            push: dict[str, Any] = {"outbox": {"$each": entries, "$slice": -OUTBOX_KEPT}}
            if message_id:
                guard["processed"] = {"$ne": message_id}
                push["processed"] = {"$each": [message_id], "$slice": -PROCESSED_KEPT}
            update: dict[str, Any] = {"$set": fields, "$push": push}
            if effects:
                push["effects"] = {"$each": list(effects)}
            elif done:
                update["$pull"] = {"effects": {"id": done}}
            result = self.learners.update_one(guard, update)
        except DuplicateKeyError:
            result = None
        if before is not None and result is not None and result.matched_count == 1:
            self._record_overflow(key, [*before.get("outbox", []), *entries], now)
            return Commit("ok", seqs)
        latest = self.load(key) or {}
        if message_id and message_id in latest.get("processed", ()):
            return Commit("duplicate")
        return Commit("conflict")

    def effects_due(self, before: datetime, limit: int = 100) -> list[tuple[str, dict[str, Any]]]:
        """Effects committed at or before `before` and not yet performed, as (learner,
        entry): their performer died, or was lost with its process."""
        found = self.learners.find(
            {"effects": {"$elemMatch": {"at": {"$lte": before}}}}, {"effects": 1}
        ).limit(limit)
        return [
            (doc["_id"], entry)
            for doc in found
            for entry in doc.get("effects", ())
            if _aware(entry["at"]) <= before
        ]

    def effect_done(self, key: str, effect_id: str) -> None:
        """Forget a performed effect (one that queued nothing: `commit(done=…)` does the
        same in the write that queues an effect's replies)."""
        self.learners.update_one({"_id": key}, {"$pull": {"effects": {"id": effect_id}}})

    def seen_inbound(self, key: str, message_id: str) -> bool:
        """Whether this inbound message id was processed within `INBOUND_KEPT_DAYS` (the
        learner's `processed` list remembers only the last `PROCESSED_KEPT`)."""
        return self.inbound.find_one({"_id": f"{key} {message_id}"}, {"_id": 1}) is not None

    def remember_inbound(self, key: str, message_id: str, now: datetime) -> None:
        """Keep a processed inbound id in `inbound` (expired by its TTL index on `at`)."""
        with contextlib.suppress(DuplicateKeyError):  # a concurrent copy was first
            self.inbound.insert_one({"_id": f"{key} {message_id}", "at": now})

    def _record_overflow(self, key: str, outbox: list[dict[str, Any]], now: datetime) -> None:
        """Log replies pushed out of a full outbox as failed, so none vanishes silently
        (only happens when a channel has been down for a long time)."""
        for entry in outbox[: max(0, len(outbox) - OUTBOX_KEPT)]:
            log.error("store: outbox of %s full; reply %s marked failed", mask(key), entry["seq"])
            self.deliveries.update_one(
                {"_id": f"{key}#{entry['seq']}"},
                {
                    "$setOnInsert": {
                        "learner": key,
                        "seq": entry["seq"],
                        "reply": entry["reply"],
                        "status": "failed",
                        "error": "outbox overflow",
                        "at": now,
                    }
                },
                upsert=True,
            )

    def set_fields(self, key: str, fields: Mapping[str, Any]) -> None:
        """Set fields the flows do not own (a channel's addresses, such as the Slack DM and
        the session message a thread hangs from) on an existing learner, without touching
        `version`: they never take part in a state change."""
        self.learners.update_one({"_id": key}, {"$set": dict(fields)})

    # --- outbox --------------------------------------------------------------------------

    def claim_outbox(
        self, key: str, now: datetime, until: datetime, token: str | None = None
    ) -> dict[str, Any] | None:
        """Take the learner's delivery lease (one deliverer per learner keeps replies in
        order) under a fresh fencing token; returns the learner's delivery view
        (`DELIVERY_VIEW`) as it was before, with the token as `claim` (its `lease` is set
        when an earlier deliverer's lease expired: it died or stalled mid-flush), or None
        when another deliverer holds the lease or the queue is parked."""
        token = token or uuid.uuid4().hex
        doc = self.learners.find_one_and_update(
            {"_id": key, **NOT_PARKED, "$or": [{"lease": None}, {"lease": {"$lt": now}}]},
            {"$set": {"lease": until, "lease_token": token}},
            projection=DELIVERY_VIEW,
            return_document=pymongo.ReturnDocument.BEFORE,
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
        return self.learners.update_one(guard, dict(update)).matched_count == 1

    def end_dead_leases(self) -> int:
        """Expire every delivery lease at once: called when the embedded store is opened,
        whose one owner is this process, so any lease found was held by a dead one. Set
        to the past, not removed, so the next flush checks what it had already sent."""
        result = self.learners.update_many(
            {"lease": {"$ne": None}}, {"$set": {"lease": datetime(1970, 1, 1, tzinfo=UTC)}}
        )
        return result.modified_count

    def already_sent(self, key: str, seqs: Sequence[int]) -> list[int]:
        """Which of these outbox entries a deliverer sent and recorded before it died
        (they are still in the outbox because it removes them only on release)."""
        ids = [f"{key}#{seq}" for seq in seqs]
        found = self.deliveries.find({"_id": {"$in": ids}, "status": "sent"}, {"seq": 1})
        return [record["seq"] for record in found]

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
        result = self.learners.update_one(
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
        if self.learners.update_one(unchanged, update).matched_count:
            return None
        return self.learners.find_one_and_update(
            {"_id": key, **fence},
            update,
            projection={"outbox": 1},
            return_document=pymongo.ReturnDocument.AFTER,
        )

    def delivered(
        self, key: str, entry: Mapping[str, Any], record: Mapping[str, Any], pull: bool = True
    ) -> None:
        """Log a delivery and remove it from the outbox (log first: a crash in between
        re-sends rather than loses); with `pull=False` the lease holder removes it when it
        releases the lease (`release_outbox(key, claimed, done)`)."""
        record_id = f"{key}#{entry['seq']}"
        try:
            # Usually the first record of this reply (an insert is a third of an upsert's
            # time on the embedded store)…
            self.deliveries.insert_one({"_id": record_id, **record})
        except DuplicateKeyError:
            # …but earlier parts of a long reply may have started it: $set keeps what they
            # and status callbacks wrote.
            self.deliveries.update_one({"_id": record_id}, {"$set": dict(record)}, upsert=True)
        if pull:
            self.learners.update_one({"_id": key}, {"$pull": {"outbox": {"seq": entry["seq"]}}})

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
        self.deliveries.update_one(
            {"_id": f"{key}#{seq}"},
            {
                "$push": {"provider_ids": provider_id},
                "$setOnInsert": {"learner": key, "channel": key.split(":", 1)[0], "seq": seq},
            },
            upsert=True,
        )
        return True

    def delivery_status(
        self,
        provider_id: str,
        status: str,
        lower: list[str] | None,
        fields: Mapping[str, Any],
    ) -> dict[str, Any] | None:
        """Apply a provider's status report to the delivery holding `provider_id`.

        `fields` (per-message receipt, keyed by status so reports in any order all land) are
        always set; `provider_status` only moves forward (to `status` when it was missing or
        one of `lower`; never when `lower` is None), so late or repeated callbacks never
        regress it. Returns the record."""
        record = self.deliveries.find_one_and_update(
            {"provider_ids": provider_id},
            {"$set": dict(fields)},
            return_document=pymongo.ReturnDocument.AFTER,
        )
        if record is not None and lower is not None:
            self.deliveries.update_one(
                {"_id": record["_id"], "provider_status": {"$in": [None, *lower]}},
                {"$set": {"provider_status": status}},
            )
        return record

    def flag_learner(self, key: str, fields: Mapping[str, Any]) -> bool:
        """Set fields on a learner outside a conversation turn (a provider said the learner
        cannot be reached); bumps `version` so a turn computed before it is recomputed."""
        result = self.learners.update_one(
            {"_id": key}, {"$set": dict(fields), "$inc": {"version": 1}}
        )
        return result.matched_count == 1

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

    def recorded(self, provider_id: str) -> bool:
        """Whether a delivery record already holds this provider message id (a lookup that
        found it found an earlier message with the same text, not the one in doubt)."""
        found = self.deliveries.find_one(
            {"$or": [{"provider_ids": provider_id}, {"provider_id": provider_id}]}, {"_id": 1}
        )
        return found is not None

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
        result = self.learners.update_one(
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
        cursor = self.learners.find(
            {"parked": {"$type": "object"}},
            {"parked": 1, "name": 1, "outbox": 1},
        ).sort("parked.at", 1)
        return list(cursor.limit(limit))

    def unpark(self, key: str, seq: int, now: datetime) -> bool:
        """Resume a parked queue with its head due now and a fresh retry budget."""
        result = self.learners.update_one(
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
        result = self.learners.update_one(
            {"_id": key, "parked.seq": seq},
            {"$set": {"parked": None}, "$pull": {"outbox": {"seq": seq}}},
        )
        if result.matched_count == 1:
            self.deliveries.update_one({"_id": f"{key}#{seq}"}, {"$set": dict(record)}, upsert=True)
        return result.matched_count == 1

    def due_outboxes(self, now: datetime, limit: int = 100) -> list[str]:
        """Learners with replies waiting whose next attempt is due (not parked)."""
        cursor = self.learners.find(
            {**NOT_PARKED, "outbox": {"$elemMatch": {"next_at": {"$lte": now}}}}, {"_id": 1}
        ).limit(limit)
        return [doc["_id"] for doc in cursor]

    def pending_count(self) -> int:
        """How many learners have replies waiting (a queue-depth gauge)."""
        return self.learners.count_documents({"outbox.0": {"$exists": True}})

    def transcript(self, key: str, after: int = 0) -> list[dict[str, Any]]:
        """Delivered replies to a learner after sequence number `after`, oldest first."""
        return list(self.deliveries.find({"learner": key, "seq": {"$gt": after}}).sort("seq", 1))

    def log_event(self, record: Mapping[str, Any]) -> None:
        """Append an inbound event to the audit log."""
        self.events.insert_one(dict(record))

    # --- set-up problems -----------------------------------------------------------------

    def note_problem(self, problem_id: str, fields: Mapping[str, Any]) -> None:
        """Record a set-up problem only an admin can fix (a digest channel the Slack app
        may not post to), for the admin overview: in the store, because the clock that
        meets it may be another process than the web app that shows it."""
        self.problems.update_one({"_id": problem_id}, {"$set": dict(fields)}, upsert=True)

    def clear_problem(self, problem_id: str) -> None:
        """The problem is gone (the same send worked)."""
        self.problems.delete_one({"_id": problem_id})

    def open_problems(self) -> list[dict[str, Any]]:
        """Standing set-up problems, oldest first."""
        return list(self.problems.find().sort("at", 1))

    # --- assistant -----------------------------------------------------------------------

    def record_assistant_turn(
        self,
        key: str,
        course_id: str,
        session_id: str,
        turn: Mapping[str, Any],
        kept: int,
        day: str,
        tokens: int,
        stale_days: Iterable[str] = (),
    ) -> None:
        """Append a question and answer to the learner's history of that session (the last
        `kept` turns stay) and add the tokens to today's count, dropping older days' counts.
        Not version-guarded: neither field is state the flows read."""
        path = f"history.{course_id}.{session_id}"  # ids are validated: no dots, no $
        update: dict[str, Any] = {
            "$push": {path: {"$each": [dict(turn)], "$slice": -kept}},
            "$inc": {f"assistant_usage.{day}": tokens},
        }
        if stale := {f"assistant_usage.{d}": "" for d in stale_days}:
            update["$unset"] = stale
        self.learners.update_one({"_id": key}, update)

    def log_question(self, record: Mapping[str, Any]) -> None:
        """Record a learner's question and how it was answered (for authors)."""
        self.questions.insert_one(dict(record))

    def asked(self, course_id: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Recorded questions, newest first, optionally of one course."""
        query = {"course": course_id} if course_id else {}
        return list(self.questions.find(query, {"_id": 0}).sort("at", -1).limit(limit))


def _aware(value: datetime) -> datetime:
    """A stored time as UTC (the embedded store and BSON give naive UTC datetimes)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
