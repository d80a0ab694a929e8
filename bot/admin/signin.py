"""Admin always needs a credential: a generated token and one-time sign-in links.

Admin used to be open to "local" requests when `ADMIN_TOKEN` was unset, judged by the
client address and the absence of proxy headers; a same-host reverse proxy that sends
neither (plain `proxy_pass`, or only `X-Real-IP`) made every visitor local. No header is
trusted now. Without `ADMIN_TOKEN` a random token is generated when the app starts (as
notebook servers do) and a one-time sign-in link is printed on the terminal: opening it
signs that browser in once; the code is then spent. The token itself is never printed,
so nothing reusable lands in scroll-back or logs.

Codes are kept hashed in the store's `settings` collection and spent with one atomic
`find_one_and_delete`, so with several workers a link works in whichever worker gets it,
and only once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from bot.config import Config
from bot.store import Store

CODE_TTL = timedelta(hours=24)
SIGNIN_PATH = "/admin/signin/"


def with_credential(config: Config) -> Config:
    """`config` itself when `ADMIN_TOKEN` is set; otherwise a copy carrying a random token
    and a one-time sign-in code (call once per deployment, before forking workers, so
    they all agree)."""
    if config.admin_token:
        return config
    return config.replace(
        admin_token=secrets.token_urlsafe(32),
        admin_token_generated=True,
        admin_signin_code=secrets.token_urlsafe(32),
    )


def signin_link(config: Config, base_url: str = "") -> str:
    """The one-time sign-in link for this start (empty when `ADMIN_TOKEN` is set)."""
    if not config.admin_signin_code:
        return ""
    return (
        f"{(base_url or config.public_base_url).rstrip('/')}{SIGNIN_PATH}{config.admin_signin_code}"
    )


def _id(code: str) -> str:
    return "signin:" + hashlib.sha256(code.encode("utf-8", "replace")).hexdigest()


def register(store: Store, code: str, now: datetime) -> None:
    """Make `code` valid once (idempotent: every worker registers the same code)."""
    store.settings.put_new(_id(code), {"expires": now + CODE_TTL})


def redeem(store: Store, code: str, now: datetime) -> bool:
    """Spend `code`: true exactly once for a registered, unexpired code."""
    doc = store.settings.take(_id(code))
    expires = doc.get("expires") if doc else None
    if expires is None:
        return False
    if expires.tzinfo is None:  # MongoDB hands back naive UTC
        expires = expires.replace(tzinfo=now.tzinfo)
    return expires > now
