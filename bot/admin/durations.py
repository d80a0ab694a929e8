"""Durations for admins: "3 hr 20 min", "45 min", "2 days 4 hr" instead of "0.0 days".

A median of minutes shown in days rounds to zero and reads as "instant"; two units, the
largest first, keep both a quick course and a slow one readable. Each unit is worded by
Babel in the admin's locale, so the words follow CLDR, not a table of ours.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from babel.dates import format_timedelta

ADMIN_LOCALE = "en"
Unit = Literal["day", "hour", "minute", "second"]
_UNITS: tuple[tuple[Unit, int], ...] = (
    ("day", 86_400),
    ("hour", 3_600),
    ("minute", 60),
    ("second", 1),
)


def format_duration(seconds: float | None, locale: str = ADMIN_LOCALE) -> str:
    """`seconds` as at most two units, largest first ("2 days 4 hr"); "" for None."""
    if seconds is None:
        return ""
    left = max(0, round(seconds))
    parts: list[str] = []
    for unit, size in _UNITS:
        count, left = divmod(left, size)
        if count and len(parts) < 2:
            parts.append(
                format_timedelta(
                    timedelta(seconds=count * size),
                    granularity=unit,
                    threshold=1e9,  # never round 90 minutes up to "2 hours"
                    format="short",
                    locale=locale,
                )
            )
        elif parts:
            break  # "2 days 0 hr 5 min" would mislead: stop at the first empty unit
    return " ".join(parts) or format_timedelta(
        timedelta(0), granularity="second", format="short", locale=locale
    )
