"""Navigation in a course: `next`, `previous`, `complete`, `section N`, `menu`, and free
text, which is a question about the current session for the assistant."""

from __future__ import annotations

from flows.commands import Command
from flows.course import Course
from flows.events import Ask, Button, Outcome
from flows.machine.progression import (
    after_last,
    celebrate,
    complete_current,
    deliver,
    marked_complete,
)
from flows.machine.quizzing import needs_quiz, quiz_gate
from flows.machine.review import start_session
from flows.machine.turn import Turn, current_number, done_count, first_open, progress_of, settle
from flows.messages import say


def next_session(turn: Turn, course: Course, _: Command) -> Outcome:
    number = current_number(turn, course)
    session = course.session(number)
    if needs_quiz(turn, course, session):
        if (gated := quiz_gate(turn, course, session, advance=True)) is not None:
            return gated
        # free navigation past a quiz already tried: move on, the session stays unfinished
        turn = turn.say("quiz_unfinished", course, number=number)
        if number < len(course.sessions):
            return start_session(turn, course, number + 1).done()
        return after_last(turn, course)
    turn, finished = complete_current(turn, course)
    if finished:
        return celebrate(turn, course)
    if number < len(course.sessions):
        return start_session(turn, course, number + 1).done()
    return after_last(turn, course)


def complete(turn: Turn, course: Course, _: Command) -> Outcome:
    number = current_number(turn, course)
    session = course.session(number)
    if needs_quiz(turn, course, session):
        return quiz_gate(turn, course, session, advance=False) or turn.done()
    turn, finished = complete_current(turn, course)
    if finished:
        return celebrate(turn, course)
    return marked_complete(turn, course, number)


def previous(turn: Turn, course: Course, _: Command) -> Outcome:
    number = current_number(turn, course)
    if number == 1:
        return turn.say("at_first", course).done()
    return deliver(turn, course, number - 1).done()


def section(turn: Turn, course: Course, command: Command) -> Outcome:
    total = len(course.sessions)
    target = int(command.arg) if command.arg.isdecimal() else 0
    if not 1 <= target <= total:
        turn = turn.say("out_of_range", course, given=command.arg, total=total)
        return menu(turn, course, command)
    opened = first_open(course, progress_of(turn, course))
    if course.navigation == "sequential" and target > opened:
        return turn.say("locked", course, target=target, open=opened).done()
    return deliver(turn, course, target).done()


def menu(turn: Turn, course: Course, _: Command) -> Outcome:
    progress = progress_of(turn, course)
    number = current_number(turn, course)
    return turn.say(
        "menu",
        course,
        buttons=_menu_buttons(course),
        course=course.title,
        done=done_count(course, progress),
        total=len(course.sessions),
        number=number,
        title=course.session(number).title,
    ).done()


def _menu_buttons(course: Course) -> tuple[Button, ...]:
    return (
        Button(say("button_previous", course), "previous"),
        Button(say("button_next", course), "next"),
        Button(say("button_complete", course), "complete"),
    )


def question(turn: Turn, course: Course, text: str) -> Outcome:
    """Free text in a course is a question about the current session."""
    turn = settle(turn, course)
    session = course.session(current_number(turn, course))
    return turn.done(Ask(question=text, course_id=course.id, session_id=session.id))
