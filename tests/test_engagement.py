"""Reminders, certificates and digests through the real pipeline (store, outbox, jobs) with
an injected clock: the ladder, opt-out races, two clocks, crashed clocks, clock skew."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
from pypdf import PdfReader

from bot.config import Config, ConfigError
from bot.engagement import Engagement
from bot.outbox import reply_from_doc
from bot.services import Services, build_services
from bot.store import Store
from bot.store.jobs import Jobs
from bot.web import create_app
from flows.events import Inbound, Reply
from tests.conftest import STORES, FakeClock, a_store, quizless_sample

KEY = "console:ada"
MONDAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # 10:00 in Lagos, the sample course's zone


class Recorder:
    """A channel sender that remembers what it sent and when."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[tuple[datetime, str, Reply]] = []
        self.lock = threading.Lock()

    def send(self, learner: Mapping[str, Any], reply: Reply) -> str | None:
        with self.lock:
            self.sent.append((self.clock(), learner["_id"], reply))
        return None

    def texts(self, key: str = KEY) -> list[str]:
        return [r.text for _, k, r in self.sent if k == key]

    def reminders(self, key: str = KEY) -> list[tuple[datetime, str]]:
        return [(at, r.text) for at, k, r in self.sent if k == key and r.proactive]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY)


def wire(clock: FakeClock, store: Store | None = None, **extra: str) -> tuple[Services, Recorder]:
    config = Config.from_env({"PUBLIC_BASE_URL": "https://train.example.com", **extra}, None)
    config = config.replace(content_dir=quizless_sample())  # `next` walks to the end
    recorder = Recorder(clock)
    services = build_services(
        config, {"console": recorder}, store=store or Store.connect(None), clock=clock
    )
    return services, recorder


@pytest.fixture
def bot(clock: FakeClock) -> tuple[Services, Recorder]:
    return wire(clock)


def say(services: Services, text: str, key: str = KEY, name: str = "Ada") -> None:
    services.conversations.handle(Inbound(key=key, channel="console", text=text, name=name))


def engagement(services: Services) -> Engagement:
    assert services.engagement is not None
    return services.engagement


def run_for(services: Services, clock: FakeClock, hours: int) -> None:
    """Let `hours` of simulated time pass, running each job the moment it falls due."""
    target = clock() + timedelta(hours=hours)
    for _ in range(1000):
        upcoming = engagement(services).jobs.next_due()
        if upcoming is None or upcoming > target:
            break
        clock.now = max(clock.now, upcoming)
        engagement(services).run_due()
    clock.now = target
    engagement(services).run_due()


# --- the reminder ladder ---------------------------------------------------------------


def test_ladder_sends_each_rung_once_then_stays_quiet(bot, clock):
    services, recorder = bot
    say(services, "I am a new partner")
    say(services, "next")
    run_for(services, clock, 24 * 30)
    reminders = recorder.reminders()
    assert [at - MONDAY for at, _ in reminders] == [
        timedelta(hours=24),
        timedelta(hours=72),
        timedelta(hours=168),
    ]
    first = reminders[0][1]
    assert first.startswith("👋 Ada, session 2 of 7 is waiting: **The three Solaro kits**")
    assert "last reminder" in reminders[2][1]


def test_writing_again_restarts_the_ladder(bot, clock):
    services, recorder = bot
    say(services, "I am a new partner")
    run_for(services, clock, 30)
    assert len(recorder.reminders()) == 1
    say(services, "menu")  # at MONDAY + 30 h
    run_for(services, clock, 23)
    assert len(recorder.reminders()) == 1
    run_for(services, clock, 1)
    assert [at - MONDAY for at, _ in recorder.reminders()] == [
        timedelta(hours=24),
        timedelta(hours=54),
    ]


def test_reminder_due_in_quiet_hours_goes_out_when_they_end(clock):
    clock.now = datetime(2026, 1, 5, 19, 0, tzinfo=UTC)  # 20:00 in Lagos: quiet begins
    services, recorder = wire(clock)
    say(services, "I am a new partner")
    run_for(services, clock, 40)
    assert [at for at, _ in recorder.reminders()] == [datetime(2026, 1, 7, 7, 0, tzinfo=UTC)]


def test_learner_time_zone_and_dst_through_the_pipeline(clock):
    clock.now = datetime(2026, 3, 28, 18, 0, tzinfo=UTC)  # Sat 19:00 in Berlin (CET)
    services, recorder = wire(clock)
    say(services, "I am a new partner")
    say(services, "timezone Europe/Berlin")
    run_for(services, clock, 40)
    # 24 h later is 20:00 CEST (summer time began): quiet, so Monday 08:00 CEST.
    assert [at for at, _ in recorder.reminders()] == [datetime(2026, 3, 30, 6, 0, tzinfo=UTC)]


def test_paused_completed_and_stopped_learners_get_no_reminders(bot, clock):
    services, recorder = bot
    say(services, "I am a new partner", key="console:a")
    say(services, "exit", key="console:a")
    say(services, "I am a new partner", key="console:b")
    say(services, "STOP", key="console:b")
    say(services, "I am a new partner", key="console:c")
    for _ in range(7):
        say(services, "next", key="console:c")
    run_for(services, clock, 24 * 9)
    assert [k for _, k, r in recorder.sent if r.proactive] == []


def test_start_after_stop_allows_reminders_again(bot, clock):
    services, recorder = bot
    say(services, "I am a new partner")
    say(services, "STOP")
    say(services, "START")
    run_for(services, clock, 25)
    assert len(recorder.reminders()) == 1


# --- opt-out races ---------------------------------------------------------------------


def test_stop_committed_while_the_reminder_is_being_decided(bot, clock, monkeypatch):
    services, recorder = bot
    say(services, "I am a new partner")
    clock.advance(hours=24)
    store = services.store
    real_load = store.load
    raced = []

    def load_then_stop(key: str):
        doc = real_load(key)
        if not raced:  # the learner's STOP lands right after the reminder read the state
            raced.append(True)
            say(services, "STOP")
        return doc

    monkeypatch.setattr(store, "load", load_then_stop)
    lines = engagement(services).run_due()
    monkeypatch.setattr(store, "load", real_load)
    assert raced and recorder.reminders() == []
    assert "STOP" in "".join(lines) or "skipped" in "".join(lines)
    assert recorder.texts()[-1].startswith("🔕")
    assert real_load(KEY)["opted_out"] is True


def test_stop_after_the_reminder_was_queued_suppresses_it(bot, clock, monkeypatch, caplog):
    services, recorder = bot
    say(services, "I am a new partner")
    clock.advance(hours=24)
    caplog.set_level(logging.INFO, logger="bot.outbox")
    monkeypatch.setattr(services.outbox, "flush", lambda key: 0)  # queued, not yet sent
    engagement(services).run_due()
    monkeypatch.undo()
    assert any(e["reply"].get("proactive") for e in services.store.load(KEY)["outbox"])
    say(services, "STOP")  # delivers the queue: the reminder must not go out
    assert recorder.reminders() == []
    assert recorder.texts()[-1].startswith("🔕")
    assert "suppressed (STOP)" in caplog.text
    assert services.store.load(KEY)["outbox"] == []


# --- jobs: two clocks, crashed clocks, skew --------------------------------------------


def test_two_clocks_on_the_same_store_never_double_send(clock):
    services, recorder = wire(clock)
    other, other_recorder = wire(clock, store=services.store)
    learners = [f"console:l{i}" for i in range(12)]
    for key in learners:
        say(services, "I am a new partner", key=key)
    clock.advance(hours=24)
    barrier = threading.Barrier(2)
    results: list[list[str]] = []

    def tick(s: Services) -> None:
        barrier.wait()
        results.append(engagement(s).run_due())

    threads = [threading.Thread(target=tick, args=(s,)) for s in (services, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    sent = [k for _, k, r in recorder.sent + other_recorder.sent if r.proactive]
    assert sorted(sent) == sorted(learners)  # each learner exactly once
    assert sum(len(r) for r in results) >= len(learners)


@pytest.fixture(params=STORES)
def jobs_db(request):
    """The jobs collection's database: embedded, and MongoDB over the wire."""
    with a_store(request, request.param, "trainbot_jobs") as store:
        yield store.db


def test_concurrent_claims_take_each_job_once(jobs_db):
    jobs = [Jobs(jobs_db), Jobs(jobs_db)]
    for i in range(40):
        jobs[0].schedule(f"job{i}", "noop", MONDAY, {})
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(j: Jobs) -> None:
        while (job := j.claim(MONDAY + timedelta(minutes=1))) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=worker, args=(jobs[i % 2],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(claimed) == sorted(f"job{i}" for i in range(40))


def test_crashed_clocks_job_is_reclaimed_after_the_lease(jobs_db):
    jobs = Jobs(jobs_db, lease=timedelta(minutes=5))
    jobs.schedule("j", "noop", MONDAY, {"x": 1})
    crashed = jobs.claim(MONDAY)  # this clock dies without finishing
    assert crashed is not None and crashed.attempts == 1
    assert jobs.claim(MONDAY + timedelta(minutes=4)) is None  # lease still held
    again = jobs.claim(MONDAY + timedelta(minutes=6))
    assert again is not None and again.attempts == 2 and again.claim != crashed.claim
    jobs.finish(crashed, MONDAY, "late")  # the old claim can no longer finish it
    assert jobs.get("j")["status"] == "running"
    jobs.finish(again, MONDAY, "ok")
    assert jobs.get("j")["status"] == "done"


def test_rescheduling_a_running_job_keeps_the_new_schedule(jobs_db):
    jobs = Jobs(jobs_db)
    jobs.schedule("j", "noop", MONDAY, {})
    running = jobs.claim(MONDAY)
    jobs.schedule("j", "noop", MONDAY + timedelta(days=1), {})  # the learner wrote meanwhile
    jobs.finish(running, MONDAY, "ok")
    assert jobs.get("j")["status"] == "pending"
    assert jobs.get("j")["due"].replace(tzinfo=UTC) == MONDAY + timedelta(days=1)


def test_failing_handler_is_retried_with_backoff_then_given_up(jobs_db):
    jobs = Jobs(jobs_db, max_attempts=2)
    jobs.schedule("j", "boom", MONDAY, {})

    def boom(job, now):
        raise RuntimeError("provider down")

    assert "failed" in jobs.run_due(MONDAY, {"boom": boom})[0]
    assert jobs.get("j")["status"] == "pending"
    assert jobs.run_due(MONDAY, {"boom": boom}) == []  # backing off
    jobs.run_due(MONDAY + timedelta(minutes=2), {"boom": boom})
    assert jobs.get("j")["status"] == "failed"
    assert jobs.run_due(MONDAY + timedelta(days=1), {}) == []


def test_clock_skew_beyond_the_lease_still_sends_once(clock):
    services, recorder = wire(clock)
    say(services, "I am a new partner")
    clock.advance(hours=24)
    slow = engagement(services)
    stalled = slow.jobs.claim(clock())  # clock A claims the reminder, then stalls
    # Clock B runs 10 minutes fast (more than the lease): to it, A's lease has run out.
    ahead = FakeClock(clock() + timedelta(minutes=10))
    fast, fast_recorder = wire(ahead, store=services.store)
    assert any("sent reminder 1" in line for line in engagement(fast).run_due())
    # A wakes up and runs its stale claim: the learner document says it was sent.
    assert "already reminded" in slow.handlers()["reminder"](stalled, clock())
    slow.jobs.finish(stalled, clock(), "late")  # and cannot clobber B's next rung
    assert slow.jobs.get("reminder:console:ada")["status"] == "pending"
    assert len(recorder.reminders() + fast_recorder.reminders()) == 1


def test_clock_skew_within_the_lease_does_not_steal_a_running_job(jobs_db):
    jobs = Jobs(jobs_db)
    jobs.schedule("j", "noop", MONDAY, {})
    assert jobs.claim(MONDAY) is not None
    assert jobs.claim(MONDAY + timedelta(minutes=2)) is None  # other clock 2 min fast


# --- certificates ----------------------------------------------------------------------


def finish_course(services: Services, key: str = KEY, name: str = "Ada") -> None:
    say(services, "I am a new partner", key=key, name=name)
    for _ in range(7):
        say(services, "next", key=key, name=name)


def test_completion_issues_a_certificate_with_a_verifiable_pdf(bot, clock):
    services, recorder = bot
    finish_course(services, name="Zoë Ádám")
    assert "Congratulations" in recorder.texts()[-2]
    message = recorder.texts()[-1]
    assert "certificate for **Partner Onboarding** is ready" in message
    cert = services.store.db["certificates"].find_one({"learner": KEY})
    assert cert["title"] == "Certified Solaro Partner"
    assert f"https://train.example.com/certificates/{cert['code']}.pdf" in message
    assert cert["expires"].replace(tzinfo=UTC) == clock() + timedelta(days=365)

    client = create_app(services.config, services).test_client()
    pdf = client.get(f"/certificates/{cert['code']}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf.data)).pages)
    for expected in (
        "Certified Solaro Partner",
        "Zoë Ádám",
        "Partner Onboarding",
        "Issued 5 January 2026",
        "Valid until 5 January 2027",
        cert["code"],
        f"https://train.example.com/certificates/{cert['code']}",
    ):
        assert expected in text, expected

    page = client.get(f"/certificates/{cert['code']}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Certificate valid" in body and "Partner Onboarding" in body
    # issue 17: the page names the holder (it did not), as the PDF does, never their key
    assert "Awarded to <strong>Zoë Ádám</strong>" in body
    assert "console" not in body and KEY not in body


def test_certificate_expires_and_can_be_revoked(bot, clock):
    services, _ = bot
    finish_course(services)
    certificates = engagement(services).certificates
    code = services.store.db["certificates"].find_one({"learner": KEY})["code"]
    client = create_app(services.config, services).test_client()
    assert certificates.status_of(KEY, "partner-onboarding", clock()) == "valid"
    assert certificates.status_of("console:nobody", "partner-onboarding", clock()) is None
    clock.advance(days=366)
    assert certificates.status_of(KEY, "partner-onboarding", clock()) == "expired"
    page = client.get(f"/certificates/{code}")
    assert "Certificate expired" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-cache"
    assert certificates.revoke(code, clock())
    assert not certificates.revoke(code, clock())  # already revoked
    assert "Certificate revoked" in client.get(f"/certificates/{code}").get_data(as_text=True)
    assert certificates.status_of(KEY, "partner-onboarding", clock()) == "revoked"
    assert client.get(f"/certificates/{code}.pdf").status_code == 410


@pytest.mark.parametrize(
    "code",
    ["AAAA-BBBB-CCCC-DDDD", "nope", "AAAA-BBBB-CCCC-DDDD-EEEE", "%00", "A" * 5000, "../../etc"],
)
def test_unknown_or_malformed_codes_are_plain_404(bot, code):
    services, _ = bot
    client = create_app(services.config, services).test_client()
    for url in (f"/certificates/{code}", f"/certificates/{code}.pdf"):
        response = client.get(url)
        assert response.status_code == 404
        assert "AAAA" not in response.get_data(as_text=True)


def test_certificate_command_resends_the_same_certificate(bot):
    services, recorder = bot
    finish_course(services)
    first = recorder.texts()[-1]
    say(services, "certificate")
    assert recorder.texts()[-1] == first
    assert services.store.db["certificates"].count_documents({}) == 1
    code = services.store.db["certificates"].find_one({})["code"]
    engagement(services).certificates.revoke(code, MONDAY)
    say(services, "certificate")
    assert "has been revoked" in recorder.texts()[-1] and code not in recorder.texts()[-1]


def test_course_without_certificate_settings_awards_none(tmp_path, clock):
    course = tmp_path / "plain"
    course.mkdir()
    (course / "course.yaml").write_text("title: Plain\nenroll: [start plain]\n")
    (course / "01-only.md").write_text("---\ntitle: Only\n---\nJust this.\n")
    config = Config.from_env({}, None).replace(content_dir=tmp_path)
    recorder = Recorder(clock)
    services = build_services(config, {"console": recorder}, store=Store.connect(None), clock=clock)
    say(services, "start plain")
    say(services, "next")
    assert "Congratulations" in recorder.texts()[-1]
    assert services.store.db["certificates"].count_documents({}) == 0
    say(services, "certificate")
    assert "doesn't award a certificate" in recorder.texts()[-1]
    run_for(services, clock, 24 * 3)  # no reminders settings either: nothing, no crash
    assert recorder.reminders() == []


def test_expiry_warnings_30_and_7_days_before(bot, clock):
    services, recorder = bot
    finish_course(services)
    run_for(services, clock, 24 * 336)  # 335 days after issue is 30 days before expiry
    warnings = [(at, text) for at, text in recorder.reminders() if "expires on" in text]
    assert len(warnings) == 1 and "5 January 2027" in warnings[0][1]
    run_for(services, clock, 24 * 24)
    warnings = [(at, text) for at, text in recorder.reminders() if "expires on" in text]
    assert [at.date().isoformat() for at, _ in warnings] == ["2026-12-06", "2026-12-29"]


def test_expiry_warning_respects_stop(bot, clock):
    services, recorder = bot
    finish_course(services)
    say(services, "STOP")
    run_for(services, clock, 24 * 360)
    assert [t for _, t in recorder.reminders() if "expires on" in t] == []


# --- manager digest and notices --------------------------------------------------------


def test_weekly_digest_and_completion_notice_by_email(clock, smtp_fake):
    url, inbox = smtp_fake
    services, _ = wire(clock, SMTP_URL=url)
    for key, name in (("console:ada", "Ada"), ("console:bo", "Bo"), ("console:cy", "Cy")):
        say(services, "help", key=key, name=name)  # the roster import's job, done by hand
        services.store.learners.collection.update_one(
            {"_id": key}, {"$set": {"profile.manager": "boss@example.com"}}
        )
    say(services, "I am a new partner", key="console:cy", name="Cy")  # then silence
    clock.advance(hours=1)
    finish_course(services, "console:ada", "Ada")
    say(services, "I am a new partner", key="console:bo", name="Bo")
    say(services, "next", key="console:bo", name="Bo")
    clock.advance(days=6)
    say(services, "menu", key="console:bo", name="Bo")
    run_for(services, clock, 23)
    assert [m["Subject"] for m in inbox] == ["Completed: Partner Onboarding", "Training digest"]
    digest = inbox[1].get_payload()
    assert "Completed this week (1)" in digest and "Ada: Partner Onboarding" in digest
    assert "Bo: Partner Onboarding, on session 2 of 7: The three Solaro kits" in digest
    assert "Overdue (1)" in digest and "Cy: Partner Onboarding, no activity for 7 days" in digest
    assert inbox[1]["To"] == "boss@example.com"
    job = engagement(services).jobs.get("digest")
    assert job["due"].replace(tzinfo=UTC) == MONDAY + timedelta(days=14)


def test_nudge_sends_an_immediate_reminder_outside_quiet_hours(bot, clock):
    services, recorder = bot
    say(services, "I am a new partner")
    clock.advance(hours=3)
    engagement(services).nudge_now(KEY)
    engagement(services).run_due()
    assert len(recorder.reminders()) == 1 and recorder.reminders()[0][0] == clock()
    clock.advance(hours=8)  # 21:00 in Lagos: a night-time nudge waits for the morning
    engagement(services).nudge_now(KEY)
    run_for(services, clock, 11)
    assert [at.hour for at, _ in recorder.reminders()] == [12, 7]  # 08:00 in Lagos
    run_for(services, clock, 2)
    assert [at.hour for at, _ in recorder.reminders()] == [12, 7, 9]  # the ladder carries on


def test_queued_reminder_outbox_entry_is_marked_proactive(bot, clock):
    services, _ = bot
    say(services, "I am a new partner")
    services.conversations.queue(KEY, [Reply("hello", proactive=True)])
    entry = services.store.load(KEY)["outbox"][-1]
    assert reply_from_doc(entry["reply"]).proactive is True


def test_bad_engagement_config_stops_the_start_with_one_line(clock):
    """Issue 19: these were logged and replaced by defaults; now the start stops, naming
    every bad variable (and never repeating SMTP_URL, which may hold a password)."""
    bad = {"SMTP_URL": "mailto:boss:s3cret", "DIGEST_DAYS": "weekly", "OVERDUE_DAYS": "-2"}
    with pytest.raises(ConfigError) as caught:
        wire(clock, **bad, DIGEST_CHANNELS="partner-onboarding=ops@example.com, broken-entry")
    message = str(caught.value)
    assert "SMTP_URL is not valid: expected smtp://" in message
    assert "DIGEST_DAYS='weekly' is not valid: expected a number of days" in message
    assert "OVERDUE_DAYS='-2' is not valid" in message
    assert "DIGEST_CHANNELS is not valid: expected course-id=recipient" in message
    assert "s3cret" not in message and "\n" not in message


def test_unreachable_smtp_server_is_logged_not_fatal(clock, caplog):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    services, recorder = wire(clock, SMTP_URL=f"smtp://127.0.0.1:{port}")
    say(services, "help")
    services.store.learners.collection.update_one(
        {"_id": KEY}, {"$set": {"profile.manager": "b@x.com"}}
    )
    finish_course(services)
    assert "certificate for **Partner Onboarding** is ready" in recorder.texts()[-1]
    assert "notify: EmailNotifier failed" in caplog.text


def test_stop_cancels_the_pending_reminder_and_duplicates_do_not_reschedule(bot, clock):
    services, _ = bot
    jobs = engagement(services).jobs
    inbound = Inbound(key=KEY, channel="console", text="I am a new partner", message_id="m1")
    services.conversations.handle(inbound)
    due = jobs.get(f"reminder:{KEY}")["due"]
    clock.advance(hours=5)
    assert services.conversations.handle(inbound).status == "duplicate"
    assert jobs.get(f"reminder:{KEY}")["due"] == due  # a retried webhook is not activity
    say(services, "STOP")
    assert jobs.get(f"reminder:{KEY}") is None


def test_course_digest_channel_from_config(clock, smtp_fake):
    url, inbox = smtp_fake
    channels = " partner-onboarding=ops@example.com , "
    services, _ = wire(clock, SMTP_URL=url, DIGEST_CHANNELS=channels)
    assert engagement(services).course_channels == {"partner-onboarding": "ops@example.com"}
    say(services, "I am a new partner")
    run_for(services, clock, 24 * 7)
    digests = [m for m in inbox if m["Subject"] == "Training digest"]
    assert [m["To"] for m in digests] == ["ops@example.com"]
    assert "Ada: Partner Onboarding, no activity for 7 days" in digests[0].get_payload()
