"""The embedded store's collections made atomic, as a MongoDB server's are."""

from __future__ import annotations

import threading
from typing import Any

WRITES = frozenset(
    {
        "insert_one",
        "insert_many",
        "update_one",
        "update_many",
        "replace_one",
        "delete_one",
        "delete_many",
        "find_one_and_update",
        "find_one_and_replace",
        "find_one_and_delete",
        "bulk_write",
    }
)


# Single-document reads the guarded read-modify-write relies on (`load` is a find_one).
# mongomock changes a stored document in place, key by key, so a read copying it while a
# write is under way could see the new `version` with old state, and its commit would
# then pass the guard and lose the other write (seen once, in a full-suite run on a busy
# machine, by the concurrency contract test). Cursors (`find`, `aggregate`) stay unlocked:
# reports and admin pages read many documents and must not hold the webhooks up; none of
# them writes back.
LOCKED_READS = frozenset({"find_one", "count_documents", "distinct", "estimated_document_count"})


class _AtomicCollection:
    """An embedded collection whose writes are atomic, as on a MongoDB server.

    mongomock matches a filter and applies the update in two steps, so two threads can
    both pass a `version` guard; the engine's lock around writes (and the reads in
    `LOCKED_READS`) restores the guarantees the store relies on.
    """

    def __init__(self, collection: Any, lock: threading.RLock) -> None:
        self._collection = collection
        self._lock = lock

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._collection, name)
        if name not in WRITES and name not in LOCKED_READS:
            return attr

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return locked


class _AtomicDatabase:
    """An embedded database handing out `_AtomicCollection`s."""

    def __init__(self, database: Any, lock: threading.RLock) -> None:
        self._database = database
        self._lock = lock

    def __getitem__(self, name: str) -> _AtomicCollection:
        return _AtomicCollection(self._database[name], self._lock)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._database, name)
        return _AtomicCollection(attr, self._lock) if hasattr(attr, "find_one") else attr
