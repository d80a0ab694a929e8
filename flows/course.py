"""The course model: what an author wrote, after the loader has parsed and validated it.

Sessions are identified by a stable id, never by position, so that inserting or
renaming a session file never corrupts a learner's progress.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

CHANNELS = ("whatsapp", "slack", "web", "console")


@dataclass(frozen=True)
class Media:
    """An image or document a session shows, as a path relative to its course folder."""

    path: str
    alt: str = ""


@dataclass(frozen=True)
class Question:
    """One quiz question as the author wrote it (graded by the quiz engine)."""

    id: str
    prompt: str
    kind: str = "single"  # single | multi | true_false | text
    options: tuple[str, ...] = ()
    answer: tuple[int, ...] | bool | None = None  # 1-based option numbers, or a boolean
    explain: str = ""
    rubric: str = ""


@dataclass(frozen=True)
class Session:
    """One session: a title, a Markdown body and what it references.

    A `final` session is the course's final exam: its quiz draws from every session's
    questions (and its own). `draw` asks that many questions per attempt, picked per learner
    and attempt; `time_limit` (seconds) overrides the course's quiz time limit."""

    id: str
    title: str
    body: str
    media: tuple[Media, ...] = ()
    quiz: tuple[Question, ...] = ()
    final: bool = False
    draw: int | None = None
    time_limit: int | None = None


@dataclass(frozen=True)
class QuizPolicy:
    """A course's quiz settings (`quiz:` in course.yaml)."""

    pass_mark: float = 80  # percent of questions right needed to pass
    max_attempts: int = 3  # failed attempts before the learner must ask for help
    shuffle: bool = False  # options shown in a per-learner, per-attempt order
    time_limit: int | None = None  # seconds per attempt; later answers are marked late


@dataclass(frozen=True, eq=False)
class Course:
    """A course with its sessions in delivery order and the author's settings.

    Compared and hashed by identity: each loaded version is its own value, so caches keyed
    by a course (such as the assistant's passages) are rebuilt when content reloads."""

    id: str
    title: str
    sessions: tuple[Session, ...]
    description: str = ""
    enroll: tuple[str, ...] = ()
    channels: tuple[str, ...] = CHANNELS
    navigation: str = "sequential"  # or "free"
    messages: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    settings: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    quiz: QuizPolicy = field(default_factory=QuizPolicy)

    def number_of(self, session_id: str) -> int | None:
        """1-based position of a session, or None when the course no longer has it."""
        for number, session in enumerate(self.sessions, start=1):
            if session.id == session_id:
                return number
        return None

    def session(self, number: int) -> Session:
        """The session at a 1-based position."""
        return self.sessions[number - 1]

    def session_by_id(self, session_id: str) -> Session | None:
        """The session with this id, or None when the course no longer has it."""
        return next((s for s in self.sessions if s.id == session_id), None)

    def offered_on(self, channel: str) -> bool:
        """Whether learners on this channel may take the course (console counts as web)."""
        return channel in self.channels or (channel == "console" and "web" in self.channels)


@dataclass(frozen=True)
class Catalog:
    """Every loaded course, in a stable order."""

    courses: tuple[Course, ...] = ()

    def get(self, course_id: str | None) -> Course | None:
        """The course with this id, or None."""
        return next((c for c in self.courses if c.id == course_id), None)

    def for_channel(self, channel: str) -> tuple[Course, ...]:
        """The courses offered on a channel."""
        return tuple(c for c in self.courses if c.offered_on(channel))
