"""The address index: which learner a channel address belongs to (issue 17).

A learner document stays keyed by its first (primary) address; every other address the
same person writes from (a Slack id next to a WhatsApp number from the roster, later a
channel linked with `link`) has one document here, `_id` = the address as the channels
key learners (`slack:T…:U…`, `whatsapp:+234…`), `learner` = the primary key. `_id` makes
an address belong to at most one learner. A primary address has no entry: an address
with no entry is its own learner, as before the index existed, so no data is re-keyed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pymongo.errors import BulkWriteError, DuplicateKeyError

from bot.store.repository import Repository


class Addresses(Repository):
    """The `addresses` collection: secondary channel address → primary learner key."""

    name = "addresses"

    def ensure_indexes(self) -> None:
        self.collection.create_index("learner")

    def learner_of(self, address: str) -> str:
        """The key of the learner this address belongs to (the address itself when it is a
        primary address or unknown)."""
        doc = self.collection.find_one({"_id": address}, {"learner": 1})
        return str(doc["learner"]) if doc else address

    def owners(self, addresses: Iterable[str]) -> dict[str, str]:
        """address → learner key, for those of `addresses` that belong to another learner."""
        wanted = sorted(set(addresses))
        if not wanted:
            return {}
        found = self.collection.find({"_id": {"$in": wanted}}, {"learner": 1})
        return {str(d["_id"]): str(d["learner"]) for d in found}

    def add_each(self, pairs: Iterable[tuple[str, str]], now: datetime) -> None:
        """Attach many (address, learner) pairs in one write; addresses already attached
        (to anyone) are left as they are, so an import run twice changes nothing."""
        docs = [{"_id": a, "learner": k, "linked_at": now} for a, k in pairs if a != k]
        if not docs:
            return
        try:
            self.collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", ())):
                raise

    def link(self, address: str, learner: str, now: datetime) -> bool:
        """Attach one address (a channel linked with `link`) to `learner`; False when the
        address already belongs to another learner (an address is one learner's)."""
        try:
            self.collection.insert_one({"_id": address, "learner": learner, "linked_at": now})
        except DuplicateKeyError:
            return self.learner_of(address) == learner
        return True

    def linked_to(self, learner: str) -> bool:
        """Whether any other address belongs to `learner`."""
        return self.collection.find_one({"learner": learner}, {"_id": 1}) is not None
