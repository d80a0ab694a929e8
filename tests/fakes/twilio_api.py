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

Strict where the real service is (the suite must see what only production would):
- **Content templates** live in `templates` (SID → a Content API resource: `types` and
  sample `variables`), served at `GET /v1/Content/{sid}` and `…/ApprovalRequests` as
  content.twilio.com serves them to the real client. A message with a `ContentSid` must
  name a known template and set exactly its variables, none empty: WhatsApp fills an unset
  variable with the template's sample value, so a 10-row list under a 4-option question
  shows six sample rows (refused here with Twilio's 21656, at once). Quick-reply titles
  over 20 characters and list rows over 24 are refused as WhatsApp refuses them.
- **Media:** a `MediaUrl` must be a type WhatsApp takes (JPG/PNG/WEBP images, MP3/OGG/AMR/
  AAC audio, MP4/3GP video, PDF); with `fetch_media` set (URL → Content-Type and size, as
  Twilio fetches the URL) the Content-Type must say the same and the size fit (5 MB
  images, 16 MB otherwise). Twilio accepts such a message and fails it later in a status
  callback (63019); the fake refuses it at once with that code. `shown(m)` is what the
  learner reads: WhatsApp shows no caption on a document or audio.
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

VARIABLE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
INVALID_VARIABLES, MEDIA_FAILED = 21656, 63019
IMAGE_MAX, MEDIA_MAX = 5_000_000, 16_000_000
WHATSAPP_MEDIA = {  # extension → (MIME type, largest size)
    ".jpg": ("image/jpeg", IMAGE_MAX),
    ".jpeg": ("image/jpeg", IMAGE_MAX),
    ".png": ("image/png", IMAGE_MAX),
    ".webp": ("image/webp", IMAGE_MAX),
    ".mp3": ("audio/mpeg", MEDIA_MAX),
    ".ogg": ("audio/ogg", MEDIA_MAX),
    ".amr": ("audio/amr", MEDIA_MAX),
    ".aac": ("audio/aac", MEDIA_MAX),
    ".mp4": ("video/mp4", MEDIA_MAX),
    ".3gp": ("video/3gpp", MEDIA_MAX),
    ".pdf": ("application/pdf", MEDIA_MAX),
}


def quick_reply(buttons: int) -> dict[str, Any]:
    """A Quick reply template: body {{1}}, then title/id pairs from {{2}}."""
    actions = [
        {"title": f"{{{{{2 + 2 * n}}}}}", "id": f"{{{{{3 + 2 * n}}}}}"} for n in range(buttons)
    ]
    return {"twilio/quick-reply": {"body": "{{1}}", "actions": actions}}


def list_picker(items: int) -> dict[str, Any]:
    """A List picker template with exactly `items` rows: body {{1}}, title/id pairs."""
    rows = [{"item": f"{{{{{2 + 2 * n}}}}}", "id": f"{{{{{3 + 2 * n}}}}}"} for n in range(items)]
    return {"twilio/list-picker": {"body": "{{1}}", "button": "Options", "items": rows}}


def text(body: str) -> dict[str, Any]:
    return {"twilio/text": {"body": body}}


NOTIFY = "📚 News from your training: {{1}} Reply *menu* to continue."
# The templates the README tells operators to create, under the SIDs tests configure.
STANDARD = {
    "HXone": quick_reply(1),
    "HXtwo": quick_reply(2),
    "HXthree": quick_reply(3),
    **{f"HXlist{n}": list_picker(n) for n in range(4, 11)},
    "HXnotify": text(NOTIFY),
}
STANDARD_SIDS = ",".join(
    ["quick_reply_1=HXone", "quick_reply_2=HXtwo", "quick_reply_3=HXthree"]
    + [f"list_{n}=HXlist{n}" for n in range(4, 11)]
    + ["notify=HXnotify"]
)


def variables_of(types: Any) -> set[str]:
    """Every `{{n}}` a template's types use."""
    return set(VARIABLE.findall(json.dumps(types)))


def fill(text: str, values: dict[str, Any]) -> str:
    """`text` with its `{{n}}` filled from `values`."""
    return VARIABLE.sub(lambda m: str(values.get(m.group(1), "")), text)


def render(types: dict[str, Any], values: dict[str, Any]) -> str:
    """The body text of a template (its first type's `body`), filled from `values`."""
    return fill(next((str(t.get("body", "")) for t in types.values()), ""), values)


def _suffix(url: str) -> str:
    path = urlsplit(url).path.lower()
    return path[path.rfind(".") :] if "." in path.rsplit("/", 1)[-1] else ""


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
        # Content templates by SID, and their WhatsApp approval status (see the docstring).
        self.templates: dict[str, dict[str, Any]] = {sid: dict(t) for sid, t in STANDARD.items()}
        self.approvals: dict[str, str] = {sid: "approved" for sid in STANDARD}
        self.content_lookups = 0
        self.fetch_media: Callable[[str], tuple[str, int] | None] | None = None
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
            "body": self._body(form),
            "num_media": str(len(form.get("MediaUrl", []))),
            "date_created": format_datetime(now, usegmt=True),
        }

    def _body(self, form: dict[str, list[str]]) -> str:
        """The body Twilio keeps: a template's text with its variables filled in."""
        sid = form.get("ContentSid", [""])[0]
        if sid in self.templates:
            try:
                return render(self.templates[sid], json.loads(form["ContentVariables"][0]))
            except (KeyError, ValueError):
                return ""
        return str(form.get("Body", [""])[0])

    def texts(self) -> list[str]:
        return [m.get("Body", [""])[0] for m in self.messages]

    def shown(self, message: dict[str, Any]) -> str:
        """The text a learner reads of an accepted message: a template rendered with its
        variables; no caption under a document or audio."""
        if sid := message.get("ContentSid", [""])[0]:
            return render(self.templates[sid], json.loads(message["ContentVariables"][0]))
        media = message.get("MediaUrl", [])
        kind = WHATSAPP_MEDIA.get(_suffix(media[0])) if media else None
        if kind and not kind[0].startswith(("image/", "video/")):
            return ""
        return str(message.get("Body", [""])[0])

    def refusal(self, form: dict[str, list[str]]) -> tuple[int, str] | None:
        """What Twilio or WhatsApp refuses in a send's parameters: (error code, message)."""
        if sid := form.get("ContentSid", [""])[0]:
            return self._content_refusal(sid, form.get("ContentVariables", ["{}"])[0])
        for url in form.get("MediaUrl", []):
            if refused := self._media_refusal(url):
                return MEDIA_FAILED, refused
        return None

    def _media_refusal(self, url: str) -> str | None:
        """Why WhatsApp would fail this media: its type by extension, and by what the URL
        serves when `fetch_media` can fetch it (an address without an extension is judged
        by its Content-Type alone, as Twilio does)."""
        suffix = _suffix(url)
        kind = WHATSAPP_MEDIA.get(suffix)
        if suffix and kind is None:
            return f"WhatsApp does not take {suffix} media"
        fetched = self.fetch_media(url) if self.fetch_media else None
        if fetched is None:
            return None
        mime, size = fetched[0].split(";")[0].strip(), fetched[1]
        limits = {m: limit for m, limit in WHATSAPP_MEDIA.values()}
        if mime not in limits or (kind and kind[0] != mime):
            return f"WhatsApp does not take {mime} media served for {suffix or url}"
        if size > limits[mime]:
            return f"{size} bytes is over {limits[mime]} for {mime}"
        return None

    def _content_refusal(self, sid: str, raw: str) -> tuple[int, str] | None:
        template = self.templates.get(sid)
        if template is None:
            return 21655, f"ContentSid {sid} is invalid"
        try:
            values = json.loads(raw)
        except ValueError:
            return INVALID_VARIABLES, "ContentVariables is not JSON"
        if not isinstance(values, dict):
            return INVALID_VARIABLES, "ContentVariables is not a JSON object"
        wanted = variables_of(template)
        if unset := sorted(wanted - set(values), key=int):
            return INVALID_VARIABLES, f"unset {unset}: WhatsApp would show the sample values"
        if unknown := sorted(set(values) - wanted):
            return INVALID_VARIABLES, f"the template has no variables {unknown}"
        if empty := sorted(k for k, v in values.items() if not str(v).strip()):
            return INVALID_VARIABLES, f"empty variables {empty}"
        for kind, fields, limit in (
            ("twilio/quick-reply", "actions", 20),
            ("twilio/list-picker", "items", 24),
        ):
            for row in template.get(kind, {}).get(fields, []):
                title = fill(str(row.get("title") or row.get("item")), values)
                if len(title) > limit:
                    return INVALID_VARIABLES, f"{kind} title over {limit}: {title!r}"
        return None

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
                if refused := fake.refusal(form):
                    return self._json(400, {"code": refused[0], "message": refused[1]})
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
                if url.path.startswith("/v1/Content/"):
                    return self._content(url.path.split("/")[3:])
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

            def _content(self, rest: list[str]) -> None:
                """content.twilio.com: a template, or its WhatsApp approval."""
                sid = rest[0] if rest else ""
                with fake.changed:
                    fake.content_lookups += 1
                    template = fake.templates.get(sid)
                if template is None or rest[1:] not in ([], ["ApprovalRequests"]):
                    return self._json(404, {"code": 20404, "message": "Not found"})
                if rest[1:]:
                    status = fake.approvals.get(sid, "unsubmitted")
                    whatsapp = {"status": status, "category": "UTILITY", "name": sid.lower()}
                    return self._json(200, {"sid": sid, "whatsapp": whatsapp}, bare=True)
                samples = {n: f"sample {n}" for n in sorted(variables_of(template), key=int)}
                resource = {
                    "sid": sid,
                    "account_sid": fake.account_sid,
                    "friendly_name": sid.lower(),
                    "language": "en",
                    "variables": samples,
                    "types": template,
                    "url": f"https://content.twilio.com/v1/Content/{sid}",
                }
                return self._json(200, resource, bare=True)

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
