"""The `learners` collection: one document per learner (state, outbox, processed ids).

Every inbound message costs one read and one write: the new state, the outgoing replies
and the message id go into the learner document in one `update_one`, guarded by `version`
and by the list of recently processed message ids. The outbox fields of the same documents
are `bot/store/outbox.py`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import InsertOne, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from bot.privacy import mask
from bot.store.deliveries import Deliveries
from bot.store.repository import Repository, aware

log = logging.getLogger(__name__)

PROCESSED_KEPT = 200  # recent inbound message ids kept in the learner (the atomic fast path)
OUTBOX_KEPT = 200  # undelivered replies kept per learner; beyond that the oldest fail


@dataclass(frozen=True)
class Commit:
    """Result of a guarded write: `ok`, or why not (`duplicate` message, `conflict`)."""

    status: str
    seqs: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"


_ABSENT = object()


def changed(before: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """The `fields` whose value differs from `before` (the document the guarded write is
    based on, so unchanged fields already hold these values). A message changes a few of
    the learner's ~20 state fields; setting all of them cost the embedded store a copy and
    a BSON check of each (about a fifth of a message's store time) and MongoDB the bytes."""
    return {k: v for k, v in fields.items() if before.get(k, _ABSENT) != v}


class Learners(Repository):
    """Learner documents: load, the guarded commit, effects, fields outside a turn."""

    name = "learners"

    def __init__(self, db: Any, deliveries: Deliveries) -> None:
        super().__init__(db)
        self.deliveries = deliveries

    def ensure_indexes(self) -> None:
        """Learners by course (reports) and by due outbox entry (the retry sweep)."""
        self.collection.create_index([("active_course", 1)])
        self.collection.create_index([("outbox.next_at", 1)], sparse=True)

    def load(self, key: str) -> dict[str, Any] | None:
        """The learner document, or None for a learner never seen."""
        return self.collection.find_one({"_id": key})

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
                self.collection.insert_one(
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
            result = self.collection.update_one(guard, update)
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
        found = self.collection.find(
            {"effects": {"$elemMatch": {"at": {"$lte": before}}}}, {"effects": 1}
        ).limit(limit)
        return [
            (doc["_id"], entry)
            for doc in found
            for entry in doc.get("effects", ())
            if aware(entry["at"]) <= before
        ]

    def effect_done(self, key: str, effect_id: str) -> None:
        """Forget a performed effect (one that queued nothing: `commit(done=…)` does the
        same in the write that queues an effect's replies)."""
        self.collection.update_one({"_id": key}, {"$pull": {"effects": {"id": effect_id}}})

    def _record_overflow(self, key: str, outbox: list[dict[str, Any]], now: datetime) -> None:
        """Log replies pushed out of a full outbox as failed, so none vanishes silently
        (only happens when a channel has been down for a long time)."""
        for entry in outbox[: max(0, len(outbox) - OUTBOX_KEPT)]:
            log.error("store: outbox of %s full; reply %s marked failed", mask(key), entry["seq"])
            self.deliveries.failed_once(
                f"{key}#{entry['seq']}",
                {
                    "learner": key,
                    "seq": entry["seq"],
                    "reply": entry["reply"],
                    "status": "failed",
                    "error": "outbox overflow",
                    "at": now,
                },
            )

    def set_fields(self, key: str, fields: Mapping[str, Any]) -> None:
        """Set fields the flows do not own (a channel's addresses, such as the Slack DM and
        the session message a thread hangs from) on an existing learner, without touching
        `version`: they never take part in a state change."""
        self.collection.update_one({"_id": key}, {"$set": dict(fields)})

    def flag_learner(self, key: str, fields: Mapping[str, Any]) -> bool:
        """Set fields on a learner outside a conversation turn (a provider said the learner
        cannot be reached); bumps `version` so a turn computed before it is recomputed."""
        result = self.collection.update_one(
            {"_id": key}, {"$set": dict(fields), "$inc": {"version": 1}}
        )
        return result.matched_count == 1

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
        self.collection.update_one({"_id": key}, update)

    def values(self, path: str) -> list[Any]:
        """The distinct values stored at `path` (the admin's filter choices)."""
        return list(self.collection.distinct(path))

    def by_ids(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        """The learners with these keys (those that exist)."""
        return list(self.collection.find({"_id": {"$in": list(keys)}}))

    def matching(self, query: Mapping[str, Any], fields: Iterable[str]) -> list[dict[str, Any]]:
        """The learners matching `query`, with only `fields` (and `_id`)."""
        return list(self.collection.find(dict(query), dict.fromkeys(fields, 1)))

    def set_each(self, changes: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Set fields on each (key, fields) learner, bumping `version` (a turn computed
        before the change is recomputed), in one bulk write."""
        if changes:
            self.collection.bulk_write(
                [
                    UpdateOne({"_id": key}, {"$set": dict(fields), "$inc": {"version": 1}})
                    for key, fields in changes
                ],
                ordered=False,
            )

    def insert_new(self, docs: Sequence[Mapping[str, Any]]) -> list[int]:
        """Insert new learners in one bulk write; returns the positions of those that
        existed already (created meanwhile, by a conversation): they were not written."""
        if not docs:
            return []
        try:
            self.collection.bulk_write([InsertOne(dict(doc)) for doc in docs], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            return [e["index"] for e in errors]
        return []
