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

from bot.store.durable.backup import backup, restore
from bot.store.durable.engine import (
    COMPACT_MIN_BYTES,
    COMPACT_RATIO,
    DataDirLocked,
    Embedded,
    Recovery,
)
from bot.store.durable.journal import FSYNC_EVERY, Journal, JournalError

__all__ = [
    "COMPACT_MIN_BYTES",
    "COMPACT_RATIO",
    "FSYNC_EVERY",
    "DataDirLocked",
    "Embedded",
    "Journal",
    "JournalError",
    "Recovery",
    "backup",
    "restore",
]
