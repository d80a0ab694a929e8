"""The xAPI queue's collections (`bot/xapi_queue.py` records and sends the statements):
`xapi_statements` (one document per waiting or rejected statement, `_id` its id),
`xapi_recorded` (per learner, every statement id ever queued) and `xapi_state` (the
actor-id salt, the sender's backoff and last error)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pymongo.errors import BulkWriteError

from bot.store.repository import Repository


class XapiStatements(Repository):
    """Statements waiting for the LRS (or set aside as rejected)."""

    name = "xapi_statements"

    def ensure_indexes(self) -> None:
        """The sender reads the oldest pending statements."""
        self.collection.create_index([("status", 1), ("created_at", 1)])

    def add(self, docs: Sequence[Mapping[str, Any]]) -> bool:
        """Queue statements; False when some were queued concurrently (those stand)."""
        try:
            self.collection.insert_many([dict(d) for d in docs], ordered=False)
        except BulkWriteError:
            return False
        return True

    def oldest(self, status: str, limit: int) -> list[dict[str, Any]]:
        return list(self.collection.find({"status": status}).sort("created_at", 1).limit(limit))

    def remove(self, ids: Iterable[str]) -> None:
        """The LRS has these."""
        self.collection.delete_many({"_id": {"$in": list(ids)}})

    def set_status(self, statement_id: str, status: str, error: str) -> None:
        self.collection.update_one(
            {"_id": statement_id}, {"$set": {"status": status, "error": error}}
        )


class XapiRecorded(Repository):
    """Per learner (opaque id), the statement ids ever queued."""

    name = "xapi_recorded"

    def known(self, learner_id: str) -> set[str]:
        return set((self.collection.find_one({"_id": learner_id}) or {}).get("ids", ()))

    def remember(self, learner_id: str, ids: Iterable[str]) -> None:
        self.collection.update_one(
            {"_id": learner_id}, {"$addToSet": {"ids": {"$each": list(ids)}}}, upsert=True
        )


class XapiState(Repository):
    """The install's salt for actor ids, and the sender's state."""

    name = "xapi_state"

    def salt(self) -> str:
        """This install's salt, made once (the first process to ask keeps its value)."""
        fresh = {"$setOnInsert": {"value": secrets.token_hex(16)}}
        self.collection.update_one({"_id": "salt"}, fresh, upsert=True)
        return str(self.collection.find_one({"_id": "salt"})["value"])

    def sender(self) -> dict[str, Any]:
        return self.collection.find_one({"_id": "sender"}) or {}

    def set_sender(self, fields: Mapping[str, Any]) -> None:
        self.collection.update_one({"_id": "sender"}, {"$set": dict(fields)}, upsert=True)
