"""Enrollment: joining a course (by phrase or button), leaving it (`exit`), coming back
(`resume`), starting over (`restart`, confirmed), and what a learner outside any course
is told."""

from __future__ import annotations

from dataclasses import replace

from flows.commands import Command
from flows.course import Course
from flows.events import Button, Outcome
from flows.machine.progression import deliver
from flows.machine.quizzing import resume_quiz
from flows.machine.review import start_session
from flows.machine.turn import (
    Turn,
    active_course,
    current_number,
    done_count,
    first_open,
    progress_of,
    set_progress,
    settle,
)
from flows.messages import say
from flows.state import QUIZ_ABANDONED, QUIZ_ACTIVE, Progress


def enroll(turn: Turn, course: Course) -> Outcome:
    if not course.sessions:
        return leave_empty(turn, course)
    progress = progress_of(turn, course)
    turn = turn.update(active_course=course.id, paused=False, pending=None)
    if progress.started_at is None:
        turn = set_progress(turn, course, Progress(current=None, started_at=turn.now))
        turn = turn.say(
            "welcome", course, name=turn.name, course=course.title, total=len(course.sessions)
        )
        return deliver(turn, course, 1).done()
    turn = turn.say("welcome_back", course, name=turn.name, course=course.title)
    turn = settle(turn, course)
    if (attempt := progress_of(turn, course).active_quiz) is not None:
        return resume_quiz(turn, course, attempt)
    return deliver(turn, course, current_number(turn, course)).done()


def enroll_by_id(turn: Turn, command: Command) -> Outcome:
    course = turn.catalog.get(command.arg)
    if course is None:
        return turn.say("course_gone").done()
    if not course.offered_on(turn.event.channel):
        return turn.say("not_offered", course, course=course.title).done()
    return enroll(turn, course)


def resume(turn: Turn, _: Command) -> Outcome:
    learner = turn.learner
    course = turn.catalog.get(learner.active_course)
    if course is None:
        return turn.say("course_gone" if learner.active_course else "nothing_to_resume").done()
    if not course.sessions:
        return leave_empty(turn, course)
    turn = turn.update(paused=False).say("resume", course, name=turn.name, course=course.title)
    turn = settle(turn, course)
    if (attempt := progress_of(turn, course).active_quiz) is not None:
        return resume_quiz(turn, course, attempt)
    return start_session(turn, course, current_number(turn, course)).done()


def restart(turn: Turn, course: Course, _: Command) -> Outcome:
    buttons = (Button(say("button_yes", course), "yes"), Button(say("button_no", course), "no"))
    return (
        turn.update(pending="restart")
        .say("restart_confirm", course, buttons=buttons, course=course.title)
        .done()
    )


def confirm_restart(turn: Turn, confirmed: bool) -> Outcome:
    turn = turn.update(pending=None)
    course = active_course(turn)
    if course is None or not course.sessions:
        return no_course(turn)
    if not confirmed:
        return turn.say("restart_cancelled", course, course=course.title).done()
    old = progress_of(turn, course)
    # quiz history (and so the attempt count) and review items survive a restart
    quizzes = tuple(
        replace(a, status=QUIZ_ABANDONED) if a.status == QUIZ_ACTIVE else a for a in old.quizzes
    )
    fresh = Progress(
        started_at=turn.now, quizzes=quizzes, reviews=old.reviews, quiz_blocked=old.quiz_blocked
    )
    turn = set_progress(turn, course, fresh)
    turn = turn.say("restart_done", course, course=course.title)
    return deliver(turn, course, 1).done()


def exit_course(turn: Turn, course: Course, _: Command) -> Outcome:
    progress = progress_of(turn, course)
    return (
        turn.update(paused=True)
        .say(
            "exit",
            course,
            buttons=[Button(say("button_resume", course), "resume")],
            course=course.title,
            done=done_count(course, progress),
            total=len(course.sessions),
            number=current_number(turn, course),
        )
        .done()
    )


def no_course(turn: Turn) -> Outcome:
    """What to say to a learner who is not in an active course."""
    learner = turn.learner
    course = turn.catalog.get(learner.active_course)
    if learner.active_course and course is None:
        return turn.update(active_course=None, paused=False).say("course_gone").done()
    if course is not None and learner.paused:
        progress = progress_of(turn, course)
        number = course.number_of(progress.current or "") or first_open(course, progress)
        return turn.say(
            "paused",
            course,
            course=course.title,
            number=number,
            buttons=[Button(say("button_resume", course), "resume")],
        ).done()
    offered = turn.catalog.for_channel(turn.event.channel)
    phrases = "\n".join(f"• “{c.enroll[0]}” for *{c.title}*" for c in offered if c.enroll)
    if not phrases:
        return turn.say("courses_none").done()
    name_part = f", {learner.name}" if learner.name else ""
    buttons = [Button(c.title, f"enroll:{c.id}") for c in offered[:3]]
    return turn.say("not_enrolled", buttons=buttons, name_part=name_part, phrases=phrases).done()


def leave_empty(turn: Turn, course: Course) -> Outcome:
    """A course with no sessions cannot be taken: say so and leave training mode."""
    turn = turn.update(active_course=None, paused=False)
    return turn.say("course_empty", course, course=course.title).done()
