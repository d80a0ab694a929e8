"""The `problems` collection: standing set-up problems only an admin can fix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.store.repository import Repository


class Problems(Repository):
    """Set-up problems, by id."""

    name = "problems"

    def note_problem(self, problem_id: str, fields: Mapping[str, Any]) -> None:
        """Record a set-up problem only an admin can fix (a digest channel the Slack app
        may not post to), for the admin overview: in the store, because the clock that
        meets it may be another process than the web app that shows it."""
        self.collection.update_one({"_id": problem_id}, {"$set": dict(fields)}, upsert=True)

    def clear_problem(self, problem_id: str) -> None:
        """The problem is gone (the same send worked)."""
        self.collection.delete_one({"_id": problem_id})

    def open_problems(self) -> list[dict[str, Any]]:
        """Standing set-up problems, oldest first."""
        return list(self.collection.find().sort("at", 1))
