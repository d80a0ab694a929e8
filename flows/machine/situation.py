"""Where a learner stands when a message arrives, computed once per message: it picks the
route table (`flows.machine.routes`) that says what the message means there.

`Message` is what the routes' predicates and handlers see; in a quiz, `QuizMessage` also
carries the attempt, brought in line with the course as it is now, and the message read
as an answer (a pressed option button becomes the position it stands for).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from flows.commands import Command, parse
from flows.course import Course, Question, Session
from flows.events import Outcome
from flows.machine.questions import read_button
from flows.machine.quizzing import in_quiz, reconcile
from flows.machine.turn import Turn, active_course, settle
from flows.messages import language_of
from flows.quiz import Parsed, find_question, parse_answer
from flows.state import QuizAttempt


class Situation(StrEnum):
    """The situations a learner's message can arrive in (each has its route table)."""

    NOT_ENROLLED = "not enrolled"  # no course, or theirs was removed from the catalog
    IN_COURSE = "in course"
    IN_QUIZ = "in quiz"
    AWAITING_GRADE = "awaiting grade"  # in a quiz, a written answer out with the model
    CONFIRMING = "confirming"  # asked "restart? yes / no"
    PAUSED = "paused"  # left with `exit`; progress kept


def situation_of(turn: Turn) -> Situation:
    """The learner's situation (a quiz counts before a pending confirmation, which a quiz
    message drops)."""
    learner = turn.learner
    if (quiz := in_quiz(turn)) is not None:
        return Situation.AWAITING_GRADE if quiz[1].awaiting is not None else Situation.IN_QUIZ
    if learner.pending == "restart":
        return Situation.CONFIRMING
    if active_course(turn) is not None:
        return Situation.IN_COURSE
    if learner.paused and learner.active_course:
        return Situation.PAUSED
    return Situation.NOT_ENROLLED


@dataclass(frozen=True)
class Message:
    """A learner's message: the turn, the text (a pressed button's payload, or what they
    typed) and the command it stands for (None: not a command, or no text)."""

    turn: Turn
    text: str
    command: Command | None

    @staticmethod
    def of(turn: Turn, text: str) -> Message:
        """The message with its command read (an empty one has none), in the language of
        the learner's course, paused or not (English when they have none)."""
        course = turn.catalog.get(turn.learner.active_course)
        command = parse(text, language_of(course)) if text.strip() else None
        return Message(turn, text, command)


@dataclass(frozen=True)
class QuizMessage(Message):
    """A message in a quiz. `answer` is the text read as an answer (an option button of the
    current question becomes its position) and `command` is parsed from it; `changed`
    says an author edited the current question since it was asked."""

    course: Course
    attempt: QuizAttempt
    changed: bool
    answer: str

    @cached_property
    def found(self) -> tuple[Session, Question]:
        """The current question and the session it comes from."""
        asked = self.attempt.current
        found = find_question(self.course, asked.question_id) if asked else None
        assert found is not None  # reconcile drops questions the course no longer has
        return found

    @property
    def question(self) -> Question:
        return self.found[1]

    @property
    def options(self) -> tuple[str, ...]:
        """The current question's options as this learner was shown them."""
        asked = self.attempt.current
        assert asked is not None
        return asked.options

    @cached_property
    def parsed(self) -> Parsed:
        """The answer read against the current question (a written answer as it is)."""
        options = () if self.question.kind == "text" else self.options
        return parse_answer(self.question, options, self.answer)


def quiz_message(turn: Turn, text: str, read_buttons: bool) -> QuizMessage | Outcome:
    """Enter the learner's quiz with a message: a pending confirmation is dropped and the
    attempt is reconciled with the course; a quiz that edits closed ends the turn there.
    `read_buttons` reads an option button of the current question as its position."""
    quiz = in_quiz(turn)
    assert quiz is not None
    course, attempt = quiz
    turn = settle(turn.update(pending=None), course)
    turn, current, changed = reconcile(turn, course, attempt)
    if current is None:
        return turn.done()
    answer = text
    asked = current.current
    button = read_button(text) if read_buttons and asked is not None else None
    if button is not None and asked is not None and button[0] == asked.question_id:
        answer = button[1]
    command = parse(answer, language_of(course)) if text.strip() else None
    return QuizMessage(turn, text, command, course, current, changed, answer)
