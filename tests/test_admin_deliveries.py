"""Parked deliveries on the admin dashboard (issue 15): a learner whose head reply finally
failed is listed with the error; Retry sends it again, Drop gives up on it and sends the
rest, each audited."""

from __future__ import annotations

from pathlib import Path

from bot.outbox import DeliveryError
from flows.events import Reply
from tests.admin_app import make_app
from tests.test_admin import login

KEY = "web:parked-learner"


def parked_app(tmp_path: Path):
    app, services, sender = make_app(tmp_path)
    services.store.commit(KEY, None, {"name": "Parked Pat"}, [], "m0", services.outbox.clock())
    sender.failures.append(DeliveryError("provider refused: invalid address", retryable=False))
    services.conversations.queue(KEY, [Reply("First, the session"), Reply("Then the menu")])
    services.outbox.flush(KEY)
    assert services.store.load(KEY)["parked"]["seq"] == 1 and sender.sent == []
    return app, services, sender


def test_parked_learners_are_listed_with_the_error(tmp_path: Path):
    app, _, _ = parked_app(tmp_path)
    client = app.test_client()
    login(client)
    assert "1 learner(s) waiting on a reply" in client.get("/admin").get_data(as_text=True)
    page = client.get("/admin/deliveries").get_data(as_text=True)
    assert "Parked Pat" in page and "invalid address" in page and "First, the session" in page
    learner = client.get(f"/admin/learners/{KEY}").get_data(as_text=True)
    assert "Replies parked since" in learner and "invalid address" in learner


def test_retry_sends_the_parked_reply_then_the_rest(tmp_path: Path):
    app, services, sender = parked_app(tmp_path)
    client = app.test_client()
    csrf = login(client)
    response = client.post(f"/admin/learners/{KEY}/delivery/retry", data={"csrf_token": csrf})
    assert response.status_code == 302
    assert [r.text for _, r in sender.sent] == ["First, the session", "Then the menu"]
    assert services.store.load(KEY).get("parked") is None
    assert "retry delivery" in client.get("/admin/audit").get_data(as_text=True)


def test_drop_gives_up_on_the_head_and_sends_the_rest(tmp_path: Path):
    app, services, sender = parked_app(tmp_path)
    client = app.test_client()
    csrf = login(client)
    client.post(f"/admin/learners/{KEY}/delivery/drop", data={"csrf_token": csrf})
    assert [r.text for _, r in sender.sent] == ["Then the menu"]
    statuses = [r["status"] for r in services.store.transcript(KEY)]
    assert statuses == ["dropped", "sent"]
    assert "not parked" not in client.get("/admin/deliveries").get_data(as_text=True)
    again = client.post(f"/admin/learners/{KEY}/delivery/drop", data={"csrf_token": csrf})
    assert again.status_code == 302  # nothing parked any more: refused with a message
