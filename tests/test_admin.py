"""Admin pages and API through Flask's test client: auth, CSRF, escaping, actions, import,
exports, and the same figures on the page, the API and `trainbot report`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.admin.languages import TYPED
from bot.cli import main
from flows.messages import CATALOG, LANGUAGES
from tests.admin_app import TOKEN, make_app
from tests.admin_data import ADA_CERT

ADA = "whatsapp:+15550000001"


@pytest.fixture
def app_parts(tmp_path: Path):
    return make_app(tmp_path)


@pytest.fixture
def app(app_parts):
    return app_parts[0]


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def login(client, token: str = TOKEN) -> str:
    page = client.get("/admin/login").get_data(as_text=True)
    response = client.post(
        "/admin/login", data={"token": token, "name": "Lead", "csrf_token": _csrf(page)}
    )
    assert response.status_code == 302
    return _csrf(client.get("/admin").get_data(as_text=True))


def test_pages_need_the_token_and_leak_nothing(app) -> None:
    client = app.test_client()
    for path in (
        "/admin",
        "/admin/learners",
        f"/admin/learners/{ADA}",
        "/admin/export/progress.csv",
    ):
        response = client.get(path)
        body = response.get_data(as_text=True)
        assert response.status_code == 401
        assert "Lovelace" not in body and "Hopper" not in body and ADA_CERT not in body
    page = client.get("/admin/login").get_data(as_text=True)
    wrong = client.post("/admin/login", data={"token": "nope", "csrf_token": _csrf(page)})
    assert wrong.status_code == 401 and "not right" in wrong.get_data(as_text=True)
    assert client.get("/admin").status_code == 401


def test_login_cookie_headers_and_logout(app) -> None:
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    response = client.post("/admin/login", data={"token": TOKEN, "csrf_token": _csrf(page)})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    overview = client.get("/admin")
    assert overview.status_code == 200
    assert "frame-ancestors 'none'" in overview.headers["Content-Security-Policy"]
    assert overview.headers["X-Frame-Options"] == "DENY"
    assert overview.headers["X-Content-Type-Options"] == "nosniff"
    client.post("/admin/logout", data={"csrf_token": _csrf(overview.get_data(as_text=True))})
    assert client.get("/admin").status_code == 401


def test_posts_need_a_session_first(app_parts) -> None:
    app, _, sender = app_parts
    client = app.test_client()
    response = client.post(f"/admin/learners/{ADA}/nudge", data={"course": "demo"})
    assert response.status_code == 401 and sender.sent == []
    from io import BytesIO

    big = client.post(
        "/admin/import",
        data={"roster": (BytesIO(b"x" * (2 * 1024 * 1024)), "r.csv")},
        content_type="multipart/form-data",
    )
    assert big.status_code == 401  # refused before a large upload is read


def test_forged_or_missing_csrf_is_refused(app_parts) -> None:
    app, services, sender = app_parts
    client = app.test_client()
    login(client)
    for data in ({"course": "demo"}, {"course": "demo", "csrf_token": "forged"}):
        response = client.post(f"/admin/learners/{ADA}/nudge", data=data)
        assert response.status_code == 400
    assert sender.sent == []
    assert services.store.db["audit"].count_documents({"action": {"$ne": "sign_in"}}) == 0


def test_names_are_escaped(app) -> None:
    client = app.test_client()
    login(client)
    for path in (
        "/admin/learners",
        "/admin/learners/whatsapp:+15550000003",
        "/admin/certification",
    ):
        body = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_learner_filters(app) -> None:
    client = app.test_client()
    login(client)
    body = client.get("/admin/learners?status=in_progress").get_data(as_text=True)
    assert "Grace Hopper" in body and "Ada Lovelace" not in body
    body = client.get("/admin/learners?q=ada&role=installer").get_data(as_text=True)
    assert "Ada Lovelace" in body and "Grace Hopper" not in body


def test_nudge_reset_move_revoke_are_audited(app_parts) -> None:
    app, services, sender = app_parts
    client = app.test_client()
    csrf = login(client)
    grace = "slack:T1:U2"
    client.post(f"/admin/learners/{grace}/nudge", data={"course": "demo", "csrf_token": csrf})
    assert sender.sent == []  # queued as a job: the clock sends it, like any reminder
    services.engagement.run_due()
    assert [key for key, _ in sender.sent] == [grace]
    reminder = sender.sent[0][1]
    assert reminder.proactive and "session 3 of 4" in reminder.text
    assert services.store.load(grace)["nudged"]["rung"] == 0
    before = services.store.load(grace)["progress"]["demo"]["started_at"]
    refused = client.post(
        f"/admin/learners/{grace}/reset", data={"course": "demo", "csrf_token": csrf}
    )
    assert refused.status_code == 302
    assert services.store.load(grace)["progress"]["demo"]["completed"] == ["s1", "s2"]
    client.post(
        f"/admin/learners/{grace}/reset",
        data={"course": "demo", "confirm": "yes", "csrf_token": csrf},
    )
    reset = services.store.load(grace)["progress"]["demo"]
    assert (reset["completed"], reset["current"], reset["started_at"]) == ([], "s1", before)
    client.post(
        f"/admin/learners/{grace}/move", data={"course": "demo", "number": "4", "csrf_token": csrf}
    )
    assert services.store.load(grace)["progress"]["demo"]["current"] == "s4"
    client.post(f"/admin/certificates/{ADA_CERT}/revoke", data={"reason": "x", "csrf_token": csrf})
    assert services.store.db["certificates"].find_one({"_id": ADA_CERT})["revoked"]
    entries = list(services.store.db["audit"].find({"learner": {"$ne": None}}).sort("at", 1))
    assert [(e["action"], e["who"]) for e in entries] == [
        ("nudge", "Lead"),
        ("reset", "Lead"),
        ("move", "Lead"),
        ("revoke", "Lead"),
    ]
    assert "revoke" in client.get("/admin/audit").get_data(as_text=True)


def test_nudge_respects_stop(app_parts) -> None:
    app, services, sender = app_parts
    services.store.learners.collection.update_one({"_id": ADA}, {"$set": {"opted_out": True}})
    client = app.test_client()
    csrf = login(client)
    client.post(f"/admin/learners/{ADA}/nudge", data={"course": "demo", "csrf_token": csrf})
    services.engagement.run_due()
    assert sender.sent == []
    assert "opted out" in client.get(f"/admin/learners/{ADA}").get_data(as_text=True)


def test_import_page_reports_bad_rows_and_size(app_parts) -> None:
    app, services, _ = app_parts
    client = app.test_client()
    csrf = login(client)
    csv_bytes = (
        "\ufeffName;Phone;Role;Course\n"
        "Bola;+234 803 123 4567;installer;demo\n"
        "Bad;12;installer;demo\n".encode()
    )
    from io import BytesIO

    response = client.post(
        "/admin/import",
        data={"csrf_token": csrf, "roster": (BytesIO(csv_bytes), "roster.csv")},
        content_type="multipart/form-data",
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'data-figure="created">1<', body) and "<td>3</td>" in body
    assert services.store.load("whatsapp:+2348031234567")["profile"]["role"] == "installer"
    big = BytesIO(b"name,phone\n" + b"x" * (11 * 1024 * 1024))
    response = client.post(
        "/admin/import",
        data={"csrf_token": csrf, "roster": (big, "big.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413 and "larger than 10 MB" in response.get_data(as_text=True)


def test_exports(app) -> None:
    client = app.test_client()
    login(client)
    response = client.get("/admin/export/progress.csv")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    text = response.get_data(as_text=True)
    assert text.splitlines()[0].startswith("key,course,name")
    assert "'=cmd" not in text and len(text.splitlines()) == 4
    rows = json.loads(client.get("/admin/export/certificates.json").get_data(as_text=True))
    assert rows[0]["code"] == ADA_CERT
    assert len(json.loads(client.get("/admin/export/learners.json").get_data())) == 3
    assert len(json.loads(client.get("/admin/export/attempts.json").get_data())) == 2
    assert client.get("/admin/export/secrets.csv").status_code == 404


def test_formula_cells_are_neutralised() -> None:
    from bot.admin.exports import to_csv

    assert to_csv([{"name": "=HYPERLINK(1)", "phone": "+2348031234567"}]).splitlines()[1] == (
        "'=HYPERLINK(1),+2348031234567"
    )


def test_api_needs_bearer(app) -> None:
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = client.get("/api/v1/learners", headers=headers)
        assert response.status_code == 401
        assert response.get_json() == {"error": "unauthorized"}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert [c["id"] for c in client.get("/api/v1/courses", headers=auth).get_json()] == ["demo"]
    rows = client.get("/api/v1/learners?course=demo&status=completed", headers=auth).get_json()
    assert [r["name"] for r in rows] == ["Ada Lovelace"]
    assert client.get("/api/v1/learners?status=bogus", headers=auth).status_code == 400
    assert client.get("/api/v1/learners?limit=0", headers=auth).status_code == 400
    assert len(client.get("/api/v1/learners?limit=2", headers=auth).get_json()) == 2
    assert client.get("/api/v1/courses/nope/report", headers=auth).status_code == 404


def test_overview_api_and_cli_agree(app_parts, monkeypatch) -> None:
    """3 learners: one finished, one on session 3, one not started → 33 % everywhere."""
    app, services, _ = app_parts
    client = app.test_client()
    login(client)
    page = client.get("/admin").get_data(as_text=True)
    figures = dict(re.findall(r'data-figure="(\w+)">([^<]*)<', page))
    api = client.get(
        "/api/v1/courses/demo/report", headers={"Authorization": f"Bearer {TOKEN}"}
    ).get_json()
    import bot.services as services_module

    monkeypatch.setattr(services_module, "build_services", lambda *a, **k: services)
    result = CliRunner().invoke(main, ["report", "--course", "demo", "--format", "json"])
    assert result.exit_code == 0, result.output
    [cli] = json.loads(result.output)
    assert api == cli
    assert (api["enrolled"], api["completed"], api["completion_rate"]) == (3, 1, 33.3)
    for key in ("enrolled", "in_training", "completed", "active_today", "active_7d"):
        assert figures[key] == str(api[key])
    assert figures["completion_rate"].strip() == "33.3 %"
    table = CliRunner().invoke(main, ["report", "--course", "demo"]).output
    assert re.search(r"completion rate\s+33.3 %", table)
    csv_out = CliRunner().invoke(main, ["report", "--format", "csv"]).output
    assert csv_out.splitlines()[1].startswith("demo,Demo Course,3,1,1,33.3")


def test_other_pages_render(app) -> None:
    client = app.test_client()
    login(client)
    content = client.get("/admin/content").get_data(as_text=True)
    assert "Topic 4" in content and "No errors" in content
    assert "What is a Gold partner?" in content
    languages = client.get("/admin/languages").get_data(as_text=True)
    assert "fr:" in languages and "complete" in languages
    cert = client.get("/admin/certification?course=demo").get_data(as_text=True)
    assert ADA_CERT in cert and "Grace Hopper" in cert


def test_languages_page_counts_what_is_localised(app, monkeypatch) -> None:
    """Issue 17: a language whose messages are all translated but whose commands, dates,
    certificate and retrieval are not was shown "complete"; each part is counted now."""
    monkeypatch.setitem(LANGUAGES, "xx", dict(CATALOG))
    client = app.test_client()
    login(client)
    page = client.get("/admin/languages").get_data(as_text=True)
    xx = page[page.index("<h2>xx:") :]
    assert xx.startswith('<h2>xx: <span class="bad">incomplete</span>')
    messages, words = (f"{len(CATALOG)}/{len(CATALOG)}", f"0/{len(TYPED)}")
    assert f'messages</td><td class="good">{messages}<' in xx
    assert f'command words</td><td class="bad">{words}<' in xx
    assert '<h2>fr: <span class="good">complete</span>' in page  # every part is French now


def test_without_token_admin_needs_the_one_time_link(tmp_path: Path) -> None:
    """Issue 16: no request is "local" any more; without ADMIN_TOKEN only the one-time
    link printed at start (or the generated token) opens admin."""
    app, services, _ = make_app(tmp_path, token="")
    client = app.test_client()
    for headers in ({}, {"X-Real-IP": "203.0.113.9"}, {"X-Forwarded-For": "127.0.0.1"}):
        page = client.get("/admin", headers=headers)
        assert page.status_code == 401 and "Lovelace" not in page.get_data(as_text=True)
        assert "one-time sign-in link printed" in page.get_data(as_text=True)
        assert client.get("/api/v1/courses", headers=headers).status_code == 401
    link = f"/admin/signin/{services.config.admin_signin_code}"
    assert client.get(link).status_code == 302
    assert client.get("/admin").status_code == 200
    assert "one-time link" in client.get("/admin").get_data(as_text=True)
    other = app.test_client()
    assert other.get(link).status_code == 401  # spent
    assert other.get("/admin").status_code == 401


def test_import_with_invitations(app_parts) -> None:
    from io import BytesIO

    app, services, sender = app_parts
    client = app.test_client()
    csrf = login(client)
    data = b"name,phone,course\nBola,+2348031234567,demo\nNoCourse,+2348031234568,\n"
    for _ in range(2):  # a second import creates nobody, so invites nobody
        response = client.post(
            "/admin/import",
            data={"csrf_token": csrf, "invite": "yes", "roster": (BytesIO(data), "r.csv")},
            content_type="multipart/form-data",
        )
        assert response.status_code == 200
    assert [key for key, _ in sender.sent] == ["whatsapp:+2348031234567"]
    assert "start demo training" in sender.sent[0][1].text
    actions = [e["action"] for e in services.store.db["audit"].find().sort("at", 1)]
    assert actions == ["sign_in", "invite", "import", "import"]


def test_repeated_wrong_tokens_are_throttled(app) -> None:
    client = app.test_client()
    csrf = _csrf(client.get("/admin/login").get_data(as_text=True))
    codes = [
        client.post("/admin/login", data={"token": "guess", "csrf_token": csrf}).status_code
        for _ in range(6)
    ]
    assert codes == [401] * 5 + [429]
    right = client.post("/admin/login", data={"token": TOKEN, "csrf_token": csrf})
    # issue 16: the right token is never locked out by (someone else's) wrong ones
    assert right.status_code == 302 and client.get("/admin").status_code == 200


def test_content_errors_show_on_the_overview(app_parts) -> None:
    app, services, _ = app_parts
    (services.library.root / "broken").mkdir()
    (services.library.root / "broken" / "course.yaml").write_text("title: [", encoding="utf-8")
    services.library.reload()
    client = app.test_client()
    login(client)
    assert "1 content error(s)" in client.get("/admin").get_data(as_text=True)
    content = client.get("/admin/content").get_data(as_text=True)
    # the line to fix: where the unclosed `[` opened (line 1; libyaml gives up on line 2)
    assert re.search(r"broken/course\.yaml:\d+: invalid YAML", content)


def test_content_page_shows_the_channel_lint(app_parts) -> None:
    """Failed before: a quiz label over WhatsApp's 20 characters was cut silently; the
    content page now lists the same finding as `content check`, and the session's preview."""
    app, services, _ = app_parts
    folder = services.library.root / "labels"
    folder.mkdir()
    (folder / "course.yaml").write_text("title: Labels\nenroll: [labels please]\n")
    (folder / "01-a.md").write_text(
        "---\ntitle: A\nquiz:\n  - q: Pick\n"
        "    options: [The retailer's own margin this quarter, No]\n    answer: 1\n---\nB\n"
    )
    services.library.reload()
    client = app.test_client()
    login(client)
    content = client.get("/admin/content").get_data(as_text=True)
    assert re.search(r"labels/01-a\.md:5: warning: WhatsApp cuts a reply button to 20", content)
    assert "Question 1: WhatsApp cuts a reply button to 20 characters" in content


def test_workers_started_together_share_the_generated_token_and_session_key() -> None:
    """`trainbot serve` generates the token before forking: every worker built from that
    config signs sessions with the same key."""
    from flask import Flask

    from bot.admin.auth import configure_sessions
    from bot.admin.signin import with_credential
    from bot.config import Config

    config = with_credential(Config.from_env({}, dotenv=None))
    first, second = Flask("first-worker"), Flask("second-worker")
    configure_sessions(first, config)
    configure_sessions(second, config)
    assert first.secret_key == second.secret_key and len(first.secret_key) == 64


def test_reset_keeps_a_turn_written_between_its_read_and_its_write(app_parts, monkeypatch) -> None:
    """An admin action is computed from the learner as loaded; a conversation turn that
    commits in between (here: a quiz that ran out of attempts) must not be overwritten. The
    action saves through the store's guarded commit, so it reloads and applies itself on
    top of the turn (a direct `$set` of `progress.<course>` lost the turn's change)."""
    from datetime import UTC, datetime

    from bot.admin import actions

    _, services, _ = app_parts
    grace = "slack:T1:U2"
    store = services.store
    real_load = store.load

    def load_then_a_turn(key: str):
        doc = real_load(key)
        monkeypatch.setattr(store, "load", real_load)  # one turn, on the first read only
        turn = {"$push": {"progress.demo.quiz_blocked": "s2"}, "$inc": {"version": 1}}
        store.learners.collection.update_one({"_id": key}, turn)
        return doc

    monkeypatch.setattr(store, "load", load_then_a_turn)
    actions.reset(services, "Lead", grace, "demo", datetime.now(UTC))
    progress = store.load(grace)["progress"]["demo"]
    assert progress["completed"] == [] and progress["current"] == "s1"
    assert progress["quiz_blocked"] == ["s2"]  # the turn's change survived the reset
