"""Backup and restore of a data directory (consistent as of one moment; no lock needed to
back up, the directory must be free to restore into)."""

from __future__ import annotations

import time
from pathlib import Path

from bot.store.durable.collections import _documents, _load, _ServerStore
from bot.store.durable.engine import Embedded
from bot.store.durable.journal import _files, _snapshot_path, _write_file


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
