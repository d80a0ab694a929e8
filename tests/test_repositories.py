"""Repository contract: every repository of `bot/store/` on every store (`STORES`: the
embedded store and MongoDB over the wire), through the `store` fixture of conftest.py.
The learners' guarded commit and the outbox lease have their own suite (test_store.py)."""

from __future__ import annotations

from datetime import timedelta

from bot.store import Store
from tests.conftest import T0


def test_learners_lookups_and_bulk_writes(store: Store):
    store.learners.ensure_indexes()
    store.commit("a", None, {"name": "Ada", "profile": {"role": "sales"}}, [], None, T0)
    assert store.learners.insert_new([{"_id": "b", "version": 0, "profile": {"role": "ops"}}]) == []
    collided = store.learners.insert_new([{"_id": "c", "version": 0}, {"_id": "a", "version": 0}])
    assert collided == [1] and store.load("a")["name"] == "Ada"  # the existing one is untouched
    store.learners.set_each([("a", {"name": "Ada L."}), ("b", {"name": "Bo"})])
    assert (store.load("a")["version"], store.load("b")["version"]) == (2, 1)  # turns recompute
    assert sorted(d["_id"] for d in store.learners.by_ids(["a", "b", "nobody"])) == ["a", "b"]
    assert sorted(store.learners.values("profile.role")) == ["ops", "sales"]
    found = store.learners.matching({"profile.role": "sales"}, ["name"])
    assert found == [{"_id": "a", "name": "Ada L."}]
    assert store.learners.count({"profile.role": {"$exists": True}}) == 2
    rows = store.learners.pipeline([{"$group": {"_id": None, "n": {"$sum": 1}}}])
    assert rows == [{"_id": None, "n": 3}]


def test_deliveries_records_parts_and_status(store: Store):
    store.deliveries.ensure_indexes()
    store.deliveries.add_part("k", 1, "SM1")
    store.deliveries.add_part("k", 1, "SM2")
    store.deliveries.record("k#1", {"learner": "k", "seq": 1, "status": "sent", "at": T0})
    store.deliveries.failed_once("k#1", {"status": "failed"})  # a record exists: kept
    store.deliveries.failed_once("k#2", {"learner": "k", "seq": 2, "status": "failed", "at": T0})
    record = store.deliveries.delivery_status("SM2", "delivered", [], {"receipt.SM2": "ok"})
    assert record is not None and record["provider_ids"] == ["SM1", "SM2"]
    assert record["status"] == "sent" and record["receipt"] == {"SM2": "ok"}
    assert store.deliveries.delivery_status("SM9", "delivered", [], {}) is None
    assert store.recorded("SM1") and not store.recorded("SM9")
    assert store.deliveries.sent_of(["k#1", "k#2", "k#3"]) == [1]
    assert [d["seq"] for d in store.deliveries.recent("k", 10)] == [2, 1]
    store.deliveries.set("k#2", {"status": "dropped"})
    assert [d["status"] for d in store.transcript("k")] == ["sent", "dropped"]


def test_events_questions_inbound_and_problems(store: Store):
    for repository in (store.events, store.questions, store.inbound):
        repository.ensure_indexes()
    for n in range(3):
        store.log_event({"learner": "k", "at": T0 + timedelta(minutes=n), "text": f"m{n}"})
        store.log_question(
            {"learner": "k", "course": "c", "session": "s", "at": T0 + timedelta(minutes=n)}
        )
    assert [e["text"] for e in store.events.recent("k", 2)] == ["m2", "m1"]
    assert len(store.questions.of_learner("k", 5)) == 3 and len(store.asked("c", limit=2)) == 2
    assert store.asked("other") == []
    assert not store.seen_inbound("k", "m1")
    store.remember_inbound("k", "m1", T0)
    store.remember_inbound("k", "m1", T0)  # a concurrent copy: no error
    assert store.seen_inbound("k", "m1") and not store.seen_inbound("j", "m1")
    store.note_problem("digest:C1", {"at": T0, "text": "not in channel"})
    store.note_problem("digest:C0", {"at": T0 - timedelta(days=1), "text": "gone"})
    assert [p["_id"] for p in store.open_problems()] == ["digest:C0", "digest:C1"]
    store.clear_problem("digest:C0")
    assert [p["_id"] for p in store.open_problems()] == ["digest:C1"]


def test_certificates_are_one_per_completion(store: Store):
    records = store.certificates
    records.ensure_indexes()
    first = {"_id": "AAAA", "code": "AAAA", "learner": "k", "course": "c", "completed_at": T0}
    assert records.insert_new({**first, "issued": T0, "revoked": None})
    again = {**first, "_id": "BBBB", "code": "BBBB", "issued": T0}
    assert not records.insert_new(again)  # the same completion, issued by another process
    assert records.of_completion("k", "c", T0)["code"] == "AAAA"
    later = {**again, "completed_at": T0 + timedelta(days=1), "issued": T0 + timedelta(days=1)}
    assert records.insert_new({**later, "revoked": None})
    assert records.latest("k", "c")["code"] == "BBBB" and records.latest("k", "x") is None
    assert records.revoke("AAAA", {"revoked": T0}) and not records.revoke("AAAA", {"revoked": T0})
    assert records.get("AAAA")["revoked"] is not None and records.get("ZZZZ") is None


def test_jobs_audit_and_settings(store: Store):
    store.jobs.ensure_indexes()
    store.jobs.schedule("reminder:k", "reminder", T0, {"learner": "k"})
    store.jobs.ensure("digest", "digest", T0 + timedelta(days=1), {})
    assert [j["_id"] for j in store.jobs.waiting_for("k")] == ["reminder:k"]
    job = store.jobs.claim(T0, "w1")
    assert job is not None and job.id == "reminder:k" and store.jobs.claim(T0, "w2") is None
    store.jobs.finish(job, T0, "sent")
    assert store.jobs.waiting_for("k") == [] and store.jobs.next_due() == T0 + timedelta(days=1)
    store.audit.record({"at": T0, "who": "Lead", "action": "reset", "learner": "k"})
    store.audit.record({"at": T0 + timedelta(1), "who": "Lead", "action": "move", "learner": "j"})
    assert [e["action"] for e in store.audit.recent()] == ["move", "reset"]
    assert [e["action"] for e in store.audit.recent("k")] == ["reset"]
    store.settings.put_new("signin:x", {"expires": T0})
    store.settings.put_new("signin:x", {"expires": T0 + timedelta(days=1)})  # idempotent
    assert store.settings.take("signin:x")["expires"].replace(tzinfo=T0.tzinfo) == T0
    assert store.settings.take("signin:x") is None  # spent once


def test_signing_keys_one_per_generation_newest_signs(store: Store):
    store.signing_keys.ensure_indexes()
    assert store.signing_keys.current() is None
    first = {"_id": "k1", "generation": 1, "public": {"x": "1"}, "private_pem": "secret"}
    assert store.signing_keys.add(first)
    assert not store.signing_keys.add({**first, "_id": "k1b"})  # the same generation: refused
    assert store.signing_keys.add({**first, "_id": "k2", "generation": 2})
    assert store.signing_keys.current()["_id"] == "k2"
    assert "private_pem" not in store.signing_keys.get("k1")
    assert store.signing_keys.get("k1", private=True)["private_pem"] == "secret"
    assert [k["_id"] for k in store.signing_keys.public()] == ["k2", "k1"]
    assert all("private_pem" not in k for k in store.signing_keys.public())


def test_certificate_credentials_keep_the_first_signed(store: Store):
    store.certificates.ensure_indexes()
    cert = {"_id": "C1", "code": "C1", "learner": "k", "course": "c", "completed_at": T0}
    assert store.certificates.insert_new({**cert, "issued": T0, "credential": None})
    assert store.certificates.keep_credential("C1", "jwt-a") == "jwt-a"
    assert store.certificates.keep_credential("C1", "jwt-b") == "jwt-a"  # a second signer
    assert store.certificates.latest_of_course("c")["_id"] == "C1"
    assert [c["_id"] for c in store.certificates.of_learner("k")] == ["C1"]


def test_webhook_deliveries_recorded_once_claimed_once(store: Store):
    hooks = store.webhooks
    hooks.ensure_indexes()
    record = {"url": "https://h.example/x", "status": "pending", "next_at": T0, "attempts": 0}
    hooks.record("d1", {**record, "created": T0})
    hooks.record("d1", {**record, "created": T0, "url": "changed"})  # recorded once
    lease = timedelta(seconds=60)
    claimed = hooks.claim(T0, ["https://h.example/x"], lease, "c1")
    assert claimed is not None and claimed["attempts"] == 1 and claimed["url"] == record["url"]
    assert hooks.claim(T0, ["https://h.example/x"], lease, "c2") is None  # leased
    hooks.settle("d1", "stale", {"status": "delivered"})  # not this lease: ignored
    hooks.settle("d1", "c1", {"status": "failed"})
    assert [d["status"] for d in hooks.recent(10)] == ["failed"]
    assert "body" not in hooks.recent(10)[0]
    assert hooks.retry("d1", T0) and hooks.claim(T0, ["https://h.example/x"], lease, "c3")


def test_xapi_queue_collections(store: Store):
    store.xapi_statements.ensure_indexes()
    docs = [
        {"_id": f"s{n}", "status": "pending", "created_at": T0 + timedelta(seconds=n)}
        for n in range(3)
    ]
    assert store.xapi_statements.add(docs)
    assert not store.xapi_statements.add([docs[0], {**docs[2], "_id": "s9"}])  # s0 stands
    assert [d["_id"] for d in store.xapi_statements.oldest("pending", 2)] == ["s0", "s1"]
    store.xapi_statements.remove(["s0", "s1"])
    store.xapi_statements.set_status("s2", "rejected", "HTTP 400")
    assert store.xapi_statements.count({"status": "rejected"}) == 1
    store.xapi_recorded.remember("L", ["s0", "s1"])
    store.xapi_recorded.remember("L", ["s1", "s2"])
    assert (
        store.xapi_recorded.known("L") == {"s0", "s1", "s2"}
        and store.xapi_recorded.known("M") == set()
    )
    salt = store.xapi_state.salt()
    assert store.xapi_state.salt() == salt and len(salt) == 32
    store.xapi_state.set_sender({"failures": 2})
    assert store.xapi_state.sender()["failures"] == 2
