"""The embedded store made durable: mongomock-ng's documents, journaled to a data directory.

Contract (what `tests/test_durable.py` proves, killing real processes):

- **Acknowledged means on disk.** Every document write (insert, update, upsert, replace,
  delete, TTL expiry, collection drop) is appended to the journal with `os.write` *before*
  the document changes in memory and before the call that made it returns. Once a webhook
  has answered, its writes are in the kernel: `kill -9` of the process loses none of them.
  A group-commit thread fsyncs the journal at most `FSYNC_EVERY` later (MongoDB's own
  journal commits every 100 ms the same way), so a power cut loses at most that much.
- **Records** are `length (4 bytes LE) · CRC-32 (4 bytes LE) · BSON`, the BSON being
  `{"b": database, "c": collection, "i": _id, "d": document}` (no `"d"`: deleted; `"drop"`:
  the whole collection dropped). Whole documents, never update operators: replay needs no
  query engine and cannot diverge from what was in memory.
- **Files** in the directory: `LOCK`, `snapshot-N.bson` (every document when journal N
  began; same record format) and `journal-N.log` (every change since). Recovery loads the
  highest complete snapshot N, then replays journals N, N+1, …; a record that is short or
  fails its CRC ends a journal (a torn write from a crash), and the file is cut there so
  that new records never follow garbage.
- **Compaction** (the journal has outgrown the snapshot): under the write lock every
  document is encoded and appends move to journal N+1; then the snapshot is written to a
  temporary file, fsynced, renamed to `snapshot-(N+1).bson` and the directory fsynced; only
  then are older files removed. A crash at any step leaves an older snapshot and every
  journal after it, so recovery still sees everything.
- **One owner.** An exclusive `flock` on `LOCK`; a second opener (another gunicorn worker,
  a CLI command while the bot runs) gets `DataDirLocked` at once. The kernel drops the
  lock when the owner dies, so a crash never leaves a stale lock.
- **Not stored:** indexes (the app creates them at start-up, as on MongoDB).
- **TTL** indexes really expire documents, from `expire()` (the clock calls it once a
  minute, as MongoDB's TTL monitor runs): mongomock's own expiry scanned every TTL
  collection on every read.

mongomock-ng internals this relies on (named here; `tests/test_durable.py` fails if the
library changes them): `MongoClient(_store=...)`; the `ServerStore` → `DatabaseStore` →
`CollectionStore` classes of `mongomock_ng.store`, through whose `__setitem__`,
`__delitem__` and `drop()` every document write passes (`_documents` holds them);
`CollectionStore._ttl_indexes`, `_remove_expired_documents` and `_value_meets_expiry`.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import logging
import os
import struct
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bson
import mongomock_ng
import pymongo
from mongomock_ng import helpers
from mongomock_ng import store as mm_store
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

FSYNC_EVERY = 0.1  # seconds: the group commit's interval
COMPACT_MIN_BYTES = 16 * 2**20  # never compact a journal smaller than this…
COMPACT_RATIO = 2  # …or smaller than this many times the last snapshot
_HEADER = struct.Struct("<II")
_CODEC: bson.CodecOptions[dict[str, Any]] = bson.CodecOptions(
    tz_aware=False
)  # mongomock keeps naive UTC datetimes


class DataDirLocked(RuntimeError):
    """Another process owns the data directory."""


class JournalError(PyMongoError):
    """A journal write failed, so the change was not made. A PyMongoError, as a failed
    write on MongoDB is: the webhook answers 503 and the provider retries. When the failed
    write cannot be cut back off the file, every later write fails the same way until a
    restart (recovery then reads everything written before)."""


# --- files -------------------------------------------------------------------------------


def _frame(record: dict[str, Any]) -> bytes:
    body = bson.encode(record)
    return _HEADER.pack(len(body), zlib.crc32(body)) + body


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(end offset, record) for each whole record of a file; stops at a torn one."""
    data = memoryview(path.read_bytes())  # slices without copying
    at = 0
    while at + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, at)
        body = data[at + _HEADER.size : at + _HEADER.size + length]
        if len(body) < length or zlib.crc32(body) != crc:
            return
        at += _HEADER.size + length
        yield at, bson.decode(body, codec_options=_CODEC)


def _numbered(directory: Path, prefix: str) -> dict[int, Path]:
    found = {}
    for path in directory.glob(f"{prefix}-*"):
        number = path.name[len(prefix) + 1 :].split(".")[0]
        if number.isdigit() and not path.name.endswith(".tmp"):
            found[int(number)] = path
    return found


def _files(directory: Path) -> list[Path]:
    """The newest snapshot and the journals after it, in replay order."""
    base = max(_numbered(directory, "snapshot"), default=1)
    snapshot = _snapshot_path(directory, base)
    journals = sorted(n for n in _numbered(directory, "journal") if n >= base)
    return ([snapshot] if snapshot.exists() else []) + [
        _journal_path(directory, n) for n in journals
    ]


def _snapshot_path(directory: Path, n: int) -> Path:
    return directory / f"snapshot-{n:06d}.bson"


def _journal_path(directory: Path, n: int) -> Path:
    return directory / f"journal-{n:06d}.log"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, chunks: list[bytes]) -> int:
    """Write, fsync, rename into place, fsync the directory: all or nothing."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    _fsync_dir(path.parent)
    return sum(map(len, chunks))


# --- the journal ------------------------------------------------------------------------


class Journal:
    """The append-only journal of one data directory, and its group-commit fsync."""

    def __init__(self, directory: Path, number: int) -> None:
        self.directory = directory
        self.lock = threading.Lock()  # held around each append *and* its memory change
        self.number = number
        self.snapshot_bytes = 0
        self.reread: Callable[[], None] = lambda: None  # set by the engine
        self._dirty = False
        self._broken: OSError | None = None
        self._open(number)
        _GROUP_COMMIT.add(self)

    def _open(self, number: int) -> None:
        path = _journal_path(self.directory, number)
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.size = os.fstat(self.fd).st_size
        self.number = number

    def append(self, record: dict[str, Any]) -> None:
        """Append one record (caller holds `lock`); on a failed or short write the file is
        cut back so that no later record follows a torn one."""
        if self._broken is not None:
            raise JournalError(f"journal unusable since an earlier error: {self._broken}")
        frame = _frame(record)
        try:
            written = os.write(self.fd, frame)
            if written != len(frame):
                raise OSError(f"short write to the journal ({written} of {len(frame)} bytes)")
        except OSError as exc:
            try:
                os.ftruncate(self.fd, self.size)
            except OSError:
                self._broken = exc
            raise JournalError(f"journal write failed: {exc}") from exc
        self.size += len(frame)
        self._dirty = True

    def sync(self) -> None:
        """fsync if anything was appended since the last one (the group commit)."""
        if self._dirty and self._broken is None:
            self._dirty = False
            try:
                os.fsync(self.fd)
            except OSError as exc:  # the next write says so; readiness fails meanwhile
                self._broken = exc
                log.error("store: fsync of the journal failed: %s", exc)

    def rotate(self) -> int:
        """Start journal N+1 (caller holds `lock`); returns N+1."""
        self.sync()
        os.close(self.fd)
        self._open(self.number + 1)
        _fsync_dir(self.directory)
        return self.number

    @property
    def healthy(self) -> bool:
        return self._broken is None

    def close(self) -> None:
        _GROUP_COMMIT.discard(self)
        with self.lock:
            self.sync()
            os.close(self.fd)


class _GroupCommit:
    """One daemon thread fsyncing every open journal every `FSYNC_EVERY` seconds."""

    def __init__(self) -> None:
        self._journals: weakref.WeakSet[Journal] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, journal: Journal) -> None:
        with self._lock:
            self._journals.add(journal)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="trainbot-fsync", daemon=True
                )
                self._thread.start()

    def discard(self, journal: Journal) -> None:
        with self._lock:
            self._journals.discard(journal)

    def _run(self) -> None:
        while True:
            time.sleep(FSYNC_EVERY)
            with self._lock:
                journals = list(self._journals)
            for journal in journals:
                journal.sync()


_GROUP_COMMIT = _GroupCommit()


# --- mongomock's stores, journaled ---------------------------------------------------------


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


# --- the engine --------------------------------------------------------------------------


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


# --- backup and restore ---------------------------------------------------------------------


def backup(directory: Path, target: Path) -> int:
    """Copy the store in `directory` into one snapshot file at `target`, consistent as of
    one moment, without the lock (the bot may be running). Returns the documents written.

    Snapshots are renamed into place whole and journals only grow, so the newest snapshot
    plus the journals after it, read up to their last whole record, are a state the store
    really had. A compaction between listing and opening removes files: then try again."""
    for _ in range(5):
        try:
            return _backup_once(directory, target)
        except FileNotFoundError:
            continue
    raise RuntimeError(f"{directory} kept changing under the backup: try again")


def _backup_once(directory: Path, target: Path) -> int:
    if not (directory / "LOCK").exists():
        raise FileNotFoundError(f"{directory} holds no trainbot store")
    server = _ServerStore(None)
    for path in _files(directory):
        _load(server, path)
    documents = list(_documents(server))
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_file(target, documents)
    return len(documents)


def restore(source: Path, directory: Path) -> int:
    """Make `source` (a backup) the whole content of the store in `directory`, which must
    not be in use; what was there before is kept aside as `directory.before-restore-*`.
    Returns the documents restored."""
    count, end = _load(_ServerStore(None), source)
    if end != source.stat().st_size:
        raise ValueError(f"{source} is damaged (a torn record at byte {end}): not restoring it")
    if directory.exists() and any(directory.iterdir()):
        probe = Embedded(directory)  # refuses a directory the bot owns
        probe.close()
        aside = directory.with_name(f"{directory.name}.before-restore-{int(time.time())}")
        directory.rename(aside)
    directory.mkdir(parents=True)
    (directory / "LOCK").touch()
    _write_file(_snapshot_path(directory, 1), [source.read_bytes()])
    return count
