"""The journal of a data directory: record framing, the files, appends and the group-commit
fsync (the format and guarantees are described in `bot/store/durable/__init__.py`)."""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bson
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

FSYNC_EVERY = 0.1  # seconds: the group commit's interval
_HEADER = struct.Struct("<II")
_CODEC: bson.CodecOptions[dict[str, Any]] = bson.CodecOptions(
    tz_aware=False
)  # mongomock keeps naive UTC datetimes


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
