"""Roster import: a CSV of learners (name, phone and/or Slack id, role, manager, course,
time zone) checked row by row and upserted idempotently.

Rows are keyed like the channels key learners (`whatsapp:+E164`, `slack:<team>:<user>`),
so a learner imported here is the same document the bot uses when they write. Invalid rows
are reported with their line number and reason; valid ones are written in one bulk write.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from bot.store import Store
from flows.course import Catalog
from flows.state import NAME_ROSTER

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
COLUMNS = {
    "name": ("name", "full name", "learner", "nom"),
    "phone": ("phone", "phone number", "whatsapp", "mobile", "msisdn", "telephone"),
    "slack": ("slack", "slack id", "slack_id", "slack user", "slack user id"),
    "role": ("role", "job", "position"),
    "manager": ("manager", "team lead", "supervisor"),
    "course": ("course", "course id", "course_id", "courses"),
    "timezone": ("timezone", "time zone", "time_zone", "tz"),
}
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,20}$")
SLACK_TEAM = re.compile(r"^[TE][A-Z0-9]{2,20}$")


class RosterError(ValueError):
    """The file as a whole cannot be imported (too big, not CSV, required columns missing)."""


@dataclass(frozen=True)
class RowError:
    """One rejected row: its line number in the file and why."""

    line: int
    reason: str


@dataclass
class ImportResult:
    """What an import did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    new: dict[str, tuple[str, ...]] = field(default_factory=dict)  # created key → courses
    invited: int = 0


@dataclass(frozen=True)
class Row:
    """A valid roster row, ready to write."""

    line: int
    key: str
    name: str
    channel: str
    profile: dict[str, str]
    courses: tuple[str, ...]
    aliases: tuple[str, ...]


def decode(data: bytes) -> str:
    """The file's text (UTF-8 with or without BOM, else Windows-1252 as spreadsheets save)."""
    if len(data) > MAX_BYTES:
        raise RosterError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _header_map(header: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, raw in enumerate(header):
        label = raw.strip().lower().replace("-", " ")
        for column, aliases in COLUMNS.items():
            if label in aliases and column not in found:
                found[column] = index
    return found


def normalise_phone(raw: str, region: str | None) -> str:
    """E.164 (`+2348031234567`); raises ValueError with a reason."""
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if region else " (use the international format, +country code)"
        raise ValueError(f"phone '{raw}' is not a phone number{hint}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"phone '{raw}' is not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def slack_key(raw: str, default_team: str | None) -> str:
    """`slack:<team>:<user>` from `T123:U456`, `T123/U456` or `U456` with a default team."""
    parts = [p.strip().upper() for p in re.split(r"[:/]", raw.strip()) if p.strip()]
    if len(parts) == 2 and SLACK_TEAM.match(parts[0]) and SLACK_USER.match(parts[1]):
        return f"slack:{parts[0]}:{parts[1]}"
    if len(parts) == 1 and SLACK_USER.match(parts[0]):
        if not default_team:
            raise ValueError(
                f"Slack id '{raw}' needs its workspace (T…:U…) or SLACK_TEAM_ID to be set"
            )
        return f"slack:{default_team}:{parts[0]}"
    raise ValueError(f"Slack id '{raw}' is not a Slack user id (U… or T…:U…)")


def parse(
    text: str, catalog: Catalog, region: str | None = None, slack_team: str | None = None
) -> tuple[list[Row], list[RowError]]:
    """Check every row; returns the valid rows and the reasons for the others."""
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise RosterError("the file is empty") from None
    columns = _header_map(header)
    missing = [c for c in ("name",) if c not in columns]
    if "phone" not in columns and "slack" not in columns:
        missing.append("phone or slack")
    if missing:
        raise RosterError(
            f"missing column(s): {', '.join(missing)} (found: {', '.join(header) or 'none'})"
        )
    rows: list[Row] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(rows) + len(errors) >= MAX_ROWS:
            raise RosterError(f"more than {MAX_ROWS} rows; split the file")
        cell = {c: (record[i].strip() if i < len(record) else "") for c, i in columns.items()}
        try:
            row = _row(line, cell, catalog, region, slack_team)
        except ValueError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        duplicate = next((seen[k] for k in row.aliases if k in seen), None)
        if duplicate is not None:
            errors.append(RowError(line, f"duplicate of line {duplicate}"))
            continue
        seen.update(dict.fromkeys(row.aliases, line))
        rows.append(row)
    return rows, errors


def _row(
    line: int, cell: dict[str, str], catalog: Catalog, region: str | None, team: str | None
) -> Row:
    name = cell.get("name", "")
    if not name:
        raise ValueError("name is empty")
    if len(name) > 120:
        raise ValueError("name is longer than 120 characters")
    keys: list[str] = []
    profile: dict[str, str] = {}
    if cell.get("phone"):
        phone = normalise_phone(cell["phone"], region)
        keys.append(f"whatsapp:{phone}")
        profile["phone"] = phone
    if cell.get("slack"):
        key = slack_key(cell["slack"], team)
        keys.append(key)
        profile["slack"] = key.split(":", 1)[1]
    if not keys:
        raise ValueError("needs a phone number or a Slack id")
    for column in ("role", "manager"):
        if cell.get(column):
            profile[column] = cell[column][:120]
    if cell.get("timezone"):
        try:
            ZoneInfo(cell["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{cell['timezone']}'") from None
        profile["timezone"] = cell["timezone"]
    courses = tuple(c.strip() for c in re.split(r"[|,]", cell.get("course", "")) if c.strip())
    for course_id in courses:
        if catalog.get(course_id) is None:
            raise ValueError(f"unknown course '{course_id}'")
    return Row(line, keys[0], name, keys[0].split(":", 1)[0], profile, courses, tuple(keys))


def _empty_progress() -> dict[str, Any]:
    return {
        "current": None,
        "completed": [],
        "started_at": None,
        "completed_at": None,
        "seconds": {},
    }


def _unchanged(doc: dict[str, Any], fields: dict[str, Any]) -> bool:
    """Whether writing `fields` (dotted paths) would change nothing but the import time."""
    for path, value in fields.items():
        if path == "roster_updated_at":
            continue
        current: Any = doc
        for part in path.split("."):
            current = current.get(part) if isinstance(current, dict) else None
        if current != value:
            return False
    return True


def write(store: Store, rows: Iterable[Row], now: datetime) -> ImportResult:
    """Create or update the learners: the same file imported twice changes nothing more.

    A learner who already exists under any of the row's keys (phone or Slack) is updated
    in place; a new one is inserted with an empty `progress.<course>` per assigned course,
    which the reports count as enrolled and not started. New learners are inserted rather
    than upserted (an upsert is a full scan on the embedded store); one created meanwhile
    by a conversation is updated instead.
    """
    rows = list(rows)
    result = ImportResult()
    owners = store.addresses.owners([k for row in rows for k in row.aliases])
    rows = [replace(row, aliases=tuple(owners.get(k, k) for k in row.aliases)) for row in rows]
    aliases = [k for row in rows for k in row.aliases]
    existing = {d["_id"]: d for d in store.learners.by_ids(aliases)}
    addresses: list[tuple[str, str]] = []  # (other address, learner) for the index
    updates: list[tuple[str, dict[str, Any]]] = []
    inserts: list[dict[str, Any]] = []
    fallback: list[
        tuple[str, dict[str, Any]]
    ] = []  # the same rows as updates, if an insert collides
    for row in rows:
        target = next((k for k in row.aliases if k in existing), row.aliases[0])
        # the row's other addresses join this learner, unless one is a learner of its
        # own already (wrote before the import): that one is left alone, never merged
        addresses += [(k, target) for k in row.aliases if k != target and k not in existing]
        doc = existing.get(target)
        fields: dict[str, Any] = {
            "name": row.name,
            "name_source": NAME_ROSTER,
            "roster_updated_at": now,
        }
        fields.update({f"profile.{k}": v for k, v in row.profile.items()})
        result.keys.append(target)
        if doc:
            for course_id in row.courses:
                if course_id not in doc.get("progress", {}):
                    fields[f"progress.{course_id}"] = _empty_progress()
            if _unchanged(doc, fields):
                result.unchanged += 1
                continue
            updates.append((target, fields))
            result.updated += 1
            continue
        new = {
            "_id": target,
            "name": row.name,
            "name_source": NAME_ROSTER,
            "channel": row.channel,
            "profile": dict(row.profile),
            "progress": {course_id: _empty_progress() for course_id in row.courses},
            "version": 0,
            "seq": 0,
            "outbox": [],
            "processed": [],
            "created_at": now,
            "roster_updated_at": now,
        }
        inserts.append(new)
        fields.update({f"progress.{c}": _empty_progress() for c in row.courses})
        fallback.append((target, fields))
        result.created += 1
        result.new[target] = row.courses
    store.learners.set_each(updates)
    store.addresses.add_each(addresses, now)
    collided = store.learners.insert_new(inserts)
    if collided:
        store.learners.set_each([fallback[i] for i in collided])
        for i in collided:
            result.new.pop(fallback[i][0], None)
        result.created -= len(collided)
        result.updated += len(collided)
    return result


def import_roster(
    store: Store,
    data: bytes,
    catalog: Catalog,
    now: datetime,
    region: str | None = None,
    slack_team: str | None = None,
) -> ImportResult:
    """Decode, check and write a roster file; raises RosterError for a file-level problem."""
    rows, errors = parse(decode(data), catalog, region, slack_team)
    result = write(store, rows, now)
    result.errors = errors
    return result
