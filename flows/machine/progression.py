"""Progression: delivering a session, marking sessions complete, finishing the course.

Shared by navigation (`next`, `complete`), quizzes (a pass completes its session) and
enrollment (the first session); `session_reply` is also what `content preview` shows.
"""

from __future__ import annotations

from dataclasses import replace

from flows.course import Course
from flows.events import Button, CourseCompleted, Outcome, Reply
from flows.machine.turn import Turn, current_number, done_count, progress_of, set_progress
from flows.messages import say


def deliver(turn: Turn, course: Course, number: int) -> Turn:
    """Make session `number` current and send it."""
    session = course.session(number)
    turn = set_progress(turn, course, replace(progress_of(turn, course), current=session.id))
    return replace(turn, replies=(*turn.replies, session_reply(course, number)))


def session_reply(course: Course, number: int) -> Reply:
    """Session `number` as a message: header, body, a hint of what to do next, and
    navigation buttons (also what authors see in `trainbot content preview`)."""
    session = course.session(number)
    last = number == len(course.sessions)
    hint = say("hint_last", course) if last else say("hint_next", course, next=number + 1)
    text = say("session", course, number=number, title=session.title, body=session.body, hint=hint)
    buttons = [Button(say("button_previous", course), "previous")] if number > 1 else []
    buttons.append(
        Button(say("button_complete", course), "complete")
        if last
        else Button(say("button_next", course), "next")
    )
    buttons.append(Button(say("button_menu", course), "menu"))
    title = say("session_header", course, number=number, title=session.title)
    return Reply(text, tuple(buttons), session.media, course.id, kind="session", title=title)


def marked_complete(turn: Turn, course: Course, number: int) -> Outcome:
    """What `complete` says once session `number` is done but the course is not."""
    if number < len(course.sessions):
        return turn.say(
            "marked_complete",
            course,
            number=number,
            next=number + 1,
            buttons=[Button(say("button_next", course), "next")],
        ).done()
    return after_last(turn.say("marked_complete_last", course, number=number), course)


def complete_current(turn: Turn, course: Course) -> tuple[Turn, bool]:
    """Mark the current session completed; True when that finished the whole course."""
    progress = progress_of(turn, course).with_completed(
        course.session(current_number(turn, course)).id
    )
    finished = progress.completed_at is None and done_count(course, progress) == len(
        course.sessions
    )
    if finished:
        progress = replace(progress, completed_at=turn.now)
    return set_progress(turn, course, progress), finished


def after_last(turn: Turn, course: Course) -> Outcome:
    """What `next` / `complete` on the last session say when it did not just finish the
    course: that the course is already done, or which sessions remain."""
    progress = progress_of(turn, course)
    if done_count(course, progress) == len(course.sessions):
        return turn.say("course_already_complete", course, course=course.title).done()
    remaining = [n for n, s in enumerate(course.sessions, 1) if s.id not in progress.completed]
    return turn.say(
        "remaining",
        course,
        count=len(remaining),
        sessions=", ".join(f"Session {n}" for n in remaining),
    ).done()


def celebrate(turn: Turn, course: Course) -> Outcome:
    return turn.say(
        "course_complete", course, name=turn.name, course=course.title, total=len(course.sessions)
    ).done(CourseCompleted(course.id))
