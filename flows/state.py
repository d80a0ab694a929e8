"""A learner's state: immutable values that `flows.machine.step` turns into new values.

`to_doc` / `from_doc` convert to and from plain dicts so the store can persist them;
progress is keyed by course id and refers to sessions by id only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Progress:
    """Where a learner is in one course."""

    current: str | None = None
    completed: tuple[str, ...] = ()
    started_at: datetime | None = None
    completed_at: datetime | None = None
    seconds: Mapping[str, float] = field(default_factory=_empty)  # time spent per session id

    def with_completed(self, session_id: str) -> Progress:
        """The same progress with one more completed session (idempotent)."""
        if session_id in self.completed:
            return self
        return replace(self, completed=(*self.completed, session_id))


@dataclass(frozen=True)
class Learner:
    """Everything the bot remembers about one learner, keyed like `whatsapp:+1555…`."""

    key: str
    name: str = ""
    channel: str = ""
    active_course: str | None = None
    paused: bool = False  # left training with `exit`; progress kept, `resume` comes back
    opted_out: bool = False  # said STOP: no proactive messages
    pending: str | None = None  # a question awaiting yes/no, e.g. "restart"
    progress: Mapping[str, Progress] = field(default_factory=_empty)
    last_inbound_at: datetime | None = None
    profile: Mapping[str, Any] = field(default_factory=_empty)  # role, manager, timezone, address…
    recent: tuple[datetime, ...] = ()  # times of the last messages (flood protection)
    slowed_at: datetime | None = None  # when the learner was last asked to slow down

    def progress_in(self, course_id: str) -> Progress:
        """Progress in a course (empty when never started)."""
        return self.progress.get(course_id, Progress())

    def with_progress(self, course_id: str, progress: Progress) -> Learner:
        """The same learner with one course's progress replaced."""
        return replace(self, progress=MappingProxyType({**self.progress, course_id: progress}))


def _utc(value: datetime | None) -> datetime | None:
    # BSON datetimes come back naive (UTC) unless the client is tz-aware.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def to_doc(learner: Learner) -> dict[str, Any]:
    """A plain dict of the learner's state (the store adds outbox, version, …)."""
    doc = {f.name: getattr(learner, f.name) for f in fields(Learner) if f.name != "key"}
    doc["progress"] = {
        cid: {
            **{f.name: getattr(p, f.name) for f in fields(Progress)},
            "completed": list(p.completed),
            "seconds": dict(p.seconds),
        }
        for cid, p in learner.progress.items()
    }
    doc["profile"] = dict(learner.profile)
    doc["recent"] = list(learner.recent)
    return doc


def from_doc(key: str, doc: Mapping[str, Any] | None) -> Learner:
    """The learner stored in `doc`, or a new one when there is none."""
    if not doc:
        return Learner(key=key)
    progress = {
        cid: Progress(
            current=p.get("current"),
            completed=tuple(p.get("completed", ())),
            started_at=_utc(p.get("started_at")),
            completed_at=_utc(p.get("completed_at")),
            seconds=MappingProxyType(dict(p.get("seconds", {}))),
        )
        for cid, p in doc.get("progress", {}).items()
    }
    return Learner(
        key=key,
        name=doc.get("name", ""),
        channel=doc.get("channel", ""),
        active_course=doc.get("active_course"),
        paused=bool(doc.get("paused", False)),
        opted_out=bool(doc.get("opted_out", False)),
        pending=doc.get("pending"),
        progress=MappingProxyType(progress),
        last_inbound_at=_utc(doc.get("last_inbound_at")),
        profile=MappingProxyType(dict(doc.get("profile", {}))),
        recent=tuple(_utc(t) for t in doc.get("recent", ())),
        slowed_at=_utc(doc.get("slowed_at")),
    )
