"""Shared fixtures: the sample catalog, a small pure course, and fully wired services."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Config
from bot.content import check
from flows.course import Catalog, Course, Session

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "content"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def make_course(
    n: int = 4,
    course_id: str = "demo",
    navigation: str = "sequential",
    enroll: tuple[str, ...] = ("start demo training",),
    **kw,
) -> Course:
    """A small in-memory course: sessions s1..sn titled "Topic i"."""
    sessions = tuple(
        Session(f"s{i}", f"Topic {i}", f"Body of topic {i}. Word{i} appears here.")
        for i in range(1, n + 1)
    )
    return Course(
        id=course_id,
        title=f"{course_id.title()} Course",
        sessions=sessions,
        description="A demo.",
        enroll=enroll,
        navigation=navigation,
        **kw,
    )


@pytest.fixture(scope="session")
def sample_catalog() -> Catalog:
    result = check(SAMPLE)
    assert not result.errors, result.errors
    return Catalog(tuple(result.courses))


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A config with no credentials and no .env, on the embedded store."""
    return Config.from_env({}, dotenv=None)
