"""Roster CSV import: awkward files, bad rows with line numbers, idempotent upserts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import roster
from bot.cli import main
from bot.store import Store
from flows.course import Catalog
from tests.conftest import make_course

CATALOG = Catalog((make_course(4),))
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _import(store: Store, text: str, **kw) -> roster.ImportResult:
    return roster.import_roster(store, text.encode("utf-8"), CATALOG, NOW, **kw)


def test_bom_semicolons_and_normalised_phones() -> None:
    store = Store.connect(None)
    result = _import(
        store,
        "\ufeffName;Phone;Role;Manager;Course;Time zone\n"
        "Bola Ade;+234 803 123 4567;installer;Maria;demo;Africa/Lagos\n"
        "Chi;0044 20 7946 0958;sales;;;\n",
    )
    assert (result.created, result.updated, result.errors) == (2, 0, [])
    bola = store.load("whatsapp:+2348031234567")
    assert bola["name"] == "Bola Ade" and bola["channel"] == "whatsapp"
    assert bola["profile"] == {
        "phone": "+2348031234567",
        "role": "installer",
        "manager": "Maria",
        "timezone": "Africa/Lagos",
    }
    assert bola["progress"]["demo"]["started_at"] is None
    assert store.load("whatsapp:+442079460958") is not None


def test_bad_rows_are_listed_with_line_and_reason() -> None:
    store = Store.connect(None)
    result = _import(
        store,
        "name,phone,slack,course,timezone\n"
        "Ok,+2348031234567,,demo,\n"
        ",+2348031234568,,,\n"
        "Bad phone,12345,,,\n"
        "No contact,,,,\n"
        "Dup,+234 803 123 4567,,,\n"
        "Course,+2348031234569,,nope,\n"
        "Zone,+2348031234560,,,Mars/Base\n"
        "Slack,,U123ABC,,\n"
        "Slack2,,T1AA:U2BB,,\n",
        region=None,
    )
    assert [(e.line, e.reason.split(" ")[0]) for e in result.errors] == [
        (3, "name"),
        (4, "phone"),
        (5, "needs"),
        (6, "duplicate"),
        (7, "unknown"),
        (8, "unknown"),
        (9, "Slack"),
    ]
    assert "duplicate of line 2" in result.errors[3].reason
    assert "SLACK_TEAM_ID" in result.errors[6].reason
    assert result.created == 2 and store.load("slack:T1AA:U2BB")["channel"] == "slack"


def test_region_default_and_slack_team() -> None:
    store = Store.connect(None)
    result = _import(
        store, "name,phone,slack\nAmaka,0803 123 4567,\nRep,,U777\n", region="NG", slack_team="T9"
    )
    assert result.errors == [] and result.keys == ["whatsapp:+2348031234567", "slack:T9:U777"]


def test_missing_columns_and_empty_files() -> None:
    store = Store.connect(None)
    with pytest.raises(roster.RosterError, match="missing column"):
        _import(store, "name,role\nA,b\n")
    with pytest.raises(roster.RosterError, match="empty"):
        _import(store, "")
    with pytest.raises(roster.RosterError, match="10 MB"):
        roster.import_roster(store, b"x" * (roster.MAX_BYTES + 1), CATALOG, NOW)


def test_import_is_idempotent_and_keeps_progress() -> None:
    store = Store.connect(None)
    text = "name,phone,course\nBola,+2348031234567,demo\n"
    _import(store, text)
    store.learners.collection.update_one(
        {"_id": "whatsapp:+2348031234567"},
        {"$set": {"progress.demo.current": "s2", "progress.demo.completed": ["s1"]}},
    )
    again = _import(store, text.replace("Bola", "Bola A."))
    assert (again.created, again.updated) == (0, 1)
    doc = store.load("whatsapp:+2348031234567")
    assert doc["name"] == "Bola A." and doc["progress"]["demo"]["completed"] == ["s1"]
    assert store.learners.collection.count_documents({}) == 1


def test_five_hundred_rows() -> None:
    store = Store.connect(None)
    lines = ["name,phone,role,course"] + [
        f"Learner {i},+23480312{i:05d},installer,demo" for i in range(500)
    ]
    result = _import(store, "\n".join(lines))
    assert result.created == 500 and result.errors == []
    again = _import(store, "\n".join(lines))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 500)


def test_cli_import(tmp_path: Path, monkeypatch) -> None:
    from tests.admin_data import write_course

    content = write_course(tmp_path / "content")
    monkeypatch.setenv("CONTENT_DIR", str(content))
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "roster.csv"
    path.write_text("name,phone,course\nBola,+2348031234567,demo\nBad,1,demo\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["learners", "import", str(path)])
    assert result.exit_code == 1
    assert "roster.csv:3: phone '1'" in result.output
    assert "1 created, 0 updated, 0 unchanged, 1 rejected" in result.output


def test_learner_created_meanwhile_is_updated_not_lost(monkeypatch) -> None:
    """A learner who wrote between the lookup and the insert is updated instead."""
    store = Store.connect(None)
    key = "whatsapp:+2348031234567"
    store.learners.collection.insert_one({"_id": key, "name": "Bo", "version": 2, "progress": {}})
    monkeypatch.setattr(store.learners, "by_ids", lambda *a, **k: [])
    result = _import(store, "name,phone,course\nBola,+2348031234567,demo\n")
    monkeypatch.undo()
    assert (result.created, result.updated, result.new) == (0, 1, {})
    doc = store.load(key)
    assert doc["name"] == "Bola" and doc["version"] == 3 and "demo" in doc["progress"]
