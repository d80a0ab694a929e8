"""Issue 20: outgoing webhooks. A learner completing a course (and getting its certificate)
makes `course.completed` and `certificate.issued` POSTs to a real HTTP receiver on
127.0.0.1 that checks the Stripe-style signature as the README tells receivers to; the
receiver fails the first attempts (retries with backoff proven), is down (connection
refused), and the bot is restarted on the same data directory in between: nothing is lost
or sent as another event."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import Config, ConfigError
from bot.scheduler import jobs
from bot.services import Services, build_services
from bot.webhooks import backoff, event_id, sign
from flows.events import CourseCompleted, Inbound
from tests.admin_app import make_app
from tests.conftest import FakeClock, fresh_data_dir, quizless_sample
from tests.test_admin import login

SECRET = "whsec-test-0123456789"
KEY = "console:ada"
COURSE = "partner-onboarding"
T0 = datetime.fromisoformat("2026-03-02T09:00:00+00:00")


def verified(secret: str, header: str, body: bytes, now: float, tolerance: int = 300) -> bool:
    """The README's receiver check (Outgoing webhooks), with the time passed in."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    t = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(now - t) <= tolerance


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers 503 to the first `fail_first` attempts of
    each event, then 204; refuses (401) anything whose signature does not verify."""

    clock: Callable[[], datetime]
    fail_first: int = 0
    received: list[dict] = field(default_factory=list)
    port: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = verified(
                    SECRET,
                    self.headers.get("Trainbot-Signature", "t=0,v1="),
                    body,
                    receiver.clock().timestamp(),
                )
                event = self.headers.get("Trainbot-Event-Id", "")
                tries = sum(1 for r in receiver.received if r["event"] == event) + 1
                status = 401 if not ok else 503 if tries <= receiver.fail_first else 204
                receiver.received.append(
                    {"event": event, "body": body, "status": status, "headers": dict(self.headers)}
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        """Down: the port refuses connections until `start` again."""
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    def delivered(self) -> list[dict]:
        return [r for r in self.received if r["status"] == 204]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def receiver(clock: FakeClock) -> Iterator[Receiver]:
    server = Receiver(clock)
    server.start()
    yield server
    server.stop()


def bot(clock: FakeClock, urls: str, data_dir: str = ":memory:") -> Services:
    config = Config.from_env(
        {
            "PUBLIC_BASE_URL": "https://train.example.com",
            "WEBHOOK_URLS": urls,
            "WEBHOOK_SECRET": SECRET,
            "DATA_DIR": data_dir,
        },
        None,
    )
    config = config.replace(content_dir=quizless_sample())  # `next` walks to the end
    return build_services(config, {"console": _Silent()}, clock=clock)


class _Silent:
    def send(self, learner: object, reply: object) -> None:
        return None


def finish_course(services: Services) -> None:
    for text in ("I am a new partner", *["next"] * 7):
        services.conversations.handle(Inbound(key=KEY, channel="console", text=text, name="Ada"))


def records(services: Services) -> list[dict]:
    assert services.webhooks is not None
    return sorted(services.webhooks.records.collection.find({}), key=lambda r: r["type"])


def tick(services: Services) -> int:
    """The clock's `webhooks` job, as the scheduler runs it."""
    return int(jobs(services)["webhooks"]())


def test_completion_is_posted_signed_and_retried_with_backoff(clock, receiver):
    receiver.fail_first = 2
    services = bot(clock, receiver.url)
    finish_course(services)
    kinds = [r["type"] for r in records(services)]
    assert kinds == ["certificate.issued", "course.completed"]
    assert tick(services) == 2  # both attempted: 503
    assert [r["status"] for r in records(services)] == ["pending", "pending"]
    assert {r["last_error"][:8] for r in records(services)} == {"HTTP 503"}
    clock.advance(seconds=9)
    assert tick(services) == 0  # the first retry waits 10 s
    clock.advance(seconds=1)
    assert tick(services) == 2  # 503 again
    clock.advance(seconds=19)
    assert tick(services) == 0  # the second waits 20 s
    clock.advance(seconds=1)
    assert tick(services) == 2
    assert [(r["status"], r["attempts"], r["last_code"]) for r in records(services)] == [
        ("delivered", 3, 204),
        ("delivered", 3, 204),
    ]
    assert len(receiver.received) == 6 and len(receiver.delivered()) == 2
    # every attempt of an event: the same id and the same bytes, each signed anew
    for event in {r["event"] for r in receiver.received}:
        attempts = [r for r in receiver.received if r["event"] == event]
        assert len({r["body"] for r in attempts}) == 1
        assert len({r["headers"]["Trainbot-Signature"] for r in attempts}) == 3
    clock.advance(hours=5)
    assert tick(services) == 0  # delivered is done


def test_the_events_say_what_happened(clock, receiver):
    services = bot(clock, receiver.url)
    finish_course(services)
    tick(services)
    bodies = {json.loads(r["body"])["type"]: json.loads(r["body"]) for r in receiver.delivered()}
    cert = services.store.db["certificates"].find_one({"learner": KEY})
    completed = bodies["course.completed"]
    assert completed["data"]["learner"] == {"key": KEY, "name": "Ada"}
    assert completed["data"]["course"] == {"id": COURSE, "title": "Partner Onboarding"}
    assert completed["data"]["completed_at"] == "2026-03-02T09:00:00Z"
    issued = bodies["certificate.issued"]["data"]["certificate"]
    assert issued["code"] == cert["code"]
    assert issued["url"] == f"https://train.example.com/certificates/{cert['code']}.pdf"
    assert issued["verify_url"] == f"https://train.example.com/certificates/{cert['code']}"
    for body in bodies.values():
        [headers] = [r["headers"] for r in receiver.delivered() if r["event"] == body["id"]]
        assert headers["Trainbot-Event-Type"] == body["type"]
        assert headers["Content-Type"] == "application/json"
    assert bodies["certificate.issued"]["id"] == event_id("certificate.issued", cert["code"])


def test_an_event_is_recorded_once_however_often_it_happens(clock, receiver):
    """The effect performed again (a crashed performer), the learner asking for the
    certificate again: still one event each, with the same id."""
    services = bot(clock, receiver.url)
    finish_course(services)
    before = [(r["_id"], r["event_id"]) for r in records(services)]
    assert services.engagement is not None
    services.engagement.on_effect(KEY, CourseCompleted(COURSE))
    services.conversations.handle(Inbound(key=KEY, channel="console", text="certificate"))
    assert [(r["_id"], r["event_id"]) for r in records(services)] == before
    tick(services)
    assert len(receiver.delivered()) == 2


def test_a_bad_signature_is_refused_by_the_receiver(clock, receiver):
    body = b'{"id":"x"}'
    now = int(clock().timestamp())
    good = sign(SECRET, now, body)
    assert verified(SECRET, good, body, now)
    assert not verified("other-secret", good, body, now)
    assert not verified(SECRET, good, body + b" ", now)
    assert not verified(SECRET, good, body, now + 301)  # a replay after 5 minutes
    services = bot(clock, receiver.url)
    assert services.webhooks is not None
    services.webhooks.secret = "not-what-the-receiver-expects"
    finish_course(services)
    tick(services)
    assert {r["last_code"] for r in records(services)} == {401}
    assert {r["status"] for r in records(services)} == {"pending"}  # retried later


def test_pending_deliveries_survive_a_restart_while_the_receiver_is_down(clock, receiver):
    data_dir = fresh_data_dir()
    receiver.stop()  # down: connection refused
    services = bot(clock, receiver.url, data_dir)
    finish_course(services)
    assert tick(services) == 2
    failed = records(services)
    assert all(r["status"] == "pending" and r["last_code"] is None for r in failed)
    assert all("Error" in r["last_error"] for r in failed)  # refused, recorded
    services.store.close()
    clock.advance(minutes=1)
    receiver.start()  # up again, on the same port
    again = bot(clock, receiver.url, data_dir)  # a new process on the same DATA_DIR
    assert [r["_id"] for r in records(again)] == [r["_id"] for r in failed]
    assert tick(again) == 2
    assert [(r["status"], r["attempts"]) for r in records(again)] == [("delivered", 2)] * 2
    assert len(receiver.delivered()) == 2
    again.store.close()


def test_retries_stop_after_three_days_and_an_admin_can_retry(clock, receiver):
    receiver.fail_first = 10_000
    services = bot(clock, receiver.url)
    finish_course(services)
    attempts = 0
    while any(r["status"] == "pending" for r in records(services)):
        tick(services)
        attempts += 1
        clock.advance(hours=1)
    assert {r["status"] for r in records(services)} == {"failed"}
    assert 70 <= attempts <= 80  # 3 days, an hour apart once the gaps reach the cap
    assert backoff(1) == timedelta(seconds=10) and backoff(50) == timedelta(hours=1)
    assert services.webhooks is not None
    receiver.fail_first = 0
    receiver.received.clear()
    for record in records(services):
        assert services.webhooks.retry(record["_id"])
    tick(services)
    assert {r["status"] for r in records(services)} == {"delivered"}
    assert len(receiver.delivered()) == 2


def test_nothing_is_recorded_without_webhook_urls(clock):
    services = bot(clock, "")
    finish_course(services)
    assert records(services) == []
    assert tick(services) == 0


@pytest.mark.parametrize(
    "urls",
    ["ftp://files.example.com/in", "file:///etc/passwd", "javascript:alert(1)", "example.com/x"],
)
def test_urls_that_are_not_http_are_refused_at_start(urls):
    environ = {"WEBHOOK_URLS": f"https://ok.example.com/h, {urls}", "WEBHOOK_SECRET": SECRET}
    with pytest.raises(
        ConfigError, match=r"WEBHOOK_URLS is not valid: expected http:// or https://"
    ):
        Config.from_env(environ, None)
    result = CliRunner().invoke(main, ["clock", "--once"], env=environ)
    assert result.exit_code == 1
    assert "WEBHOOK_URLS is not valid" in result.output and "Traceback" not in result.output


def test_urls_without_a_secret_are_refused_at_start():
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET"):
        Config.from_env({"WEBHOOK_URLS": "https://hooks.example.com/x"}, None)
    config = Config.from_env(
        {
            "WEBHOOK_URLS": " https://a.example.com/1 ,http://b.example.com:8080/2",
            "WEBHOOK_SECRET": "s",
        },
        None,
    )
    assert config.webhook_urls == ("https://a.example.com/1", "http://b.example.com:8080/2")


def test_the_admin_page_lists_deliveries_and_retries_a_failed_one(tmp_path: Path, receiver):
    app, services, _ = make_app(tmp_path)
    hooks = services.webhooks
    assert hooks is not None
    hooks.urls, hooks.secret = (receiver.url,), SECRET
    hooks.clock = receiver.clock
    course = services.library.current().get("demo")
    assert course is not None
    receiver.fail_first = 1
    hooks.course_completed("web:grace", "Grace", course, receiver.clock())
    hooks.run_due()
    client = app.test_client()
    csrf = login(client)
    page = client.get("/admin/webhooks").get_data(as_text=True)
    assert "course.completed" in page and receiver.url in page
    assert 'data-status="pending"' in page and "HTTP 503" in page
    [record] = list(hooks.records.collection.find({}))
    response = client.post(
        "/admin/webhooks/retry", data={"csrf_token": csrf, "delivery": record["_id"]}
    )
    assert response.status_code == 302
    hooks.run_due()
    page = client.get("/admin/webhooks").get_data(as_text=True)
    assert 'data-status="delivered"' in page
    assert "retry webhook" in client.get("/admin/audit").get_data(as_text=True)
    again = client.post("/admin/webhooks/retry", data={"csrf_token": csrf, "delivery": "nope"})
    assert again.status_code == 302  # refused with a message, nothing changed
    refused = client.post("/admin/webhooks/retry", data={"delivery": record["_id"]})
    assert refused.status_code == 400  # no CSRF token


def test_a_receiver_taken_out_of_the_urls_gets_nothing_more(clock, receiver):
    services = bot(clock, receiver.url)
    finish_course(services)
    assert services.webhooks is not None
    services.webhooks.urls = ("https://other.example.com/hooks",)
    assert tick(services) == 0 and receiver.received == []
    services.webhooks.urls = (receiver.url,)
    assert tick(services) == 2 and len(receiver.delivered()) == 2
