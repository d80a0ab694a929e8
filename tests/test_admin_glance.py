"""Issue 17, "admin you can read at a glance": charts (server-rendered SVG), durations in
hours and minutes, titles instead of ids, per-course denominators and the `course` filter
on every export. Each test here failed on the code before the change."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.admin.charts import Point, bar_chart, column_chart
from bot.admin.durations import format_duration
from bot.admin.exports import KINDS
from bot.reports import Reports
from bot.reports.trends import week_label, week_starts
from tests.admin_app import make_app
from tests.test_admin import login

ADA = "whatsapp:+15550000001"


@pytest.fixture
def parts(tmp_path: Path):
    return make_app(tmp_path)


def _client(app):
    client = app.test_client()
    login(client)
    return client


# --- durations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (45 * 60, "45 min"),
        (3 * 3600 + 20 * 60, "3 hr 20 min"),
        (2 * 86400 + 4 * 3600, "2 days 4 hr"),
        (90 * 60, "1 hr 30 min"),  # not rounded up to "2 hours"
        (30, "30 sec"),
        (None, ""),
    ],
)
def test_durations_read_as_hours_and_minutes(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_a_course_finished_in_minutes_is_not_zero_days(parts) -> None:
    """The overview said "0.1 days" (and "0.0 days" for minutes) for 3 h 20 min."""
    app, services, _ = parts
    certification = _client(app).get("/admin/certification").get_data(as_text=True)
    assert "Time to competency (median)</dt><dd>2 days</dd>" in certification  # was "2.0 days"
    started = datetime.now(UTC) - timedelta(days=5)
    services.store.learners.collection.update_one(
        {"_id": ADA},
        {
            "$set": {
                "progress.demo.started_at": started,
                "progress.demo.completed_at": started + timedelta(hours=3, minutes=20),
            }
        },
    )
    page = _client(app).get("/admin").get_data(as_text=True)
    figures = dict(re.findall(r'data-figure="(\w+)">([^<]*)<', page))
    assert figures["median_time_to_complete"] == "3 hr 20 min"


# --- titles, not ids ---------------------------------------------------------------------


def test_learners_table_shows_session_and_course_titles(parts) -> None:
    app, _, _ = parts
    page = _client(app).get("/admin/learners").get_data(as_text=True)
    assert '<td title="s3">3. Topic 3</td>' in page  # Grace is on session 3
    assert '<td title="demo">Demo Course</td>' in page
    assert "<td>s3</td>" not in page
    learner = _client(app).get(f"/admin/learners/{ADA}").get_data(as_text=True)
    assert '<dd title="demo">Demo Course' in learner  # the active course
    assert '<td title="s2">2. Topic 2</td>' in learner  # her quiz attempts' session
    assert '<td title="demo">Demo Course</td>' in learner  # her certificate's course


# --- denominators ------------------------------------------------------------------------


def test_by_role_rate_divides_by_the_learners_enrolled_in_the_course(parts) -> None:
    """The issue's shape: ten learners without a role, five of them in the course, two of
    those certified (a 40 % completion rate). The page said "(none) 10 learners, 20 %"."""
    _, services, _ = parts
    store = services.store
    store.learners.collection.delete_many({})
    store.db["certificates"].delete_many({})
    now = datetime.now(UTC)
    for i in range(10):
        enrolled = i < 5
        done = now - timedelta(days=1) if i < 2 else None
        progress = {"demo": {"started_at": now - timedelta(days=3), "completed_at": done}}
        store.learners.collection.insert_one(
            {"_id": f"web:{i}", "name": f"L{i}", **({"progress": progress} if enrolled else {})}
        )
        if i < 2:
            store.db["certificates"].insert_one(
                {
                    "_id": f"C{i}",
                    "code": f"C{i}",
                    "learner": f"web:{i}",
                    "course": "demo",
                    "issued": done,
                }
            )
    course = services.library.current().get("demo")
    reports = Reports(store)
    assert reports.course_report(course, now).completion_rate == 40.0
    [none] = reports.certification(course, now)["by_role"]
    assert (none["role"], none["learners"], none["certified"], none["rate"]) == ("", 5, 2, 40.0)
    [by_manager] = reports.certification(course, now)["by_manager"]
    assert (by_manager["learners"], by_manager["rate"]) == (5, 40.0)


# --- the course filter on every export ---------------------------------------------------


def test_every_export_filters_by_course(parts) -> None:
    """A learner of another course (with an attempt and a certificate there) appears in no
    export filtered to `demo`; `learners.json?course=` was ignored."""
    app, services, _ = parts
    now = datetime.now(UTC)
    attempt = {"kind": "quiz", "number": 1, "session_id": "o1", "status": "passed"}
    other = {"started_at": now, "completed_at": now, "current": None, "quizzes": [attempt]}
    services.store.learners.collection.insert_one(
        {"_id": "web:other", "name": "Otto", "progress": {"other": other}}
    )
    services.store.db["certificates"].insert_one(
        {"_id": "OTTO", "code": "OTTO", "learner": "web:other", "course": "other", "issued": now}
    )
    client = _client(app)
    for kind in KINDS:
        for fmt in ("csv", "json"):
            every = client.get(f"/admin/export/{kind}.{fmt}").get_data(as_text=True)
            demo = client.get(f"/admin/export/{kind}.{fmt}?course=demo").get_data(as_text=True)
            assert "web:other" in every, (kind, fmt)
            assert "web:other" not in demo, (kind, fmt)
    learners = json.loads(client.get("/admin/export/learners.json?course=demo").get_data())
    assert len(learners) == 3 and ADA in {row["key"] for row in learners}
    only_other = client.get("/admin/export/learners.json?course=other").get_json()
    assert [row["key"] for row in only_other] == ["web:other"]


# --- charts ------------------------------------------------------------------------------


def test_charts_are_accessible_escaped_svg_with_a_table_fallback() -> None:
    points = [Point("<script>x</script>", 50, "id <b>"), Point("Topic 2", 100), Point("?", None)]
    svg = str(bar_chart("Right & wrong", "Share <correct>", points, unit="%", maximum=100))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "id &lt;b&gt;" in svg
    assert re.search(r'<svg role="img" aria-labelledby="(chart-\d+)-t \1-d"', svg)
    assert "<title id=" in svg and "<desc id=" in svg and "Share &lt;correct&gt;" in svg
    assert 'width="180.0" height="20" class="bar"' in svg  # 50 % of the 360 px track
    assert 'width="360.0" height="20" class="bar"' in svg
    assert "<td>50%</td>" in svg and "<td>no data</td>" in svg  # the data table fallback
    assert "style=" not in svg  # the CSP allows stylesheets only
    columns = str(column_chart("Weekly", "Per week", [Point("W1", 0), Point("W2", 4)]))
    assert columns.count('class="bar"') == 2 and 'height="150.0"' in columns


def test_weekly_series_and_certificate_states(parts) -> None:
    _, services, _ = parts
    now = datetime.now(UTC)
    reports = Reports(services.store)
    weeks = reports.weekly("demo", now)
    starts = week_starts(now)
    assert len(weeks) == 12 and weeks[-1]["week"] == week_label(starts[-1])
    assert [w["start"] for w in weeks] == starts and starts[-1].weekday() == 0
    # The one inbound event of the seed: Ada, two hours ago.
    ada_week = max(i for i, s in enumerate(starts) if s <= now - timedelta(hours=2))
    assert [w["active"] for w in weeks] == [int(i == ada_week) for i in range(12)]
    done = max(i for i, s in enumerate(starts) if s <= now - timedelta(days=8))
    assert [w["completed"] for w in weeks] == [int(i == done) for i in range(12)]
    states = reports.certificate_states("demo", now)
    assert states == {"valid": 0, "expiring soon": 1, "expired": 0, "revoked": 0}


def test_pages_show_the_charts(parts) -> None:
    app, _, _ = parts
    client = _client(app)
    overview = client.get("/admin").get_data(as_text=True)
    assert overview.count('<figure class="chart chart-columns">') == 2
    assert "Active learners per week: Demo Course" in overview
    content = client.get("/admin/content").get_data(as_text=True)
    assert '<figure class="chart chart-bars">' in content
    assert "Right answers per question" in content
    certification = client.get("/admin/certification").get_data(as_text=True)
    assert "Certificates by state: Demo Course" in certification
    assert "<td>Expiring soon</td><td>1</td>" in certification
