"""The admin side on data that real conversations wrote: learners imported from a roster
walk the sample course (quizzes in sessions 2, 3, 5 and 7, a certificate at the end) through
`Conversations.handle`, ask the assistant (no OpenAI key: passage answers), fail and pass
quizzes; then the reports, pages, API, exports and actions must show what happened.

Answers are given by option text, so they do not depend on the per-learner shuffle. Runs on
the embedded store and on MongoDB over the wire (tests/wire.py)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import roster
from bot.config import Config
from bot.reports import Reports
from bot.services import Services, build_services
from bot.store import Store
from bot.web import create_app
from flows.events import Inbound
from tests.conftest import SAMPLE, STORES, FakeClock, a_store
from tests.fakes.recording_sender import RecordingSender
from tests.test_admin import login

COURSE = "partner-onboarding"
# Yesterday 09:00 UTC (10:00 in Lagos, the course's zone): the embedded store applies the
# 90-day TTL of deliveries and events against the real time, so the story must be recent.
START = (datetime.now(UTC) - timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
ADA, BOLA, CHIDI = (f"whatsapp:+23480312345{n}" for n in ("61", "62", "63"))
ROSTER = (
    "name,phone,role,manager,course\n"
    f"Ada,{ADA[9:]},installer,Maria,{COURSE}\n"
    f"Bola,{BOLA[9:]},installer,Omar,{COURSE}\n"
    f"Chidi,{CHIDI[9:]},sales,Omar,{COURSE}\n"
)
KIT_QUESTION = "Which kit would you suggest for a customer who needs to run a water pump?"
ASKED = "What discount does a Gold partner get?"


def walk(folder: Path, store: Store) -> tuple[Services, RecordingSender, FakeClock]:
    """Import the roster, then: Ada finishes the course (one failed quiz, one question),
    Bola is in session 2's quiz with a wrong answer, Chidi has not started."""
    content = folder / "content"
    shutil.copytree(SAMPLE, content)
    with (content / COURSE / "course.yaml").open("a", encoding="utf-8") as course_yaml:
        course_yaml.write("required_for_roles: [installer, sales]\n")
    config = Config.from_env(
        {"CONTENT_DIR": str(content), "ADMIN_TOKEN": "t0ken", "PUBLIC_BASE_URL": "https://x.test"},
        dotenv=None,
    )
    clock, sender = FakeClock(START), RecordingSender()
    services = build_services(config, {"whatsapp": sender}, store=store, clock=clock)
    result = roster.import_roster(
        services.store, ROSTER.encode(), services.library.current(), clock()
    )
    assert (result.created, result.errors) == (3, [])
    said = iter(range(1000))

    def say(key: str, *texts: str) -> None:
        for text in texts:
            message = Inbound(key, "whatsapp", text=text, message_id=f"wamid.{next(said)}")
            services.conversations.handle(message)
            clock.now += timedelta(minutes=3)

    say(ADA, "I am a new partner", "next", ASKED)
    say(ADA, "next", "Solaro Lite", "true")  # first attempt at session 2's quiz: 0 of 2
    say(ADA, "retake", "Solaro Max", "false")  # passed; session 3 is delivered
    say(ADA, "next", "10%", "Silver and Gold", "true")  # session 3's quiz, first time
    say(ADA, "next", "next", "5 years", "false")  # sessions 4 and 5
    say(ADA, "next", "next", "Half, max ₦100k", "false")  # 6 and 7: done
    say(BOLA, "I am a new partner", "next", "next", "Solaro Home")  # wrong, mid-quiz
    return services, sender, clock


@pytest.fixture(scope="module", params=STORES)
def world(request, tmp_path_factory) -> Iterator[tuple[Services, RecordingSender, FakeClock]]:
    """One walk per store, shared by the read-only tests."""
    with a_store(request, request.param, "admin") as store:
        yield walk(tmp_path_factory.mktemp("world"), store)


def test_conversations_left_the_data_the_reports_read(world) -> None:
    services, sender, _ = world
    progress = services.store.load(ADA)["progress"][COURSE]
    assert progress["completed_at"] is not None
    assert [a["status"] for a in progress["quizzes"]] == ["failed", "passed"] + ["passed"] * 3
    assert services.store.questions.collection.count_documents({"learner": ADA}) == 1
    assert services.store.db["certificates"].count_documents({"learner": ADA}) == 1
    assert any(
        "Certified Solaro Partner" in r.text or "certificate" in r.text.lower()
        for k, r in sender.sent
        if k == ADA
    )


def test_course_report_and_quiz_analysis(world) -> None:
    services, _, clock = world
    course = services.library.current().get(COURSE)
    reports = Reports(services.store)
    report = reports.course_report(course, clock())
    assert (report.enrolled, report.in_training, report.completed) == (3, 1, 1)
    assert report.completion_rate == 33.3
    # First attempts finished: Ada's at sessions 2 (failed), 3, 5, 7; Bola's is unfinished.
    assert report.first_attempt_pass_rate == 75.0
    by_session = {f["number"]: f["first_attempt_pass_rate"] for f in report.funnel}
    assert by_session == {1: None, 2: 0.0, 3: 100.0, 4: None, 5: 100.0, 6: None, 7: 100.0}
    assert [f["reached"] for f in report.funnel] == [2, 2, 1, 1, 1, 1, 1]

    items = {i["prompt"]: i for i in reports.quiz_items(course)}
    kit = items[KIT_QUESTION]
    assert (kit["session"], kit["answers"], kit["correct"]) == ("products", 3, 1)
    assert kit["share_correct"] == 33.3
    assert (kit["top_wrong"], kit["top_wrong_count"]) == ("Solaro Home", 1)  # tie: by name
    home_battery = items["The Solaro Home kit has a 5 kWh battery."]
    assert (home_battery["top_wrong"], home_battery["share_correct"]) == ("True", 50.0)
    tiers = items["Which partner tiers get 30 days of credit?"]
    assert tiers["share_correct"] == 100.0 and tiers["top_wrong"] is None

    asked = reports.questions(course)["products"]
    assert asked["asked"] == 1 and asked["modes"] == {"passage": 1}
    assert asked["recent"][0]["question"] == ASKED and "Gold" in asked["recent"][0]["answer"]


def test_certification_statuses_and_expiry(world) -> None:
    services, _, clock = world
    course = services.library.current().get(COURSE)
    reports = Reports(services.store)
    cert = reports.certification(course, clock())
    assert {r["role"]: (r["certified"], r["learners"]) for r in cert["by_role"]} == {
        "installer": (1, 2),
        "sales": (0, 1),
    }
    assert {r["manager"]: r["rate"] for r in cert["by_manager"]} == {"Maria": 100.0, "Omar": 0.0}
    assert sorted(g["name"] for g in cert["gaps"]) == ["Bola", "Chidi"]
    assert cert["median_days_to_certificate"] == 0.0  # an hour of chatting
    assert cert["expiring"]["within_90"] == 0  # valid for 365 days
    later = clock() + timedelta(days=340)
    soon = reports.certification(course, later)["expiring"]
    assert (soon["within_30"], soon["certificates"][0]["learner"]) == (1, ADA)
    rows = {r["key"]: r for r in reports.learner_rows(clock(), course=COURSE)}
    assert (rows[ADA]["status"], rows[ADA]["certificate"]) == ("completed", "valid")
    assert (rows[BOLA]["status"], rows[CHIDI]["status"]) == ("in_progress", "not_started")
    expired = reports.learner_rows(clock() + timedelta(days=400), status="expired")
    assert [(r["key"], r["certificate"]) for r in expired] == [(ADA, "expired")]


def test_learner_page_api_and_exports(world) -> None:
    services, _, clock = world
    app = create_app(services.config, services)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer t0ken"
    report = client.get(f"/api/v1/courses/{COURSE}/report").get_json()
    course = services.library.current().get(COURSE)
    assert report == json.loads(
        json.dumps(Reports(services.store).course_report(course, clock()).as_dict(), default=str)
    )
    login_client = app.test_client()
    login(login_client, "t0ken")
    page = login_client.get(f"/admin/learners/{ADA}").get_data(as_text=True)
    assert KIT_QUESTION in page and "<b>Solaro Lite</b>" in page and "0/2 (0 %)" in page
    assert ASKED in page and "question · course passage" in page  # in the timeline too
    assert '<span class="tag">learner</span>' in page and "bot · sent" in page
    code = services.store.db["certificates"].find_one({"learner": ADA})["code"]
    assert code in page and 'class="cert-valid"' in page
    content = login_client.get("/admin/content").get_data(as_text=True)
    assert "Solaro Home (1×)" in content and "first-attempt pass rate 0 %" in content

    attempts = list(
        csv.DictReader(
            io.StringIO(
                login_client.get(f"/admin/export/attempts.csv?course={COURSE}").get_data(
                    as_text=True
                )
            )
        )
    )
    first = next(a for a in attempts if a["learner"] == ADA)
    assert (first["status"], first["score"], first["percent"]) == ("failed", "0", "0")
    assert "Solaro Lite (wrong)" in first["answers"]
    certs = login_client.get("/admin/export/certificates.json").get_json()
    assert [(c["code"], c["status"]) for c in certs] == [(code, "valid")]


@pytest.fixture(params=STORES)
def fresh_store(request) -> Iterator[Store]:
    with a_store(request, request.param, "admin") as store:
        yield store


def test_nudge_and_revoke_use_the_engagement_and_certificate_modules(
    tmp_path: Path, fresh_store: Store
) -> None:
    services, sender, clock = walk(tmp_path, fresh_store)
    client = create_app(services.config, services).test_client()
    csrf = login(client, "t0ken")
    clock.now = START.replace(hour=19, minute=30)  # 20:30 in Lagos: quiet hours
    morning = (START + timedelta(days=1)).replace(hour=7)  # 08:00 in Lagos
    sent_before = len(sender.sent)

    def post(path: str, **form: str) -> str:
        response = client.post(path, data={"csrf_token": csrf, **form}, follow_redirects=True)
        return response.get_data(as_text=True)

    page = post(f"/admin/learners/{BOLA}/nudge", course=COURSE)
    assert f"Nudge queued for {morning:%Y-%m-%d %H:%M} UTC" in page
    services.engagement.run_due()
    assert len(sender.sent) == sent_before  # held back by the quiet hours
    clock.now = morning
    services.engagement.run_due()
    [(key, reminder)] = sender.sent[sent_before:]
    assert key == BOLA and reminder.proactive and "session 2 of 7" in reminder.text
    assert services.store.load(BOLA)["nudged"]["rung"] == 0  # recorded like other reminders
    timeline = client.get(f"/admin/learners/{BOLA}").get_data(as_text=True)
    assert "reminder · sent" in timeline

    def bola(*texts: str) -> None:
        for text in texts:
            message_id = f"wamid.bola.{uuid.uuid4().hex}"
            services.conversations.handle(
                Inbound(BOLA, "whatsapp", text=text, message_id=message_id)
            )

    # Bola's first attempt is on its way to failing; with two more failures at most 3
    # attempts are used up and the quiz engine flags the session for an admin.
    bola("true", "retake", "Solaro Lite", "true", "retake", "Solaro Lite")
    bola("true")
    assert services.store.load(BOLA)["progress"][COURSE]["quiz_blocked"] == ["products"]
    [row] = Reports(services.store).learner_rows(clock(), course=COURSE, search="Bola")
    assert row["quiz_blocked"] == 1
    assert "Quiz attempts used up at session 2" in client.get(f"/admin/learners/{BOLA}").get_data(
        as_text=True
    )
    post(f"/admin/learners/{BOLA}/unblock", course=COURSE, session="products")
    assert services.store.load(BOLA)["progress"][COURSE]["quiz_blocked"] == []
    bola("retake")
    attempts = services.store.load(BOLA)["progress"][COURSE]["quizzes"]
    assert (attempts[-1]["number"], attempts[-1]["status"]) == (4, "active")
    assert "not used up" in post(f"/admin/learners/{BOLA}/unblock", course=COURSE, session="x")

    refused = post(f"/admin/learners/{CHIDI}/nudge", course=COURSE)
    assert "nothing to nudge about" in refused
    bola("STOP")
    assert "opted out" in post(f"/admin/learners/{BOLA}/nudge", course=COURSE)

    certificates = services.engagement.certificates
    code = certificates.latest(ADA, COURSE)["code"]
    page = post(f"/admin/certificates/{code}/revoke", reason="issued by mistake")
    assert f"Certificate {code} revoked." in page
    assert certificates.status_of(ADA, COURSE, clock()) == "revoked"
    assert certificates.by_code(code)["revoked_reason"] == "issued by mistake"
    assert "already revoked" in post(f"/admin/certificates/{code}/revoke", reason="again")
    assert "no such certificate" in post("/admin/certificates/NOPE/revoke", reason="x")
    assert "revoked" in client.get(f"/certificates/{code}").get_data(as_text=True)
    reports = Reports(services.store)
    [ada] = reports.learner_rows(clock(), course=COURSE, search="Ada")
    assert (ada["status"], ada["certificate"]) == ("completed", "revoked")
    course = services.library.current().get(COURSE)
    by_role = reports.certification(course, clock())["by_role"]
    assert {r["role"]: r["certified"] for r in by_role} == {"installer": 0, "sales": 0}
    audit = services.store.db["audit"].find({"action": {"$ne": "sign_in"}})
    assert [(a["action"], a["who"], a["learner"]) for a in audit] == [
        ("nudge", "Lead", BOLA),
        ("unblock", "Lead", BOLA),
        ("revoke", "Lead", ADA),
    ]
