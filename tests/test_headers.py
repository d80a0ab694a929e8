"""Security headers on every response, not only admin's (issue 16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.admin_app import make_app
from tests.admin_data import ADA_CERT

PATHS = [
    "/simulator",
    "/simulator/api/courses",
    f"/certificates/{ADA_CERT}",
    f"/certificates/{ADA_CERT}.pdf",
    "/certificates/NOPE-NOPE-NOPE-NOPE",
    "/healthz",
    "/readyz",
    "/metrics",
    "/no/such/page",
]


@pytest.fixture
def client(tmp_path: Path):
    app, _, _ = make_app(tmp_path)
    return app.test_client()


@pytest.mark.parametrize("path", PATHS)
def test_every_response_carries_csp_framing_and_nosniff(client, path: str):
    """Regression (issue 16): on main `/simulator`, `/certificates` and `/media` sent no
    CSP, X-Frame-Options or nosniff (a certificate page could be framed for clickjacking;
    a response could be sniffed into HTML)."""
    headers = client.get(path).headers
    csp = headers.get("Content-Security-Policy", "")
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp or "script-src" not in csp
    assert headers.get("X-Frame-Options") == "DENY"
    assert headers.get("X-Content-Type-Options") == "nosniff"


def test_the_simulator_api_refusals_carry_them_too(client):
    response = client.post("/simulator/api/send", data="nope", content_type="application/json")
    assert response.status_code == 400
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
