"""The learner state machine: one event in, the new state, replies and effects out.

`step` is a pure function. A learner is in one of five situations: not enrolled, in a
course, in a quiz, paused (left with `exit`), or answering a yes/no confirmation; global
commands (help, courses, progress, STOP/START, enrollment) work in all of them, course
commands need an active course, and any other text in a course is a question for the
assistant. In a quiz, a message is first read as an answer (see the quiz section below).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from flows.awards import award_of
from flows.commands import Cmd, Command, match_enrollment, parse
from flows.course import Catalog, Course, Question, Session
from flows.events import (
    Ask,
    Button,
    CourseCompleted,
    Effect,
    Grade,
    Graded,
    Inbound,
    Outcome,
    Reply,
    SendCertificate,
)
from flows.messages import md_escape, say
from flows.quiz import (
    GRADE_WAIT,
    MAX_GIVEN,
    MODEL_PASS,
    SPACED_KINDS,
    Parsed,
    Verdict,
    draw,
    due_reviews,
    find_question,
    grade,
    has_quiz,
    is_late,
    looks_like_question,
    option_order,
    parse_answer,
    passed,
    percent,
    questions_for,
    right_positions,
    schedule_miss,
    schedule_right,
    seed_for,
    shown_options,
)
from flows.reminders import learner_zone, policy_of, zone_name
from flows.state import (
    FINAL,
    QUIZ,
    QUIZ_ABANDONED,
    QUIZ_ACTIVE,
    QUIZ_FAILED,
    QUIZ_PASSED,
    REVIEW,
    Asked,
    Learner,
    Progress,
    QuizAnswer,
    QuizAttempt,
    ReviewItem,
)

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


def step(learner: Learner, catalog: Catalog, event: Inbound, now: datetime) -> Outcome:
    """Handle one inbound event for one learner."""
    if event.grade is not None:  # a grader's verdict, not the learner writing
        return _graded(Turn(learner, catalog, event, now), event.grade)
    turn = Turn(_observe(learner, event, now), catalog, event, now)
    text = event.payload or event.text
    if (quiz := _in_quiz(turn)) is not None:
        return _quiz_turn(turn.update(pending=None), *quiz, text)
    if not text.strip():
        return turn.say("media_only" if event.media_count else "empty_message").done()
    command = parse(text)
    if turn.learner.pending == "restart":
        if command and command.name in (Cmd.YES, Cmd.NO):
            return _confirm_restart(turn, command.name is Cmd.YES)
        turn = turn.update(pending=None)
    if command is None:
        if text.startswith(BUTTON):
            return turn.say("quiz_over", _active_course(turn)).done()
        if enrolling := match_enrollment(catalog, text, event.channel):
            return _enroll(turn, enrolling)
        return _question(turn, text)
    if command.name in GLOBAL:
        return GLOBAL[command.name](turn, command)
    course = _active_course(turn)
    if course is None:
        return _no_course(turn)
    if not course.sessions:
        return _leave_empty(turn, course)
    lost = _lost_session(turn, course)
    turn = _settle(turn, course)
    if lost and command.name in (Cmd.NEXT, Cmd.COMPLETE):
        # The learner has not seen the session they were moved to: show it, not complete it.
        return _start_session(turn, course, _number(turn, course)).done()
    return IN_COURSE[command.name](turn, course, command)


# --- bookkeeping ---------------------------------------------------------------------


def _observe(learner: Learner, event: Inbound, now: datetime) -> Learner:
    """Record who wrote and when, and count the gap since their previous message (capped) as
    time spent on the session they were reading."""
    course_id = learner.active_course
    previous = learner.last_inbound_at
    if course_id and not learner.paused and previous is not None:
        progress = learner.progress_in(course_id)
        if progress.current:
            gap = min(max(now - previous, timedelta(0)), READING_GAP_CAP).total_seconds()
            seconds = {**progress.seconds}
            seconds[progress.current] = seconds.get(progress.current, 0.0) + gap
            learner = learner.with_progress(course_id, replace(progress, seconds=seconds))
    return replace(
        learner,
        name=event.name or learner.name,
        channel=event.channel or learner.channel,
        last_inbound_at=now,
    )


def _active_course(turn: Turn) -> Course | None:
    learner = turn.learner
    if learner.paused or not learner.active_course:
        return None
    return turn.catalog.get(learner.active_course)


def _progress(turn: Turn, course: Course) -> Progress:
    return turn.learner.progress_in(course.id)


def _number(turn: Turn, course: Course) -> int:
    """1-based number of the learner's current session (always valid after `_settle`)."""
    return course.number_of(_progress(turn, course).current or "") or 1


def _lost_session(turn: Turn, course: Course) -> bool:
    """Whether the learner's current session was removed from the course by an author."""
    current = _progress(turn, course).current
    return current is not None and current != "" and course.number_of(current) is None


def _settle(turn: Turn, course: Course) -> Turn:
    """Make sure the learner's current session exists; if an author removed it, move them to
    their first unfinished session (position-free, so edits never corrupt progress)."""
    progress = _progress(turn, course)
    if progress.current and not _lost_session(turn, course):
        return turn
    target = _first_open(course, progress)
    turn = _set_progress(turn, course, replace(progress, current=course.session(target).id))
    if progress.current:
        turn = turn.say("session_moved", course, number=target)
    return turn


def _first_open(course: Course, progress: Progress) -> int:
    """The first session not yet completed (the last one when all are)."""
    for number, session in enumerate(course.sessions, start=1):
        if session.id not in progress.completed:
            return number
    return len(course.sessions)


def _done_count(course: Course, progress: Progress) -> int:
    return sum(1 for s in course.sessions if s.id in progress.completed)


def _set_progress(turn: Turn, course: Course, progress: Progress) -> Turn:
    return replace(turn, learner=turn.learner.with_progress(course.id, progress))


def _deliver(turn: Turn, course: Course, number: int) -> Turn:
    """Make session `number` current and send it."""
    session = course.session(number)
    turn = _set_progress(turn, course, replace(_progress(turn, course), current=session.id))
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


def _menu_buttons(course: Course) -> tuple[Button, ...]:
    return (
        Button(say("button_previous", course), "previous"),
        Button(say("button_next", course), "next"),
        Button(say("button_complete", course), "complete"),
    )


# --- global commands -----------------------------------------------------------------


def _enroll(turn: Turn, course: Course) -> Outcome:
    if not course.sessions:
        return _leave_empty(turn, course)
    progress = _progress(turn, course)
    turn = turn.update(active_course=course.id, paused=False, pending=None)
    if progress.started_at is None:
        turn = _set_progress(turn, course, Progress(current=None, started_at=turn.now))
        turn = turn.say(
            "welcome", course, name=turn.name, course=course.title, total=len(course.sessions)
        )
        return _deliver(turn, course, 1).done()
    turn = turn.say("welcome_back", course, name=turn.name, course=course.title)
    turn = _settle(turn, course)
    if (attempt := _progress(turn, course).active_quiz) is not None:
        return _resume_quiz(turn, course, attempt)
    return _deliver(turn, course, _number(turn, course)).done()


def _enroll_by_id(turn: Turn, command: Command) -> Outcome:
    course = turn.catalog.get(command.arg)
    if course is None:
        return turn.say("course_gone").done()
    if not course.offered_on(turn.event.channel):
        return turn.say("not_offered", course, course=course.title).done()
    return _enroll(turn, course)


def _help(turn: Turn, _: Command) -> Outcome:
    return turn.say("help", turn.catalog.get(turn.learner.active_course)).done()


def _courses(turn: Turn, _: Command) -> Outcome:
    offered = turn.catalog.for_channel(turn.event.channel)
    if not offered:
        return turn.say("courses_none").done()
    lines = "\n".join(
        say(
            "course_line",
            c,
            title=c.title,
            description=c.description,
            phrase=c.enroll[0] if c.enroll else "",
        )
        for c in offered
    )
    buttons = [Button(c.title, f"enroll:{c.id}") for c in offered[:3]]
    return turn.say("courses", lines=lines, buttons=buttons).done()


def _progress_report(turn: Turn, _: Command) -> Outcome:
    lines = []
    for course in turn.catalog.courses:
        progress = turn.learner.progress.get(course.id)
        if progress is None or not course.sessions:
            continue
        number = course.number_of(progress.current or "") or _first_open(course, progress)
        if progress.completed_at:
            state = say("progress_state_done", course)
        elif course.id == turn.learner.active_course:
            key = "progress_state_paused" if turn.learner.paused else "progress_state_current"
            state = say(key, course, number=number)
        else:
            state = ""
        lines.append(
            say(
                "progress_line",
                course,
                course=course.title,
                done=_done_count(course, progress),
                total=len(course.sessions),
                state=state,
            )
        )
    if not lines:
        return turn.say("progress_none").done()
    return turn.say("progress", lines="\n".join(lines)).done()


def _stop(turn: Turn, _: Command) -> Outcome:
    return turn.update(opted_out=True).say("stop").done()


def _start(turn: Turn, _: Command) -> Outcome:
    return turn.update(opted_out=False).say("start").done()


def _resume(turn: Turn, _: Command) -> Outcome:
    learner = turn.learner
    course = turn.catalog.get(learner.active_course)
    if course is None:
        return turn.say("course_gone" if learner.active_course else "nothing_to_resume").done()
    if not course.sessions:
        return _leave_empty(turn, course)
    turn = turn.update(paused=False).say("resume", course, name=turn.name, course=course.title)
    turn = _settle(turn, course)
    if (attempt := _progress(turn, course).active_quiz) is not None:
        return _resume_quiz(turn, course, attempt)
    return _start_session(turn, course, _number(turn, course)).done()


def _timezone(turn: Turn, command: Command) -> Outcome:
    """`timezone Europe/Berlin` sets the zone reminders' quiet hours use; alone, shows it."""
    course = turn.catalog.get(turn.learner.active_course)
    if not command.arg:
        zone = learner_zone(turn.learner, policy_of(course) if course else None)
        return turn.say("timezone_current", course, zone=zone.key).done()
    name = zone_name(command.arg)
    if name is None:
        return turn.say("timezone_unknown", course, given=command.arg[:60]).done()
    profile = MappingProxyType({**turn.learner.profile, "timezone": name})
    return turn.update(profile=profile).say("timezone_set", course, zone=name).done()


def _certificate(turn: Turn, _: Command) -> Outcome:
    """`certificate`: the bot re-sends the certificate of the active course when it is
    finished, else of the most recently finished course (the store holds certificates)."""
    finished = {cid: p.completed_at for cid, p in turn.learner.progress.items() if p.completed_at}
    active = turn.learner.active_course
    chosen = active if active in finished else max(finished, key=finished.__getitem__, default=None)
    course = turn.catalog.get(chosen)
    if course is None:
        return turn.say("certificate_none").done()
    if award_of(course) is None:
        return turn.say("certificate_not_offered", course, course=course.title).done()
    return turn.done(SendCertificate(course.id))


def _unconfirmed(turn: Turn, _: Command) -> Outcome:
    return turn.say("nothing_to_confirm", turn.catalog.get(turn.learner.active_course)).done()


GLOBAL: dict[Cmd, Callable[[Turn, Command], Outcome]] = {
    Cmd.ENROLL: _enroll_by_id,
    Cmd.HELP: _help,
    Cmd.COURSES: _courses,
    Cmd.PROGRESS: _progress_report,
    Cmd.STOP: _stop,
    Cmd.START: _start,
    Cmd.RESUME: _resume,
    Cmd.YES: _unconfirmed,
    Cmd.NO: _unconfirmed,
    Cmd.TIMEZONE: _timezone,
    Cmd.CERTIFICATE: _certificate,
}


# --- in-course commands --------------------------------------------------------------


def _next(turn: Turn, course: Course, _: Command) -> Outcome:
    number = _number(turn, course)
    session = course.session(number)
    if _needs_quiz(turn, course, session):
        if (gated := _quiz_gate(turn, course, session, advance=True)) is not None:
            return gated
        # free navigation past a quiz already tried: move on, the session stays unfinished
        turn = turn.say("quiz_unfinished", course, number=number)
        if number < len(course.sessions):
            return _start_session(turn, course, number + 1).done()
        return _after_last(turn, course)
    turn, finished = _complete_current(turn, course)
    if finished:
        return _celebrate(turn, course)
    if number < len(course.sessions):
        return _start_session(turn, course, number + 1).done()
    return _after_last(turn, course)


def _complete(turn: Turn, course: Course, _: Command) -> Outcome:
    number = _number(turn, course)
    session = course.session(number)
    if _needs_quiz(turn, course, session):
        return _quiz_gate(turn, course, session, advance=False) or turn.done()
    turn, finished = _complete_current(turn, course)
    if finished:
        return _celebrate(turn, course)
    return _marked_complete(turn, course, number)


def _marked_complete(turn: Turn, course: Course, number: int) -> Outcome:
    """What `complete` says once session `number` is done but the course is not."""
    if number < len(course.sessions):
        return turn.say(
            "marked_complete",
            course,
            number=number,
            next=number + 1,
            buttons=[Button(say("button_next", course), "next")],
        ).done()
    return _after_last(turn.say("marked_complete_last", course, number=number), course)


def _complete_current(turn: Turn, course: Course) -> tuple[Turn, bool]:
    """Mark the current session completed; True when that finished the whole course."""
    progress = _progress(turn, course).with_completed(course.session(_number(turn, course)).id)
    finished = progress.completed_at is None and _done_count(course, progress) == len(
        course.sessions
    )
    if finished:
        progress = replace(progress, completed_at=turn.now)
    return _set_progress(turn, course, progress), finished


def _after_last(turn: Turn, course: Course) -> Outcome:
    """What `next` / `complete` on the last session say when it did not just finish the
    course: that the course is already done, or which sessions remain."""
    progress = _progress(turn, course)
    if _done_count(course, progress) == len(course.sessions):
        return turn.say("course_already_complete", course, course=course.title).done()
    remaining = [n for n, s in enumerate(course.sessions, 1) if s.id not in progress.completed]
    return turn.say(
        "remaining",
        course,
        count=len(remaining),
        sessions=", ".join(f"Session {n}" for n in remaining),
    ).done()


def _celebrate(turn: Turn, course: Course) -> Outcome:
    return turn.say(
        "course_complete", course, name=turn.name, course=course.title, total=len(course.sessions)
    ).done(CourseCompleted(course.id))


def _previous(turn: Turn, course: Course, _: Command) -> Outcome:
    number = _number(turn, course)
    if number == 1:
        return turn.say("at_first", course).done()
    return _deliver(turn, course, number - 1).done()


def _section(turn: Turn, course: Course, command: Command) -> Outcome:
    total = len(course.sessions)
    target = int(command.arg) if command.arg.isdecimal() else 0
    if not 1 <= target <= total:
        turn = turn.say("out_of_range", course, given=command.arg, total=total)
        return _menu(turn, course, command)
    first_open = _first_open(course, _progress(turn, course))
    if course.navigation == "sequential" and target > first_open:
        return turn.say("locked", course, target=target, open=first_open).done()
    return _deliver(turn, course, target).done()


def _menu(turn: Turn, course: Course, _: Command) -> Outcome:
    progress = _progress(turn, course)
    number = _number(turn, course)
    return turn.say(
        "menu",
        course,
        buttons=_menu_buttons(course),
        course=course.title,
        done=_done_count(course, progress),
        total=len(course.sessions),
        number=number,
        title=course.session(number).title,
    ).done()


def _restart(turn: Turn, course: Course, _: Command) -> Outcome:
    buttons = (Button(say("button_yes", course), "yes"), Button(say("button_no", course), "no"))
    return (
        turn.update(pending="restart")
        .say("restart_confirm", course, buttons=buttons, course=course.title)
        .done()
    )


def _confirm_restart(turn: Turn, confirmed: bool) -> Outcome:
    turn = turn.update(pending=None)
    course = _active_course(turn)
    if course is None or not course.sessions:
        return _no_course(turn)
    if not confirmed:
        return turn.say("restart_cancelled", course, course=course.title).done()
    old = _progress(turn, course)
    # quiz history (and so the attempt count) and review items survive a restart
    quizzes = tuple(
        replace(a, status=QUIZ_ABANDONED) if a.status == QUIZ_ACTIVE else a for a in old.quizzes
    )
    fresh = Progress(
        started_at=turn.now, quizzes=quizzes, reviews=old.reviews, quiz_blocked=old.quiz_blocked
    )
    turn = _set_progress(turn, course, fresh)
    turn = turn.say("restart_done", course, course=course.title)
    return _deliver(turn, course, 1).done()


def _exit(turn: Turn, course: Course, _: Command) -> Outcome:
    progress = _progress(turn, course)
    return (
        turn.update(paused=True)
        .say(
            "exit",
            course,
            buttons=[Button(say("button_resume", course), "resume")],
            course=course.title,
            done=_done_count(course, progress),
            total=len(course.sessions),
            number=_number(turn, course),
        )
        .done()
    )


IN_COURSE: dict[Cmd, Callable[[Turn, Course, Command], Outcome]] = {
    Cmd.NEXT: _next,
    Cmd.PREVIOUS: _previous,
    Cmd.MENU: _menu,
    Cmd.COMPLETE: _complete,
    Cmd.SECTION: _section,
    Cmd.RESTART: _restart,
    Cmd.EXIT: _exit,
}


# --- outside a course, and questions -------------------------------------------------


def _no_course(turn: Turn) -> Outcome:
    """What to say to a learner who is not in an active course."""
    learner = turn.learner
    course = turn.catalog.get(learner.active_course)
    if learner.active_course and course is None:
        return turn.update(active_course=None, paused=False).say("course_gone").done()
    if course is not None and learner.paused:
        progress = _progress(turn, course)
        number = course.number_of(progress.current or "") or _first_open(course, progress)
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


def _leave_empty(turn: Turn, course: Course) -> Outcome:
    """A course with no sessions cannot be taken: say so and leave training mode."""
    turn = turn.update(active_course=None, paused=False)
    return turn.say("course_empty", course, course=course.title).done()


def _question(turn: Turn, text: str) -> Outcome:
    """Free text in a course is a question about the current session."""
    course = _active_course(turn)
    if course is None:
        return _no_course(turn)
    if not course.sessions:
        return _leave_empty(turn, course)
    turn = _settle(turn, course)
    session = course.session(_number(turn, course))
    return turn.done(Ask(question=text, course_id=course.id, session_id=session.id))


# --- quizzes ---------------------------------------------------------------------------
#
# A session with a quiz is completed by passing it: `next` or `complete` starts it. In a
# quiz every message is read first as an answer to the current question; `skip` and
# `quit` work; informational commands answer and put the question again; navigation asks
# to finish or quit first; a question ("why is it 10%?") goes to the assistant and the
# quiz question follows its answer. Written answers are any text that is not a command.

BUTTON = "quiz:"  # an option button's payload: quiz:<question id>:<position shown>
INFORMATIONAL = (Cmd.HELP, Cmd.PROGRESS, Cmd.COURSES, Cmd.STOP, Cmd.START)


def _in_quiz(turn: Turn) -> tuple[Course, QuizAttempt] | None:
    """The course and attempt of a learner in the middle of a quiz."""
    course = _active_course(turn)
    if course is None or not course.sessions:
        return None
    attempt = _progress(turn, course).active_quiz
    return (course, attempt) if attempt is not None else None


def _needs_quiz(turn: Turn, course: Course, session: Session) -> bool:
    return has_quiz(course, session) and session.id not in _progress(turn, course).completed


def _save(turn: Turn, course: Course, attempt: QuizAttempt) -> Turn:
    return _set_progress(turn, course, _progress(turn, course).with_attempt(attempt))


def _add(turn: Turn, reply: Reply) -> Turn:
    return replace(turn, replies=(*turn.replies, reply))


def _with_effects(outcome: Outcome, effects: tuple[Effect, ...]) -> Outcome:
    return replace(outcome, effects=(*effects, *outcome.effects)) if effects else outcome


def _limit_text(course: Course, seconds: int) -> str:
    if seconds % 60 == 0:
        return say("time_minutes", course, minutes=seconds // 60)
    return say("time_seconds", course, seconds=seconds)


def _true_false(course: Course) -> tuple[str, str]:
    return say("option_true", course), say("option_false", course)


def _order(turn: Turn, course: Course, attempt: QuizAttempt, question: Question) -> tuple[int, ...]:
    seed = seed_for(turn.learner.key, question.id, attempt.kind, attempt.number)
    return option_order(question, seed, course.quiz.shuffle)


def _shown(turn: Turn, course: Course, attempt: QuizAttempt, question: Question) -> tuple[str, ...]:
    return shown_options(question, _order(turn, course, attempt, question), _true_false(course))


def _how(course: Course, question: Question, count: int) -> str:
    return say(f"quiz_how_{question.kind}", course, count=count)


def _question_reply(course: Course, attempt: QuizAttempt) -> Reply:
    """The current question of an attempt, with its options as this learner sees them."""
    asked = attempt.current
    assert asked is not None
    found = find_question(course, asked.question_id)
    assert found is not None  # _reconcile drops questions the course no longer has
    origin, question = found
    place = (len(attempt.answers) + 1, len(attempt.asked))
    return question_reply(course, origin, question, asked.options, place, attempt.kind == REVIEW)


def question_reply(
    course: Course,
    origin: Session,
    question: Question,
    options: tuple[str, ...],
    place: tuple[int, int] = (1, 1),
    review: bool = False,
) -> Reply:
    """A question with its numbered options (and buttons where one tap answers), `place`
    being (index, count) in the attempt. Public so that authoring tools (`content preview`,
    the channel lint) show exactly what a learner gets. Button titles are whole ("2) The
    retailer's own margin"): each channel fits them to its own limit."""
    numbered = "  \n".join(f"{n}\\) {md_escape(o)}" for n, o in enumerate(options, 1))
    values = {
        "index": place[0],
        "count": place[1],
        "prompt": question.prompt,
        "options": f"{numbered}\n\n" if numbered else "",
        "how": _how(course, question, len(options)),
        "number": course.number_of(origin.id),
    }
    key = "quiz_question_review" if review else "quiz_question"
    if question.kind in ("single", "true_false"):
        buttons = tuple(
            Button(f"{n}) {o}", f"{BUTTON}{question.id}:{n}") for n, o in enumerate(options, 1)
        )
    else:
        buttons = (Button(say("button_skip", course), "skip"),)
    return Reply(say(key, course, **values), buttons, (), course.id)


def quiz_replies(course: Course, number: int) -> tuple[Reply, ...]:
    """Session `number`'s own questions as a learner gets them, in the author's order
    (unshuffled): what `content preview` shows and the channel lint measures."""
    session = course.session(number)
    words = _true_false(course)
    return tuple(
        question_reply(
            course,
            session,
            question,
            shown_options(question, option_order(question, "", False), words),
            (index, len(session.quiz)),
        )
        for index, question in enumerate(session.quiz, 1)
    )


def _ask(turn: Turn, course: Course, attempt: QuizAttempt) -> Turn:
    return _add(turn, _question_reply(course, attempt))


def _reconcile(
    turn: Turn, course: Course, attempt: QuizAttempt
) -> tuple[Turn, QuizAttempt | None, bool]:
    """Bring an attempt in line with the course as it is now (authors edit content while
    learners are mid-quiz): questions are found by id, so reordering changes nothing;
    a removed question stops counting; an edited current question is shown again (True as
    the third value); a quiz whose session is gone is closed (None)."""
    if attempt.kind != REVIEW and course.session_by_id(attempt.session_id) is None:
        turn = _save(turn, course, replace(attempt, status=QUIZ_ABANDONED))
        return turn.say("quiz_changed", course), None, False
    answered = len(attempt.answers)
    remaining = tuple(a for a in attempt.asked[answered:] if find_question(course, a.question_id))
    updated = replace(attempt, asked=(*attempt.asked[:answered], *remaining))
    if len(updated.asked) < len(attempt.asked):
        turn = turn.say("quiz_question_removed", course)
    if not updated.asked:
        turn = _save(turn, course, replace(updated, status=QUIZ_ABANDONED))
        if attempt.kind == REVIEW:  # nothing left to review: on to the session it preceded
            if attempt.then and (number := course.number_of(attempt.then)):
                turn = _deliver(turn, course, number)
            return turn, None, False
        return turn.say("quiz_changed", course), None, False
    changed = False
    if (current := updated.current) is not None:
        found = find_question(course, current.question_id)
        assert found is not None
        shown = _shown(turn, course, updated, found[1])
        if shown != current.options:
            asked = tuple(
                Asked(a.question_id, shown) if a.question_id == current.question_id else a
                for a in updated.asked
            )
            updated = replace(updated, asked=asked)
            turn = turn.say("quiz_question_changed", course)
            changed = True
    if updated != attempt:
        turn = _save(turn, course, updated)
    return turn, updated, changed


def _quiz_gate(turn: Turn, course: Course, session: Session, advance: bool) -> Outcome | None:
    """What `next` (advance) or `complete` do on a session whose quiz is not passed: start,
    resume or retake it, or refuse when the attempts ran out. None lets a free-navigation
    `next` move on past a quiz the learner already tried."""
    progress = _progress(turn, course)
    free_pass = advance and course.navigation == "free"
    if session.id in progress.quiz_blocked:
        return None if free_pass else _blocked(turn, course, session)
    if free_pass and progress.attempts(session.id):
        return None
    return _start_quiz(turn, course, session, advance)


def _blocked(turn: Turn, course: Course, session: Session) -> Outcome:
    return turn.say(
        "quiz_max_attempts",
        course,
        max=course.quiz.max_attempts,
        number=course.number_of(session.id),
        buttons=[Button(say("button_review", course), "review")],
    ).done()


def _start_quiz(turn: Turn, course: Course, session: Session, advance: bool) -> Outcome:
    """A new attempt at a session's quiz (or the abandoned one, picked up where it was)."""
    progress = _progress(turn, course)
    earlier = progress.attempts(session.id)
    if earlier and earlier[-1].status == QUIZ_ABANDONED:
        return _resume_quiz(turn, course, replace(earlier[-1], advance=advance))
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
    asked = tuple(Asked(q.id, _shown(turn, course, attempt, q)) for q in chosen)
    attempt = replace(attempt, asked=asked)
    turn = _save(turn, course, attempt)
    turn = turn.say(
        "quiz_start_final" if session.final else "quiz_start",
        course,
        count=len(asked),
        number=course.number_of(session.id),
        course=course.title,
        limit=say("quiz_limit", course, limit=_limit_text(course, limit)) if limit else "",
    )
    return _ask(turn, course, attempt).done()


def _resume_quiz(turn: Turn, course: Course, attempt: QuizAttempt) -> Outcome:
    """Carry on with an attempt (after `quit`, a pause or a restart of the chat)."""
    attempt = replace(attempt, status=QUIZ_ACTIVE, asked_at=turn.now)
    turn = _save(turn, course, attempt)
    turn, current, _ = _reconcile(turn, course, attempt)
    if current is None:
        return turn.done()
    if current.current is None:
        return _finish(turn, course, current)
    turn = turn.say("quiz_resume", course, index=len(current.answers) + 1, count=len(current.asked))
    return _ask(turn, course, current).done()


def _quiz_turn(turn: Turn, course: Course, attempt: QuizAttempt, text: str) -> Outcome:
    """One message from a learner in the middle of a quiz."""
    turn = _settle(turn, course)
    turn, current, changed = _reconcile(turn, course, attempt)
    if current is None:
        return turn.done()
    if current.awaiting is not None:
        return _awaiting(turn, course, current, text)
    if current.current is None:
        return _finish(turn, course, current)
    if changed:
        return _ask(turn, course, current).done()
    asked = current.current
    found = find_question(course, asked.question_id)
    assert found is not None
    origin, question = found
    if not text.strip():
        how = _how(course, question, len(asked.options))
        return turn.say("quiz_empty", course, how=how).done()
    if text.startswith(BUTTON):
        question_id, _, position = text.removeprefix(BUTTON).rpartition(":")
        if question_id != question.id:
            return _ask(turn.say("quiz_stale_button", course), course, current).done()
        text = position
    command = parse(text)
    if command is not None and command.name is Cmd.SKIP:
        return _record(turn, course, current, question, None, "")
    if command is not None and command.name is Cmd.QUIT:
        return _quit(turn, course, current)
    if question.kind == "text":
        if command is not None and command.name not in (Cmd.YES, Cmd.NO):
            return _quiz_command(turn, course, current, command)
        return _record(turn, course, current, question, parse_answer(question, (), text), text)
    parsed = parse_answer(question, asked.options, text)
    if not parsed.error:
        return _record(turn, course, current, question, parsed, text)
    if command is not None:
        return _quiz_command(turn, course, current, command)
    if looks_like_question(text):
        ask = Ask(text, course.id, origin.id, then=(_question_reply(course, current),))
        return turn.done(ask)
    # `say` escapes `given` (what the learner typed)
    values: dict[str, Any] = {k: str(v)[:60] for k, v in parsed.values.items()}
    how = _how(course, question, len(asked.options))
    return turn.say(parsed.error, course, how=how, **values).done()


def _quiz_command(turn: Turn, course: Course, attempt: QuizAttempt, command: Command) -> Outcome:
    """A command during a quiz: `exit` pauses (the quiz waits), informational commands
    answer and the question follows, anything else asks to finish or quit first."""
    if command.name is Cmd.EXIT:
        return _exit(turn, course, command)
    if command.name in INFORMATIONAL:
        outcome = GLOBAL[command.name](turn, command)
        turn = replace(turn, learner=outcome.learner, replies=outcome.replies)
        return _ask(turn, course, attempt).done(*outcome.effects)
    turn = turn.say("quiz_busy", course, index=len(attempt.answers) + 1, count=len(attempt.asked))
    return _ask(turn, course, attempt).done()


def _record(
    turn: Turn,
    course: Course,
    attempt: QuizAttempt,
    question: Question,
    parsed: Parsed | None,
    given: str,
) -> Outcome:
    """Grade an answer (None: skipped), give feedback, update the review schedule, and put
    the next question or the result."""
    asked = attempt.current
    assert asked is not None
    now = turn.now
    order = _order(turn, course, attempt, question)
    skipped = parsed is None
    verdict = Verdict(False) if parsed is None else grade(question, order, asked.options, parsed)
    late = is_late(attempt.started_at, attempt.time_limit, now)
    answer = QuizAnswer(
        question_id=question.id,
        given=given[:MAX_GIVEN],
        picked=verdict.picked,
        correct=verdict.correct,
        at=now,
        seconds=max((now - (attempt.asked_at or now)).total_seconds(), 0.0),
        late=late,
        skipped=skipped,
        grading=verdict.grading,
    )
    if question.kind == "text" and not skipped and question.rubric and turn.event.model_grading:
        return _await_grade(turn, course, attempt, question, answer)
    feedback = _feedback(course, question, order, asked.options, verdict, skipped)
    return _answered(turn, course, attempt, question, answer, feedback)


def _answered(
    turn: Turn,
    course: Course,
    attempt: QuizAttempt,
    question: Question,
    answer: QuizAnswer,
    feedback: str,
) -> Outcome:
    """Keep a graded answer, update the review schedule, give the feedback, and put the
    next question or the result."""
    now = turn.now
    attempt = replace(attempt, answers=(*attempt.answers, answer), asked_at=now, awaiting=None)
    progress = _progress(turn, course).with_attempt(attempt)
    if question.kind in SPACED_KINDS:
        origin = find_question(course, question.id)
        session_id = origin[0].id if origin else attempt.session_id
        if not answer.correct:
            progress = replace(
                progress, reviews=schedule_miss(progress.reviews, question.id, session_id, now)
            )
        elif attempt.kind == REVIEW:
            progress = replace(progress, reviews=schedule_right(progress.reviews, question.id, now))
    turn = _set_progress(turn, course, progress)
    if answer.late:
        feedback += say("quiz_late_note", course)
    turn = _add(turn, Reply(feedback, course_id=course.id))
    if attempt.current is not None:
        return _ask(turn, course, attempt).done()
    return _finish(turn, course, attempt)


# A written answer with a model configured: the quiz keeps the answer in `awaiting`, says
# "Checking your answer…" and emits `Grade`; `bot/` grades it off the webhook and feeds the
# verdict back as an `Inbound` carrying `Graded`. Until then the learner is asked to wait;
# after GRADE_WAIT (the grader crashed or was restarted) their next message settles it with
# the keyword verdict, so nobody is stuck.


def _await_grade(
    turn: Turn, course: Course, attempt: QuizAttempt, question: Question, answer: QuizAnswer
) -> Outcome:
    """Hold a written answer for the model's verdict (its keyword verdict kept as fallback)."""
    turn = _save(turn, course, replace(attempt, awaiting=answer)).say("quiz_grading", course)
    return turn.done(
        Grade(
            course_id=course.id,
            session_id=attempt.session_id,
            question_id=question.id,
            attempt=attempt.number,
            question=question.prompt,
            rubric=question.rubric,
            answer=answer.given,
            keyword_correct=answer.correct,
        )
    )


def _graded(turn: Turn, graded: Graded) -> Outcome:
    """A verdict on the answer the learner's quiz waits for; a verdict for anything else
    (the learner's wait ran out, a retake, a duplicate) changes nothing."""
    quiz = _in_quiz(turn)
    if quiz is None:
        return turn.done()
    course, attempt = quiz
    waiting = attempt.awaiting
    if waiting is None or (attempt.session_id, attempt.number, waiting.question_id) != (
        graded.session_id,
        graded.attempt,
        graded.question_id,
    ):
        return turn.done()
    turn, current, _ = _reconcile(turn, course, attempt)
    return turn.done() if current is None else _settle_grade(turn, course, current, graded)


def _awaiting(turn: Turn, course: Course, attempt: QuizAttempt, text: str) -> Outcome:
    """A learner's message while their written answer is being graded: informational
    commands work, anything else is asked to wait; past GRADE_WAIT the keyword verdict
    stands and the quiz goes on (the message itself was not an answer to anything)."""
    waiting = attempt.awaiting
    assert waiting is not None
    if turn.now - waiting.at >= GRADE_WAIT:
        return _settle_grade(turn, course, attempt, None)
    command = parse(text) if text.strip() else None
    if command is not None and command.name in INFORMATIONAL:
        outcome = GLOBAL[command.name](turn, command)
        wait = Reply(say("quiz_grading_wait", course))
        return replace(outcome, replies=(*outcome.replies, wait))
    return turn.say("quiz_grading_wait", course).done()


def _settle_grade(
    turn: Turn, course: Course, attempt: QuizAttempt, graded: Graded | None
) -> Outcome:
    """Record the awaited answer with the model's verdict, or (None, or the model failed)
    with the keyword verdict, saying it was a keyword check; then carry on with the quiz."""
    waiting = attempt.awaiting
    asked = attempt.current
    found = find_question(course, waiting.question_id) if waiting else None
    if found is None or asked is None or waiting is None or asked.question_id != found[1].id:
        # content edits took the question away while it was being graded: carry on without it
        attempt = replace(attempt, awaiting=None)
        turn = _save(turn, course, attempt)
        if attempt.current is None:
            return _finish(turn, course, attempt)
        return _ask(turn, course, attempt).done()
    question = found[1]
    explain = f"\n\n{question.explain}" if question.explain else ""
    if graded is not None and graded.mode == "model":
        right = graded.score >= MODEL_PASS
        feedback = say(
            "quiz_model_right" if right else "quiz_model_wrong",
            course,
            feedback=md_escape(graded.feedback),
            explain=explain,
        )
        answer = replace(waiting, correct=right, grading="model")
        return _answered(turn, course, attempt, question, answer, feedback)
    verdict = grade(question, (), (), Parsed(text=waiting.given.strip()))
    feedback = say("quiz_grade_fallback", course) + _feedback(
        course, question, (), (), verdict, False
    )
    answer = replace(waiting, correct=verdict.correct, grading="keywords")
    return _answered(turn, course, attempt, question, answer, feedback)


def _feedback(
    course: Course,
    question: Question,
    order: tuple[int, ...],
    options: tuple[str, ...],
    verdict: Verdict,
    skipped: bool,
) -> str:
    """Right or wrong, the right answer, and the author's explanation."""
    explain = f" {question.explain}" if question.explain else ""
    if question.kind == "text":
        if skipped:
            return say("quiz_skipped_text", course, rubric=question.rubric, explain=explain)
        checked = verdict.keywords
        if checked is None or not checked.points:
            return say("quiz_text_ungraded", course)
        points = "\n".join(
            say("quiz_keyword_met" if p.met else "quiz_keyword_missed", course, point=p.text)
            for p in checked.points
        )
        return say(
            "quiz_keywords_right" if verdict.correct else "quiz_keywords_wrong",
            course,
            met=checked.met,
            total=len(checked.points),
            points=points,
            explain=f"\n\n{question.explain}" if question.explain else "",
        )
    if verdict.correct:
        return say("quiz_right", course, explain=explain)
    positions = right_positions(question, order)
    if question.kind == "true_false":
        answer = ", ".join(f"**{md_escape(options[p - 1])}**" for p in positions)
    else:
        answer = ", ".join(f"**{p}) {md_escape(options[p - 1])}**" for p in positions)
    key = "quiz_skipped" if skipped else "quiz_wrong"
    return say(key, course, answer=answer, explain=explain)


def _finish(turn: Turn, course: Course, attempt: QuizAttempt) -> Outcome:
    """Every question answered: the result, then completion (pass) or what next (fail)."""
    total, score = len(attempt.asked), attempt.score
    if attempt.kind == REVIEW:
        status = QUIZ_PASSED if score == total else QUIZ_FAILED
        turn = _save(turn, course, replace(attempt, status=status, finished_at=turn.now))
        if attempt.then and (number := course.number_of(attempt.then)):
            return _deliver(turn, course, number).done()
        return turn.say("review_done", course, score=score, total=total).done()
    ok = passed(score, total, attempt.pass_mark)
    attempt = replace(attempt, status=QUIZ_PASSED if ok else QUIZ_FAILED, finished_at=turn.now)
    turn = _save(turn, course, attempt)
    late = ""
    if attempt.late and attempt.time_limit:
        limit = _limit_text(course, attempt.time_limit)
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
    assert session is not None  # _reconcile closed attempts of removed sessions
    if ok:
        return _quiz_passed(turn, course, session, attempt)
    return _quiz_failed(turn, course, session)


def _quiz_passed(turn: Turn, course: Course, session: Session, attempt: QuizAttempt) -> Outcome:
    progress = _progress(turn, course).with_completed(session.id)
    blocked = tuple(s for s in progress.quiz_blocked if s != session.id)
    progress = replace(progress, quiz_blocked=blocked)
    number = course.number_of(session.id) or 1
    if progress.completed_at is None and (
        session.final or _done_count(course, progress) == len(course.sessions)
    ):
        turn = _set_progress(turn, course, replace(progress, completed_at=turn.now))
        if session.final:
            return turn.say(
                "course_complete_final", course, name=turn.name, course=course.title
            ).done(CourseCompleted(course.id))
        return _celebrate(turn, course)
    turn = _set_progress(turn, course, progress)
    if attempt.advance:
        last = number == len(course.sessions)
        return _after_last(turn, course) if last else _deliver(turn, course, number + 1).done()
    return _marked_complete(turn, course, number)


def _quiz_failed(turn: Turn, course: Course, session: Session) -> Outcome:
    """Offer a retake, or after `max_attempts` failures say whom to ask and flag the
    session for the admins (an admin clearing the flag grants another round of attempts)."""
    progress = _progress(turn, course)
    failed = sum(1 for a in progress.attempts(session.id) if a.status == QUIZ_FAILED)
    most = course.quiz.max_attempts
    if failed % most == 0:
        if session.id not in progress.quiz_blocked:
            progress = replace(progress, quiz_blocked=(*progress.quiz_blocked, session.id))
        return _blocked(_set_progress(turn, course, progress), course, session)
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


def _quit(turn: Turn, course: Course, attempt: QuizAttempt) -> Outcome:
    """Leave the quiz; the attempt is kept (abandoned) and `quiz` picks it up again. A
    review is simply closed (its questions stay due) and the session it preceded follows."""
    turn = _save(turn, course, replace(attempt, status=QUIZ_ABANDONED))
    if attempt.kind == REVIEW:
        turn = turn.say("review_quit", course)
        if attempt.then and (number := course.number_of(attempt.then)):
            return _deliver(turn, course, number).done()
        return turn.done()
    buttons = [Button(say("button_quiz", course), "quiz")]
    return turn.say("quiz_quit", course, buttons=buttons).done()


def _quiz(turn: Turn, course: Course, _: Command) -> Outcome:
    """`quiz` / `retake`: take the current session's quiz (new attempt, or the abandoned
    one where it was left)."""
    number = _number(turn, course)
    session = course.session(number)
    if not has_quiz(course, session):
        return turn.say("quiz_none", course, number=number).done()
    progress = _progress(turn, course)
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
        return _blocked(turn, course, session)
    return _start_quiz(turn, course, session, advance=True)


def _not_in_quiz(turn: Turn, course: Course, _: Command) -> Outcome:
    """`skip` / `quit` outside a quiz."""
    number = _number(turn, course)
    if not has_quiz(course, course.session(number)):
        return turn.say("quiz_none", course, number=number).done()
    return turn.say(
        "quiz_not_active", course, buttons=[Button(say("button_quiz", course), "quiz")]
    ).done()


# --- spaced review ---------------------------------------------------------------------


def _due(turn: Turn, course: Course) -> tuple[ReviewItem, ...]:
    """Review items due now whose questions the course still has."""
    return tuple(
        item
        for item in due_reviews(_progress(turn, course).reviews, turn.now)
        if (found := find_question(course, item.question_id)) and found[1].kind in SPACED_KINDS
    )


def _start_review(
    turn: Turn, course: Course, items: tuple[ReviewItem, ...], then: str | None
) -> Turn:
    """A review attempt over `items`; `then` is the session to deliver when it ends."""
    progress = _progress(turn, course)
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
    asked = tuple(Asked(f[1].id, _shown(turn, course, attempt, f[1])) for f in questions if f)
    attempt = replace(attempt, asked=asked)
    return _ask(_save(turn, course, attempt), course, attempt)


def _start_session(turn: Turn, course: Course, number: int) -> Turn:
    """Deliver session `number`, after a one-question review when one is due."""
    due = _due(turn, course)
    if not due:
        return _deliver(turn, course, number)
    session = course.session(number)
    turn = _set_progress(turn, course, replace(_progress(turn, course), current=session.id))
    turn = turn.say("review_intro", course, number=number)
    return _start_review(turn, course, due[:1], then=session.id)


def _review(turn: Turn, course: Course, _: Command) -> Outcome:
    """`review`: after a failed quiz, re-read the session; otherwise go over every review
    that is due (or, with none due, re-read the current session)."""
    number = _number(turn, course)
    session = course.session(number)
    progress = _progress(turn, course)
    earlier = progress.attempts(session.id)
    if earlier and earlier[-1].status == QUIZ_FAILED and session.id not in progress.completed:
        turn = _deliver(turn, course, number)
        return turn.say("quiz_reread", course, number=number).done()
    due = _due(turn, course)
    if not due:
        return _deliver(turn.say("review_none", course, number=number), course, number).done()
    turn = turn.say("review_start", course, count=len(due))
    return _start_review(turn, course, due, then=None).done()


IN_COURSE |= {
    Cmd.QUIZ: _quiz,
    Cmd.RETAKE: _quiz,
    Cmd.REVIEW: _review,
    Cmd.SKIP: _not_in_quiz,
    Cmd.QUIT: _not_in_quiz,
}
