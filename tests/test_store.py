"""Store contract: the same tests on the embedded store and on MongoDB over the wire
(SecantusDB started by the tests, or the server at MONGODB_URI: tests/wire.py)."""

from __future__ import annotations

import threading
from datetime import timedelta

from bot.store import DELIVERY_VIEW, OUTBOX_KEPT, PROCESSED_KEPT, Store
from tests.conftest import T0


def reply(text: str) -> dict:
    return {"text": text, "buttons": [], "media": [], "course_id": None}


def test_first_commit_creates_the_learner(store: Store):
    store.ensure_indexes()
    result = store.commit("k", None, {"name": "Ada"}, [reply("hi")], "m1", T0)
    assert result.ok and result.seqs == (1,)
    doc = store.load("k")
    assert doc["name"] == "Ada" and doc["version"] == 1 and doc["processed"] == ["m1"]
    assert [e["seq"] for e in doc["outbox"]] == [1]
    assert store.load("nobody") is None


def test_commit_is_guarded_by_version_and_message_id(store: Store):
    store.commit("k", None, {"n": 1}, [], "m1", T0)
    doc = store.load("k")
    assert store.commit("k", doc, {"n": 2}, [reply("a"), reply("b")], "m2", T0).seqs == (1, 2)
    stale = store.commit("k", doc, {"n": 3}, [], "m3", T0)  # computed from an old version
    assert stale.status == "conflict"
    again = store.commit("k", store.load("k"), {"n": 4}, [], "m2", T0)  # m2 already done
    assert again.status == "duplicate"
    latest = store.load("k")
    assert latest["n"] == 2 and latest["version"] == 2


def test_new_learner_race_and_duplicate(store: Store):
    assert store.commit("k", None, {}, [], "m1", T0).ok
    assert store.commit("k", None, {}, [], "m1", T0).status == "duplicate"
    assert store.commit("k", None, {}, [], "m2", T0).status == "conflict"


def test_processed_ids_are_capped(store: Store):
    store.commit("k", None, {}, [], "m0", T0)
    for i in range(1, PROCESSED_KEPT + 20):
        assert store.commit("k", store.load("k"), {}, [], f"m{i}", T0).ok
    processed = store.load("k")["processed"]
    assert len(processed) == PROCESSED_KEPT and processed[-1] == f"m{PROCESSED_KEPT + 19}"


def test_outbox_is_capped(store: Store):
    store.commit("k", None, {}, [], "m0", T0)
    for i in range(OUTBOX_KEPT + 5):
        store.commit("k", store.load("k"), {}, [reply(str(i))], None, T0)
    assert len(store.load("k")["outbox"]) == OUTBOX_KEPT
    dropped = [r for r in store.transcript("k") if r["status"] == "failed"]
    assert [r["seq"] for r in dropped] == [1, 2, 3, 4, 5]
    assert dropped[0]["error"] == "outbox overflow"


def test_lease_is_exclusive_until_released_or_expired(store: Store):
    store.commit("k", None, {}, [reply("a")], "m1", T0)
    until = T0 + timedelta(seconds=60)
    assert store.claim_outbox("k", T0, until) is not None
    assert store.claim_outbox("k", T0 + timedelta(seconds=1), until) is None
    claimed = store.claim_outbox("k", T0 + timedelta(seconds=61), until + timedelta(minutes=1))
    assert claimed is not None
    store.release_outbox("k", claimed)
    assert store.claim_outbox("k", T0, until) is not None


def test_a_claim_reads_the_delivery_view_only(store: Store):
    store.commit("k", None, {"name": "Ada", "progress": {"c": {}}}, [reply("a")], "m1", T0)
    claimed = store.claim_outbox("k", T0, T0 + timedelta(seconds=60))
    assert set(claimed) <= {"_id", "claim", *DELIVERY_VIEW}  # claim: the fencing token
    assert [e["seq"] for e in claimed["outbox"]] == [1] and claimed["seq"] == 1


def test_delivered_postpone_due_and_transcript(store: Store):
    store.commit("k", None, {}, [reply("a"), reply("b")], "m1", T0)
    first, _ = store.load("k")["outbox"]
    store.delivered(
        "k", first, {"learner": "k", "seq": 1, "reply": first["reply"], "status": "sent", "at": T0}
    )
    store.postpone("k", 2, 1, T0 + timedelta(minutes=5), "boom")
    doc = store.load("k")
    assert [e["seq"] for e in doc["outbox"]] == [2]
    assert doc["outbox"][0]["attempts"] == 1 and doc["outbox"][0]["error"] == "boom"
    assert store.due_outboxes(T0) == []
    assert store.due_outboxes(T0 + timedelta(minutes=6)) == ["k"]
    assert [r["seq"] for r in store.transcript("k")] == [1]
    assert store.transcript("k", after=1) == []


def test_recorded_deliveries_leave_the_outbox_on_release(store: Store):
    """`delivered(pull=False)` records only; the release removes exactly the entries done,
    so a crash in between re-sends them (at least once) instead of losing them."""
    store.commit("k", None, {}, [reply("a"), reply("b"), reply("c")], "m1", T0)
    doc = store.claim_outbox("k", T0, T0 + timedelta(seconds=60))
    for entry in doc["outbox"][:2]:
        store.delivered("k", entry, {"learner": "k", "seq": entry["seq"], "at": T0}, pull=False)
    assert [e["seq"] for e in store.load("k")["outbox"]] == [1, 2, 3]  # not yet released
    assert store.release_outbox("k", doc, [1, 2]) is None  # nothing queued meanwhile
    assert [e["seq"] for e in store.load("k")["outbox"]] == [3]
    assert store.load("k")["lease"] is None
    assert [r["seq"] for r in store.transcript("k")] == [1, 2]


def test_a_release_returns_the_outbox_when_replies_arrived_meanwhile(store: Store):
    store.commit("k", None, {}, [reply("a")], "m1", T0)
    claimed = store.claim_outbox("k", T0, T0 + timedelta(seconds=60))
    store.commit("k", store.load("k"), {}, [reply("b")], "m2", T0)  # queued while sending
    released = store.release_outbox("k", claimed, [1])
    assert [e["seq"] for e in released["outbox"]] == [2]
    assert store.load("k")["lease"] is None and len(store.load("k")["outbox"]) == 1


def test_concurrent_guarded_updates_lose_nothing(store: Store):
    store.commit("k", None, {"count": 0}, [], "m0", T0)

    def bump(thread: int) -> None:
        for i in range(25):
            while True:
                doc = store.load("k")
                result = store.commit(
                    "k", doc, {"count": doc["count"] + 1}, [reply("x")], f"t{thread}-{i}", T0
                )
                if result.ok:
                    break

    threads = [threading.Thread(target=bump, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    doc = store.load("k")
    assert doc["count"] == 200
    assert sorted(e["seq"] for e in doc["outbox"]) == list(range(1, 201))[-OUTBOX_KEPT:]


def test_ping(store: Store):
    assert store.ping()
