"""Quizzes: starting, resuming, reconciling with edited content, quitting and finishing an
attempt, and the `quiz` / `retake` / `skip` / `quit` commands outside one.

A session with a quiz is completed by passing it: `next` or `complete` starts it. In a
quiz every message is read first as an answer to the current question (see the quiz
routes in `flows.machine.routes` and their handlers in `flows.machine.grading`).
"""

from __future__ import annotations

from dataclasses import replace

from flows.commands import Command
from flows.course import Course, Session
from flows.events import Button, CourseCompleted, Outcome
from flows.machine.progression import after_last, celebrate, deliver, marked_complete
from flows.machine.questions import ask, limit_text, shown_to
from flows.machine.turn import (
    Turn,
    active_course,
    current_number,
    done_count,
    progress_of,
    save_attempt,
    set_progress,
)
from flows.messages import say
from flows.quiz import draw, find_question, has_quiz, passed, percent, questions_for, seed_for
from flows.state import (
    FINAL,
    QUIZ,
    QUIZ_ABANDONED,
    QUIZ_ACTIVE,
    QUIZ_FAILED,
    QUIZ_PASSED,
    REVIEW,
    Asked,
    QuizAttempt,
)


def in_quiz(turn: Turn) -> tuple[Course, QuizAttempt] | None:
    """The course and attempt of a learner in the middle of a quiz."""
    course = active_course(turn)
    if course is None or not course.sessions:
        return None
    attempt = progress_of(turn, course).active_quiz
    return (course, attempt) if attempt is not None else None


def needs_quiz(turn: Turn, course: Course, session: Session) -> bool:
    return has_quiz(course, session) and session.id not in progress_of(turn, course).completed


def reconcile(
    turn: Turn, course: Course, attempt: QuizAttempt
) -> tuple[Turn, QuizAttempt | None, bool]:
    """Bring an attempt in line with the course as it is now (authors edit content while
    learners are mid-quiz): questions are found by id, so reordering changes nothing;
    a removed question stops counting; an edited current question is shown again (True as
    the third value); a quiz whose session is gone is closed (None)."""
    if attempt.kind != REVIEW and course.session_by_id(attempt.session_id) is None:
        turn = save_attempt(turn, course, replace(attempt, status=QUIZ_ABANDONED))
        return turn.say("quiz_changed", course), None, False
    answered = len(attempt.answers)
    remaining = tuple(a for a in attempt.asked[answered:] if find_question(course, a.question_id))
    updated = replace(attempt, asked=(*attempt.asked[:answered], *remaining))
    if len(updated.asked) < len(attempt.asked):
        turn = turn.say("quiz_question_removed", course)
    if not updated.asked:
        turn = save_attempt(turn, course, replace(updated, status=QUIZ_ABANDONED))
        if attempt.kind == REVIEW:  # nothing left to review: on to the session it preceded
            if attempt.then and (number := course.number_of(attempt.then)):
                turn = deliver(turn, course, number)
            return turn, None, False
        return turn.say("quiz_changed", course), None, False
    changed = False
    if (current := updated.current) is not None:
        found = find_question(course, current.question_id)
        assert found is not None
        shown = shown_to(turn, course, updated, found[1])
        if shown != current.options:
            asked = tuple(
                Asked(a.question_id, shown) if a.question_id == current.question_id else a
                for a in updated.asked
            )
            updated = replace(updated, asked=asked)
            turn = turn.say("quiz_question_changed", course)
            changed = True
    if updated != attempt:
        turn = save_attempt(turn, course, updated)
    return turn, updated, changed


def quiz_gate(turn: Turn, course: Course, session: Session, advance: bool) -> Outcome | None:
    """What `next` (advance) or `complete` do on a session whose quiz is not passed: start,
    resume or retake it, or refuse when the attempts ran out. None lets a free-navigation
    `next` move on past a quiz the learner already tried."""
    progress = progress_of(turn, course)
    free_pass = advance and course.navigation == "free"
    if session.id in progress.quiz_blocked:
        return None if free_pass else out_of_attempts(turn, course, session)
    if free_pass and progress.attempts(session.id):
        return None
    return start_quiz(turn, course, session, advance)


def out_of_attempts(turn: Turn, course: Course, session: Session) -> Outcome:
    return turn.say(
        "quiz_max_attempts",
        course,
        max=course.quiz.max_attempts,
        number=course.number_of(session.id),
        buttons=[Button(say("button_review", course), "review")],
    ).done()


def start_quiz(turn: Turn, course: Course, session: Session, advance: bool) -> Outcome:
    """A new attempt at a session's quiz (or the abandoned one, picked up where it was)."""
    progress = progress_of(turn, course)
    earlier = progress.attempts(session.id)
    if earlier and earlier[-1].status == QUIZ_ABANDONED:
        return resume_quiz(turn, course, replace(earlier[-1], advance=advance))
    kind = FINAL if session.final else QUIZ
    number = len(earlier) + 1
    key = turn.learner.key
    pool = questions_for(course, session)
    chosen = draw(pool, session.draw, seed_for(key, session.id, kind, number))
    if not course.quiz.shuffle:
        ids = {q.id for q in chosen}
        chosen = tuple(q for q in pool if q.id in ids)
    limit = session.time_limit or course.quiz.time_limit
    attempt = QuizAttempt(
        session_id=session.id,
        number=number,
        kind=kind,
        started_at=turn.now,
        asked_at=turn.now,
        pass_mark=course.quiz.pass_mark,
        time_limit=limit,
        advance=advance,
    )
    asked = tuple(Asked(q.id, shown_to(turn, course, attempt, q)) for q in chosen)
    attempt = replace(attempt, asked=asked)
    turn = save_attempt(turn, course, attempt)
    turn = turn.say(
        "quiz_start_final" if session.final else "quiz_start",
        course,
        count=len(asked),
        number=course.number_of(session.id),
        course=course.title,
        limit=say("quiz_limit", course, limit=limit_text(course, limit)) if limit else "",
    )
    return ask(turn, course, attempt).done()


def resume_quiz(turn: Turn, course: Course, attempt: QuizAttempt) -> Outcome:
    """Carry on with an attempt (after `quit`, a pause or a restart of the chat)."""
    attempt = replace(attempt, status=QUIZ_ACTIVE, asked_at=turn.now)
    turn = save_attempt(turn, course, attempt)
    turn, current, _ = reconcile(turn, course, attempt)
    if current is None:
        return turn.done()
    if current.current is None:
        return finish(turn, course, current)
    turn = turn.say("quiz_resume", course, index=len(current.answers) + 1, count=len(current.asked))
    return ask(turn, course, current).done()


def finish(turn: Turn, course: Course, attempt: QuizAttempt) -> Outcome:
    """Every question answered: the result, then completion (pass) or what next (fail)."""
    total, score = len(attempt.asked), attempt.score
    if attempt.kind == REVIEW:
        status = QUIZ_PASSED if score == total else QUIZ_FAILED
        turn = save_attempt(turn, course, replace(attempt, status=status, finished_at=turn.now))
        if attempt.then and (number := course.number_of(attempt.then)):
            return deliver(turn, course, number).done()
        return turn.say("review_done", course, score=score, total=total).done()
    ok = passed(score, total, attempt.pass_mark)
    attempt = replace(attempt, status=QUIZ_PASSED if ok else QUIZ_FAILED, finished_at=turn.now)
    turn = save_attempt(turn, course, attempt)
    late = ""
    if attempt.late and attempt.time_limit:
        limit = limit_text(course, attempt.time_limit)
        late = say("quiz_result_late", course, count=attempt.late, limit=limit)
    keywords = ""
    if any(a.grading == "keywords" and not a.skipped for a in attempt.answers):
        keywords = say("quiz_result_keywords", course)
    turn = turn.say(
        "quiz_result_pass" if ok else "quiz_result_fail",
        course,
        score=score,
        total=total,
        percent=percent(score, total),
        pass_mark=f"{attempt.pass_mark:g}",
        late=late,
        keywords=keywords,
    )
    session = course.session_by_id(attempt.session_id)
    assert session is not None  # reconcile closed attempts of removed sessions
    if ok:
        return _quiz_passed(turn, course, session, attempt)
    return _quiz_failed(turn, course, session)


def _quiz_passed(turn: Turn, course: Course, session: Session, attempt: QuizAttempt) -> Outcome:
    progress = progress_of(turn, course).with_completed(session.id)
    blocked = tuple(s for s in progress.quiz_blocked if s != session.id)
    progress = replace(progress, quiz_blocked=blocked)
    number = course.number_of(session.id) or 1
    if progress.completed_at is None and (
        session.final or done_count(course, progress) == len(course.sessions)
    ):
        turn = set_progress(turn, course, replace(progress, completed_at=turn.now))
        if session.final:
            return turn.say(
                "course_complete_final", course, name=turn.name, course=course.title
            ).done(CourseCompleted(course.id))
        return celebrate(turn, course)
    turn = set_progress(turn, course, progress)
    if attempt.advance:
        last = number == len(course.sessions)
        return after_last(turn, course) if last else deliver(turn, course, number + 1).done()
    return marked_complete(turn, course, number)


def _quiz_failed(turn: Turn, course: Course, session: Session) -> Outcome:
    """Offer a retake, or after `max_attempts` failures say whom to ask and flag the
    session for the admins (an admin clearing the flag grants another round of attempts)."""
    progress = progress_of(turn, course)
    failed = sum(1 for a in progress.attempts(session.id) if a.status == QUIZ_FAILED)
    most = course.quiz.max_attempts
    if failed % most == 0:
        if session.id not in progress.quiz_blocked:
            progress = replace(progress, quiz_blocked=(*progress.quiz_blocked, session.id))
        return out_of_attempts(set_progress(turn, course, progress), course, session)
    buttons = [
        Button(say("button_retake", course), "retake"),
        Button(say("button_review", course), "review"),
    ]
    return turn.say(
        "quiz_retry",
        course,
        left=most - failed % most,
        number=course.number_of(session.id),
        buttons=buttons,
    ).done()


def quit_quiz(turn: Turn, course: Course, attempt: QuizAttempt) -> Outcome:
    """Leave the quiz; the attempt is kept (abandoned) and `quiz` picks it up again. A
    review is simply closed (its questions stay due) and the session it preceded follows."""
    turn = save_attempt(turn, course, replace(attempt, status=QUIZ_ABANDONED))
    if attempt.kind == REVIEW:
        turn = turn.say("review_quit", course)
        if attempt.then and (number := course.number_of(attempt.then)):
            return deliver(turn, course, number).done()
        return turn.done()
    buttons = [Button(say("button_quiz", course), "quiz")]
    return turn.say("quiz_quit", course, buttons=buttons).done()


def take_quiz(turn: Turn, course: Course, _: Command) -> Outcome:
    """`quiz` / `retake`: take the current session's quiz (new attempt, or the abandoned
    one where it was left)."""
    number = current_number(turn, course)
    session = course.session(number)
    if not has_quiz(course, session):
        return turn.say("quiz_none", course, number=number).done()
    progress = progress_of(turn, course)
    won = [a for a in progress.attempts(session.id) if a.status == QUIZ_PASSED]
    if session.id in progress.completed and won:
        best = won[-1]
        return turn.say(
            "quiz_passed_already",
            course,
            number=number,
            score=best.score,
            total=len(best.asked),
            buttons=[Button(say("button_next", course), "next")],
        ).done()
    if session.id in progress.quiz_blocked:
        return out_of_attempts(turn, course, session)
    return start_quiz(turn, course, session, advance=True)


def not_in_quiz(turn: Turn, course: Course, _: Command) -> Outcome:
    """`skip` / `quit` outside a quiz."""
    number = current_number(turn, course)
    if not has_quiz(course, course.session(number)):
        return turn.say("quiz_none", course, number=number).done()
    return turn.say(
        "quiz_not_active", course, buttons=[Button(say("button_quiz", course), "quiz")]
    ).done()
