"""Who may use the admin pages and API, CSRF tokens, and the security headers.

Admin always needs a credential: the login form (or a one-time sign-in link, see
`bot.admin.signin`) gives a signed session cookie, and the API takes the token as
`Authorization: Bearer`. The token is `ADMIN_TOKEN`, or one generated at start. No
request is trusted for where it seems to come from.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from flask import Flask, request, session

from bot.config import Config

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(hours=12)
MIN_TOKEN = 24  # characters of ADMIN_TOKEN below which start-up warns
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def configure_sessions(app: Flask, config: Config) -> None:
    """Give the app a signing key and strict cookie settings.

    The key is `SECRET_KEY` when set, else derived from the admin token (so every worker
    agrees and rotating the token logs everybody out).
    """
    if app.secret_key:
        return
    token = config.admin_token.get_secret_value()
    if len(token) < MIN_TOKEN:  # a right token is never throttled: see views
        log.warning(
            "admin: ADMIN_TOKEN is shorter than %d characters and could be guessed; use e.g. "
            '`python -c "import secrets; print(secrets.token_urlsafe(32))"`',
            MIN_TOKEN,
        )
    if config.secret_key:
        app.secret_key = config.secret_key.get_secret_value()
    else:
        app.secret_key = hmac.new(
            token.encode(), b"trainbot admin session v1", hashlib.sha256
        ).hexdigest()
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.public_base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )


def token_matches(config: Config, given: str) -> bool:
    """Constant-time comparison with the configured token (never true when unset)."""
    return bool(config.admin_token) and hmac.compare_digest(
        given.encode("utf-8", "replace"), config.admin_token.get_secret_value().encode()
    )


def current_admin() -> str | None:
    """The signed-in admin's name for the audit log, or None."""
    return session.get("admin")


def bearer_ok(config: Config) -> bool:
    """Whether an API request carries the admin token."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return scheme.lower() == "bearer" and token_matches(config, token.strip())


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def csrf_ok() -> bool:
    """Whether the posted form carries this session's token."""
    expected: str | None = session.get("csrf")
    if not expected:
        return False
    given = request.form.get("csrf_token", "")
    return hmac.compare_digest(given.encode(), expected.encode())


def sign_in(name: str) -> None:
    """Start a fresh session (a new CSRF token too, against session fixation)."""
    session.clear()
    session.permanent = True
    session["admin"] = name
    session["csrf"] = secrets.token_urlsafe(32)
