"""The learner state machine: one event in, the new state, replies and effects out.

`step` is a pure function. A learner is in one of four situations: not enrolled, in a
course, paused (left with `exit`), or answering a yes/no confirmation; global commands
(help, courses, progress, STOP/START, enrollment) work in all of them, course commands
need an active course, and any other text in a course is a question for the assistant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType

from flows import events
from flows.awards import award_of
from flows.commands import Cmd, Command, match_enrollment, parse
from flows.course import Catalog, Course
from flows.events import Ask, Button, Effect, Inbound, Outcome, Reply
from flows.messages import say
from flows.reminders import learner_zone, policy_of, zone_name
from flows.state import Learner, Progress

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

    def say(self, key: str, course: Course | None = None, /, buttons=(), **values) -> Turn:
        """This turn with one more reply from the message catalog."""
        text = say(key, course, **values)
        return replace(self, replies=(*self.replies, Reply(text, tuple(buttons))))

    def update(self, **changes) -> Turn:
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
    turn = Turn(_observe(learner, event, now), catalog, event, now)
    text = event.payload or event.text
    if not text.strip():
        return turn.say("media_only" if event.media_count else "empty_message").done()
    command = parse(text)
    if turn.learner.pending == "restart":
        if command and command.name in (Cmd.YES, Cmd.NO):
            return _confirm_restart(turn, command.name is Cmd.YES)
        turn = turn.update(pending=None)
    if command is None:
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
    return IN_COURSE[command.name](_settle(turn, course), course, command)


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


def _settle(turn: Turn, course: Course) -> Turn:
    """Make sure the learner's current session exists; if an author removed it, move them to
    their first unfinished session (position-free, so edits never corrupt progress)."""
    progress = _progress(turn, course)
    if progress.current and course.number_of(progress.current):
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
    return Reply(text, tuple(buttons), session.media, course.id)


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
    return _deliver(turn, course, _number(turn, course)).done()


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
    finished = {cid: p for cid, p in turn.learner.progress.items() if p.completed_at}
    active = turn.learner.active_course
    chosen = (
        active
        if active in finished
        else max(finished, key=lambda cid: finished[cid].completed_at, default=None)
    )
    course = turn.catalog.get(chosen)
    if course is None:
        return turn.say("certificate_none").done()
    if award_of(course) is None:
        return turn.say("certificate_not_offered", course, course=course.title).done()
    return turn.done(events.SendCertificate(course.id))


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
    turn, finished = _complete_current(turn, course)
    if finished:
        return _celebrate(turn, course)
    if number < len(course.sessions):
        return _deliver(turn, course, number + 1).done()
    return _after_last(turn, course)


def _complete(turn: Turn, course: Course, _: Command) -> Outcome:
    number = _number(turn, course)
    turn, finished = _complete_current(turn, course)
    if finished:
        return _celebrate(turn, course)
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
    ).done(events.CourseCompleted(course.id))


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
    turn = _set_progress(turn, course, Progress(started_at=turn.now))
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
