"""A local fake of Twilio's REST API (`POST …/Messages.json`), for the real `twilio` client.

It checks the account's basic auth, records every message it accepts (form fields as lists,
in arrival order) and answers with a JSON message resource. Tests queue failures to make it
answer like Twilio under load (`fail(500)`) or when a recipient cannot be reached
(`fail(400, code=21610)`), and network faults: `hang` (no answer until the client has
timed out; the message is not accepted) and `drop` (the connection closes unanswered).
Provider misbehaviour: `lose` (the message is accepted, the answer never arrives),
`outage` (every request fails while a condition holds, say a hand-moved clock's time) and
`on_request` (runs before each answer: a slow provider advances the bot's clock), and
`refuse` (a recipient Twilio refuses on every send, as after STOP or a block). A `To` that
is neither `whatsapp:+E164` nor `whatsapp:<business-scoped user id>` is refused with
21211, as Twilio refuses an invalid recipient. `GET
…/Messages.json` lists accepted messages, newest first (filters `To`, `From`), as the
real client's `messages.list` asks for them.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# A recipient Twilio takes: a phone number, or Meta's business-scoped user id (BSUID).
RECIPIENT = re.compile(r"^whatsapp:(\+[1-9][0-9]{6,14}|[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128})$")


class FakeTwilio:
    """Start with `with FakeTwilio(sid, token) as fake:`; point `TWILIO_API_BASE_URL` at
    `fake.url`."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid = account_sid
        self.auth = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self.messages: list[dict[str, Any]] = []
        self.requests = 0
        self.targets: list[str] = []  # request targets as sent (absolute through a proxy)
        self.script: deque[tuple[int, int] | tuple[str, float] | None] = deque()
        self.retry_after: str | None = None
        self.down: Callable[[], int | None] = lambda: None  # an outage's status, if any
        self.on_request: Callable[[], None] = lambda: None
        self.lookups = 0
        self.refused: dict[str, int] = {}  # recipient → the error code every send to it gets
        self.changed = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeTwilio:
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(self, status: int, code: int = 20500, times: int = 1) -> None:
        """Answer the next `times` requests (after anything queued before) with an error."""
        self.script.extend([(status, code)] * times)

    def hang(self, seconds: float, times: int = 1) -> None:
        """Keep the next `times` requests waiting `seconds`, then close them unanswered."""
        self.script.extend([("hang", seconds)] * times)

    def drop(self, times: int = 1) -> None:
        """Close the next `times` connections without an answer."""
        self.script.extend([("drop", 0.0)] * times)

    def lose(self, seconds: float, times: int = 1) -> None:
        """Accept the next `times` messages but hold their answers `seconds`, then close
        the connections unanswered (the client times out on a message Twilio has)."""
        self.script.extend([("lose", seconds)] * times)

    def outage(self, status: int, while_: Callable[[], bool]) -> None:
        """Answer every message request with `status` while `while_()` is true."""
        self.down = lambda: status if while_() else None

    def refuse(self, to: str, code: int) -> None:
        """Answer every send to `to` with a 400 carrying `code` (Twilio keeps refusing a
        recipient who replied STOP, 21610, or blocked the business, 63014)."""
        self.refused[to] = code

    def accept(self, times: int = 1) -> None:
        """Let the next `times` requests through (to place a failure after them)."""
        self.script.extend([None] * times)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The accepted messages once there are at least `count` (or when time is up)."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)

    def resource(self, sid: str, form: dict[str, list[str]]) -> dict[str, Any]:
        """The JSON message resource Twilio answers (and lists) for an accepted message."""
        now = datetime.now(UTC)
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "status": "queued",
            "to": form.get("To", [""])[0],
            "from": form.get("From", [""])[0],
            "body": form.get("Body", [""])[0] or form.get("ContentVariables", [""])[0],
            "num_media": str(len(form.get("MediaUrl", []))),
            "date_created": format_datetime(now, usegmt=True),
        }

    def texts(self) -> list[str]:
        return [m.get("Body", [""])[0] for m in self.messages]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as api.twilio.com does
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request: no message, as at Twilio
                    self.close_connection = True
                    return None
                form = parse_qs(body.decode(), keep_blank_values=True)
                expected = f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
                with fake.changed:
                    fake.requests += 1
                    fake.targets.append(self.path)
                    failure = fake.script.popleft() if fake.script else None
                if self.headers.get("Authorization") != fake.auth:
                    return self._json(401, {"code": 20003, "message": "Authenticate"})
                if urlsplit(self.path).path != expected:
                    return self._json(404, {"code": 20404, "message": "Not found"})
                fake.on_request()
                if failure and failure[0] in ("hang", "drop"):
                    time.sleep(failure[1])
                    self.close_connection = True
                    return None
                if failure and failure[0] != "lose":
                    status, code = failure
                    return self._json(status, {"code": code, "message": f"fake error {code}"})
                to = form.get("To", [""])[0]
                if not RECIPIENT.match(to):
                    return self._json(400, {"code": 21211, "message": f"Invalid 'To' {to!r}"})
                if code := fake.refused.get(to):
                    return self._json(400, {"code": code, "message": f"fake refusal {code}"})
                if status := fake.down():
                    return self._json(status, {"code": 20500, "message": "fake outage"})
                sid = "SM" + uuid.uuid4().hex
                resource = fake.resource(sid, form)
                with fake.changed:
                    fake.messages.append({**form, "sid": sid, "resource": resource})
                    fake.changed.notify_all()
                if failure is None or failure[0] != "lose":
                    return self._json(201, resource)
                time.sleep(failure[1])
                self.close_connection = True
                return None

            def do_GET(self) -> None:
                expected = f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
                url = urlsplit(self.path)
                if self.headers.get("Authorization") != fake.auth:
                    return self._json(401, {"code": 20003, "message": "Authenticate"})
                if url.path != expected:
                    return self._json(404, {"code": 20404, "message": "Not found"})
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                with fake.changed:
                    fake.lookups += 1
                    found = [
                        m["resource"]
                        for m in fake.messages
                        if query.get("To", m["resource"]["to"]) == m["resource"]["to"]
                        and query.get("From", m["resource"]["from"]) == m["resource"]["from"]
                    ]
                page = found[-int(query.get("PageSize", 50)) :][::-1]
                self._json(200, {"messages": page, "next_page_uri": None}, bare=True)

            def _json(self, status: int, body: dict[str, Any], bare: bool = False) -> None:
                data = json.dumps(body if bare else {"status": status, **body}).encode()
                self.send_response(status)
                if status == 429 and fake.retry_after is not None:
                    self.send_header("Retry-After", fake.retry_after)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
