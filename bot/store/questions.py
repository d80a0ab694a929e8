"""The `questions` collection: what learners asked and how it was answered (for authors)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.store.repository import Repository


class Questions(Repository):
    """Recorded questions."""

    name = "questions"

    def ensure_indexes(self) -> None:
        """Questions by course and session, newest first."""
        self.collection.create_index([("course", 1), ("session", 1), ("at", -1)])

    def log_question(self, record: Mapping[str, Any]) -> None:
        """Record a learner's question and how it was answered (for authors)."""
        self.collection.insert_one(dict(record))

    def asked(self, course_id: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        """Recorded questions, newest first, optionally of one course."""
        query = {"course": course_id} if course_id else {}
        return list(self.collection.find(query, {"_id": 0}).sort("at", -1).limit(limit))

    def of_learner(self, key: str, limit: int) -> list[dict[str, Any]]:
        """A learner's questions, newest first."""
        return list(self.collection.find({"learner": key}).sort("at", -1).limit(limit))
