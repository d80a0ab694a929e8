"""Linking a learner's second channel with a one-time code (`link`, issue 17).

`link` on channel A issues a code (stored hashed, `bot/store/link_codes.py`); `link 123456`
on channel B attaches B's address to A's learner in the `addresses` index, so B continues
A's progress. Nothing is ever merged: a B that already has progress of its own (or other
addresses of its own) is refused, and the learner is told to ask their trainer. A B
without progress keeps its (empty) document, which is simply never loaded again: the
index sends B's messages to A's learner from then on.

`answer` is idempotent for a replayed effect: a code already used by the same address
answers "linked" again, so a performer that died mid-way repeats nothing harmful.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.store import Store
from bot.store.link_codes import LINK_CODE_MINUTES
from flows.events import Link


def _has_own_account(store: Store, address: str) -> bool:
    """Whether the address is a learner with something to lose: progress in a course, or
    addresses of its own linked to it."""
    doc = store.load(address) or {}
    return bool(doc.get("progress")) or store.addresses.linked_to(address)


def answer(store: Store, key: str, link: Link, now: datetime) -> tuple[str, dict[str, Any]]:
    """Perform a `Link` effect of learner `key` (the learner its address resolved to) and
    say what happened: a message catalog key and its values."""
    if not link.code:
        code = store.link_codes.issue(key, now)
        return "link_code", {"code": code, "minutes": LINK_CODE_MINUTES}
    address = link.address or key
    checked = store.link_codes.check(link.code, address, now)
    if checked.status != "ok":
        return f"link_{checked.status}", {"minutes": LINK_CODE_MINUTES}
    if checked.learner == key:
        return "link_already", {}
    if key != address:  # the address already belongs to another learner
        return "link_taken", {}
    if _has_own_account(store, address):
        return "link_has_progress", {}
    if not store.link_codes.use(link.code, address, now):
        return "link_used", {}
    if not store.addresses.link(address, checked.learner, now):
        return "link_taken", {}
    return "link_done", {}
