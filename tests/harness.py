"""The one WhatsApp harness: the Flask app wired to a local fake Twilio API, signing
webhooks the way Twilio does, with a choice of background runner. The WhatsApp channel
tests and the hardening tests both drive it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask.testing import FlaskClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.channels.twilio_http import TwilioHttp
from bot.channels.whatsapp import STATUS_PATH, WEBHOOK_PATH, WhatsAppSender
from bot.config import Config
from bot.conversation import Background, inline
from bot.services import Services, build_services
from bot.store import Store
from bot.web import create_app
from tests.conftest import fresh_data_dir
from tests.fakes.twilio_api import FakeTwilio

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "test-auth-token-0123456789abcdef"
BUSINESS = "whatsapp:+14155238886"
PUBLIC = "https://bot.example.com"
ENROL = "I am a new partner"
ADA = "whatsapp:+2348012345678"


def phone(n: int) -> str:
    return f"whatsapp:+2348{n:09d}"


def env(fake: FakeTwilio, **extra: str) -> dict[str, str]:
    """The WhatsApp channel's variables, pointed at `fake`."""
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_WHATSAPP_FROM": BUSINESS,
        "TWILIO_API_BASE_URL": fake.url,
        "PUBLIC_BASE_URL": PUBLIC,
        **extra,
    }


class Served:
    """The app and its services; `post` and `post_to` sign like Twilio unless told
    otherwise, `say` and `status` post as Ada (`message` numbers her messages)."""

    def __init__(
        self,
        fake: FakeTwilio,
        background: Background = inline,
        store: Store | None = None,
        timeout: float = 10.0,
        **extra: str,
    ) -> None:
        self.fake = fake
        self.config = Config.from_env(
            {**env(fake, **extra), "DATA_DIR": extra.get("DATA_DIR") or fresh_data_dir()},
            dotenv=None,
        )
        client = Client(ACCOUNT, TOKEN, http_client=TwilioHttp(fake.url, timeout))
        sender = WhatsAppSender(self.config, client=client, retry_wait=0.001)
        self.services: Services = build_services(
            self.config, {"whatsapp": sender}, background, store
        )
        self.app = create_app(self.config, self.services)
        self.store = self.services.store
        self.counter = 0

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def metrics(self) -> bytes:
        """The `/metrics` page, read with its token as Prometheus would."""
        config = self.services.config
        token = (config.metrics_token or config.admin_token).get_secret_value()
        headers = {"Authorization": f"Bearer {token}"}
        return self.client().get("/metrics", headers=headers).data

    def sign(self, path: str, params: dict[str, Any], token: str = TOKEN) -> str:
        return RequestValidator(token).compute_signature(PUBLIC + path, params)

    def post(
        self,
        params: dict[str, Any],
        path: str = WEBHOOK_PATH,
        client: FlaskClient | None = None,
        **headers: str,
    ):
        headers = {"X-Twilio-Signature": self.sign(path, params), **headers}
        return (client or self.client()).post(path, data=params, headers=headers)

    def post_to(self, path: str, params: dict[str, Any], signature: str | None = "auto", **kw):
        headers = {} if signature is None else {"X-Twilio-Signature": signature}
        if signature == "auto":
            headers["X-Twilio-Signature"] = self.sign(path, params)
        return self.app.test_client().post(path, data=params, headers=headers, **kw)

    def message(self, body: str = "", sid: str | None = None, frm: str = ADA, **extra: str):
        self.counter += 1
        params = {
            "MessageSid": sid or f"SM{self.counter:032d}",
            "AccountSid": ACCOUNT,
            "From": frm,
            "To": BUSINESS,
            "Body": body,
            "NumMedia": "0",
            "ProfileName": "Ada",
            "WaId": "2348012345678",
            **extra,
        }
        return params

    def say(self, body: str = "", **extra: str):
        response = self.post_to(WEBHOOK_PATH, self.message(body, **extra))
        assert response.status_code == 200, response.data
        return response

    def status(self, sid: str, state: str, code: str = "", to: str = ADA):
        params = {"MessageSid": sid, "MessageStatus": state, "To": to, "From": BUSINESS}
        if code:
            params["ErrorCode"] = code
        return self.post_to(STATUS_PATH, params)

    def learner(self, key: str = ADA) -> dict[str, Any]:
        return self.store.load(key) or {}

    def deliveries(self, key: str = ADA) -> list[dict[str, Any]]:
        return self.store.transcript(key)

    def flush_later(self, clock: Callable[[], datetime]) -> int:
        """Run the clock's retry job as if at `clock()` (backoffs have passed)."""
        self.services.outbox.clock = clock
        return self.services.outbox.flush_due()


def message(sid: int, sender: str, body: str) -> dict[str, str]:
    return {
        "MessageSid": f"SM{sid:032d}",
        "AccountSid": ACCOUNT,
        "From": sender,
        "To": BUSINESS,
        "Body": body,
        "NumMedia": "0",
        "ProfileName": "Ada",
    }


def bodies_to(fake: FakeTwilio, to: str) -> list[str]:
    """What the fake Twilio API accepted for one learner, in arrival order."""
    return [m.get("Body", [""])[0] for m in fake.messages if m.get("To", [""])[0] == to]
