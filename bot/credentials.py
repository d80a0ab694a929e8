"""Open Badges 3.0: each certificate is also a signed `OpenBadgeCredential`.

The credential is the OB 3.0 JSON (W3C VC data model 2.0 contexts) secured as a VC-JWT: a
compact JWS (`alg: EdDSA`, Ed25519; `typ: vc+jwt`) whose payload is the credential itself
plus the JWT claims OB 3.0 asks for (`iss`, `jti`, `nbf`, `exp`). It is signed once, when the
certificate is issued (or, for certificates older than this module, the first time anyone
looks at them) and stored on the certificate's document, so the verification page checks the
very bytes that were handed out.

Keys live in the store (`signing_keys`), not in a file in `DATA_DIR`: with MongoDB several
web workers and the clock on several hosts sign, and they must all use and publish the same
keys. The first process to start inserts generation 1; a unique index on `generation` makes
two processes starting at once agree on one key (the loser's insert fails and it reads the
winner's). Rotation inserts the next generation; every older public key stays published so
old credentials still verify. A key's id (`kid`) is the URL that serves its public JWK,
ending in its RFC 7638 thumbprint; verification finds the key by that thumbprint, so a
change of `PUBLIC_BASE_URL` does not break old credentials here.

The holder is never named by a phone number or e-mail address: the subject carries salted
SHA-256 hashes (OB 3.0 `IdentityObject`, `hashed: true`) of the certificate's code and of
the name the certificate prints, which a verifier told the name can check.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, jsonify
from jwcrypto import jwk, jws
from jwcrypto.common import JWException

from bot.certificates import Certificates
from bot.store.certificates import CertificateRecords
from bot.store.signing_keys import SigningKeys

log = logging.getLogger(__name__)

CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]
SCHEMA = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
)
ALG = "EdDSA"
TYP = "vc+jwt"  # VC-JOSE-COSE's media type for a JWT-secured credential
JWT_MEDIA_TYPE = "application/vc+jwt"


def _utc(value: datetime) -> datetime:
    """Stored times come back naive from some backends: they are UTC."""
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def hashed_identity(value: str, identity_type: str, salt: str) -> dict[str, Any]:
    """An OB 3.0 `IdentityObject` for `value`, salted so it cannot be looked up in a table."""
    digest = hashlib.sha256((value + salt).encode("utf-8")).hexdigest()
    return {
        "type": "IdentityObject",
        "identityType": identity_type,
        "hashed": True,
        "identityHash": f"sha256${digest}",
        "salt": salt,
    }


def build_credential(
    cert: Mapping[str, Any], base_url: str, issuer_name: str, salt: str
) -> dict[str, Any]:
    """The `OpenBadgeCredential` for a certificate document, with the JWT claims a VC-JWT
    carries beside it (OB 3.0 §8.2: `iss` = issuer id, `jti` = credential id, `nbf` =
    validFrom, `exp` = validUntil)."""
    credential_id = f"{base_url}/certificates/{cert['code']}"
    issuer_id = f"{base_url}/ob/issuer"
    issued = _utc(cert["issued"])
    credential: dict[str, Any] = {
        "@context": CONTEXT,
        "id": credential_id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": cert["title"],
        "issuer": {"id": issuer_id, "type": ["Profile"], "name": issuer_name, "url": base_url},
        "validFrom": _iso(issued),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                hashed_identity(cert["code"], "systemId", salt),
                hashed_identity(cert["name"], "name", salt),
            ],
            "achievement": {
                "id": f"{base_url}/ob/achievements/{cert['course']}",
                "type": ["Achievement"],
                "achievementType": "Certificate",
                "name": cert["title"],
                "description": f"Awarded for completing the course {cert['course_title']}.",
                "criteria": {
                    "narrative": (
                        f"Completed every session of the course {cert['course_title']} "
                        "and passed its quizzes, where it has any."
                    )
                },
            },
        },
        "credentialSchema": [{"id": SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
        "iss": issuer_id,
        "jti": credential_id,
        "nbf": int(issued.timestamp()),
    }
    if cert.get("expires"):
        expires = _utc(cert["expires"])
        credential["validUntil"] = _iso(expires)
        credential["exp"] = int(expires.timestamp())
    return credential


@dataclass(frozen=True)
class Check:
    """What the verification page says about a certificate's credential: `verified`,
    `invalid` (the stored JWT does not verify with the published key, or says something
    else than the record) or `none` (revoked before it was ever signed)."""

    state: str
    reason: str = ""

    @property
    def verified(self) -> bool:
        return self.state == "verified"


class Credentials:
    """Signing keys (`signing_keys`), and the signed credential of each certificate (the
    `credential` field of its document in `certificates`)."""

    def __init__(
        self, keys: SigningKeys, certificates: CertificateRecords, base_url: str, issuer_name: str
    ) -> None:
        self.keys = keys
        self.certificates = certificates
        self.base_url = base_url.rstrip("/")
        self.issuer_name = issuer_name

    # --- keys ----------------------------------------------------------------------------

    def ensure_indexes(self) -> None:
        """One key per generation: two processes creating or rotating at once cannot both win."""
        self.keys.ensure_indexes()

    def ensure_key(self, now: datetime) -> str:
        """The current key's thumbprint, generating the first key if there is none."""
        current = self._current()
        if current is None:
            self._insert_key(1, now)
            current = self._current()
            assert current is not None
        return str(current["_id"])

    def rotate(self, now: datetime) -> str:
        """Make a new key the signing key; older ones stay published. Returns its thumbprint
        (another process's, if it rotated at the same moment)."""
        current = self._current()
        self._insert_key((current["generation"] if current else 0) + 1, now)
        latest = self._current()
        assert latest is not None
        return str(latest["_id"])

    def _insert_key(self, generation: int, now: datetime) -> None:
        key = jwk.JWK.generate(kty="OKP", crv="Ed25519")
        doc = {
            "_id": key.thumbprint(),
            "generation": generation,
            "public": key.export_public(as_dict=True),
            "private_pem": key.export_to_pem(private_key=True, password=None).decode("ascii"),
            "created": now,
        }
        if self.keys.add(doc):  # else another process made this generation a moment ago
            log.info("credentials: signing key generation %d created", generation)

    def _current(self) -> dict[str, Any] | None:
        return self.keys.current()

    def kid(self, thumbprint: str) -> str:
        """A key's id: the URL of its public JWK."""
        return f"{self.base_url}/ob/keys/{thumbprint}"

    def public_jwk(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        return {**doc["public"], "kid": self.kid(doc["_id"]), "alg": ALG, "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        """Every public key, newest first: old credentials verify after a rotation."""
        return {"keys": [self.public_jwk(doc) for doc in self.keys.public()]}

    def issuer_profile(self) -> dict[str, Any]:
        return {
            "@context": CONTEXT,
            "id": f"{self.base_url}/ob/issuer",
            "type": ["Profile"],
            "name": self.issuer_name,
            "url": self.base_url,
        }

    # --- credentials ---------------------------------------------------------------------

    def sign(self, payload: Mapping[str, Any], now: datetime) -> str:
        """`payload` as a compact VC-JWT signed with the current key."""
        thumbprint = self.ensure_key(now)
        doc = self.keys.get(thumbprint, private=True)
        assert doc is not None
        key = jwk.JWK.from_pem(doc["private_pem"].encode("ascii"))
        token = jws.JWS(json.dumps(payload, separators=(",", ":"), ensure_ascii=False))
        header = {"alg": ALG, "typ": TYP, "kid": self.kid(thumbprint)}
        token.add_signature(key, alg=ALG, protected=json.dumps(header, separators=(",", ":")))
        return str(token.serialize(compact=True))

    def ensure(self, cert: Mapping[str, Any], now: datetime) -> str | None:
        """The certificate's signed credential, signing and storing it if it has none yet
        (safe from two processes: the first stored one is kept). None for a certificate
        revoked before it was ever signed: nothing new is vouched for after a revocation."""
        if cert.get("credential"):
            return str(cert["credential"])
        if cert.get("revoked"):
            return None
        salt = secrets.token_hex(16)
        token = self.sign(build_credential(cert, self.base_url, self.issuer_name, salt), now)
        return self.certificates.keep_credential(cert["_id"], token)

    def verify(self, token: str) -> dict[str, Any] | None:
        """The payload of a VC-JWT signed by one of our keys (current or retired), or None."""
        try:
            parsed = jws.JWS()
            parsed.deserialize(token)
            header = parsed.jose_header
            if header.get("alg") != ALG or not isinstance(header.get("kid"), str):
                return None
            doc = self.keys.get(header["kid"].rsplit("/", 1)[-1])
            if doc is None:
                return None
            parsed.allowed_algs = [ALG]
            parsed.verify(jwk.JWK(**doc["public"]), alg=ALG)
            payload = json.loads(parsed.payload)
        except (JWException, ValueError, TypeError, KeyError):
            return None
        return payload if isinstance(payload, dict) else None

    def check(self, cert: Mapping[str, Any], now: datetime) -> Check:
        """Verify the certificate's stored credential (signing it first when it predates
        this module) and that it says what the record says."""
        token = self.ensure(cert, now)
        if token is None:
            return Check("none")
        payload = self.verify(token)
        if payload is None:
            return Check("invalid", "signature invalid")
        expires = cert.get("expires")
        subject = payload.get("credentialSubject")
        achievement = subject.get("achievement") if isinstance(subject, dict) else None
        agrees = (
            str(payload.get("id", "")).endswith(f"/certificates/{cert['code']}")
            and payload.get("validUntil") == (_iso(expires) if expires else None)
            and isinstance(achievement, dict)
            and achievement.get("name") == cert["title"]
        )
        return Check("verified") if agrees else Check("invalid", "does not match this record")


def blueprint(
    credentials: Credentials, certificates: Certificates, clock: Callable[[], datetime]
) -> Blueprint:
    """The issuer profile and public keys under `PUBLIC_BASE_URL`, and each certificate's
    credential to download: `/certificates/<code>.jwt` (the signed VC-JWT, what wallets and
    verifiers take) and `/certificates/<code>.json` (its payload, the credential as JSON).
    Unknown codes are a plain 404 as on the certificate's page; a revoked one answers 410."""
    bp = Blueprint("credentials", __name__)
    public = {"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"}

    @bp.get("/ob/issuer")
    def issuer():
        return jsonify(credentials.issuer_profile()), 200, public

    @bp.get("/.well-known/jwks.json")
    def jwks():
        return jsonify(credentials.jwks()), 200, public

    @bp.get("/ob/keys/<thumbprint>")
    def key(thumbprint: str):
        doc = credentials.keys.get(thumbprint)
        if doc is None:
            abort(404)
        return jsonify(credentials.public_jwk(doc)), 200, public

    @bp.get("/ob/achievements/<course_id>")
    def achievement(course_id: str):
        cert = credentials.certificates.latest_of_course(course_id)
        if cert is None:
            abort(404)
        payload = build_credential(cert, credentials.base_url, credentials.issuer_name, "")
        return jsonify(payload["credentialSubject"]["achievement"]), 200, public

    def signed(code: str) -> tuple[Mapping[str, Any], str]:
        cert = certificates.by_code(code)
        if cert is None:
            abort(404)
        token = credentials.ensure(cert, clock()) if not cert.get("revoked") else None
        if token is None:
            abort(410)
        return cert, token

    def download(cert: Mapping[str, Any], suffix: str) -> dict[str, str]:
        name = f"credential-{cert['code']}.{suffix}"
        return {
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-cache",
        }

    @bp.get("/certificates/<code>.jwt")
    def credential_jwt(code: str):
        cert, token = signed(code)
        return Response(token, mimetype=JWT_MEDIA_TYPE, headers=download(cert, "jwt"))

    @bp.get("/certificates/<code>.json")
    def credential_json(code: str):
        cert, token = signed(code)
        payload = credentials.verify(token)
        if payload is None:  # a stored credential that no longer verifies is not handed out
            log.error("credentials: the stored credential of %s… does not verify", code[:4])
            abort(409)
        body = json.dumps(payload, indent=2, ensure_ascii=False)
        return Response(body, mimetype="application/json", headers=download(cert, "json"))

    return bp
