"""The `certificates` collection: one document per certificate, keyed by its code
(`bot/certificates.py` issues them, renders the PDF and serves the verification page)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from bot.store.repository import Repository


class CertificateRecords(Repository):
    """Certificate documents."""

    name = "certificates"

    def ensure_indexes(self) -> None:
        """Codes are unique; one certificate per completion of a course."""
        self.collection.create_index([("code", 1)], unique=True)
        self.collection.create_index(
            [("learner", 1), ("course", 1), ("completed_at", 1)], unique=True
        )

    def of_completion(
        self, key: str, course_id: str, completed_at: datetime
    ) -> dict[str, Any] | None:
        """The certificate issued for this completion of a course, if any."""
        return self.collection.find_one(
            {"learner": key, "course": course_id, "completed_at": completed_at}
        )

    def insert_new(self, cert: Mapping[str, Any]) -> bool:
        """Store a new certificate; False when one for the same completion exists (another
        process issued it a moment ago)."""
        try:
            self.collection.insert_one(dict(cert))
        except DuplicateKeyError:
            return False
        return True

    def latest(self, key: str, course_id: str) -> dict[str, Any] | None:
        """The learner's most recent certificate for a course."""
        found = list(
            self.collection.find({"learner": key, "course": course_id}).sort("issued", -1).limit(1)
        )
        return found[0] if found else None

    def get(self, code: str) -> dict[str, Any] | None:
        """The certificate with this (well-formed) code."""
        return self.collection.find_one({"_id": code})

    def revoke(self, code: str, fields: Mapping[str, Any]) -> bool:
        """Set the revocation `fields` on a certificate not yet revoked; False when there is
        no such code or it was already revoked."""
        result = self.collection.update_one({"_id": code, "revoked": None}, {"$set": dict(fields)})
        return result.matched_count == 1

    def keep_credential(self, code: str, token: str) -> str:
        """Store a certificate's signed credential unless one is stored already (two
        processes signing at once keep the first); the stored one."""
        self.collection.update_one(
            {"_id": code, "credential": None}, {"$set": {"credential": token}}
        )
        stored = self.collection.find_one({"_id": code}, {"credential": 1})
        return str(stored["credential"]) if stored and stored.get("credential") else token

    def latest_of_course(self, course_id: str) -> dict[str, Any] | None:
        """The most recently issued certificate of a course."""
        return self.collection.find_one({"course": course_id}, sort=[("issued", -1)])

    def of_learner(self, key: str) -> list[dict[str, Any]]:
        """Every certificate a learner was issued."""
        return list(self.collection.find({"learner": key}))
