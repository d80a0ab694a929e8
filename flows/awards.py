"""A course's certificate settings (`certificate:` in course.yaml), read the same way by
the validator, the state machine (`certificate` command) and the certificate issuer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flows.course import Course


@dataclass(frozen=True)
class Award:
    """A course's `certificate:` settings."""

    title: str
    valid_days: int | None = None


def award_of(course: Course) -> Award | None:
    """The course's certificate settings, or None when it awards no certificate (missing or
    malformed settings: the validator tells the author, learners are not hurt)."""
    settings = course.settings.get("certificate")
    if not isinstance(settings, Mapping):
        return None
    title = settings.get("title") or course.title
    days = settings.get("valid_days")
    if not isinstance(title, str) or (
        days is not None and (not isinstance(days, int) or isinstance(days, bool) or days < 1)
    ):
        return None
    return Award(title.strip(), days)


def check_award(settings: object) -> str | None:
    """Why `certificate:` settings are invalid, or None (used by the content validator)."""
    if not isinstance(settings, Mapping):
        return "'certificate' must be a mapping such as {title: Certified, valid_days: 365}"
    unknown = set(settings) - {"title", "valid_days"}
    if unknown:
        return f"unknown key '{sorted(unknown)[0]}' in certificate"
    if "title" in settings and not (isinstance(settings["title"], str) and settings["title"]):
        return "certificate 'title' must be a text"
    days = settings.get("valid_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or days < 1):
        return "certificate 'valid_days' must be a whole number of days, 1 or more"
    return None
