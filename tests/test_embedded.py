"""The embedded store's speed-ups (`bot.store.durable.speedups`) return exactly what
mongomock-ng's own code returns, and a commit writes only the state fields that changed."""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime, timedelta, timezone

import mongomock_ng
from bson import ObjectId

from bot.store import Store, changed
from bot.store.durable import speedups as embedded
from tests.conftest import T0

AT = datetime(2026, 11, 25, 1, 2, 3, 456789, tzinfo=UTC)
DOCUMENT = {
    "_id": "whatsapp:+15550001",
    "n": 3,
    "ok": True,
    "none": None,
    "ratio": 0.5,
    "raw": b"\x00",
    "at": AT,
    "naive": datetime(2026, 1, 1, 12, 0, 0, 999999),
    "shifted": AT.astimezone(timezone(timedelta(hours=2))),
    "recent": [AT, AT - timedelta(seconds=1)],
    "outbox": [{"seq": 1, "reply": {"text": "hi", "buttons": [{"title": "Next"}]}}],
    "pair": ("a", AT),
    "ordered": OrderedDict([("b", 1), ("a", [AT])]),
    "oid": ObjectId("0123456789abcdef01234567"),
    "ids": [f"twilio-SM{i:032d}" for i in range(5)],
}


WALKERS = [
    "make_datetime_timezone_aware_in_document",
    "patch_datetime_awareness_in_document",
    "_clone_document",
]


def _same(a, b) -> None:
    assert a == b and type(a) is type(b)
    if isinstance(a, dict):
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, list | tuple):
        for x, y in zip(a, b, strict=True):
            _same(x, y)


def test_walkers_match_mongomock():
    """Each shortcut gives what mongomock's own walker (`__wrapped__`) gives, types included."""
    embedded.install()
    helpers, collection = mongomock_ng.helpers, mongomock_ng.collection
    for name in WALKERS:
        fast = getattr(helpers, name)
        _same(fast(DOCUMENT), fast.__wrapped__(DOCUMENT))
    clone = helpers._clone_document(DOCUMENT)
    assert clone is not DOCUMENT and clone["outbox"][0] is not DOCUMENT["outbox"][0]
    assert collection._clone_document is helpers._clone_document
    for container in (dict, OrderedDict):
        fast = collection._copy_field
        _same(fast(DOCUMENT, container), fast.__wrapped__(DOCUMENT, container))


def test_round_trip_through_the_embedded_store():
    store = Store.connect(None)
    store.learners.collection.insert_one(dict(DOCUMENT))
    doc = store.load(DOCUMENT["_id"])
    assert doc["at"] == AT.replace(microsecond=456000) and doc["at"].tzinfo is not None
    assert doc["recent"][1].tzinfo is not None and doc["outbox"] == DOCUMENT["outbox"]
    assert doc["ids"] == DOCUMENT["ids"] and doc["pair"] == ["a", AT.replace(microsecond=456000)]


def test_changed_keeps_only_new_values():
    before = {"name": "Ada", "recent": [T0], "progress": {"c": {"done": 1}}, "paused": False}
    state = {"name": "Ada", "recent": [T0, T0], "progress": {"c": {"done": 1}}, "paused": None}
    assert changed(before, {**state, "slowed_at": None}) == {
        "recent": [T0, T0],
        "paused": None,
        "slowed_at": None,  # absent before: written, so the field exists
    }


def test_commit_writes_changed_fields_and_keeps_the_rest():
    store = Store.connect(None)
    store.commit("k", None, {"name": "Ada", "level": 1}, [], "m1", T0)
    store.set_fields("k", {"slack": {"dm": "D1"}})  # not state: never rewritten by a commit
    doc = store.load("k")
    assert store.commit("k", doc, {"name": "Ada", "level": 2}, [], "m2", T0).ok
    doc = store.load("k")
    assert (doc["name"], doc["level"], doc["version"]) == ("Ada", 2, 2)
    assert doc["slack"] == {"dm": "D1"} and doc["processed"] == ["m1", "m2"]
    assert store.commit("k", doc, {"name": "Ada", "level": 2}, [], "m3", T0).ok  # no change
    assert store.load("k")["version"] == 3
