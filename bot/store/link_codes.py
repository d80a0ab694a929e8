"""One-time codes that link a learner's second channel (`link`, issue 17).

A code is 6 digits, valid `LINK_CODE_MINUTES`, and never stored in clear: each document
holds a random salt and sha256(salt + code), so a leaked database gives no usable code.
Salted hashes cannot be looked up by value, so redeeming compares the typed code with the
few codes still present (they live 10 minutes; a TTL index on `expires` removes them).

Wrong tries: a wrong code cannot be told apart from a guess at any code, so it counts
against every live code; a code with `MAX_WRONG_TRIES` wrong tries is void. Whoever
guesses thus has at most 5 tries at each code (a chance of 5 in a million), at the price
that someone typing wrong codes voids codes others wait to type (they send `link` again).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument

from bot.store.repository import Repository, aware

LINK_CODE_MINUTES = 10
MAX_WRONG_TRIES = 5
CODE_DIGITS = 6


@dataclass(frozen=True)
class Redeemed:
    """What a typed code turned out to be: `status` is "ok" (this call used it, or it was
    already used by the same address: a replay), "wrong", "expired", "used" or "void";
    `learner` is the code's learner (empty when "wrong")."""

    status: str
    learner: str = ""


def _digest(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


class LinkCodes(Repository):
    """The `link_codes` collection: salted hashes of live one-time codes."""

    name = "link_codes"

    def ensure_indexes(self) -> None:
        """Codes disappear once expired (the TTL monitor runs about once a minute; reads
        check `expires` themselves)."""
        self.collection.create_index([("expires", 1)], expireAfterSeconds=0)

    def issue(self, learner: str, now: datetime) -> str:
        """A new code for `learner`, stored hashed; the code itself is only returned."""
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        salt = secrets.token_hex(16)
        self.collection.insert_one(
            {
                "_id": secrets.token_hex(12),
                "learner": learner,
                "salt": salt,
                "hash": _digest(salt, code),
                "expires": now + timedelta(minutes=LINK_CODE_MINUTES),
                "wrong": 0,
            }
        )
        return code

    def _matching(self, code: str) -> dict[str, Any] | None:
        for doc in self.collection.find({}, {"salt": 1, "hash": 1}):
            if hmac.compare_digest(_digest(str(doc["salt"]), code), str(doc["hash"])):
                found: dict[str, Any] | None = self.collection.find_one({"_id": doc["_id"]})
                return found
        return None

    def check(self, code: str, address: str, now: datetime) -> Redeemed:
        """What `code`, typed from `address`, is, without using it; a wrong code counts
        as a wrong try against every live code."""
        doc = self._matching(code)
        if doc is None:
            self.collection.update_many(
                {"expires": {"$gt": now}, "used_by": None}, {"$inc": {"wrong": 1}}
            )
            return Redeemed("wrong")
        learner = str(doc["learner"])
        if doc.get("used_by"):
            return Redeemed("ok" if doc["used_by"] == address else "used", learner)
        if aware(doc["expires"]) <= now:
            return Redeemed("expired", learner)
        if int(doc.get("wrong", 0)) >= MAX_WRONG_TRIES:
            return Redeemed("void", learner)
        return Redeemed("ok", learner)

    def use(self, code: str, address: str, now: datetime) -> bool:
        """Mark a checked code used by `address`, once: False when another address used
        it (or it expired or became void) since it was checked."""
        doc = self._matching(code)
        if doc is None:
            return False
        if doc.get("used_by") == address:
            return True
        used = self.collection.find_one_and_update(
            {
                "_id": doc["_id"],
                "used_by": None,
                "expires": {"$gt": now},
                "wrong": {"$lt": MAX_WRONG_TRIES},
            },
            {"$set": {"used_by": address, "used_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return used is not None
