"""The `audit` collection: what admins did, to whom, when."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.store.repository import Repository


class Audit(Repository):
    """Audit entries, appended."""

    name = "audit"

    def record(self, entry: Mapping[str, Any]) -> None:
        """Append one entry."""
        self.collection.insert_one(dict(entry))

    def recent(self, learner: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest entries, optionally about one learner."""
        query = {"learner": learner} if learner else {}
        return list(self.collection.find(query).sort("at", -1).limit(limit))
