"""A learner's state: immutable values that `flows.machine.step` turns into new values.

`to_doc` / `from_doc` convert to and from plain dicts so the store can persist them;
progress is keyed by course id and refers to sessions and quiz questions by id only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, cast


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


QUIZ_ACTIVE, QUIZ_PASSED, QUIZ_FAILED, QUIZ_ABANDONED = "active", "passed", "failed", "abandoned"
QUIZ, FINAL, REVIEW = "quiz", "final", "review"  # kinds of attempt
NAME_ROSTER, NAME_ADMIN, NAME_PROFILE = "roster", "admin", "profile"  # where a name came from
CHOSEN_NAMES = (NAME_ROSTER, NAME_ADMIN)
"""Names an organisation gave a learner: a channel's profile name never replaces them."""


@dataclass(frozen=True)
class Asked:
    """One question of an attempt, with its options as they were shown (after shuffling;
    `True` / `False` for a true_false question, none for a text question)."""

    question_id: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class QuizAnswer:
    """What a learner answered to one question, and how it was graded."""

    question_id: str
    given: str  # the text or button the learner sent ("" when skipped)
    picked: tuple[str, ...]  # the options chosen, by their text as shown
    correct: bool
    at: datetime
    seconds: float  # from the question being asked to the answer
    late: bool = False  # answered after the attempt's time limit
    skipped: bool = False
    grading: str = "exact"  # exact | keywords | model (how a text answer was marked)


@dataclass(frozen=True)
class QuizAttempt:
    """One attempt at a session's quiz, the final exam, or a spaced review.

    Every attempt is kept (passed, failed or abandoned) for item analysis. `number` counts
    attempts per session and kind; `advance` delivers the next session on a pass (started by
    `next`); `then` is the session a review was started in front of."""

    session_id: str
    number: int
    kind: str = QUIZ  # quiz | final | review
    asked: tuple[Asked, ...] = ()
    answers: tuple[QuizAnswer, ...] = ()
    status: str = QUIZ_ACTIVE  # active | passed | failed | abandoned
    started_at: datetime | None = None
    asked_at: datetime | None = None  # when the current question was sent
    finished_at: datetime | None = None
    pass_mark: float = 80
    time_limit: int | None = None  # seconds
    advance: bool = False
    then: str | None = None
    awaiting: QuizAnswer | None = None  # a written answer waiting for the model's verdict

    @property
    def current(self) -> Asked | None:
        """The question awaiting an answer, or None when all are answered."""
        return self.asked[len(self.answers)] if len(self.answers) < len(self.asked) else None

    @property
    def score(self) -> int:
        return sum(1 for a in self.answers if a.correct)

    @property
    def late(self) -> int:
        return sum(1 for a in self.answers if a.late)

    def same(self, other: QuizAttempt) -> bool:
        """Whether two values are versions of one attempt."""
        return (self.kind, self.session_id, self.number) == (
            other.kind,
            other.session_id,
            other.number,
        )


@dataclass(frozen=True)
class ReviewItem:
    """A question the learner got wrong, coming back on a Leitner-style schedule: due
    `2^(box-1)` days after `anchor` (the last miss); two right answers in a row retire it."""

    question_id: str
    session_id: str
    anchor: datetime
    due: datetime
    box: int = 1
    rights: int = 0


@dataclass(frozen=True)
class Progress:
    """Where a learner is in one course."""

    current: str | None = None
    completed: tuple[str, ...] = ()
    started_at: datetime | None = None
    completed_at: datetime | None = None
    seconds: Mapping[str, float] = field(default_factory=_empty)  # time spent per session id
    quizzes: tuple[QuizAttempt, ...] = ()  # every attempt, oldest first
    reviews: tuple[ReviewItem, ...] = ()  # missed questions awaiting spaced review
    quiz_blocked: tuple[str, ...] = ()  # sessions whose attempts ran out: admin attention

    def with_completed(self, session_id: str) -> Progress:
        """The same progress with one more completed session (idempotent)."""
        if session_id in self.completed:
            return self
        return replace(self, completed=(*self.completed, session_id))

    @property
    def active_quiz(self) -> QuizAttempt | None:
        """The attempt the learner is in the middle of, if any."""
        return next((a for a in reversed(self.quizzes) if a.status == QUIZ_ACTIVE), None)

    def attempts(self, session_id: str) -> tuple[QuizAttempt, ...]:
        """A session's quiz (or final exam) attempts, oldest first; reviews excluded."""
        return tuple(a for a in self.quizzes if a.session_id == session_id and a.kind != REVIEW)

    def with_attempt(self, attempt: QuizAttempt) -> Progress:
        """The same progress with this attempt added or updated."""
        if any(a.same(attempt) for a in self.quizzes):
            quizzes = tuple(attempt if a.same(attempt) else a for a in self.quizzes)
        else:
            quizzes = (*self.quizzes, attempt)
        return replace(self, quizzes=quizzes)


@dataclass(frozen=True)
class Learner:
    """Everything the bot remembers about one learner, keyed like `whatsapp:+1555…`."""

    key: str
    name: str = ""
    name_source: str = ""  # roster | admin | profile ("" = unknown, as profile)
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


def _at(value: Any) -> datetime:
    """A time every stored record of its kind holds (`_utc` is for optional ones)."""
    return cast(datetime, _utc(value))


def _plain(value: Any) -> Any:
    """Dataclasses, tuples and mappings as the dicts and lists a document store keeps."""
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_doc(learner: Learner) -> dict[str, Any]:
    """A plain dict of the learner's state (the store adds outbox, version, …)."""
    doc = {f.name: getattr(learner, f.name) for f in fields(Learner) if f.name != "key"}
    doc["progress"] = {cid: _plain(p) for cid, p in learner.progress.items()}
    doc["profile"] = dict(learner.profile)
    doc["recent"] = list(learner.recent)
    return doc


def _attempt(doc: Mapping[str, Any]) -> QuizAttempt:
    return QuizAttempt(
        session_id=doc.get("session_id", ""),
        number=int(doc.get("number", 1)),
        kind=doc.get("kind", QUIZ),
        asked=tuple(
            Asked(a.get("question_id", ""), tuple(a.get("options", ())))
            for a in doc.get("asked", ())
        ),
        answers=tuple(_answer(a) for a in doc.get("answers", ())),
        status=doc.get("status", QUIZ_ABANDONED),
        started_at=_utc(doc.get("started_at")),
        asked_at=_utc(doc.get("asked_at")),
        finished_at=_utc(doc.get("finished_at")),
        pass_mark=float(doc.get("pass_mark", 80)),
        time_limit=doc.get("time_limit"),
        advance=bool(doc.get("advance", False)),
        then=doc.get("then"),
        awaiting=_answer(doc["awaiting"]) if doc.get("awaiting") else None,
    )


def _answer(doc: Mapping[str, Any]) -> QuizAnswer:
    return QuizAnswer(
        question_id=doc.get("question_id", ""),
        given=doc.get("given", ""),
        picked=tuple(doc.get("picked", ())),
        correct=bool(doc.get("correct", False)),
        at=_at(doc.get("at")),
        seconds=float(doc.get("seconds", 0.0)),
        late=bool(doc.get("late", False)),
        skipped=bool(doc.get("skipped", False)),
        grading=doc.get("grading", "exact"),
    )


def _review(doc: Mapping[str, Any]) -> ReviewItem:
    return ReviewItem(
        question_id=doc.get("question_id", ""),
        session_id=doc.get("session_id", ""),
        anchor=_at(doc.get("anchor")),
        due=_at(doc.get("due")),
        box=int(doc.get("box", 1)),
        rights=int(doc.get("rights", 0)),
    )


def _name_source(doc: Mapping[str, Any]) -> str:
    """Where the stored name came from; a document a roster import wrote before the field
    existed says so by its import time, so its name is protected too."""
    if doc.get("name_source"):
        return str(doc["name_source"])
    return NAME_ROSTER if doc.get("roster_updated_at") and doc.get("name") else ""


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
            quizzes=tuple(_attempt(a) for a in p.get("quizzes", ())),
            reviews=tuple(_review(r) for r in p.get("reviews", ()) if r.get("due")),
            quiz_blocked=tuple(p.get("quiz_blocked", ())),
        )
        for cid, p in doc.get("progress", {}).items()
    }
    return Learner(
        key=key,
        name=doc.get("name", ""),
        name_source=_name_source(doc),
        channel=doc.get("channel", ""),
        active_course=doc.get("active_course"),
        paused=bool(doc.get("paused", False)),
        opted_out=bool(doc.get("opted_out", False)),
        pending=doc.get("pending"),
        progress=MappingProxyType(progress),
        last_inbound_at=_utc(doc.get("last_inbound_at")),
        profile=MappingProxyType(dict(doc.get("profile", {}))),
        recent=tuple(_at(t) for t in doc.get("recent", ())),
        slowed_at=_utc(doc.get("slowed_at")),
    )
