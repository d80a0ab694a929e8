"""What an admin can do to a learner, each recorded in the `audit` collection.

A change to a learner's progress is made on `flows.state` objects and saved with the
guarded commit a conversation turn uses (`to_doc`, version-checked): a conversation that
loaded the learner before the change fails its commit, reloads and sees the change, and a
turn that wrote between the admin's read and write is reloaded and kept, never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.engagement import Engagement
from bot.services import Services
from flows.course import Course
from flows.events import Reply
from flows.messages import say
from flows.reminders import allowed_at, reminder_course
from flows.state import Progress, from_doc, to_doc

TRIES = 5  # guarded writes lost to conversation turns before the admin is told to retry


class ActionError(ValueError):
    """The action cannot be done; the message says why, for the admin."""


def audit(
    services: Services, who: str, action: str, learner: str | None, now: datetime, **details: Any
) -> None:
    """Append one entry to the audit log (who, when, what, on whom)."""
    services.store.audit.record(
        {"at": now, "who": who, "action": action, "learner": learner, "details": details}
    )


def recent_audit(
    services: Services, learner: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest audit entries, optionally for one learner."""
    return services.store.audit.recent(learner, limit)


def _learner(services: Services, key: str) -> Mapping[str, Any]:
    doc = services.store.load(key)
    if doc is None:
        raise ActionError("no such learner")
    return doc


def _course_of(services: Services, doc: Mapping[str, Any], course_id: str | None):
    course = services.library.current().get(course_id or doc.get("active_course"))
    if course is None or course.id not in doc.get("progress", {}):
        raise ActionError("the learner is not enrolled in that course")
    return course


def _engagement(services: Services) -> Engagement:
    if services.engagement is None:
        raise ActionError("reminders and certificates are not set up in this process")
    return services.engagement


def nudge(services: Services, who: str, key: str, course_id: str | None, now: datetime) -> datetime:
    """Have the engagement module remind the learner now, like any other reminder: it goes
    out through the outbox as a proactive reply, is recorded on the learner (`nudged`), is
    held until the learner's quiet hours end and is dropped after STOP. Returns when it may
    go out. Refused, with the reason, when there is nothing to nudge about."""
    engagement = _engagement(services)
    doc = _learner(services, key)
    if doc.get("opted_out"):
        raise ActionError("the learner opted out of reminders (STOP); no nudge sent")
    course = _course_of(services, doc, course_id)
    learner = from_doc(key, doc)
    waiting = reminder_course(learner, {c.id: c for c in services.library.current().courses})
    if waiting is None or waiting.id != course.id:
        raise ActionError(
            "nothing to nudge about in this course: the learner has not started it, has "
            "finished it, paused training, is working on another course, or the course "
            "has no reminders settings"
        )
    engagement.nudge_now(key)
    audit(services, who, "nudge", key, now, course=course.id)
    return allowed_at(learner, course, now)


def _change_progress(
    services: Services,
    key: str,
    course_id: str,
    now: datetime,
    change: Callable[[Course, Progress], Progress],
) -> tuple[Course, Progress]:
    """Apply `change` to the learner's progress in a course and save it through the
    store's guarded commit; on a conflict (a turn wrote meanwhile) reload and apply it
    again. Returns the course and the progress as it was before."""
    for _ in range(TRIES):
        doc = _learner(services, key)
        course = _course_of(services, doc, course_id)
        learner = from_doc(key, doc)
        before = learner.progress[course.id]
        changed = replace(learner, progress={**learner.progress, course.id: change(course, before)})
        if services.store.commit(key, doc, to_doc(changed), [], None, now).ok:
            return course, before
    raise ActionError("the learner's progress kept changing meanwhile; try again")


def reset(services: Services, who: str, key: str, course_id: str, now: datetime) -> None:
    """Clear a learner's progress in a course; they start again at session 1."""

    def fresh(course: Course, before: Progress) -> Progress:
        # keeps quiz attempts and anything else recorded: history, not progress
        first = course.sessions[0].id if course.sessions else None
        return replace(before, current=first, completed=(), completed_at=None, seconds={})

    course, before = _change_progress(services, key, course_id, now, fresh)
    audit(
        services, who, "reset", key, now, course=course.id, completed_before=len(before.completed)
    )


def move(
    services: Services, who: str, key: str, course_id: str, number: int, now: datetime
) -> None:
    """Make session `number` the learner's current session in a course."""

    def moved(course: Course, before: Progress) -> Progress:
        if not 1 <= number <= len(course.sessions):
            raise ActionError(f"choose a session from 1 to {len(course.sessions)}")
        return replace(before, current=course.session(number).id)

    course, _ = _change_progress(services, key, course_id, now, moved)
    audit(services, who, "move", key, now, course=course.id, session=course.session(number).id)


def unblock(
    services: Services, who: str, key: str, course_id: str, session_id: str, now: datetime
) -> None:
    """Give a learner whose quiz attempts ran out at a session another round of attempts
    (the quiz engine flags the session in `quiz_blocked` and waits for an admin)."""

    def unblocked(course: Course, before: Progress) -> Progress:
        if session_id not in before.quiz_blocked:
            raise ActionError("the learner's quiz attempts are not used up at that session")
        return replace(
            before, quiz_blocked=tuple(s for s in before.quiz_blocked if s != session_id)
        )

    course, _ = _change_progress(services, key, course_id, now, unblocked)
    audit(services, who, "unblock", key, now, course=course.id, session=session_id)


def revoke(services: Services, who: str, code: str, reason: str, now: datetime) -> str:
    """Revoke a certificate with `bot.certificates`; returns the holder's key."""
    certificates = _engagement(services).certificates
    cert = certificates.by_code(code)
    if cert is None:
        raise ActionError("no such certificate")
    if not certificates.revoke(code, now, reason):
        raise ActionError("the certificate is already revoked")
    audit(services, who, "revoke", cert.get("learner"), now, code=cert["code"], reason=reason[:500])
    return str(cert.get("learner"))


def invite(services: Services, who: str, new: Mapping[str, tuple[str, ...]], now: datetime) -> int:
    """Invite newly imported learners to their first assigned course; returns how many.

    The reply goes through the outbox like any other, so each channel's sender decides
    how it may reach someone who has never written (a WhatsApp template outside the 24 h
    window, a Slack DM); delivery runs in the background.
    """
    catalog = services.library.current()
    invited = 0
    for key, course_ids in new.items():
        course = next((catalog.get(c) for c in course_ids if catalog.get(c)), None)
        if course is None or not course.enroll:
            continue
        doc = services.store.load(key) or {}
        text = say(
            "invitation",
            course,
            name=doc.get("name") or "",
            course=course.title,
            phrase=course.enroll[0],
        )
        services.conversations.queue(key, [Reply(text, course_id=course.id)])
        services.conversations.deliver(key)
        audit(services, who, "invite", key, now, course=course.id)
        invited += 1
    return invited


def _parked(services: Services, key: str) -> Mapping[str, Any]:
    parked = _learner(services, key).get("parked")
    if not parked:
        raise ActionError("the learner's deliveries are not parked")
    return parked


def retry_delivery(services: Services, who: str, key: str, now: datetime) -> None:
    """Resume a parked queue: its head reply is tried again now, with a fresh retry budget
    (after the provider or the learner's address was fixed)."""
    parked = _parked(services, key)
    if not services.store.unpark(key, parked["seq"], now):
        raise ActionError("the parked reply changed meanwhile; reload the page")
    audit(services, who, "retry delivery", key, now, seq=parked["seq"], error=parked["error"])
    services.outbox.flush(key)


def drop_delivery(services: Services, who: str, key: str, now: datetime) -> None:
    """Give up on a parked head reply (recorded as `dropped` in deliveries) and send the
    replies behind it: the admin judged the conversation can go on without it."""
    parked = _parked(services, key)
    record = {
        "learner": key,
        "channel": key.split(":", 1)[0],
        "seq": parked["seq"],
        "status": "dropped",
        "error": f"dropped by {who}: {parked['error']}",
        "attempts": parked.get("attempts", 0),
        "at": now,
    }
    head: Mapping[str, Any] = next(
        (e for e in _learner(services, key)["outbox"] if e["seq"] == parked["seq"]), {}
    )
    if not services.store.drop_parked(key, parked["seq"], {**record, "reply": head.get("reply")}):
        raise ActionError("the parked reply changed meanwhile; reload the page")
    audit(services, who, "drop delivery", key, now, seq=parked["seq"], error=parked["error"])
    services.outbox.flush(key)
