"""Spaced review: questions a learner missed (or got right) come back when due, one in
front of the next session or all at once with `review`."""

from __future__ import annotations

from dataclasses import replace

from flows.commands import Command
from flows.course import Course
from flows.events import Outcome
from flows.machine.progression import deliver
from flows.machine.questions import ask, shown_to
from flows.machine.turn import Turn, current_number, progress_of, save_attempt, set_progress
from flows.quiz import SPACED_KINDS, due_reviews, find_question
from flows.state import QUIZ_FAILED, REVIEW, Asked, QuizAttempt, ReviewItem


def _due(turn: Turn, course: Course) -> tuple[ReviewItem, ...]:
    """Review items due now whose questions the course still has."""
    return tuple(
        item
        for item in due_reviews(progress_of(turn, course).reviews, turn.now)
        if (found := find_question(course, item.question_id)) and found[1].kind in SPACED_KINDS
    )


def _start_review(
    turn: Turn, course: Course, items: tuple[ReviewItem, ...], then: str | None
) -> Turn:
    """A review attempt over `items`; `then` is the session to deliver when it ends."""
    progress = progress_of(turn, course)
    number = 1 + sum(1 for a in progress.quizzes if a.kind == REVIEW)
    attempt = QuizAttempt(
        session_id=progress.current or course.sessions[0].id,
        number=number,
        kind=REVIEW,
        started_at=turn.now,
        asked_at=turn.now,
        pass_mark=100,
        then=then,
    )
    questions = [find_question(course, i.question_id) for i in items]
    asked = tuple(Asked(f[1].id, shown_to(turn, course, attempt, f[1])) for f in questions if f)
    attempt = replace(attempt, asked=asked)
    return ask(save_attempt(turn, course, attempt), course, attempt)


def start_session(turn: Turn, course: Course, number: int) -> Turn:
    """Deliver session `number`, after a one-question review when one is due."""
    due = _due(turn, course)
    if not due:
        return deliver(turn, course, number)
    session = course.session(number)
    turn = set_progress(turn, course, replace(progress_of(turn, course), current=session.id))
    turn = turn.say("review_intro", course, number=number)
    return _start_review(turn, course, due[:1], then=session.id)


def review(turn: Turn, course: Course, _: Command) -> Outcome:
    """`review`: after a failed quiz, re-read the session; otherwise go over every review
    that is due (or, with none due, re-read the current session)."""
    number = current_number(turn, course)
    session = course.session(number)
    progress = progress_of(turn, course)
    earlier = progress.attempts(session.id)
    if earlier and earlier[-1].status == QUIZ_FAILED and session.id not in progress.completed:
        turn = deliver(turn, course, number)
        return turn.say("quiz_reread", course, number=number).done()
    due = _due(turn, course)
    if not due:
        return deliver(turn.say("review_none", course, number=number), course, number).done()
    turn = turn.say("review_start", course, count=len(due))
    return _start_review(turn, course, due, then=None).done()
