"""The embedded store's engine: ownership of the data directory, recovery, compaction,
TTL expiry and status."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mongomock_ng
import pymongo

from bot.store.durable.collections import _documents, _load, _ServerStore
from bot.store.durable.journal import (
    Journal,
    _files,
    _numbered,
    _snapshot_path,
    _write_file,
)

log = logging.getLogger(__name__)

COMPACT_MIN_BYTES = 16 * 2**20  # never compact a journal smaller than this…
COMPACT_RATIO = 2  # …or smaller than this many times the last snapshot


class DataDirLocked(RuntimeError):
    """Another process owns the data directory."""


@dataclass
class Recovery:
    """What opening a data directory found (printed at start)."""

    documents: int = 0
    records: int = 0
    torn: int = 0  # journals whose last record was torn and cut off
    seconds: float = 0.0


class Embedded:
    """The embedded store's engine: a mongomock client over journaled collections.

    `lock` serialises writes (mongomock matches a filter and applies an update in two
    steps, so two threads could both pass a guard); the store wraps every write in it."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.lock = threading.RLock()
        self.recovery = Recovery()
        self._lock_fd: int | None = None
        self.journal: Journal | None = None
        self._compacting = threading.Lock()
        if directory is not None:
            self._take_ownership(directory)
            self.journal = self._recover(directory)
        self._server = _ServerStore(self.journal)
        if directory is not None and self.journal is not None:  # both or neither
            self._replay(directory)
            self.journal.reread = self._reread
        self.client: pymongo.MongoClient[dict[str, Any]] = mongomock_ng.MongoClient(
            tz_aware=True, _store=self._server
        )

    @property
    def durable(self) -> bool:
        return self.directory is not None

    def _take_ownership(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / "LOCK", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            owner = (directory / "LOCK").read_text().strip() or "another process"
            raise DataDirLocked(
                f"the data directory {directory} is in use by {owner}: the embedded store "
                "has one owner. Run one process (`trainbot serve`, or gunicorn with "
                "--workers 1), stop the bot before running this command, or set MONGODB_URI "
                "to share a MongoDB server between processes."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}\n".encode())
        self._lock_fd = fd

    def _recover(self, directory: Path) -> Journal:
        """Open the journal to append to: the newest (journals older than the newest
        snapshot are replaced by it)."""
        for stale in directory.glob("*.tmp"):
            stale.unlink()  # a compaction that died before its rename
        snapshots = _numbered(directory, "snapshot")
        self._base = max(snapshots, default=1)
        journals = [n for n in _numbered(directory, "journal") if n >= self._base]
        journal = Journal(directory, max(journals, default=self._base))
        if self._base in snapshots:
            journal.snapshot_bytes = snapshots[self._base].stat().st_size
        return journal

    def _replay(self, directory: Path) -> None:
        started = time.perf_counter()
        for path in _files(directory):
            count, end = _load(self._server, path)
            self.recovery.records += count
            if end < path.stat().st_size:
                if path.name.startswith("snapshot"):
                    raise RuntimeError(f"{path} is damaged: restore it from a backup")
                self.recovery.torn += 1
                log.warning("store: %s ended in a torn record; cut at byte %d", path.name, end)
                os.truncate(path, end)
        assert self.journal is not None
        self.journal.size = os.fstat(self.journal.fd).st_size
        self._remove_older(self._base)
        self.recovery.documents = sum(len(c._documents) for c in self._server.collections())
        self.recovery.seconds = time.perf_counter() - started

    def _reread(self) -> None:
        """Make memory what the files hold (after a failed journal write; callers hold the
        journal's lock, so nothing is appended meanwhile)."""
        assert self.directory is not None
        fresh = _ServerStore(None)
        for path in _files(self.directory):
            _load(fresh, path)
        for collection in self._server.collections():
            documents = fresh[collection._db_name][collection.name]._documents
            with collection._rwlock.writer():
                collection._documents = documents

    def _remove_older(self, number: int) -> None:
        assert self.directory is not None
        for kind in ("snapshot", "journal"):
            for n, path in _numbered(self.directory, kind).items():
                if n < number:
                    path.unlink(missing_ok=True)

    # --- upkeep --------------------------------------------------------------------------

    def due_for_compaction(self) -> bool:
        journal = self.journal
        return journal is not None and journal.size >= max(
            COMPACT_MIN_BYTES, COMPACT_RATIO * journal.snapshot_bytes
        )

    def compact(self) -> int:
        """Write a snapshot of everything and drop the journals it replaces; returns its
        size. Writers wait only while the documents are encoded."""
        assert self.journal is not None and self.directory is not None
        with self._compacting:
            with self.lock, self.journal.lock:
                chunks = list(self._encode_all())
                number = self.journal.rotate()
            size = _write_file(_snapshot_path(self.directory, number), chunks)
            self.journal.snapshot_bytes = size
            self._remove_older(number)
            log.info("store: compacted into snapshot %d (%d bytes)", number, size)
            return size

    def _encode_all(self) -> Iterator[bytes]:
        return _documents(self._server)

    def expire(self, now: datetime | None = None) -> int:
        """Delete the documents past their TTL index's limit (MongoDB's TTL monitor)."""
        moment = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
        removed = 0
        for collection in self._server.collections():
            for key in collection.expired(moment):
                with self.lock:  # a write may have renewed it since the scan
                    document = collection._documents.get(key)
                    if document is not None and collection.is_expired(document, moment):
                        del collection[key]
                        removed += 1
        return removed

    def upkeep(self, now: datetime | None = None) -> dict[str, int]:
        """The clock's minute job: expire, then compact when due."""
        expired = self.expire(now)
        compacted = self.compact() if self.due_for_compaction() else 0
        return {"expired": expired, "snapshot_bytes": compacted}

    def status(self) -> dict[str, Any]:
        """For /healthz and the start-up banner."""
        if self.directory is None:
            return {"backend": "embedded", "durable": False, "where": "memory"}
        assert self.journal is not None
        return {
            "backend": "embedded",
            "durable": True,
            "where": str(self.directory.resolve()),
            "journal_bytes": self.journal.size,
            "snapshot_bytes": self.journal.snapshot_bytes,
            "writable": self.journal.healthy,
        }

    def close(self) -> None:
        """Flush, and give the directory up (the kernel also does on exit)."""
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None
