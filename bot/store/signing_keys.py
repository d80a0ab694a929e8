"""The `signing_keys` collection: the Ed25519 keys that sign Open Badges credentials
(`bot/credentials.py`), one document per generation; the newest signs, all stay published."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from bot.store.repository import Repository

PUBLIC_ONLY = {"private_pem": 0}


class SigningKeys(Repository):
    """Signing key documents (`_id`: the key's JWK thumbprint)."""

    name = "signing_keys"

    def ensure_indexes(self) -> None:
        """One key per generation: two processes creating or rotating at once cannot both
        win."""
        self.collection.create_index([("generation", 1)], unique=True)

    def add(self, doc: Mapping[str, Any]) -> bool:
        """Store a new key; False when another process made this generation a moment ago."""
        try:
            self.collection.insert_one(dict(doc))
        except DuplicateKeyError:
            return False
        return True

    def current(self) -> dict[str, Any] | None:
        """The newest key (the one that signs), private part included."""
        return self.collection.find_one({}, sort=[("generation", DESCENDING)])

    def get(self, thumbprint: str, private: bool = False) -> dict[str, Any] | None:
        """A key by thumbprint; its private part only when asked for."""
        return self.collection.find_one({"_id": thumbprint}, None if private else PUBLIC_ONLY)

    def public(self) -> list[dict[str, Any]]:
        """Every key's public part, newest first."""
        return list(self.collection.find({}, PUBLIC_ONLY).sort("generation", DESCENDING))
