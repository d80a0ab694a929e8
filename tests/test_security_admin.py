"""Admin pages, exports and the API against an outsider: every route the app serves under
`/admin` and `/api/v1` is found from the URL map (so a route added later is covered too),
then tried without the token, with a wrong one, without a CSRF token, and checked for the
security headers. `tests/test_admin.py` covers the happy paths and a few of these by hand."""

from __future__ import annotations

import hmac
import re
from pathlib import Path

import pytest
from flask import Flask

from bot.admin.signin import SIGNIN_PATH
from tests.admin_app import TOKEN, make_app

ADA = "whatsapp:+15550000001"
SEEDED = ("Lovelace", "Hopper", "CERT-ADA")  # the login page echoes only the asked URL
FILL = {"key": ADA, "code": "CERT-ADA", "kind": "progress", "fmt": "csv", "course_id": "demo"}
FRAMING = "frame-ancestors 'none'"


@pytest.fixture
def parts(tmp_path: Path):
    return make_app(tmp_path)


def routes(app: Flask, method: str) -> list[str]:
    """Concrete URLs for every admin/API rule answering `method`, placeholders filled."""
    urls = []
    for rule in app.url_map.iter_rules():
        if method not in (rule.methods or ()) or rule.endpoint.endswith("static"):
            continue
        if not rule.rule.startswith(("/admin", "/api/")):
            continue
        url = rule.rule
        for name in rule.arguments:
            url = re.sub(rf"<(?:\w+:)?{name}>", FILL[name], url)
        urls.append(url)
    assert urls, f"no {method} routes found"
    return sorted(set(urls))


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def signed_in(app: Flask):
    client = app.test_client()
    csrf = csrf_of(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"token": TOKEN, "csrf_token": csrf})
    assert response.status_code == 302
    return client, csrf_of(client.get("/admin").get_data(as_text=True))


def leaks(body: str) -> list[str]:
    return [secret for secret in (*SEEDED, TOKEN) if secret in body]


def test_no_page_export_or_api_route_answers_without_the_token(parts):
    app, services, sender = parts
    client = app.test_client()
    before = services.store.learners.collection.find_one({"_id": ADA})
    public = {"/admin/login"}
    for url in routes(app, "GET"):
        if url in public:
            continue
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": "session=forged"}):
            response = client.get(url, headers=headers)
            body = response.get_data(as_text=True)
            assert response.status_code == 401, (url, headers, response.status_code)
            assert not leaks(body), (url, leaks(body))
    for url in routes(app, "POST"):
        if url in public:
            continue
        response = client.post(url, data={"course": "demo", "confirm": "yes", "number": "1"})
        assert response.status_code == 401, url
    assert sender.sent == []
    assert services.store.learners.collection.find_one({"_id": ADA}) == before
    assert services.store.db["audit"].count_documents({}) == 0


@pytest.mark.parametrize(
    "header",
    [
        "Bearer wrong",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        f"bearer{TOKEN}",
        TOKEN,
        "Bearer ",
        "",
    ],
)
def test_a_wrong_api_token_gets_the_same_bare_401(parts, header):
    app, _, _ = parts
    for url in routes(app, "GET"):
        if not url.startswith("/api/"):
            continue
        response = app.test_client().get(url, headers={"Authorization": header})
        assert response.status_code == 401
        assert response.get_json() == {"error": "unauthorized"}  # nothing else, ever
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_wrong_login_token_says_so_and_nothing_more(parts):
    app, _, _ = parts
    client = app.test_client()
    csrf = csrf_of(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"token": TOKEN[:-1], "csrf_token": csrf})
    body = response.get_data(as_text=True)
    assert response.status_code == 401 and not leaks(body)
    assert TOKEN[:-1] not in body  # the guess is not echoed back either
    assert client.get("/admin").status_code == 401  # and the session it got is no key


def test_every_token_and_csrf_comparison_is_constant_time(parts, monkeypatch):
    """Each check of a secret goes through `hmac.compare_digest` (so its time does not
    depend on how much of a guess is right), and a guess is never compared with `==`."""
    app, _, _ = parts
    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def recording(a, b):
        compared.append((bytes(a), bytes(b)))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", recording)
    client = app.test_client()
    csrf = csrf_of(client.get("/admin/login").get_data(as_text=True))
    client.post("/admin/login", data={"token": "guess-one", "csrf_token": csrf})
    assert (b"guess-one", TOKEN.encode()) in compared  # the admin token
    assert (csrf.encode(), csrf.encode()) in compared  # the login form's CSRF token
    compared.clear()
    client.get("/api/v1/courses", headers={"Authorization": "Bearer guess-two"})
    assert (b"guess-two", TOKEN.encode()) in compared  # the API's bearer token
    compared.clear()
    client, csrf = signed_in(app)
    compared.clear()
    client.post(f"/admin/learners/{ADA}/nudge", data={"course": "demo", "csrf_token": "forged"})
    assert (b"forged", csrf.encode()) in compared  # a form's CSRF token
    # (the session cookie's own signature is checked the same way, by itsdangerous)


def test_every_post_form_needs_its_csrf_token(parts):
    app, services, sender = parts
    client, csrf = signed_in(app)
    before = services.store.learners.collection.find_one({"_id": ADA})
    form = {"course": "demo", "confirm": "yes", "number": "1", "reason": "test"}
    for url in routes(app, "POST"):
        for forged in ({}, {"csrf_token": ""}, {"csrf_token": "forged"}, {"csrf_token": csrf[1:]}):
            response = client.post(url, data={**form, **forged})
            assert response.status_code == 400, (url, forged, response.status_code)
            assert "did not come from this site" in response.get_data(as_text=True)
    assert sender.sent == []
    assert services.store.learners.collection.find_one({"_id": ADA}) == before
    assert services.store.db["audit"].count_documents({"action": {"$ne": "sign_in"}}) == 0
    # and a token from another session is no better than none
    other, _ = signed_in(app)
    response = other.post(f"/admin/learners/{ADA}/nudge", data={"course": "demo", **{}})
    assert response.status_code == 400
    response = other.post(
        f"/admin/learners/{ADA}/nudge", data={"course": "demo", "csrf_token": csrf}
    )
    assert response.status_code == 400 and sender.sent == []


def assert_protected(response, url: str) -> None:
    headers = response.headers
    assert FRAMING in headers.get("Content-Security-Policy", ""), url
    assert "default-src 'none'" in headers["Content-Security-Policy"], url
    assert headers.get("X-Frame-Options") == "DENY", url
    assert headers.get("X-Content-Type-Options") == "nosniff", url


def test_every_admin_answer_carries_the_security_headers(parts):
    """Pages, exports, the login page, refusals and errors: CSP (no framing), nosniff,
    X-Frame-Options."""
    app, _, _ = parts
    anonymous = app.test_client()
    for url in routes(app, "GET"):
        if url.startswith("/admin"):
            assert_protected(anonymous.get(url), url)  # the login page or a 401
    client, _ = signed_in(app)
    for url in routes(app, "GET"):
        if url.startswith("/admin") and not url.startswith(SIGNIN_PATH):  # a spent link: 401
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            assert_protected(response, url)
    for url in ("/admin/learners/whatsapp:+19999999999", "/admin/export/secrets.csv"):
        response = client.get(url)
        assert response.status_code == 404
        assert_protected(response, url)
    assert_protected(client.post(f"/admin/learners/{ADA}/nudge", data={}), "csrf refusal")
