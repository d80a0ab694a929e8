"""The aggregation pipelines on the embedded store and on MongoDB over the wire."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.reports import Reports
from bot.store import Store
from flows.course import Question
from tests.admin_data import ADA_CERT, NOW, seed
from tests.conftest import make_course

_BASE = make_course(4, settings={"required_for_roles": ["installer", "sales"]})
COURSE = replace(
    _BASE,
    sessions=(
        _BASE.sessions[0],
        replace(_BASE.sessions[1], quiz=(Question("q1", "Gold discount?", options=("5%", "10%")),)),
        *_BASE.sessions[2:],
    ),
)


STORE_PREFIX = "trainbot_reports"  # the `store` fixture's wire databases


@pytest.fixture
def reports(store: Store) -> Reports:
    seed(store)
    return Reports(store)


def test_course_report_known_data_set(reports: Reports) -> None:
    report = reports.course_report(COURSE, NOW)
    assert (report.enrolled, report.in_training, report.completed) == (3, 1, 1)
    assert report.completion_rate == 33.3
    assert (report.active_today, report.active_7d) == (1, 2)
    assert report.median_days_to_complete == 2.0
    assert report.first_attempt_pass_rate == 0.0  # Ada failed her first try
    assert [f["reached"] for f in report.funnel] == [2, 2, 2, 1]


def test_statuses_and_filters(reports: Reports) -> None:
    rows = reports.learner_rows(NOW, course="demo")
    assert {r["name"]: r["status"] for r in rows} == {
        "Ada Lovelace": "completed",
        "Grace Hopper": "in_progress",
        "<script>alert(1)</script>": "not_started",
    }
    assert [r["name"] for r in reports.learner_rows(NOW, role="sales")] == ["Grace Hopper"]
    assert [r["name"] for r in reports.learner_rows(NOW, search="lovel")] == ["Ada Lovelace"]
    later = reports.learner_rows(NOW.replace(year=2027), status="overdue")
    assert [r["name"] for r in later] == ["Grace Hopper"]
    expired = reports.learner_rows(NOW.replace(year=2027), status="expired")
    assert [r["name"] for r in expired] == ["Ada Lovelace"]


def test_quiz_items_and_questions(reports: Reports) -> None:
    [item] = reports.quiz_items(COURSE)
    assert item["answers"] == 2 and item["share_correct"] == 50.0 and item["top_wrong"] == "5%"
    assert (item["session"], item["prompt"], item["top_wrong_count"]) == ("s2", "Gold discount?", 1)
    asked = reports.questions(COURSE)["s2"]
    assert asked["asked"] == 1 and asked["modes"] == {"passage": 1}
    assert asked["recent"][0]["question"] == "What is a Gold partner?"


def test_certification(reports: Reports) -> None:
    cert = reports.certification(COURSE, NOW)
    assert {r["role"]: (r["certified"], r["learners"]) for r in cert["by_role"]} == {
        "installer": (1, 2),
        "sales": (0, 1),
    }
    assert cert["expiring"]["within_30"] == 1
    assert cert["expiring"]["certificates"][0]["days_left"] == 20
    assert sorted(g["name"] for g in cert["gaps"]) == ["<script>alert(1)</script>", "Grace Hopper"]
    assert cert["median_days_to_certificate"] == 2.0


def test_exports(reports: Reports) -> None:
    attempts = reports.attempts("demo")
    assert [(a["number"], a["status"], a["score"], a["percent"]) for a in attempts] == [
        (1, "failed", 0, 0),
        (2, "passed", 1, 100),
    ]
    assert attempts[0]["answers"] == ["q1: 5% (wrong)"]
    [cert] = reports.certificate_rows(NOW)
    assert (cert["code"], cert["status"]) == (ADA_CERT, "valid")
    assert reports.certificate_rows(NOW.replace(year=2027))[0]["status"] == "expired"


def test_empty_store_reports_no_data() -> None:
    report = Reports(Store.connect(None)).course_report(COURSE, NOW)
    assert report.enrolled == 0 and report.completion_rate is None
    assert report.first_attempt_pass_rate is None and report.median_days_to_complete is None
