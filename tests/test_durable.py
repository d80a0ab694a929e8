"""The durable embedded store (`bot/store/durable/`): what is written survives a reopen, a torn
record, a compaction cut short, and a second owner is refused.

The replay test runs every kind of write pymongo offers through mongomock-ng and compares
the reopened store with the live one: it fails if mongomock-ng ever changes a document
without passing through the `CollectionStore` methods the journal hooks (the private
internals `bot/store/durable/` names)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import DeleteOne, InsertOne, ReturnDocument, UpdateOne

from bot.store import Store, durable
from bot.store.durable import DataDirLocked, Embedded, JournalError
from bot.store.durable import engine as engine_module
from bot.store.durable import journal as framing
from tests.conftest import ROOT, SAMPLE, T0, trainbot

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def contents(engine: Embedded) -> dict[str, list[dict[str, Any]]]:
    """Every document of every collection, comparable across engines."""
    db = engine.client["trainbot"]
    return {
        name: sorted(db[name].find(), key=lambda d: str(d["_id"]))
        for name in sorted(db.list_collection_names())
    }


def reopened(directory: Path, engine: Embedded) -> Embedded:
    engine.close()
    return Embedded(directory)


# --- every write survives -----------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c", "d"])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), KEYS, st.integers(0, 9)),
        st.tuples(st.just("set"), KEYS, st.integers(0, 9)),
        st.tuples(st.just("upsert"), KEYS, st.integers(0, 9)),
        st.tuples(st.just("push"), KEYS, st.integers(0, 9)),
        st.tuples(st.just("replace"), KEYS, st.integers(0, 9)),
        st.tuples(st.just("find_one_and_update"), KEYS, st.integers(0, 9)),
        st.tuples(st.just("delete"), KEYS, st.integers(0, 9)),
        st.tuples(st.just("delete_many"), KEYS, st.integers(0, 9)),
        st.tuples(st.just("update_many"), KEYS, st.integers(0, 9)),
        st.tuples(st.just("bulk"), KEYS, st.integers(0, 9)),
        st.tuples(st.just("drop"), KEYS, st.integers(0, 9)),
        st.tuples(st.just("compact"), KEYS, st.integers(0, 9)),
        st.tuples(st.just("reopen"), KEYS, st.integers(0, 9)),
    ),
    max_size=40,
)


def apply(engine: Embedded, op: str, key: str, n: int) -> None:
    col = engine.client["trainbot"]["c1" if n % 2 else "c2"]
    at = T0 + timedelta(milliseconds=n)
    if op == "insert" and col.find_one({"_id": key}) is None:
        col.insert_one({"_id": key, "n": n, "at": at, "tags": [n], "sub": {"x": n}})
    elif op == "set":
        col.update_one({"_id": key}, {"$set": {"sub.x": n, "at": at}, "$inc": {"n": 1}})
    elif op == "upsert":
        col.update_one({"_id": key}, {"$setOnInsert": {"made": at}, "$set": {"n": n}}, upsert=True)
    elif op == "push":
        col.update_one({"_id": key}, {"$push": {"tags": {"$each": [n], "$slice": -3}}})
    elif op == "replace":
        col.replace_one({"_id": key}, {"replaced": n})
    elif op == "find_one_and_update":
        col.find_one_and_update(
            {"_id": key}, {"$pull": {"tags": n}}, return_document=ReturnDocument.AFTER
        )
    elif op == "delete":
        col.delete_one({"_id": key})
    elif op == "delete_many":
        col.delete_many({"n": {"$lt": n}})
    elif op == "update_many":
        col.update_many({}, {"$set": {"all": n}})
    elif op == "bulk":
        col.bulk_write(
            [InsertOne({"n": n}), UpdateOne({"_id": key}, {"$set": {"b": n}}), DeleteOne({"n": 0})]
        )
    elif op == "drop":
        col.drop()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_every_kind_of_write_survives_a_reopen(tmp_path_factory, ops):
    directory = tmp_path_factory.mktemp("replay")
    engine = Embedded(directory)
    for op, key, n in ops:
        if op == "compact":
            engine.compact()
        elif op == "reopen":
            engine = reopened(directory, engine)
        else:
            apply(engine, op, key, n)
    live = contents(engine)
    again = reopened(directory, engine)
    assert contents(again) == live
    again.close()


def test_a_write_is_in_the_file_before_the_call_returns(tmp_path):
    """What `update_one` returned for is in the journal already (no buffer to lose)."""
    engine = Embedded(tmp_path)
    engine.client["trainbot"]["learners"].insert_one({"_id": "ada", "n": 1})
    size = engine.journal.size
    engine.client["trainbot"]["learners"].update_one({"_id": "ada"}, {"$set": {"n": 2}})
    assert os.path.getsize(tmp_path / "journal-000001.log") > size
    records = [r for _, r in framing._records(tmp_path / "journal-000001.log")]
    assert records[-1] == {
        "b": "trainbot",
        "c": "learners",
        "i": "ada",
        "d": {"_id": "ada", "n": 2},
    }


# --- torn records ----------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["half a record", "bad checksum", "a length only"])
def test_a_torn_last_record_is_ignored_and_cut_off(tmp_path, damage):
    engine = Embedded(tmp_path)
    learners = engine.client["trainbot"]["learners"]
    for n in range(5):
        learners.insert_one({"_id": f"l{n}", "n": n})
    engine.close()
    journal = tmp_path / "journal-000001.log"
    whole = journal.read_bytes()
    frame = framing._frame({"b": "trainbot", "c": "learners", "i": "l9", "d": {"_id": "l9"}})
    torn = {
        "half a record": frame[: len(frame) // 2],
        "bad checksum": frame[:4] + b"\0\0\0\0" + frame[8:],
        "a length only": frame[:3],
    }[damage]
    journal.write_bytes(whole + torn)
    engine = Embedded(tmp_path)
    assert engine.recovery.torn == 1 and journal.read_bytes() == whole
    learners = engine.client["trainbot"]["learners"]
    assert sorted(d["_id"] for d in learners.find()) == [f"l{n}" for n in range(5)]
    learners.insert_one({"_id": "after", "n": 6})  # lands after the cut, not after garbage
    engine = reopened(tmp_path, engine)
    assert engine.client["trainbot"]["learners"].count_documents({}) == 6
    engine.close()


def test_a_damaged_snapshot_is_refused_not_half_read(tmp_path):
    engine = Embedded(tmp_path)
    engine.client["trainbot"]["learners"].insert_one({"_id": "ada"})
    engine.compact()
    engine.close()
    snapshot = next(tmp_path.glob("snapshot-*.bson"))
    snapshot.write_bytes(snapshot.read_bytes()[:-3])
    with pytest.raises(RuntimeError, match="restore it from a backup"):
        Embedded(tmp_path)


# --- compaction cut short ---------------------------------------------------------------------


def written(engine: Embedded, count: int, prefix: str = "l") -> None:
    learners = engine.client["trainbot"]["learners"]
    for n in range(count):
        learners.update_one({"_id": f"{prefix}{n}"}, {"$inc": {"n": 1}}, upsert=True)


@pytest.mark.parametrize("step", ["before the snapshot is written", "before old files go"])
def test_a_compaction_cut_short_loses_nothing(tmp_path, monkeypatch, step):
    engine = Embedded(tmp_path)
    written(engine, 50)
    engine.compact()
    written(engine, 50, "m")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("the process died here")

    target = "_write_file" if step == "before the snapshot is written" else "_remove_older"
    if target == "_remove_older":
        monkeypatch.setattr(Embedded, "_remove_older", crash)
    else:
        monkeypatch.setattr(engine_module, "_write_file", crash)
    with pytest.raises(KeyboardInterrupt):
        engine.compact()
    written(engine, 10, "after")  # the bot went on writing before it died
    live = contents(engine)
    monkeypatch.undo()
    engine.close()
    (tmp_path / "snapshot-000099.bson.tmp").write_bytes(b"half")  # a rename never reached
    engine = Embedded(tmp_path)
    assert contents(engine) == live
    assert not list(tmp_path.glob("*.tmp"))
    assert len(list(tmp_path.glob("snapshot-*"))) <= 1  # older files are gone
    engine.close()


def test_compaction_starts_when_the_journal_outgrows_the_snapshot(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_module, "COMPACT_MIN_BYTES", 10_000)
    engine = Embedded(tmp_path)
    written(engine, 20)
    assert not engine.due_for_compaction()
    for _ in range(20):
        written(engine, 20)
    assert engine.due_for_compaction()
    assert engine.upkeep(NOW)["snapshot_bytes"] > 0
    assert not engine.due_for_compaction()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "LOCK") == [
        "journal-000002.log",
        "snapshot-000002.bson",
    ]
    live = contents(engine)
    engine = reopened(tmp_path, engine)
    assert contents(engine) == live
    engine.close()


# --- failed writes ----------------------------------------------------------------------------


def test_a_failed_journal_write_changes_nothing_and_is_a_store_error(tmp_path, monkeypatch):
    """The disk is full: the write raises a PyMongoError (the webhook answers 503 and the
    provider retries), nothing changed in memory or on disk, and later writes work."""
    store = Store.connect(None, data_dir=tmp_path)
    store.learners.collection.insert_one({"_id": "ada", "n": 1})
    real = os.write

    def full(fd, data):
        real(fd, data[:7])  # a short write, as a full disk gives
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(framing.os, "write", full)
    with pytest.raises(JournalError):
        store.learners.collection.update_one({"_id": "ada"}, {"$set": {"n": 2}})
    assert not store.writable(NOW)
    monkeypatch.setattr(framing.os, "write", real)
    assert store.load("ada") == {"_id": "ada", "n": 1}
    assert store.writable(NOW)
    store.learners.collection.update_one({"_id": "ada"}, {"$set": {"n": 3}})
    store.close()
    again = Store.connect(None, data_dir=tmp_path)
    assert again.load("ada") == {"_id": "ada", "n": 3}
    again.close()


# --- one owner --------------------------------------------------------------------------------


def test_a_second_owner_is_refused_with_the_fix(tmp_path):
    engine = Embedded(tmp_path)
    with pytest.raises(DataDirLocked) as refused:
        Embedded(tmp_path)
    message = str(refused.value)
    assert f"pid {os.getpid()}" in message
    assert "--workers 1" in message and "MONGODB_URI" in message
    engine.close()
    Embedded(tmp_path).close()  # free again once the owner is gone


def test_a_killed_owner_leaves_no_stale_lock(tmp_path):
    code = (
        "import sys, time; from pathlib import Path; from bot.store.durable import Embedded;"
        "e = Embedded(Path(sys.argv[1])); e.client['trainbot']['l'].insert_one({'_id': 1});"
        "print('ready', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        with pytest.raises(DataDirLocked, match=f"pid {proc.pid}"):
            Embedded(tmp_path)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    engine = Embedded(tmp_path)
    assert engine.client["trainbot"]["l"].find_one({"_id": 1}) == {"_id": 1}
    engine.close()


def test_cli_commands_work_on_the_data_directory_and_say_when_the_bot_owns_it(tmp_path, data_dir):
    """Each command is its own process, as a user runs them."""
    roster = tmp_path / "roster.csv"
    roster.write_text("name,phone,course\nAda Obi,+2348031234567,partner-onboarding\n")
    env = {**os.environ, "CONTENT_DIR": str(SAMPLE)}
    imported = trainbot("learners", "import", str(roster), env=env)
    assert imported.returncode == 0, imported.stderr
    assert "1 created" in imported.stdout
    report = trainbot("report", "--format", "json", env=env)
    assert report.returncode == 0, report.stderr
    assert '"enrolled": 1' in report.stdout  # the import outlived its command

    running = Embedded(data_dir)  # the bot
    try:
        for args in (
            ("report",),
            ("learners", "import", str(roster)),
            ("certificates", "show", "X"),
        ):
            refused = trainbot(*args, env=env)
            assert refused.returncode == 1, args
            assert "in use by" in refused.stderr and "/admin" in refused.stderr, args
        backup = trainbot("backup", str(tmp_path / "copy.trainbot"), env=env)
        assert backup.returncode == 0, backup.stderr  # a backup is fine while it runs
        assert "documents from" in backup.stdout
        refused = trainbot("restore", str(tmp_path / "copy.trainbot"), env=env)
        assert refused.returncode == 1 and "in use by" in refused.stderr
    finally:
        running.close()
    elsewhere = {**env, "DATA_DIR": str(tmp_path / "restored")}
    restored = trainbot("restore", str(tmp_path / "copy.trainbot"), env=elsewhere)
    assert restored.returncode == 0, restored.stderr
    report = trainbot("report", "--format", "json", env=elsewhere)
    assert '"enrolled": 1' in report.stdout


# --- TTL --------------------------------------------------------------------------------------


def test_ttl_indexes_expire_documents_when_the_clock_says(tmp_path):
    store = Store.connect(None, data_dir=tmp_path)
    store.ensure_indexes()
    old, fresh = NOW - timedelta(days=91), NOW - timedelta(days=89)
    store.deliveries.collection.insert_many(
        [{"_id": "old", "at": old}, {"_id": "fresh", "at": fresh}]
    )
    store.events.collection.insert_many([{"_id": "old", "at": old}, {"_id": "fresh", "at": fresh}])
    store.learners.collection.insert_one({"_id": "ada", "at": old})  # no TTL on learners
    assert store.deliveries.collection.count_documents({}) == 2  # reads never expire anything
    assert store.engine.upkeep(NOW)["expired"] == 2
    assert [d["_id"] for d in store.deliveries.collection.find()] == ["fresh"]
    assert [d["_id"] for d in store.events.collection.find()] == ["fresh"]
    store.close()
    again = Store.connect(None, data_dir=tmp_path)  # the expiry was journaled
    assert again.deliveries.collection.count_documents({}) == 1 and again.load("ada")
    again.close()


def test_the_clock_runs_the_store_upkeep(tmp_path):
    from bot.config import Config
    from bot.scheduler import jobs
    from bot.services import build_services

    services = build_services(Config(data_dir=tmp_path), {})
    services.store.deliveries.collection.insert_one(
        {"_id": "old", "at": datetime.now(UTC) - timedelta(days=91)}
    )
    assert jobs(services)["store"]() == {"expired": 1, "snapshot_bytes": 0}


# --- backup and restore ------------------------------------------------------------------------


def test_backup_while_running_then_restore(tmp_path):
    live_dir, restored_dir = tmp_path / "live", tmp_path / "restored"
    engine = Embedded(live_dir)
    written(engine, 30)
    engine.compact()
    written(engine, 30, "m")
    expected = contents(engine)
    target = tmp_path / "backups" / "monday.trainbot"
    assert durable.backup(live_dir, target) == 60
    written(engine, 5, "later")  # not in the backup
    with pytest.raises(DataDirLocked):
        durable.restore(target, live_dir)  # never under a running bot
    assert durable.restore(target, restored_dir) == 60
    copy = Embedded(restored_dir)
    assert contents(copy) == expected
    copy.close()
    engine.close()
    assert durable.restore(target, live_dir) == 60  # over a stopped store: old kept aside
    assert len(list(tmp_path.glob("live.before-restore-*"))) == 1
    again = Embedded(live_dir)
    assert contents(again) == expected
    again.close()
    target.write_bytes(target.read_bytes()[:-5])
    with pytest.raises(ValueError, match="torn record"):
        durable.restore(target, tmp_path / "other")
