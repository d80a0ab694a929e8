"""The `events` collection: the audit log of inbound messages (expired after 90 days)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.store.deliveries import KEPT_SECONDS
from bot.store.repository import Repository


class Events(Repository):
    """Inbound events, appended."""

    name = "events"

    def ensure_indexes(self) -> None:
        """Events expire with the deliveries (TTL on `at`)."""
        self.collection.create_index([("at", 1)], expireAfterSeconds=KEPT_SECONDS)

    def log_event(self, record: Mapping[str, Any]) -> None:
        """Append an inbound event to the audit log."""
        self.collection.insert_one(dict(record))

    def recent(self, key: str, limit: int) -> list[dict[str, Any]]:
        """A learner's newest inbound events, newest first."""
        return list(self.collection.find({"learner": key}).sort("at", -1).limit(limit))
