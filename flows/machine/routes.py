"""What a message means, situation by situation: one ordered table of (predicate, handler)
rows per `Situation`, as python-telegram-bot's ConversationHandler declares its states.

`step` computes the learner's situation once and walks its table: the first row whose
predicate matches handles the message. Commands answered everywhere are declared once
(`EVERYWHERE`, `OUTSIDE_QUIZZES`) and shared by the tables, like ConversationHandler's
fallbacks; in a quiz they answer and the question (or the wait) follows. Every table ends
with a row that matches anything, so a message always has a meaning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from flows.commands import Cmd, Command, match_enrollment
from flows.course import Catalog, Course
from flows.events import Inbound, Outcome, Reply
from flows.machine import account, enrollment, grading, navigation, quizzing, review
from flows.machine.questions import BUTTON, ask, read_button
from flows.machine.situation import Message, QuizMessage, Situation, quiz_message, situation_of
from flows.machine.turn import Turn, active_course, current_number, lost_session, observe, settle
from flows.messages import say
from flows.quiz import GRADE_WAIT, looks_like_question
from flows.state import Learner

M = TypeVar("M", bound=Message)
Route = tuple[Callable[[M], bool], Callable[[M], Outcome]]
"""One row: when the predicate matches the message, the handler makes the outcome."""


# --- predicates -------------------------------------------------------------------------


class is_command:  # lower case: it reads as a predicate in the tables
    """The message is one of these commands (`names` says which, for the table test)."""

    def __init__(self, *names: Cmd) -> None:
        self.names = frozenset(names)

    def __call__(self, message: Message) -> bool:
        return message.command is not None and message.command.name in self.names

    def __repr__(self) -> str:
        return f"is_command({', '.join(sorted(self.names))})"


def any_command(message: Message) -> bool:
    return message.command is not None


def any_message(_: Message) -> bool:
    return True


def no_text(message: Message) -> bool:
    """Nothing to read: an empty message, or a photo or voice note alone."""
    return not message.text.strip()


def quiz_button(message: Message) -> bool:
    """An option button of a quiz that is no longer running."""
    return message.command is None and message.text.startswith(BUTTON)


def enrollment_phrase(message: Message) -> bool:
    return message.command is None and _phrase_course(message) is not None


def course_is_empty(message: Message) -> bool:
    course = active_course(message.turn)
    return course is not None and not course.sessions


def session_removed(message: Message) -> bool:
    """An author removed the session the learner was reading."""
    course = active_course(message.turn)
    return course is not None and lost_session(message.turn, course)


def both(*predicates: Callable[[M], bool]) -> Callable[[M], bool]:
    def matches(message: M) -> bool:
        return all(p(message) for p in predicates)

    return matches


def all_answered(message: QuizMessage) -> bool:
    return message.attempt.current is None


def question_changed(message: QuizMessage) -> bool:
    return message.changed


def stale_button(message: QuizMessage) -> bool:
    """An option button of another question than the current one."""
    button = read_button(message.text)
    return button is not None and button[0] != message.question.id


def is_answer(message: QuizMessage) -> bool:
    """A written question takes any text but a command (yes / no are answers too); other
    questions take what reads as one of their options."""
    if message.question.kind == "text":
        return message.command is None or message.command.name in (Cmd.YES, Cmd.NO)
    return not message.parsed.error


def asks_something(message: QuizMessage) -> bool:
    return looks_like_question(message.answer)


def grade_overdue(message: QuizMessage) -> bool:
    waiting = message.attempt.awaiting
    return waiting is not None and message.turn.now - waiting.at >= GRADE_WAIT


# --- handlers that adapt the concerns' functions to a message ---------------------------


def given(handle: Callable[[Turn, Command], Outcome]) -> Callable[[Message], Outcome]:
    """A command handled the same in or out of a course."""

    def handler(message: Message) -> Outcome:
        assert message.command is not None
        return handle(message.turn, message.command)

    return handler


def in_course(
    handle: Callable[[Turn, Course, Command], Outcome],
) -> Callable[[Message], Outcome]:
    """A course command, after making sure the learner's current session still exists."""

    def handler(message: Message) -> Outcome:
        course = active_course(message.turn)
        assert course is not None and message.command is not None
        return handle(settle(message.turn, course), course, message.command)

    return handler


def then_ask_again(handle: Callable[[Message], Outcome]) -> Callable[[QuizMessage], Outcome]:
    """In a quiz: answer, then put the current question again."""

    def handler(message: QuizMessage) -> Outcome:
        outcome = handle(message)
        turn = replace(message.turn, learner=outcome.learner, replies=outcome.replies)
        return ask(turn, message.course, message.attempt).done(*outcome.effects)

    return handler


def then_wait(handle: Callable[[Message], Outcome]) -> Callable[[QuizMessage], Outcome]:
    """While a written answer is being graded: answer, then ask to wait."""

    def handler(message: QuizMessage) -> Outcome:
        outcome = handle(message)
        wait = Reply(say("quiz_grading_wait", message.course))
        return replace(outcome, replies=(*outcome.replies, wait))

    return handler


def _phrase_course(message: Message) -> Course | None:
    turn = message.turn
    return match_enrollment(turn.catalog, message.text, turn.event.channel)


def nothing_to_read(message: Message) -> Outcome:
    key = "media_only" if message.turn.event.media_count else "empty_message"
    return message.turn.say(key).done()


def quiz_is_over(message: Message) -> Outcome:
    return message.turn.say("quiz_over", active_course(message.turn)).done()


def enroll_by_phrase(message: Message) -> Outcome:
    course = _phrase_course(message)
    assert course is not None
    return enrollment.enroll(message.turn, course)


def not_in_a_course(message: Message) -> Outcome:
    return enrollment.no_course(message.turn)


def leave_empty_course(message: Message) -> Outcome:
    course = active_course(message.turn)
    assert course is not None
    return enrollment.leave_empty(message.turn, course)


def show_moved_session(message: Message) -> Outcome:
    """`next` / `complete` after an author removed the session: the learner has not seen
    the session they were moved to, so it is shown, not completed."""
    course = active_course(message.turn)
    assert course is not None
    turn = settle(message.turn, course)
    return review.start_session(turn, course, current_number(turn, course)).done()


def ask_the_assistant(message: Message) -> Outcome:
    course = active_course(message.turn)
    assert course is not None
    return navigation.question(message.turn, course, message.text)


def confirm(message: Message) -> Outcome:
    assert message.command is not None
    return enrollment.confirm_restart(message.turn, message.command.name is Cmd.YES)


def forget_confirmation(message: Message) -> Outcome:
    """Anything but yes / no drops the question and means what it means without it: the
    one hand-over to another situation's table."""
    turn = message.turn.update(pending=None)
    return walk(ROUTES[situation_of(turn)], replace(message, turn=turn))


def pause_quiz(message: QuizMessage) -> Outcome:
    assert message.command is not None
    return enrollment.exit_course(message.turn, message.course, message.command)


# --- the tables -------------------------------------------------------------------------

EVERYWHERE: tuple[Route[Message], ...] = (
    (is_command(Cmd.HELP), given(account.show_help)),
    (is_command(Cmd.PROGRESS), given(account.progress_report)),
    (is_command(Cmd.COURSES), given(account.list_courses)),
    (is_command(Cmd.STOP), given(account.stop)),
    (is_command(Cmd.START), given(account.start)),
)
"""Answered in every situation, in a quiz too (the question or the wait follows)."""

OUTSIDE_QUIZZES: tuple[Route[Message], ...] = (
    *EVERYWHERE,
    (is_command(Cmd.ENROLL), given(enrollment.enroll_by_id)),
    (is_command(Cmd.RESUME), given(enrollment.resume)),
    (is_command(Cmd.YES, Cmd.NO), given(account.unconfirmed)),
    (is_command(Cmd.TIMEZONE), given(account.set_timezone)),
    (is_command(Cmd.CERTIFICATE), given(account.certificate)),
    (is_command(Cmd.LINK), given(account.link)),
)
"""Commands that mean the same in or out of a course."""

BEFORE_COMMANDS: tuple[Route[Message], ...] = (
    (no_text, nothing_to_read),
    (quiz_button, quiz_is_over),
    (enrollment_phrase, enroll_by_phrase),
)

OUT_OF_COURSE: tuple[Route[Message], ...] = (
    *BEFORE_COMMANDS,
    *OUTSIDE_QUIZZES,
    (any_message, not_in_a_course),
)

IN_COURSE: tuple[Route[Message], ...] = (
    *BEFORE_COMMANDS,
    *OUTSIDE_QUIZZES,
    (course_is_empty, leave_empty_course),
    (both(session_removed, is_command(Cmd.NEXT, Cmd.COMPLETE)), show_moved_session),
    (is_command(Cmd.NEXT), in_course(navigation.next_session)),
    (is_command(Cmd.PREVIOUS), in_course(navigation.previous)),
    (is_command(Cmd.MENU), in_course(navigation.menu)),
    (is_command(Cmd.COMPLETE), in_course(navigation.complete)),
    (is_command(Cmd.SECTION), in_course(navigation.section)),
    (is_command(Cmd.RESTART), in_course(enrollment.restart)),
    (is_command(Cmd.EXIT), in_course(enrollment.exit_course)),
    (is_command(Cmd.QUIZ, Cmd.RETAKE), in_course(quizzing.take_quiz)),
    (is_command(Cmd.REVIEW), in_course(review.review)),
    (is_command(Cmd.SKIP, Cmd.QUIT), in_course(quizzing.not_in_quiz)),
    (any_message, ask_the_assistant),
)

CONFIRMING: tuple[Route[Message], ...] = (
    (no_text, nothing_to_read),
    (is_command(Cmd.YES, Cmd.NO), confirm),
    (any_message, forget_confirmation),
)

IN_QUIZ: tuple[Route[QuizMessage], ...] = (
    (all_answered, grading.finish_attempt),
    (question_changed, grading.ask_again),
    (no_text, grading.say_how_to_answer),
    (stale_button, grading.refuse_stale_button),
    (is_command(Cmd.SKIP), grading.skip_question),
    (is_command(Cmd.QUIT), grading.leave_quiz),
    (is_answer, grading.record_answer),
    (is_command(Cmd.EXIT), pause_quiz),
    *((matches, then_ask_again(handle)) for matches, handle in EVERYWHERE),
    (any_command, grading.busy),
    (asks_something, grading.ask_about_question),
    (any_message, grading.explain_error),
)

AWAITING_GRADE: tuple[Route[QuizMessage], ...] = (
    (grade_overdue, grading.settle_overdue),
    *((matches, then_wait(handle)) for matches, handle in EVERYWHERE),
    (any_message, grading.ask_to_wait),
)

ROUTES: Mapping[Situation, tuple[Route[Message], ...]] = {
    Situation.NOT_ENROLLED: OUT_OF_COURSE,
    Situation.PAUSED: OUT_OF_COURSE,
    Situation.IN_COURSE: IN_COURSE,
    Situation.CONFIRMING: CONFIRMING,
}
QUIZ_ROUTES: Mapping[Situation, tuple[Route[QuizMessage], ...]] = {
    Situation.IN_QUIZ: IN_QUIZ,
    Situation.AWAITING_GRADE: AWAITING_GRADE,
}


def walk(routes: Sequence[Route[M]], message: M) -> Outcome:
    """The outcome of the first row that matches."""
    for matches, handle in routes:
        if matches(message):
            return handle(message)
    raise LookupError("a route table must end with a row that matches any message")


def step(learner: Learner, catalog: Catalog, event: Inbound, now: datetime) -> Outcome:
    """Handle one inbound event for one learner."""
    if event.grade is not None:  # a grader's verdict, not the learner writing
        return grading.on_verdict(Turn(learner, catalog, event, now), event.grade)
    turn = Turn(observe(learner, event, now), catalog, event, now)
    text = event.payload or event.text
    situation = situation_of(turn)
    if situation in QUIZ_ROUTES:
        read_buttons = situation is Situation.IN_QUIZ
        entered = quiz_message(turn, text, read_buttons)
        if isinstance(entered, Outcome):
            return entered
        return walk(QUIZ_ROUTES[situation], entered)
    return walk(ROUTES[situation], Message.of(turn, text))
