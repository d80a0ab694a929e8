"""Engagement: reminders, certificates and manager digests, run as jobs by the clock.

`Conversations` tells this module about every committed message (`seen`: reschedule the
learner's reminder) and about effects (`CourseCompleted`, `SendCertificate`). The clock
(`run_due`) runs the due jobs. The rules (when, what to say) are pure in `flows.reminders`
and `flows.digest`; this module only loads, decides on the latest learner document, queues
through `Conversations.queue_decided` and delivers through the outbox.

Exactly once: a reminder is queued in the same guarded write that records it on the
learner (`reminded: {anchor, rung}`), so two clocks (or one clock re-running a job whose
lease ran out) cannot both queue it, and a STOP committed in between is seen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.certificates import EXPIRY_WARNINGS, Certificates
from bot.config import Config
from bot.content import Library
from bot.conversation import Conversations
from bot.credentials import Credentials
from bot.notify import EmailNotifier, ManagerNotifier
from bot.outbox import Outbox, mask
from bot.store import Store
from bot.store.jobs import Handler, Job, Jobs
from bot.webhooks import Webhooks
from flows.awards import award_of
from flows.course import Course
from flows.digest import build_digests, digest_text
from flows.events import Button, CourseCompleted, Effect, Reply, SendCertificate
from flows.messages import say
from flows.reminders import allowed_at, gap_after, next_nudge, nudge_reply, reminder_course
from flows.state import Learner, from_doc

log = logging.getLogger(__name__)

DIGEST_JOB = "digest"
NUDGE_COOLDOWN = timedelta(hours=24)  # a learner is nudged from Slack at most this often


class Engagement:
    """Schedules and runs the proactive side of the bot."""

    def __init__(
        self,
        store: Store,
        jobs: Jobs,
        library: Library,
        conversations: Conversations,
        outbox: Outbox,
        certificates: Certificates,
        clock: Callable[[], datetime],
        notifiers: Sequence[ManagerNotifier] = (),
        digest_every: timedelta = timedelta(days=7),
        overdue_after: timedelta = timedelta(days=7),
        course_channels: Mapping[str, str] | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.library = library
        self.conversations = conversations
        self.outbox = outbox
        self.certificates = certificates
        self.clock = clock
        self.notifiers = tuple(notifiers)
        self.digest_every = digest_every
        self.overdue_after = overdue_after
        self.course_channels = dict(course_channels or {})
        self.credentials = credentials  # each certificate is also an Open Badges credential
        self.webhooks: Webhooks | None = None  # outgoing webhooks, wired by build_services

    # --- hooks called by Conversations -------------------------------------------------

    def seen(self, learner: Learner) -> None:
        """The learner wrote: their reminder ladder starts again from now (or stops)."""
        course = reminder_course(learner, self._courses())
        nudge = next_nudge(learner, course, 0) if course else None
        if course is None or nudge is None:
            self.jobs.cancel(_reminder_id(learner.key))
            return
        self.jobs.schedule(
            _reminder_id(learner.key),
            "reminder",
            nudge.due,
            {"learner": learner.key, "rung": 0, "anchor": learner.last_inbound_at},
        )

    def on_effect(self, key: str, effect: Effect, done: str | None = None) -> None:
        """Issue or re-send certificates (`done`: the pending effect this performs)."""
        if isinstance(effect, CourseCompleted):
            self._completed_event(key, effect.course_id)
        if isinstance(effect, CourseCompleted | SendCertificate):
            just_completed = isinstance(effect, CourseCompleted)
            self.send_certificate(key, effect.course_id, just_completed, done)

    def _completed_event(self, key: str, course_id: str) -> None:
        """Record the `course.completed` webhook before the effect is done (so a crash
        performs it again; the event's stable id keeps it one)."""
        learner = from_doc(key, self.store.load(key))
        course = self.library.current().get(course_id)
        completed_at = learner.progress_in(course_id).completed_at
        if self.webhooks is not None and course is not None and completed_at is not None:
            self.webhooks.course_completed(key, learner.name, course, completed_at)

    # --- reminders ----------------------------------------------------------------------

    def nudge_now(self, key: str) -> None:
        """A manager pressed "Nudge": remind this learner as soon as quiet hours allow
        (the ladder carries on independently)."""
        now = self.clock()
        self.jobs.schedule(f"nudge:{key}", "nudge", now, {"learner": key, "asked_at": now})

    def nudge_once(self, key: str, within: timedelta = NUDGE_COOLDOWN) -> bool:
        """`nudge_now` unless this learner was nudged less than `within` ago (a manager
        pressing twice, two managers, an older digest): False for such a repeat. Presses at
        the same moment schedule the same job id, so they still make one nudge."""
        job = self.jobs.get(f"nudge:{key}") or {}
        asked = (job.get("data") or {}).get("asked_at")
        if isinstance(asked, datetime):
            asked = asked if asked.tzinfo else asked.replace(tzinfo=UTC)
            if self.clock() - asked < within:
                return False
        self.nudge_now(key)
        return True

    def _remind(self, job: Job, now: datetime) -> str:
        key = job.data["learner"]
        learner = from_doc(key, self.store.load(key))
        course = reminder_course(learner, self._courses())
        if course is None:
            return "skipped: nothing waiting, opted out or paused"
        manual = job.kind == "nudge"
        anchor, rung = job.data.get("anchor"), int(job.data.get("rung", 0))
        if not manual and learner.last_inbound_at != anchor:
            self.seen(learner)
            return "rescheduled: the learner wrote since"
        allowed = allowed_at(learner, course, now)
        if allowed > now:  # the clock was late, or a manager nudged at night
            self.jobs.schedule(job.id, job.kind, allowed, job.data)
            return f"deferred to {allowed.isoformat()} (quiet hours)"
        marker = {"asked_at": job.data.get("asked_at")} if manual else {"anchor": anchor}
        last = not manual and next_nudge(learner, course, rung + 1) is None
        field = "nudged" if manual else "reminded"

        def decide(doc: dict[str, Any]) -> tuple[list[Reply], dict[str, Any]] | None:
            current = from_doc(key, doc)
            still = reminder_course(current, self._courses())
            if still is None or still.id != course.id:
                return None  # STOP, exit or completion committed meanwhile
            if not manual and current.last_inbound_at != anchor:
                return None
            done = doc.get(field) or {}
            if {k: done.get(k) for k in marker} == marker and done.get("rung", -1) >= rung:
                return None  # another clock already sent this one
            return [nudge_reply(current, course, last)], {field: {**marker, "rung": rung}}

        if not self.conversations.queue_decided(key, decide):
            return f"skipped: {mask(key)} changed or was already reminded"
        self.conversations.deliver(key)
        if not manual and not last:
            following = next_nudge(learner, course, rung + 1, now + gap_after(course, rung))
            if following is not None:
                self.jobs.schedule(
                    job.id, "reminder", following.due, {**job.data, "rung": rung + 1}
                )
        kind = "nudge" if manual else f"reminder {rung + 1}"
        return f"sent {kind} to {mask(key)} ({course.id})"

    # --- certificates -------------------------------------------------------------------

    def send_certificate(
        self, key: str, course_id: str, just_completed: bool = False, done: str | None = None
    ) -> None:
        """Send the learner their certificate for a completed course, issuing it first when
        needed; a course without certificate settings awards none (nothing is sent).
        Issuing is idempotent (one certificate per completion); `done` makes the message
        go out once however often the effect is performed."""
        learner = from_doc(key, self.store.load(key))
        course = self.library.current().get(course_id)
        completed_at = learner.progress_in(course_id).completed_at
        if course is None or completed_at is None or award_of(course) is None:
            return
        now = self.clock()
        cert = self.certificates.issue(key, learner.name, course, completed_at, now)
        if cert is None:
            return
        if self.webhooks is not None and not cert.get("revoked"):
            pdf, page = self.certificates.pdf_url(cert), self.certificates.verify_url(cert)
            self.webhooks.certificate_issued(cert, pdf, page)
        if cert.get("revoked"):
            self.conversations.queue(
                key, [Reply(say("certificate_revoked", course, course=course.title))], done
            )
            self.conversations.deliver(key)
            return
        if self.credentials is not None:  # signed now, when the key vouches for it
            self.credentials.ensure(cert, now)
        self.conversations.queue(key, [self._certificate_reply(cert, course)], done)
        if cert["expires"] is not None:
            self._schedule_expiry(learner, course, cert, now)
        if just_completed and cert["issued"] == now:  # issued by this call, not before
            self._tell_manager(learner, course)
        self.conversations.deliver(key)

    def _certificate_reply(self, cert: dict[str, Any], course: Course) -> Reply:
        expires = cert.get("expires")
        expiry = say("certificate_expiry", course, date=expires) if expires else ""
        text = say(
            "certificate_issued",
            course,
            course=course.title,
            url=self.certificates.pdf_url(cert),
            verify_url=self.certificates.verify_url(cert),
            code=cert["code"],
            expiry=expiry,
        )
        return Reply(text, course_id=course.id)

    def _schedule_expiry(
        self, learner: Learner, course: Course, cert: dict[str, Any], now: datetime
    ) -> None:
        for days in EXPIRY_WARNINGS:
            due = cert["expires"] - timedelta(days=days)
            if due > now:
                self.jobs.ensure(
                    f"cert-expiry:{cert['code']}:{days}",
                    "cert_expiry",
                    allowed_at(learner, course, due),
                    {"code": cert["code"], "days": days},
                )

    def _expiry(self, job: Job, now: datetime) -> str:
        cert = self.certificates.by_code(job.data["code"])
        if cert is None or cert.get("revoked"):
            return "skipped: certificate gone or revoked"
        key = cert["learner"]
        latest = self.certificates.latest(key, cert["course"])
        if latest is not None and latest["code"] != cert["code"]:
            return "skipped: re-certified since"
        course = self.library.current().get(cert["course"])
        allowed = allowed_at(from_doc(key, self.store.load(key)), course, now)
        if allowed > now:  # the clock was late into the learner's night
            self.jobs.schedule(job.id, job.kind, allowed, job.data)
            return f"deferred to {allowed.isoformat()} (quiet hours)"

        def decide(doc: dict[str, Any]) -> tuple[list[Reply], dict[str, Any]] | None:
            learner = from_doc(key, doc)
            if learner.opted_out or job.id in doc.get("expiry_warned", ()):
                return None
            text = say(
                "certificate_expiring",
                course,
                name=learner.name or "Hi there",
                title=cert["title"],
                course=cert["course_title"],
                date=cert["expires"],
            )
            buttons = (Button(say("button_open_course", course), f"enroll:{cert['course']}"),)
            reply = Reply(text, buttons, course_id=cert["course"], proactive=True)
            return [reply], {"expiry_warned": [*doc.get("expiry_warned", ()), job.id][-20:]}

        if not self.conversations.queue_decided(key, decide):
            return f"skipped: {mask(key)} opted out or already warned"
        self.conversations.deliver(key)
        return f"sent expiry warning ({job.data['days']} days) to {mask(key)}"

    def _tell_manager(self, learner: Learner, course: Course) -> None:
        manager = learner.profile.get("manager")
        if not isinstance(manager, str) or not manager:
            return
        text = f"{learner.name or 'A learner'} has completed {course.title}."
        self._notify(manager, f"Completed: {course.title}", text, ())

    # --- manager digest -----------------------------------------------------------------

    def start(self, now: datetime) -> None:
        """Make sure the recurring digest job exists (kept across restarts)."""
        self.jobs.ensure(DIGEST_JOB, "digest", now + self.digest_every, {})

    def _digest(self, job: Job, now: datetime) -> str:
        fields = ("name", "profile", "progress", "last_inbound_at", "active_course")
        wanted: dict[str, Any] = {"profile.manager": {"$exists": True, "$nin": [None, ""]}}
        if self.course_channels:  # a course's channel follows every learner of the course
            wanted = {
                "$or": [
                    wanted,
                    *({f"progress.{c}": {"$exists": True}} for c in self.course_channels),
                ]
            }
        found = self.store.learners.matching(wanted, fields)
        learners = (from_doc(doc["_id"], doc) for doc in found)
        digests = build_digests(
            learners,
            self.library.current(),
            now,
            self.digest_every,
            self.overdue_after,
            self.course_channels,
        )
        sent = 0
        for digest in digests:
            if digest.empty:  # everyone finished before this period: nothing to report
                continue
            nudges = [(line.name, line.key) for line in digest.overdue]
            sent += self._notify(digest.manager, "Training digest", digest_text(digest), nudges)
        following = job.due + self.digest_every
        while following <= now:  # a clock that was down skips missed digests, not repeats
            following += self.digest_every
        self.jobs.schedule(DIGEST_JOB, "digest", following, {})
        return f"digest sent to {sent} of {len(digests)} manager(s)"

    def _notify(
        self, manager: str, subject: str, text: str, nudges: Sequence[tuple[str, str]]
    ) -> bool:
        for notifier in self.notifiers:
            try:
                if notifier.notify(manager, subject, text, nudges):
                    return True
            except Exception as exc:
                log.warning("notify: %s failed: %s", type(notifier).__name__, exc)
                return False
        log.info("notify: no notifier handles manager address %s…", manager[:3])
        return False

    # --- the clock ----------------------------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        """Job kind → handler."""
        return {
            "reminder": self._remind,
            "nudge": self._remind,
            "cert_expiry": self._expiry,
            "digest": self._digest,
        }

    def run_due(self) -> list[str]:
        """Run every job due now (the clock's tick; `/wait` in the console)."""
        return self.jobs.run_due(self.clock(), self.handlers())

    def _courses(self) -> dict[str, Course]:
        return {c.id: c for c in self.library.current().courses}


def build_engagement(
    config: Config,
    store: Store,
    library: Library,
    conversations: Conversations,
    outbox: Outbox,
    clock: Callable[[], datetime],
) -> Engagement:
    """Wire engagement into a conversation pipeline (indexes, notifiers, the digest job)."""
    jobs = store.jobs
    jobs.ensure_indexes()
    certificates = Certificates(store.certificates, config.public_base_url)
    certificates.ensure_indexes()
    credentials = Credentials(
        store.signing_keys, store.certificates, config.public_base_url, config.ob_issuer_name
    )
    credentials.ensure_indexes()
    credentials.ensure_key(clock())  # on first start; insert-if-absent, so workers agree
    notifiers: list[ManagerNotifier] = []
    if smtp_url := config.smtp_url.get_secret_value():  # validated at start
        notifiers.append(EmailNotifier(smtp_url))

    engagement = Engagement(
        store,
        jobs,
        library,
        conversations,
        outbox,
        certificates,
        clock,
        notifiers,
        digest_every=timedelta(days=config.digest_days),
        overdue_after=timedelta(days=config.overdue_days),
        course_channels=dict(config.digest_channels),
        credentials=credentials,
    )
    engagement.start(clock())
    conversations.engagement = engagement
    return engagement


def _reminder_id(key: str) -> str:
    return f"reminder:{key}"
