"""Account commands: what a learner can ask in any situation, in a course or not (help,
the catalog, progress, STOP / START, time zone, certificate, linking a channel), and a
stray yes / no."""

from __future__ import annotations

from types import MappingProxyType

from flows.awards import award_of
from flows.commands import Command
from flows.events import Button, Link, Outcome, SendCertificate
from flows.machine.turn import Turn, done_count, first_open
from flows.messages import say
from flows.reminders import learner_zone, policy_of, zone_name


def show_help(turn: Turn, _: Command) -> Outcome:
    return turn.say("help", turn.catalog.get(turn.learner.active_course)).done()


def list_courses(turn: Turn, _: Command) -> Outcome:
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


def progress_report(turn: Turn, _: Command) -> Outcome:
    lines = []
    for course in turn.catalog.courses:
        progress = turn.learner.progress.get(course.id)
        if progress is None or not course.sessions:
            continue
        number = course.number_of(progress.current or "") or first_open(course, progress)
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
                done=done_count(course, progress),
                total=len(course.sessions),
                state=state,
            )
        )
    if not lines:
        return turn.say("progress_none").done()
    return turn.say("progress", lines="\n".join(lines)).done()


def stop(turn: Turn, _: Command) -> Outcome:
    return turn.update(opted_out=True).say("stop").done()


def start(turn: Turn, _: Command) -> Outcome:
    return turn.update(opted_out=False).say("start").done()


def set_timezone(turn: Turn, command: Command) -> Outcome:
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


def certificate(turn: Turn, _: Command) -> Outcome:
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


def link(turn: Turn, command: Command) -> Outcome:
    """`link` / `link 123456`: the bot issues or redeems a one-time code (it holds the codes
    and the randomness) and answers; nothing about the learner changes here."""
    return turn.done(Link(command.arg))


def unconfirmed(turn: Turn, _: Command) -> Outcome:
    return turn.say("nothing_to_confirm", turn.catalog.get(turn.learner.active_course)).done()
