"""The `webhooks` collection: one record per (event, receiver URL) for the outgoing
webhooks (`bot/webhooks.py` records, signs and sends them; the clock's job drives it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument

from bot.store.repository import Repository

KEPT_DAYS = 90  # delivered and failed records expire (TTL), like `deliveries`


class WebhookDeliveries(Repository):
    """Webhook delivery records."""

    name = "webhooks"

    def ensure_indexes(self) -> None:
        """Due deliveries are found by status and time; the page lists the newest first."""
        self.collection.create_index([("status", 1), ("next_at", 1)])
        self.collection.create_index([("created", -1)])
        self.collection.create_index([("done_at", 1)], expireAfterSeconds=KEPT_DAYS * 86400)

    def record(self, delivery_id: str, record: Mapping[str, Any]) -> None:
        """Record a delivery once, however often its event is emitted."""
        self.collection.update_one(
            {"_id": delivery_id}, {"$setOnInsert": dict(record)}, upsert=True
        )

    def claim(
        self, now: datetime, urls: Sequence[str], lease: timedelta, claim: str
    ) -> dict[str, Any] | None:
        """The next due delivery to one of `urls`, leased under `claim` (its attempt counted)."""
        found: dict[str, Any] | None = self.collection.find_one_and_update(
            {"status": "pending", "next_at": {"$lte": now}, "url": {"$in": list(urls)}},
            {"$set": {"next_at": now + lease, "claim": claim}, "$inc": {"attempts": 1}},
            sort=[("next_at", 1)],
            return_document=ReturnDocument.AFTER,
        )
        return found

    def settle(self, delivery_id: str, claim: str, fields: Mapping[str, Any]) -> None:
        """An attempt's outcome, written only while the lease is still this attempt's."""
        self.collection.update_one({"_id": delivery_id, "claim": claim}, {"$set": dict(fields)})

    def recent(self, limit: int) -> list[dict[str, Any]]:
        """The newest deliveries without their bodies, for the admin page."""
        return list(self.collection.find({}, {"body": 0}).sort("created", -1).limit(limit))

    def retry(self, delivery_id: str, now: datetime) -> bool:
        """A waiting or failed delivery is due now, with a fresh retry window."""
        result = self.collection.update_one(
            {"_id": delivery_id, "status": {"$in": ["pending", "failed"]}},
            {
                "$set": {"status": "pending", "next_at": now, "since": now},
                "$unset": {"done_at": ""},
            },
        )
        return bool(result.modified_count)
