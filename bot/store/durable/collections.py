"""mongomock-ng's document stores, journaled: every document change goes through
`_CollectionStore.__setitem__` / `__delitem__` / `drop()` and so to the journal first."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from mongomock_ng import helpers
from mongomock_ng import store as mm_store

from bot.store.durable.journal import Journal, JournalError, _frame, _records


class _CollectionStore(mm_store.CollectionStore):
    """A collection whose every document change goes to the journal first."""

    def __init__(self, name: str, db_name: str, journal: Journal | None) -> None:
        super().__init__(name)
        self._db_name = db_name
        self._journal = journal

    def _log(self, record: dict[str, Any], change: Any) -> None:
        if self._journal is None:
            change()
            return
        with self._journal.lock:
            try:
                self._journal.append({"b": self._db_name, "c": self.name, **record})
            except JournalError:
                # mongomock changed the document in place before handing it over: put back
                # what the files say, so memory never holds a write that is not on disk.
                self._journal.reread()
                raise
            change()

    def __setitem__(self, key: Any, value: Any) -> None:
        parent = super().__setitem__
        self._log({"i": key, "d": value}, lambda: parent(key, value))

    def __delitem__(self, key: Any) -> None:
        def delete() -> None:
            with self._rwlock.writer():
                self._documents.pop(key, None)

        self._log({"i": key}, delete)

    def drop(self) -> None:
        self._log({"drop": True}, super().drop)

    def _remove_expired_documents(self) -> None:
        """Expiry runs from `Embedded.expire`, not inside every read."""

    def is_expired(self, document: Any, now: datetime) -> bool:
        """Whether a TTL index of this collection has `document` expired at `now` (naive
        UTC; compound and non-integer TTL indexes never expire anything, as on MongoDB)."""
        for index in self._ttl_indexes.values():
            if len(index["key"]) != 1:
                continue
            try:
                seconds = int(index["expireAfterSeconds"])
            except (TypeError, ValueError):
                continue
            value = helpers.get_value_by_dot(document, next(iter(index["key"]))[0])
            if self._value_meets_expiry(value, seconds, now):
                return True
        return False

    def expired(self, now: datetime) -> list[Any]:
        """Ids of the documents expired at `now` (read without blocking writers)."""
        if not self._ttl_indexes:
            return []
        with self._rwlock.reader():
            documents = list(self._documents.values())
        return [doc["_id"] for doc in documents if self.is_expired(doc, now)]


class _DatabaseStore(mm_store.DatabaseStore):
    def __init__(self, name: str, journal: Journal | None) -> None:
        super().__init__()
        self._name = name
        self._journal = journal

    def __getitem__(self, col_name: str) -> _CollectionStore:
        try:
            return self._collections[col_name]
        except KeyError:
            col = _CollectionStore(col_name, self._name, self._journal)
            self._collections[col_name] = col
            return col

    def rename(self, name: str, new_name: str) -> None:
        raise NotImplementedError("renaming a collection is not journaled")


class _ServerStore(mm_store.ServerStore):
    def __init__(self, journal: Journal | None) -> None:
        super().__init__()
        self._journal = journal

    def __getitem__(self, db_name: str) -> _DatabaseStore:
        try:
            return self._databases[db_name]
        except KeyError:
            db = self._databases[db_name] = _DatabaseStore(db_name, self._journal)
            return db

    def collections(self) -> Iterator[_CollectionStore]:
        for database in list(self._databases.values()):
            yield from list(database._collections.values())


def _apply(server: _ServerStore, record: dict[str, Any]) -> None:
    """Replay one record straight into memory (no journal)."""
    collection = server[record["b"]][record["c"]]
    if record.get("drop"):
        mm_store.CollectionStore.drop(collection)
    elif "d" in record:
        collection._documents[record["i"]] = record["d"]
    else:
        collection._documents.pop(record["i"], None)


def _load(server: _ServerStore, path: Path) -> tuple[int, int]:
    """Replay a snapshot or journal into `server`: (records read, end of the last whole one).

    The cyclic garbage collector is paused meanwhile: the replay only creates objects, and
    its full passes over the growing heap made loading 10,000 learners 5× slower."""
    count, last = 0, 0
    paused = gc.isenabled()
    gc.disable()
    try:
        for end, record in _records(path):
            _apply(server, record)
            count, last = count + 1, end
    finally:
        if paused:
            gc.enable()
    return count, last


def _documents(server: _ServerStore) -> Iterator[bytes]:
    """Every document of `server` as snapshot records."""
    for collection in server.collections():
        for key, document in list(collection._documents.items()):
            yield _frame({"b": collection._db_name, "c": collection.name, "i": key, "d": document})
