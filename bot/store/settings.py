"""The `settings` collection: small shared values by id (one-time admin sign-in codes), in
the store because every worker and process must see the same ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.store.repository import Repository


class Settings(Repository):
    """Values by id."""

    name = "settings"

    def put_new(self, key: str, fields: Mapping[str, Any]) -> None:
        """Create `key` with `fields` unless it exists (idempotent)."""
        self.collection.update_one({"_id": key}, {"$setOnInsert": dict(fields)}, upsert=True)

    def take(self, key: str) -> dict[str, Any] | None:
        """Remove `key` and return what it held: exactly one caller gets it."""
        return self.collection.find_one_and_delete({"_id": key})
