"""The quiz engine: which questions and in what order, grading, scoring and the review
schedule.

Everything here is pure. Randomness is derived from a seed the caller passes in (the
learner's key, the question id and the attempt number), so the same learner sees the same
order again on a reload and a test can predict it; time comes in as arguments.

Reading an answer from a message lives in `flows.answers`, the keyword check of written
answers in `flows.rubric`; their names are re-exported here so that `from flows.quiz
import ...` keeps working for every caller.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from flows.answers import MAX_GIVEN as MAX_GIVEN
from flows.answers import Parsed as Parsed
from flows.answers import looks_like_question as looks_like_question
from flows.answers import parse_answer as parse_answer
from flows.course import Course, Question, Session
from flows.rubric import KeywordGrade as KeywordGrade
from flows.rubric import Point as Point
from flows.rubric import keyword_grade as keyword_grade
from flows.state import ReviewItem

MODEL_PASS = 0.5  # a model's score (0–1, the share of the rubric met) at or above this is right
GRADE_WAIT = timedelta(minutes=2)  # after this the keyword verdict stands (the grader is lost)

REVIEW_RIGHTS = 2  # right answers in a row that retire a review item
SPACED_KINDS = ("single", "multi", "true_false")  # written answers are not drilled


# --- what a question looks like in an attempt ----------------------------------------


def _rank(seed: str) -> bytes:
    return hashlib.sha256(seed.encode()).digest()


def seed_for(learner_key: str, question_id: str, kind: str, number: int) -> str:
    """The seed of one question in one attempt: stable per learner, question and attempt."""
    return f"{learner_key}|{question_id}|{kind}|{number}"


def option_order(question: Question, seed: str, shuffle: bool) -> tuple[int, ...]:
    """The author's 1-based option numbers in the order the learner sees them."""
    numbers = tuple(range(1, len(question.options) + 1))
    if not shuffle or question.kind not in ("single", "multi"):
        return numbers
    return tuple(sorted(numbers, key=lambda n: _rank(f"{seed}|{n}")))


def shown_options(
    question: Question, order: Sequence[int], true_false: tuple[str, str]
) -> tuple[str, ...]:
    """The option texts as shown (`true_false` gives the words for True and False)."""
    if question.kind == "true_false":
        return true_false
    if question.kind == "text":
        return ()
    return tuple(question.options[n - 1] for n in order)


def draw(pool: Sequence[Question], count: int | None, seed: str) -> tuple[Question, ...]:
    """`count` questions from `pool` chosen by `seed` (all when count is None or larger)."""
    if count is None or count >= len(pool):
        return tuple(pool)
    chosen = sorted(pool, key=lambda q: _rank(f"{seed}|{q.id}"))[:count]
    return tuple(chosen)


def questions_for(course: Course, session: Session) -> tuple[Question, ...]:
    """The questions a session's quiz draws from: its own, and for a final exam every other
    session's too (each question once, by id)."""
    if not session.final:
        return session.quiz
    seen: dict[str, Question] = {q.id: q for q in session.quiz}
    for other in course.sessions:
        if not other.final:
            for question in other.quiz:
                seen.setdefault(question.id, question)
    return tuple(seen.values())


def has_quiz(course: Course, session: Session) -> bool:
    """Whether completing this session needs a passed quiz."""
    return bool(questions_for(course, session))


def find_question(course: Course, question_id: str) -> tuple[Session, Question] | None:
    """The question with this id and the session it belongs to (final exams last)."""
    found = None
    for session in course.sessions:
        for question in session.quiz:
            if question.id == question_id and (found is None or found[0].final):
                found = (session, question)
    return found


# --- grading -------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """How an answer was graded."""

    correct: bool
    picked: tuple[str, ...] = ()  # option texts as shown
    grading: str = "exact"  # exact | keywords
    keywords: KeywordGrade | None = None


def grade(
    question: Question, order: Sequence[int], options: Sequence[str], parsed: Parsed
) -> Verdict:
    """Grade a readable answer: choice answers exactly, written ones by keywords."""
    if question.kind == "text":
        checked = keyword_grade(question.rubric, parsed.text)
        return Verdict(checked.correct, (), "keywords", checked)
    picked = tuple(options[p - 1] for p in parsed.picks)
    if question.kind == "true_false":
        return Verdict(parsed.picks == ((1,) if question.answer is True else (2,)), picked)
    chosen = {order[p - 1] for p in parsed.picks}
    answer = question.answer if isinstance(question.answer, tuple) else ()
    return Verdict(chosen == set(answer), picked)


def right_positions(question: Question, order: Sequence[int]) -> tuple[int, ...]:
    """The positions (as shown) of the right options."""
    if question.kind == "true_false":
        return (1,) if question.answer is True else (2,)
    answer = question.answer if isinstance(question.answer, tuple) else ()
    return tuple(sorted(order.index(n) + 1 for n in answer if n in order))


# --- scores --------------------------------------------------------------------------


def percent(score: int, total: int) -> int:
    """Score as a whole percentage, halves rounded up (2/3 → 67, 1/8 → 13)."""
    return (200 * score + total) // (2 * total) if total else 0


def passed(score: int, total: int, pass_mark: float) -> bool:
    """Whether the score reaches the pass mark; exactly the pass mark passes (4/5 at 80)."""
    return total > 0 and 100 * score >= pass_mark * total


def is_late(started_at: datetime | None, limit: int | None, now: datetime) -> bool:
    """Whether an answer at `now` comes after the attempt's time limit."""
    return bool(limit and started_at and now - started_at > timedelta(seconds=limit))


# --- spaced review -------------------------------------------------------------------


def review_interval(box: int) -> timedelta:
    """How long after its anchor an item in `box` is due: 1, 2, 4, 8… days."""
    return timedelta(days=2 ** (max(box, 1) - 1))


def schedule_miss(
    items: Sequence[ReviewItem], question_id: str, session_id: str, now: datetime
) -> tuple[ReviewItem, ...]:
    """A wrong answer (anywhere) puts the question in box 1: due again one day later."""
    item = ReviewItem(question_id, session_id, anchor=now, due=now + review_interval(1))
    return (*(i for i in items if i.question_id != question_id), item)


def schedule_right(
    items: Sequence[ReviewItem], question_id: str, now: datetime
) -> tuple[ReviewItem, ...]:
    """A right answer in a review moves the item up a box: due on the 2nd, 4th, 8th… day
    after the miss (the first such day still ahead); the second right in a row retires it."""
    result = []
    for item in items:
        if item.question_id != question_id:
            result.append(item)
            continue
        if item.rights + 1 >= REVIEW_RIGHTS:
            continue
        box = item.box + 1
        while item.anchor + review_interval(box) <= now:
            box += 1
        due = item.anchor + review_interval(box)
        result.append(replace(item, box=box, due=due, rights=item.rights + 1))
    return tuple(result)


def due_reviews(items: Sequence[ReviewItem], now: datetime) -> tuple[ReviewItem, ...]:
    """Items due at `now`, the longest-waiting first."""
    return tuple(sorted((i for i in items if i.due <= now), key=lambda i: (i.due, i.question_id)))
