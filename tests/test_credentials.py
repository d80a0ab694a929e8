"""Open Badges 3.0 credentials (issue 20): each certificate is a signed OpenBadgeCredential.

Signatures are checked with PyJWT (on `cryptography`'s Ed25519), not with jwcrypto, which
signs them: an independent implementation, fed only what the app publishes (the JWT and the
JWKS). The OB 3.0 JSON schema cannot be fetched offline here, so its required fields are
checked one by one."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from click.testing import CliRunner

from bot import cli
from bot.credentials import CONTEXT, Credentials
from bot.services import Services
from bot.store import Store
from bot.web import create_app
from tests.conftest import STORES, FakeClock, a_store, fresh_data_dir
from tests.test_engagement import KEY, MONDAY, engagement, finish_course, wire

PHONE_KEY = "whatsapp:+15551234567"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY)


@pytest.fixture
def bot(clock: FakeClock) -> Services:
    services, _ = wire(clock)
    return services


def certificate(services: Services, key: str = KEY) -> dict[str, Any]:
    return services.store.db["certificates"].find_one({"learner": key})


def independently_verified(client: Any, token: str) -> dict[str, Any]:
    """The payload, as PyJWT verifies it with the key the app publishes under the JWT's
    `kid` (times are the test clock's, so `exp`/`nbf` are checked by the caller)."""
    kid = jwt.get_unverified_header(token)["kid"]
    keys = jwt.PyJWKSet.from_dict(client.get("/.well-known/jwks.json").get_json())
    key = next(k for k in keys.keys if k.key_id == kid)
    return jwt.decode(
        token,
        key=key.key,
        algorithms=["EdDSA"],
        options={"verify_exp": False, "verify_nbf": False, "require": ["iss", "jti", "nbf"]},
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_credential_verifies_with_an_independent_implementation(bot, clock):
    finish_course(bot, key=PHONE_KEY, name="Zoë Ádám")
    cert = certificate(bot, PHONE_KEY)
    assert cert["credential"]  # signed when it was issued
    client = create_app(bot.config, bot).test_client()
    download = client.get(f"/certificates/{cert['code']}.jwt")
    assert download.status_code == 200 and download.mimetype == "application/vc+jwt"
    assert "attachment" in download.headers["Content-Disposition"]
    token = download.get_data(as_text=True)
    assert token == cert["credential"]

    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["typ"] == "vc+jwt"
    kid_path = urlsplit(header["kid"])
    assert header["kid"].startswith("https://train.example.com/ob/keys/")
    published = client.get(kid_path.path).get_json()  # the kid is the key's own URL
    assert published["kid"] == header["kid"] and published["crv"] == "Ed25519"
    assert "d" not in published  # never the private part

    payload = independently_verified(client, token)
    issued = datetime.fromtimestamp(payload["nbf"], UTC)
    assert issued == clock() and payload["exp"] == int((clock() + timedelta(days=365)).timestamp())
    assert payload["iss"] == payload["issuer"]["id"] == "https://train.example.com/ob/issuer"
    assert (
        payload["jti"] == payload["id"] == f"https://train.example.com/certificates/{cert['code']}"
    )
    # the JSON download is exactly the signed payload
    as_json = client.get(f"/certificates/{cert['code']}.json")
    assert as_json.status_code == 200 and as_json.get_json() == payload
    # the same check by hand: Ed25519 over the JWS signing input with the published x
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    head, body, signature = token.split(".")
    raw = Ed25519PublicKey.from_public_bytes(unb64(published["x"]))
    raw.verify(unb64(signature), f"{head}.{body}".encode())


def test_credential_has_the_fields_open_badges_3_requires_and_no_contact_details(bot, clock):
    finish_course(bot, key=PHONE_KEY, name="Zoë Ádám")
    cert = certificate(bot, PHONE_KEY)
    client = create_app(bot.config, bot).test_client()
    credential = client.get(f"/certificates/{cert['code']}.json").get_json()
    # ob_v3p0_achievementcredential_schema.json: required @context, id, type, issuer,
    # validFrom, credentialSubject; AchievementSubject → achievement → Achievement
    assert (
        credential["@context"][:2]
        == CONTEXT
        == [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ]
    )
    assert {"VerifiableCredential", "OpenBadgeCredential"} <= set(credential["type"])
    assert credential["issuer"]["type"] == ["Profile"] and credential["issuer"]["name"]
    assert credential["validFrom"] == "2026-01-05T09:00:00Z"
    assert credential["validUntil"] == "2027-01-05T09:00:00Z"
    subject = credential["credentialSubject"]
    assert "AchievementSubject" in subject["type"]
    achievement = subject["achievement"]
    assert achievement["id"].startswith("https://")
    assert "Achievement" in achievement["type"]
    assert achievement["name"] == "Certified Solaro Partner"
    assert "Partner Onboarding" in achievement["description"]
    assert achievement["criteria"]["narrative"]
    assert client.get(urlsplit(achievement["id"]).path).get_json() == achievement
    # the holder: salted hashes (of the certificate's code and the printed name) only
    by_type = {i["identityType"]: i for i in subject["identifier"]}
    for identity_type, value in (("systemId", cert["code"]), ("name", "Zoë Ádám")):
        identity = by_type[identity_type]
        assert identity["type"] == "IdentityObject" and identity["hashed"] is True
        digest = hashlib.sha256((value + identity["salt"]).encode()).hexdigest()
        assert identity["identityHash"] == f"sha256${digest}"
    text = json.dumps(credential, ensure_ascii=False) + cert["credential"]
    for secret in ("15551234567", "whatsapp", "Zoë", "Z\\u00eb"):
        assert secret not in text
    # the issuer profile and the keys are published under PUBLIC_BASE_URL
    profile = client.get("/ob/issuer").get_json()
    assert profile["id"] == credential["issuer"]["id"] and profile["type"] == ["Profile"]


def tampered_tokens(token: str) -> dict[str, str]:
    """The token with a claim, the header or the signature changed."""
    head, body, signature = token.split(".")
    payload = json.loads(unb64(body))
    header = json.loads(unb64(head))

    def with_payload(**changes: Any) -> str:
        return f"{head}.{b64(json.dumps({**payload, **changes}).encode())}.{signature}"

    def with_header(**changes: Any) -> str:
        return f"{b64(json.dumps({**header, **changes}).encode())}.{body}.{signature}"

    subject = payload["credentialSubject"]
    middle = len(signature) // 2
    flipped = (
        signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1 :]
    )
    return {
        "name": with_payload(name="Certified Solaro Grandmaster"),
        "validUntil": with_payload(validUntil="2099-01-01T00:00:00Z", exp=4070908800),
        "subject": with_payload(
            credentialSubject={**subject, "achievement": {**subject["achievement"], "name": "X"}}
        ),
        "issuer": with_payload(issuer={**payload["issuer"], "name": "Someone else"}),
        "header typ": with_header(typ="JWT"),
        "header alg none": with_header(alg="none"),
        "header kid": with_header(kid=header["kid"][:-4] + "AAAA"),
        "signature": f"{head}.{body}.{flipped}",
        "signature dropped": f"{head}.{body}.",
    }


def test_any_tampering_fails_independent_verification_and_the_page(bot):
    finish_course(bot)
    cert = certificate(bot)
    client = create_app(bot.config, bot).test_client()
    credentials = engagement(bot).credentials
    assert credentials is not None
    assert independently_verified(client, cert["credential"])["name"] == cert["title"]
    for what, token in tampered_tokens(cert["credential"]).items():
        with pytest.raises((jwt.InvalidTokenError, StopIteration)):
            independently_verified(client, token)
        assert credentials.verify(token) is None, what
        bot.store.db["certificates"].update_one(
            {"_id": cert["_id"]}, {"$set": {"credential": token}}
        )
        body = client.get(f"/certificates/{cert['code']}").get_data(as_text=True)
        assert "<strong>signature invalid</strong>" in body, what
        assert f"{cert['code']}.json" not in body
        assert client.get(f"/certificates/{cert['code']}.json").status_code == 409, what
    # a validly signed credential of another record does not vouch for this one
    bot.store.db["certificates"].update_one(
        {"_id": cert["_id"]}, {"$set": {"credential": cert["credential"], "title": "Forged"}}
    )
    body = client.get(f"/certificates/{cert['code']}").get_data(as_text=True)
    assert "<strong>does not match this record</strong>" in body


def test_page_shows_valid_expired_and_revoked_with_the_signature_check(bot, clock):
    finish_course(bot)
    code = certificate(bot)["code"]
    client = create_app(bot.config, bot).test_client()
    body = client.get(f"/certificates/{code}").get_data(as_text=True)
    assert "Certificate valid" in body and "<strong>signature verified</strong>" in body
    assert f'href="{code}.json"' in body and f'href="{code}.jwt"' in body
    assert "Awarded to <strong>Ada</strong>" in body  # the page's own features stay

    clock.advance(days=366)
    body = client.get(f"/certificates/{code}").get_data(as_text=True)
    assert "Certificate expired" in body and "<strong>signature verified</strong>" in body
    payload = independently_verified(client, certificate(bot)["credential"])
    assert payload["exp"] < clock().timestamp()  # a verifier at this time refuses it too

    assert engagement(bot).certificates.revoke(code, clock())
    body = client.get(f"/certificates/{code}").get_data(as_text=True)
    assert "Certificate revoked" in body and "<strong>signature verified</strong>" in body
    assert f'href="{code}.json"' not in body
    for suffix in (".json", ".jwt"):
        assert client.get(f"/certificates/{code}{suffix}").status_code == 410
    for path in ("/certificates/AAAA-BBBB-CCCC-DDDD.json", "/certificates/nope.jwt"):
        assert client.get(path).status_code == 404


def test_a_certificate_issued_before_credentials_is_signed_when_first_looked_at(bot):
    finish_course(bot)
    cert = certificate(bot)
    certificates = bot.store.db["certificates"]
    certificates.update_one({"_id": cert["_id"]}, {"$unset": {"credential": ""}})
    client = create_app(bot.config, bot).test_client()
    body = client.get(f"/certificates/{cert['code']}").get_data(as_text=True)
    assert "<strong>signature verified</strong>" in body
    stored = certificate(bot)["credential"]
    assert independently_verified(client, stored)["id"].endswith(cert["code"])
    client.get(f"/certificates/{cert['code']}")
    assert certificate(bot)["credential"] == stored  # signed once, then kept
    # revoked before it was ever signed: nothing new is vouched for
    certificates.update_one({"_id": cert["_id"]}, {"$unset": {"credential": ""}})
    assert engagement(bot).certificates.revoke(cert["code"], datetime.now(UTC))
    body = client.get(f"/certificates/{cert['code']}").get_data(as_text=True)
    assert "Certificate revoked" in body and 'id="credential"' not in body
    assert "credential" not in certificate(bot)


def test_rotation_keeps_old_credentials_verifiable(bot, monkeypatch):
    finish_course(bot, key="console:ada")
    old = certificate(bot, "console:ada")["credential"]
    monkeypatch.setattr(
        Store, "connect", classmethod(lambda cls, uri, db="trainbot", **_: bot.store)
    )
    env = {
        "MONGODB_URI": "mongodb://db.invalid/trainbot",
        "PUBLIC_BASE_URL": "https://train.example.com",
    }
    rotated = CliRunner().invoke(cli.main, ["credentials", "rotate-key"], env=env)
    assert rotated.exit_code == 0, rotated.output
    new_kid = rotated.output.split("signing key: ")[1].split()[0]
    finish_course(bot, key="console:bob", name="Bob")
    new = certificate(bot, "console:bob")["credential"]
    assert jwt.get_unverified_header(new)["kid"] == new_kid != jwt.get_unverified_header(old)["kid"]

    client = create_app(bot.config, bot).test_client()
    published = [k["kid"] for k in client.get("/.well-known/jwks.json").get_json()["keys"]]
    assert published == [new_kid, jwt.get_unverified_header(old)["kid"]]  # newest first
    for token in (old, new):
        independently_verified(client, token)
    for key in ("console:ada", "console:bob"):
        code = certificate(bot, key)["code"]
        assert "signature verified" in client.get(f"/certificates/{code}").get_data(as_text=True)


def credentials_of(store: Store) -> Credentials:
    return Credentials(store.signing_keys, store.certificates, "https://a.example", "Trainbot")


@pytest.fixture(params=STORES)
def keys_db(request):
    """Where keys live: embedded, and MongoDB over the wire."""
    with a_store(request, request.param, "trainbot_keys") as store:
        yield store


def test_workers_starting_at_once_agree_on_one_key(keys_db):
    """Processes that all find no key and all generate one: the unique generation keeps
    the first, and the others sign with it."""
    now = datetime.now(UTC)
    workers = [credentials_of(keys_db) for _ in range(4)]
    workers[0].ensure_indexes()
    start = threading.Barrier(len(workers))

    def first_start(credentials: Credentials) -> str:
        start.wait()
        return credentials.ensure_key(now)

    with ThreadPoolExecutor(len(workers)) as pool:
        kept = set(pool.map(first_start, workers))
    assert len(kept) == 1
    workers[1]._insert_key(1, now)  # lost the race after its read: refused, not an error
    assert {w.ensure_key(now) for w in workers} == kept
    assert keys_db.signing_keys.count() == 1


def test_the_key_survives_a_restart_of_the_embedded_store():
    folder = Path(fresh_data_dir())
    store = Store.connect(None, data_dir=folder)
    credentials = credentials_of(store)
    credentials.ensure_indexes()
    kid = credentials.ensure_key(datetime.now(UTC))
    store.close()
    again = Store.connect(None, data_dir=folder)
    try:
        assert credentials_of(again).ensure_key(datetime.now(UTC)) == kid
    finally:
        again.close()
