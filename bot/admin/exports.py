"""Export tables as CSV or JSON (shared by the pages, the API and the CLI)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from bot.reports import Reports

KINDS = ("learners", "progress", "attempts", "certificates")


def plain(value: Any) -> Any:
    """A JSON-friendly value (datetimes as ISO 8601)."""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    if isinstance(value, list | tuple):
        value = "|".join(str(v) for v in value)
    text = "" if value is None else str(plain(value))
    risky = text[:1] in ("=", "@", "\t", "\r") or (
        text[:1] in ("+", "-") and not text[1:].replace(".", "").isdigit()
    )
    return "'" + text if risky else text


def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows as CSV with the union of their columns, in first-seen order."""
    rows = list(rows)
    out = io.StringIO()
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def to_json(rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows as a JSON array (datetimes as ISO 8601)."""
    return json.dumps(
        [{k: plain(v) for k, v in row.items()} for row in rows], ensure_ascii=False, indent=1
    )


def rows_for(reports: Reports, kind: str, now: datetime, course: str | None) -> list[dict]:
    """The rows of one export kind."""
    if kind == "progress":
        return reports.learner_rows(now, course=course, limit=1_000_000)
    if kind == "attempts":
        return reports.attempts(course)
    if kind == "certificates":
        return reports.certificate_rows(now, course)
    return reports.learner_list(course)
