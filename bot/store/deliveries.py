"""The `deliveries` collection: one record per reply sent (or given up on), found by the
learner's sequence number or by any provider message id; expired after `KEPT_SECONDS`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from bot.store.repository import Repository

KEPT_SECONDS = 90 * 24 * 3600  # deliveries and events expire after 90 days (TTL indexes)


class Deliveries(Repository):
    """Delivery records: written by the outbox, updated by provider status callbacks."""

    name = "deliveries"

    def ensure_indexes(self) -> None:
        """A learner's transcript, callbacks by provider id, and the TTL."""
        self.collection.create_index([("learner", 1), ("seq", 1)])
        self.collection.create_index([("provider_ids", 1)], sparse=True)
        self.collection.create_index([("at", 1)], expireAfterSeconds=KEPT_SECONDS)

    def record(self, record_id: str, record: Mapping[str, Any]) -> None:
        """Write a delivery record, keeping what earlier parts and callbacks wrote."""
        try:
            # Usually the first record of this reply (an insert is a third of an upsert's
            # time on the embedded store)…
            self.collection.insert_one({"_id": record_id, **record})
        except DuplicateKeyError:
            # …but earlier parts of a long reply may have started it: $set keeps what they
            # and status callbacks wrote.
            self.collection.update_one({"_id": record_id}, {"$set": dict(record)}, upsert=True)

    def set(self, record_id: str, record: Mapping[str, Any]) -> None:
        """Create or update a delivery record with these fields."""
        self.collection.update_one({"_id": record_id}, {"$set": dict(record)}, upsert=True)

    def add_part(self, key: str, seq: int, provider_id: str) -> None:
        """One more message of a multi-message reply went out as `provider_id`."""
        self.collection.update_one(
            {"_id": f"{key}#{seq}"},
            {
                "$push": {"provider_ids": provider_id},
                "$setOnInsert": {"learner": key, "channel": key.split(":", 1)[0], "seq": seq},
            },
            upsert=True,
        )

    def failed_once(self, record_id: str, fields: Mapping[str, Any]) -> None:
        """Record a reply as failed unless a record of it exists already."""
        self.collection.update_one({"_id": record_id}, {"$setOnInsert": dict(fields)}, upsert=True)

    def sent_of(self, record_ids: Sequence[str]) -> list[int]:
        """The sequence numbers of these records that say `sent`."""
        found = self.collection.find(
            {"_id": {"$in": list(record_ids)}, "status": "sent"}, {"seq": 1}
        )
        return [record["seq"] for record in found]

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
        record = self.collection.find_one_and_update(
            {"provider_ids": provider_id},
            {"$set": dict(fields)},
            return_document=ReturnDocument.AFTER,
        )
        if record is not None and lower is not None:
            self.collection.update_one(
                {"_id": record["_id"], "provider_status": {"$in": [None, *lower]}},
                {"$set": {"provider_status": status}},
            )
        return record

    def recorded(self, provider_id: str) -> bool:
        """Whether a delivery record already holds this provider message id (a lookup that
        found it found an earlier message with the same text, not the one in doubt)."""
        found = self.collection.find_one(
            {"$or": [{"provider_ids": provider_id}, {"provider_id": provider_id}]}, {"_id": 1}
        )
        return found is not None

    def transcript(self, key: str, after: int = 0) -> list[dict[str, Any]]:
        """Delivered replies to a learner after sequence number `after`, oldest first."""
        return list(self.collection.find({"learner": key, "seq": {"$gt": after}}).sort("seq", 1))

    def recent(self, key: str, limit: int) -> list[dict[str, Any]]:
        """A learner's newest delivery records, newest first."""
        return list(self.collection.find({"learner": key}).sort("seq", -1).limit(limit))
