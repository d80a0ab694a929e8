"""The `inbound` collection: every processed inbound message id for `INBOUND_KEPT_DAYS`
(the learner document keeps only the last `PROCESSED_KEPT`), for providers' late retries."""

from __future__ import annotations

import contextlib
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from bot.store.repository import Repository

INBOUND_KEPT_DAYS = 8  # every inbound id, in `inbound`, for Twilio's and Slack's late retries


class Inbound(Repository):
    """Processed inbound message ids."""

    name = "inbound"

    def ensure_indexes(self) -> None:
        """Ids expire after `INBOUND_KEPT_DAYS` (TTL on `at`)."""
        self.collection.create_index([("at", 1)], expireAfterSeconds=INBOUND_KEPT_DAYS * 24 * 3600)

    def seen_inbound(self, key: str, message_id: str) -> bool:
        """Whether this inbound message id was processed within `INBOUND_KEPT_DAYS` (the
        learner's `processed` list remembers only the last `PROCESSED_KEPT`)."""
        return self.collection.find_one({"_id": f"{key} {message_id}"}, {"_id": 1}) is not None

    def remember_inbound(self, key: str, message_id: str, now: datetime) -> None:
        """Keep a processed inbound id in `inbound` (expired by its TTL index on `at`)."""
        with contextlib.suppress(DuplicateKeyError):  # a concurrent copy was first
            self.collection.insert_one({"_id": f"{key} {message_id}", "at": now})
