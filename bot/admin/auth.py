"""Who may use the admin pages and API, CSRF tokens, and the security headers.

With `ADMIN_TOKEN` set, the login form exchanges the token for a signed session cookie and
the API takes it as `Authorization: Bearer`. Without it, admin answers only requests made
from this machine (loopback, no proxy header) and shows a warning banner.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import deque
from datetime import timedelta

from flask import Flask, request, session
from pymongo import ReturnDocument

from bot.config import Config
from bot.store import Store

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(hours=12)
LOOPBACK = {"127.0.0.1", "::1"}
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


def configure_sessions(app: Flask, config: Config, store: Store) -> None:
    """Give the app a signing key and strict cookie settings.

    The key is `SECRET_KEY` when set, else derived from `ADMIN_TOKEN` (so every worker
    agrees and rotating the token logs everybody out), else a random key kept in the
    database (localhost mode: workers must still agree on CSRF tokens).
    """
    if app.secret_key:
        return
    explicit = config.extra.get("SECRET_KEY", "").strip()
    if explicit:
        app.secret_key = explicit
    elif config.admin_token:
        app.secret_key = hmac.new(
            config.admin_token.encode(), b"trainbot admin session v1", hashlib.sha256
        ).hexdigest()
    else:
        app.secret_key = _stored_key(store)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.public_base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )


def _stored_key(store: Store) -> str:
    """A random signing key created once and shared through the database."""
    doc = store.db["settings"].find_one_and_update(
        {"_id": "admin_session_key"},
        {"$setOnInsert": {"value": secrets.token_hex(32)}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    return str(doc["value"])


def token_matches(config: Config, given: str) -> bool:
    """Constant-time comparison with the configured token (never true when unset)."""
    return bool(config.admin_token) and hmac.compare_digest(
        given.encode("utf-8", "replace"), config.admin_token.encode()
    )


def is_local_request() -> bool:
    """A request from this machine, not relayed by a proxy (which would hide the client)."""
    relayed = request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded")
    return request.remote_addr in LOOPBACK and not relayed


def current_admin(config: Config) -> str | None:
    """The signed-in admin's name for the audit log, or None."""
    if config.admin_token:
        return session.get("admin")
    return "localhost" if is_local_request() else None


def bearer_ok(config: Config) -> bool:
    """Whether an API request may proceed."""
    if not config.admin_token:
        return is_local_request()
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
    expected = session.get("csrf")
    given = request.form.get("csrf_token", "")
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def sign_in(name: str) -> None:
    """Start a fresh session (a new CSRF token too, against session fixation)."""
    session.clear()
    session.permanent = True
    session["admin"] = name
    session["csrf"] = secrets.token_urlsafe(32)


class LoginThrottle:
    """Refuses sign-in attempts from an address after too many recent failures, so the
    token cannot be guessed online (per process; the token itself should be long)."""

    def __init__(self, limit: int = 5, window: float = 300.0, clock=time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        while failures and failures[0] < self._clock() - self.window:
            failures.popleft()
        return failures

    def blocked(self, address: str) -> bool:
        with self._lock:
            return len(self._recent(address)) >= self.limit

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(self._clock())
            if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
                self._failures.pop(next(iter(self._failures)))

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)
