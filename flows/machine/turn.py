"""Bookkeeping for one turn: the `Turn` being built, and the learner's place in a course.

Every handler takes a `Turn` (the learner as it stands, the catalog, the event, the time
and the replies so far) and returns a new one or its `Outcome`; the helpers here read and
set the learner's progress so that handlers never touch `Learner.progress` directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from flows.course import Catalog, Course
from flows.events import Button, Effect, Inbound, Outcome, Reply
from flows.messages import say
from flows.state import CHOSEN_NAMES, NAME_PROFILE, Learner, Progress, QuizAttempt

READING_GAP_CAP = timedelta(minutes=15)
"""Time between two messages counts as reading the current session up to this cap."""


@dataclass(frozen=True)
class Turn:
    """One event being handled: the learner as it stands and what they sent."""

    learner: Learner
    catalog: Catalog
    event: Inbound
    now: datetime
    replies: tuple[Reply, ...] = ()

    def say(
        self,
        key: str,
        course: Course | None = None,
        /,
        buttons: Iterable[Button] = (),
        **values: Any,
    ) -> Turn:
        """This turn with one more reply from the message catalog."""
        text = say(key, course, **values)
        return replace(self, replies=(*self.replies, Reply(text, tuple(buttons))))

    def update(self, **changes: Any) -> Turn:
        """This turn with the learner changed."""
        return replace(self, learner=replace(self.learner, **changes))

    def done(self, *effects: Effect) -> Outcome:
        """The outcome of this turn."""
        return Outcome(self.learner, self.replies, effects)

    @property
    def name(self) -> str:
        return self.learner.name or "there"


def observe(learner: Learner, event: Inbound, now: datetime) -> Learner:
    """Record who wrote and when, and count the gap since their previous message (capped) as
    time spent on the session they were reading.

    The channel's profile name (a WhatsApp ProfileName, a Slack display name) names the
    learner only while nobody chose a name for them: a roster or admin name is the person's
    name on certificates and managers' notices, whatever they call themselves in an app."""
    course_id = learner.active_course
    previous = learner.last_inbound_at
    if course_id and not learner.paused and previous is not None:
        progress = learner.progress_in(course_id)
        if progress.current:
            gap = min(max(now - previous, timedelta(0)), READING_GAP_CAP).total_seconds()
            seconds = {**progress.seconds}
            seconds[progress.current] = seconds.get(progress.current, 0.0) + gap
            learner = learner.with_progress(course_id, replace(progress, seconds=seconds))
    if event.name and learner.name_source not in CHOSEN_NAMES:
        learner = replace(learner, name=event.name, name_source=NAME_PROFILE)
    return replace(
        learner,
        channel=event.channel or learner.channel,
        last_inbound_at=now,
    )


def active_course(turn: Turn) -> Course | None:
    learner = turn.learner
    if learner.paused or not learner.active_course:
        return None
    return turn.catalog.get(learner.active_course)


def progress_of(turn: Turn, course: Course) -> Progress:
    return turn.learner.progress_in(course.id)


def current_number(turn: Turn, course: Course) -> int:
    """1-based number of the learner's current session (always valid after `settle`)."""
    return course.number_of(progress_of(turn, course).current or "") or 1


def lost_session(turn: Turn, course: Course) -> bool:
    """Whether the learner's current session was removed from the course by an author."""
    current = progress_of(turn, course).current
    return current is not None and current != "" and course.number_of(current) is None


def settle(turn: Turn, course: Course) -> Turn:
    """Make sure the learner's current session exists; if an author removed it, move them to
    their first unfinished session (position-free, so edits never corrupt progress)."""
    progress = progress_of(turn, course)
    if progress.current and not lost_session(turn, course):
        return turn
    target = first_open(course, progress)
    turn = set_progress(turn, course, replace(progress, current=course.session(target).id))
    if progress.current:
        turn = turn.say("session_moved", course, number=target)
    return turn


def first_open(course: Course, progress: Progress) -> int:
    """The first session not yet completed (the last one when all are)."""
    for number, session in enumerate(course.sessions, start=1):
        if session.id not in progress.completed:
            return number
    return len(course.sessions)


def done_count(course: Course, progress: Progress) -> int:
    return sum(1 for s in course.sessions if s.id in progress.completed)


def set_progress(turn: Turn, course: Course, progress: Progress) -> Turn:
    return replace(turn, learner=turn.learner.with_progress(course.id, progress))


def save_attempt(turn: Turn, course: Course, attempt: QuizAttempt) -> Turn:
    return set_progress(turn, course, progress_of(turn, course).with_attempt(attempt))


def add_reply(turn: Turn, reply: Reply) -> Turn:
    return replace(turn, replies=(*turn.replies, reply))
