"""Course settings for reminders and certificates as the validator sees them, and the
manager digest's content (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

import pytest

from bot.content import check
from flows.awards import award_of
from flows.course import Catalog
from flows.digest import build_digests, digest_text
from flows.state import Learner, Progress
from tests.conftest import make_course

NOW = datetime(2026, 1, 12, 9, tzinfo=UTC)


def course_dir(tmp_path: Path, extra: str) -> Path:
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "course.yaml").write_text(f"title: C\nenroll: [start c]\n{extra}")
    (folder / "01-a.md").write_text("---\ntitle: A\n---\nBody.\n")
    return folder


@pytest.mark.parametrize(
    "extra,message",
    [
        ("reminders: {after_hours: [24], timezone: Mars/Olympus}\n", "unknown time zone"),
        ("reminders: {after_hours: [24], quiet_hours: '22:00'}\n", "quiet_hours must look"),
        ("reminders: {after_hours: [72, 24]}\n", "after_hours must increase"),
        ("certificate: {title: X, valid_days: -3}\n", "valid_days"),
        ("certificate: {title: X, colour: gold}\n", "unknown key 'colour'"),
        ("certificate: yes\n", "'certificate' must be a mapping"),
    ],
)
def test_validator_reports_bad_engagement_settings_with_line(tmp_path, extra, message):
    folder = course_dir(tmp_path, extra)
    errors = [str(p) for p in check(tmp_path).errors]
    assert any(f"{folder / 'course.yaml'}:3: " in e and message in e for e in errors), errors


def test_good_settings_are_clean(tmp_path):
    course_dir(
        tmp_path,
        "reminders: {after_hours: [24, 72], quiet_hours: '21:30-07:00', timezone: asia/tokyo}\n"
        "certificate: {title: Done, valid_days: 30}\n",
    )
    assert check(tmp_path).errors == []


def test_award_defaults_and_malformed():
    assert award_of(make_course(settings={"certificate": {}})).title == "Demo Course"
    assert award_of(make_course(settings={"certificate": {"valid_days": "soon"}})) is None
    assert award_of(make_course()) is None


def member(key: str, name: str, last: datetime, manager="boss@x.com", **progress) -> Learner:
    return Learner(
        key=key,
        name=name,
        active_course="demo",
        last_inbound_at=last,
        progress=MappingProxyType(
            {"demo": Progress(started_at=NOW - timedelta(days=30), **progress)}
        ),
        profile=MappingProxyType({"manager": manager} if manager else {}),
    )


def test_digest_sections():
    catalog = Catalog((make_course(4),))
    team = [
        member(
            "k1",
            "Ada",
            NOW,
            completed=("s1", "s2", "s3", "s4"),
            completed_at=NOW - timedelta(days=2),
        ),
        member("k2", "Old", NOW, completed=("s1",), completed_at=NOW - timedelta(days=20)),
        member("k3", "Bo", NOW - timedelta(days=1), current="s3", completed=("s1", "s2")),
        member("k4", "Cy", NOW - timedelta(days=9), current="s2", completed=("s1",)),
        member("k5", "Di", NOW, manager="other@x.com", current="s1"),
        member("k6", "Nobody's", NOW, manager=None, current="s1"),
        replace(member("k7", "New", NOW), progress=MappingProxyType({})),
    ]
    boss, other = build_digests(team, catalog, NOW)
    assert boss.manager == "boss@x.com" and other.manager == "other@x.com"
    assert [(x.name, x.detail) for x in boss.completed] == [("Ada", "finished 10 Jan")]
    assert [(x.name, x.detail) for x in boss.in_progress] == [
        ("Bo", "on session 3 of 4: Topic 3 (2 done)")
    ]
    assert [(x.key, x.detail) for x in boss.overdue] == [("k4", "no activity for 9 days")]
    text = digest_text(boss)
    assert "Completed this week** (1)" in text and "• Cy: Demo Course, no activity" in text
    assert [x.name for x in other.in_progress] == ["Di"]
    assert "• nobody" in digest_text(other)


def test_digest_overdue_threshold_is_configurable():
    catalog = Catalog((make_course(4),))
    quiet = member("k", "Cy", NOW - timedelta(days=3), current="s2")
    (digest,) = build_digests([quiet], catalog, NOW, overdue_after=timedelta(days=2))
    assert [x.detail for x in digest.overdue] == ["no activity for 3 days"]


def test_course_channel_gets_every_learner_of_its_course():
    catalog = Catalog((make_course(4), make_course(2, course_id="other")))
    alone = member("k1", "Ada", NOW, manager=None, current="s2")
    managed = member("k2", "Bo", NOW, current="s1")
    odd = replace(member("k3", "Cy", NOW, current="s1"), profile=MappingProxyType({"manager": 7}))
    digests = build_digests([alone, managed, odd], catalog, NOW, course_channels={"demo": "C1"})
    by = {d.manager: d for d in digests}
    assert sorted(by) == ["C1", "boss@x.com"]
    assert [x.name for x in by["C1"].in_progress] == ["Ada", "Bo", "Cy"]
    assert [x.name for x in by["boss@x.com"].in_progress] == ["Bo"]
