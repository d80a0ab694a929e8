"""What every repository shares: its one collection, its indexes, materialised reads.

A repository owns one collection's queries, indexes and document mapping; nothing outside
`bot/store/` holds a raw collection (`tests/test_store_boundary.py`). `collection` stays
public for the store package itself and for tests that inspect stored documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any


class Repository:
    """One collection of the store's database."""

    name = ""  # the collection, set by each repository

    def __init__(self, db: Any) -> None:
        self.collection = db[self.name]

    def ensure_indexes(self) -> None:
        """Create the indexes this repository's queries rely on (idempotent)."""

    def pipeline(self, stages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Run an aggregation pipeline (reports build them) and materialise the rows, so
        no cursor outlives the call (the embedded store's lock is never held by one)."""
        return list(self.collection.aggregate([dict(stage) for stage in stages]))

    def count(self, query: Mapping[str, Any] | None = None) -> int:
        """How many documents match `query` (all when None)."""
        return int(self.collection.count_documents(dict(query or {})))


def aware(value: datetime) -> datetime:
    """A stored time as UTC (the embedded store and BSON give naive UTC datetimes)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
