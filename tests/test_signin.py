"""Admin always needs a credential, and a right one is never locked out (issue 16)."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.config import Config
from bot.web import create_app
from tests.admin_app import TOKEN, make_app
from tests.admin_data import write_course
from tests.conftest import served


def _get(url: str, opener=None, **headers: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_a_same_host_proxy_does_not_open_admin(tmp_path: Path, capsys):
    """Regression (issue 16): with no ADMIN_TOKEN, a reverse proxy on the same host that
    sends no X-Forwarded-For (plain `proxy_pass`, or only X-Real-IP) made every visitor
    "local": `GET /api/v1/learners` with `X-Real-IP: 203.0.113.9` was 200 on main."""
    config = Config.from_env({"CONTENT_DIR": str(write_course(tmp_path / "c"))}, dotenv=None)
    app = create_app(config)
    printed = capsys.readouterr().err
    with served(app) as base:
        for path in ("/api/v1/learners", "/api/v1/courses", "/admin", "/admin/learners"):
            for headers in ({}, {"X-Real-IP": "203.0.113.9"}, {"X-Real-IP": "127.0.0.1"}):
                status, body = _get(base + path, **headers)
                assert status == 401, (path, headers)
        # the link printed at start signs one browser in, once
        code = re.search(r"/admin/signin/([\w-]+)", printed).group(1)
        browser = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        status, body = _get(f"{base}/admin/signin/{code}", browser)
        assert status == 200 and "Overview" in body
        assert _get(f"{base}/admin/learners", browser)[0] == 200
        assert _get(f"{base}/admin/signin/{code}")[0] == 401  # spent
    token = app.extensions["trainbot"].config.admin_token.get_secret_value()
    assert token not in printed  # never printed


def test_a_right_token_is_never_locked_out_by_wrong_ones(tmp_path: Path):
    """Regression (issue 16): on main, five wrong tokens from an address locked the real
    admin behind the same address (an office NAT, a proxy) out for five minutes."""
    app, _, _ = make_app(tmp_path)
    attacker, admin = app.test_client(), app.test_client()
    csrf = _csrf(attacker)
    codes = [_login(attacker, "guess", csrf) for _ in range(30)]
    assert codes == [401] * 5 + [429] * 25
    assert _login(admin, TOKEN, _csrf(admin)) == 302
    assert admin.get("/admin").status_code == 200
    assert _login(attacker, "guess", csrf) == 429  # still refused: it is the wrong token


def test_wrong_tokens_count_across_workers(tmp_path: Path):
    """Two apps on one services (two workers on one store and limits storage): the limit
    holds for the pair, not per worker."""
    first, services, _ = make_app(tmp_path)
    second = create_app(services.config, services)
    clients = [first.test_client(), second.test_client()]
    tokens = [_csrf(c) for c in clients]
    codes = [_login(clients[n % 2], "guess", tokens[n % 2]) for n in range(6)]
    assert codes == [401] * 5 + [429]


def test_the_api_takes_the_generated_token(tmp_path: Path):
    app, services, _ = make_app(tmp_path, token="")
    client = app.test_client()
    token = services.config.admin_token.get_secret_value()
    assert len(token) >= 40
    ok = client.get("/api/v1/courses", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200


@pytest.mark.parametrize("token", ["", "m3trics"])
def test_metrics_need_a_token(tmp_path: Path, token: str):
    """Regression (issue 16): `/metrics` (traffic, failures, backlog) was public on main."""
    app, services, _ = make_app(tmp_path)
    if token:
        app = create_app(services.config.replace(metrics_token=token), services)
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    right = token or TOKEN
    response = client.get("/metrics", headers={"Authorization": f"Bearer {right}"})
    assert response.status_code == 200 and b"trainbot_messages_in_total" in response.data


def _csrf(client) -> str:
    page = client.get("/admin/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _login(client, token: str, csrf: str) -> int:
    return client.post("/admin/login", data={"token": token, "csrf_token": csrf}).status_code
