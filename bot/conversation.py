"""One inbound message, end to end: load, step, commit, then deliver and run effects.

This is the only place that calls `flows.step`. Channels build an `Inbound` and call
`Conversations.handle`; what happens after the state is saved (delivery, the assistant)
runs through `background`, a thread pool in the web app and inline in the console.

Effects (an answer to write, a certificate to issue, the reminder ladder to restart) are
committed with the state, in the learner's `effects` list, and leave it only when done:
by the same write that queues their replies, so a performer that dies at any instant
leaves the effect to be performed again (`perform_due`, the clock's job; at once when
the embedded store's owner starts), and a replay never queues its replies twice.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot import linking
from bot.assistant import Assistant
from bot.content import Library
from bot.observability import HANDLE_SECONDS, INBOUND_DROPPED, MESSAGES_IN
from bot.outbox import Outbox, channel_of, reply_from_doc, reply_to_doc
from bot.privacy import mask
from bot.store import Store
from flows.events import (
    Ask,
    CourseCompleted,
    Effect,
    Grade,
    Graded,
    Inbound,
    Link,
    Reply,
    SendCertificate,
)
from flows.machine import step
from flows.messages import say
from flows.ratelimit import Admission, admit
from flows.state import Learner, from_doc, to_doc

log = logging.getLogger(__name__)

MAX_TEXT = 4000  # longer messages are cut before they reach the flows
RETRY_PENDING = 300.0  # seconds a retry handed to a lane counts as pending (monotonic)
COMMIT_ATTEMPTS = 8
EFFECT_STALE = timedelta(seconds=60)  # an effect still pending this long lost its performer
SEEN = "Seen"  # the effect of every message: restart the learner's reminder ladder
XAPI = "Xapi"  # the effect of every message with XAPI_ENDPOINT set: queue its statements
EFFECTS: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (Ask, Grade, CourseCompleted, SendCertificate, Link)
}

Background = Callable[[Callable[[], object]], None]


def inline(task: Callable[[], object]) -> None:
    """Run background work at once (console, tests)."""
    task()


@dataclass(frozen=True)
class Handled:
    """What happened to an inbound message."""

    status: str  # "ok", "duplicate", "rate_limited"
    replies: tuple[Reply, ...] = ()


class Engagement(Protocol):
    """What happens after a message besides replying: reminders, certificates
    (`bot.engagement.Engagement`)."""

    def seen(self, learner: Learner) -> None: ...

    def on_effect(self, key: str, effect: Effect, done: str | None = None) -> None: ...


Decide = Callable[[dict[str, Any]], tuple[list[Reply], dict[str, Any]] | None]
"""From the learner's current document: replies to queue and fields to set, or None."""


class Recorder(Protocol):
    """Queues a learner's xAPI statements from their current state
    (`bot.xapi_queue.XapiQueue`)."""

    def record(self, key: str) -> int: ...


class Conflict(RuntimeError):
    """The learner's document kept changing under us; the message was not processed."""


class Conversations:
    """Runs inbound messages through the learner state machine."""

    def __init__(
        self,
        store: Store,
        library: Library,
        outbox: Outbox,
        assistant: Assistant,
        background: Background = inline,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.library = library
        self.outbox = outbox
        self.assistant = assistant
        self.background = background
        self.clock = clock
        self.engagement: Engagement | None = None  # wired by build_services
        self.xapi: Recorder | None = None  # wired by build_services when XAPI_ENDPOINT is set
        self._retrying: dict[str, float] = {}  # learners handed to a lane by `deliver_due`
        self._retrying_lock = threading.Lock()

    def handle(self, inbound: Inbound) -> Handled:
        """Process one message exactly once; a repeated message id changes nothing.

        Whether a model grades written answers is decided here, and a `grade` a channel
        sets is dropped: verdicts only come in through `_grade`."""
        grading = self.assistant.grades_with_model
        inbound = replace(inbound, text=inbound.text[:MAX_TEXT], grade=None, model_grading=grading)
        with HANDLE_SECONDS.labels(inbound.channel).time():
            handled = self._handle(inbound)
        MESSAGES_IN.labels(inbound.channel, handled.status).inc()
        return handled

    def _handle(self, inbound: Inbound) -> Handled:
        catalog = self.library.current()
        # A person's other channel address (a roster's Slack id next to the phone, a
        # linked channel) is handled as their primary learner, and the replies of this
        # turn go back to the address they wrote from.
        key, address = self.store.addresses.learner_of(inbound.key), inbound.key
        to = {"to": address} if key != address else {}
        inbound = replace(inbound, key=key)
        for _ in range(COMMIT_ATTEMPTS):
            doc = self.store.load(inbound.key)
            if doc and self._seen(inbound, doc):
                log.info(
                    "inbound: duplicate message %s from %s ignored",
                    inbound.message_id,
                    mask(inbound.key),
                )
                if doc.get("outbox"):
                    # The first attempt may have saved and then failed (or died) before
                    # delivering: its replies go now, not at the clock's next pass.
                    self._run(lambda: self.outbox.flush(inbound.key))
                return Handled("duplicate")
            now = self.clock()
            learner = from_doc(inbound.key, doc)
            # a grader's verdict is not the learner writing: it never counts as flooding
            admission = (
                admit(learner, now) if inbound.grade is None else Admission("process", learner)
            )
            if admission.verdict == "drop":
                log.warning("inbound: %s is flooding; message dropped", mask(inbound.key))
                INBOUND_DROPPED.labels(inbound.channel, "flood").inc()
                self._log_inbound(inbound, now, status="dropped: flood")
                return Handled("rate_limited")
            outcome = admission.outcome or step(admission.learner, catalog, inbound, now)
            said = tuple(
                replace(e, address=address) if isinstance(e, Link) else e for e in outcome.effects
            )
            effects = self._pending(inbound, said, now, to.get("to", ""))
            commit = self.store.commit(
                inbound.key,
                doc,
                to_doc(outcome.learner),
                [{**reply_to_doc(r), **to} for r in outcome.replies],
                inbound.message_id or None,
                now,
                effects=effects,
            )
            if commit.status == "duplicate":
                return Handled("duplicate")
            if commit.ok:
                break
        else:
            log.error(
                "inbound: gave up on %s after %d conflicting writes",
                mask(inbound.key),
                COMMIT_ATTEMPTS,
            )
            raise Conflict(inbound.key)
        if inbound.message_id:
            self.store.remember_inbound(inbound.key, inbound.message_id, now)
        self._log_inbound(inbound, now)
        for entry in effects:
            self._perform_later(inbound.key, entry)
        self.deliver(inbound.key)
        return Handled("ok", outcome.replies)

    def _pending(
        self, inbound: Inbound, effects: tuple[Effect, ...], now: datetime, to: str = ""
    ) -> list[dict[str, Any]]:
        """This turn's effects as the entries committed with it (ids unique per message);
        `to`: the address the learner wrote from when not their key, where what the effects
        say (an answer, a grade's verdict) goes too."""
        kept: list[dict[str, Any]] = [
            _effect_doc(e)
            for e in effects
            if isinstance(e, Ask | Grade | Link) or self.engagement is not None
        ]
        if self.engagement is not None:
            kept.append({"kind": SEEN})
        if self.xapi is not None:
            kept.append({"kind": XAPI})
        tag = inbound.message_id or uuid.uuid4().hex
        where = {"to": to} if to else {}
        return [{"id": f"{tag}#{n}", "effect": e, "at": now, **where} for n, e in enumerate(kept)]

    def _perform_later(self, key: str, entry: Mapping[str, Any]) -> None:
        lane = "assistant" if entry["effect"]["kind"] in ("Ask", "Grade") else "default"
        self._run(lambda: self._perform(key, entry), lane)

    def _perform(self, key: str, entry: Mapping[str, Any]) -> None:
        """Do one committed effect, then forget it (effects that queue replies forget it in
        that same write; see the module's docstring). Statements are queued again after a
        course's effects, which may have issued a certificate, before the effect is
        forgotten: nothing can be lost between the two."""
        effect_id, doc = entry["id"], entry["effect"]
        if doc["kind"] == SEEN:
            if self.engagement is not None:
                self.engagement.seen(from_doc(key, self.store.load(key)))
        elif doc["kind"] != XAPI:  # an XAPI effect is the recording below
            effect = _effect(doc)
            if isinstance(effect, Ask):
                self._answer(key, effect, effect_id, entry.get("to", ""))
            elif isinstance(effect, Grade):
                self._grade(entry.get("to") or key, effect)
            elif isinstance(effect, Link):
                self._link(key, effect, effect_id)
            elif self.engagement is not None:
                self.engagement.on_effect(key, effect, effect_id)
        if self.xapi is not None and doc["kind"] not in (SEEN, "Ask", "Grade", "Link"):
            self.xapi.record(key)
        self.store.effect_done(key, effect_id)

    def perform_due(self, stale: timedelta = EFFECT_STALE) -> int:
        """The clock's job: perform again the effects still pending `stale` after their
        turn (their performer died; on the embedded store's start, with `stale` 0, every
        pending effect is a dead process's). How many were handed over."""
        due = self.store.effects_due(self.clock() - stale)
        for key, entry in due:
            self._perform_later(key, entry)
        return len(due)

    def deliver(self, key: str) -> None:
        """Flush the learner's outbox in the background, on its channel's own lane (a
        hanging provider never holds another channel's replies)."""
        self._run(lambda: self.outbox.flush(key), channel_of(key))

    def deliver_due(self) -> int:
        """The clock's retry job: hand every learner with replies due to its channel's lane
        (a hanging provider holds only its own channel's retries), once: a learner whose
        retry is still queued or running (for less than `RETRY_PENDING`: a full lane may
        have refused it) is not queued again. How many were handed over."""
        now = time.monotonic()
        due = self.store.due_outboxes(self.outbox.clock())
        with self._retrying_lock:
            due = [k for k in due if now - self._retrying.get(k, -RETRY_PENDING) >= RETRY_PENDING]
            self._retrying.update(dict.fromkeys(due, now))
        for key in due:
            self._run(functools.partial(self._retry, key), channel_of(key))
        return len(due)

    def _retry(self, key: str) -> None:
        try:
            self.outbox.flush(key)
        finally:
            with self._retrying_lock:
                self._retrying.pop(key, None)

    def _seen(self, inbound: Inbound, doc: dict[str, Any]) -> bool:
        """Whether this message was processed: in the learner's recent ids (no extra read
        for a retry seconds later), else in the week-long `inbound` collection."""
        if not inbound.message_id:
            return False
        if inbound.message_id in doc.get("processed", ()):
            return True
        return self.store.seen_inbound(inbound.key, inbound.message_id)

    def _log_inbound(self, inbound: Inbound, now: datetime, status: str = "processed") -> None:
        """Every inbound message in `events`, processed or not (nothing is answered 200
        and recorded nowhere)."""
        self.store.log_event(
            {
                "at": now,
                "learner": inbound.key,
                "channel": inbound.channel,
                "message_id": inbound.message_id,
                "text": inbound.text[:1000],
                "status": status,
            }
        )

    def queue(self, key: str, replies: list[Reply], done: str | None = None) -> None:
        """Append replies that no inbound message produced (answers, reminders); `done`:
        the effect they perform (see `queue_decided`)."""
        self.queue_decided(key, lambda _: (replies, {}), done)

    def queue_decided(
        self, key: str, decide: Decide, done: str | None = None, to: str = ""
    ) -> bool:
        """Queue replies decided from the learner's latest document, with any fields they
        set, in one guarded write; a conflicting write (say, STOP) makes `decide` run again
        on the new document. With `done`, the replies perform that pending effect: nothing
        is queued once it is no longer pending (another performer did it), and the same
        write forgets it; `to`: the address they go to, when not the learner key. Returns
        whether anything was queued."""
        for _ in range(COMMIT_ATTEMPTS):
            doc = self.store.load(key)
            if doc is not None and done and done not in _effect_ids(doc):
                return False
            decided = decide(doc) if doc is not None else None
            if decided is None:
                return False
            replies, fields = decided
            if self.store.commit(
                key,
                doc,
                fields,
                [{**reply_to_doc(r), **({"to": to} if to and to != key else {})} for r in replies],
                None,
                self.clock(),
                done=done,
            ).ok:
                return True
        raise Conflict(key)

    def _answer(self, key: str, ask: Ask, done: str | None = None, to: str = "") -> None:
        course = self.library.current().get(ask.course_id)
        if course is None:
            return
        answer = self.assistant.answer(course, ask, key)
        # Channels that thread answers (Slack) recognise them by kind; `then` is what the
        # flows want said after the answer (a quiz question, put again).
        tagged = answer if answer.kind else replace(answer, kind="answer")
        self.queue_decided(key, lambda _: ([tagged, *ask.then], {}), done, to)
        self.deliver(key)

    def _link(self, key: str, effect: Link, done: str) -> None:
        """Issue or redeem a linking code (`bot.linking`) and answer on the channel the
        learner typed `link` on, in their course's language."""
        said, values = linking.answer(self.store, key, effect, self.clock())
        catalog = self.library.current()

        def decide(doc: dict[str, Any]) -> tuple[list[Reply], dict[str, Any]]:
            course = catalog.get(doc.get("active_course"))
            return [Reply(say(said, course, **values))], {}

        self.queue_decided(key, decide, done, effect.address)
        self.deliver(key)

    def _grade(self, address: str, effect: Grade) -> None:
        """Grade a written answer with the model (on a worker, never in the webhook) and feed
        the verdict back through `step`, as from the address the answer came from (the
        learner's key, or a linked address: the verdict goes back there). If the grader
        itself breaks, the keyword verdict stands, so the learner's quiz always goes on."""
        try:
            score, feedback, mode = self.assistant.grade(
                effect.rubric, effect.question, effect.answer
            )
        except Exception:
            log.exception("grading: the grader failed; the keyword verdict stands")
            score, feedback, mode = 0.0, "", "keywords"
        graded = Graded(
            effect.session_id, effect.attempt, effect.question_id, score, feedback, mode
        )
        log.info("grading: %s answer of %s marked by %s", effect.question_id, mask(address), mode)
        message_id = (
            f"grade:{effect.course_id}:{effect.session_id}:{effect.attempt}:{effect.question_id}"
        )
        handled = self._handle(Inbound(address, "grader", message_id=message_id, grade=graded))
        if handled.status == "ok" and not handled.replies:
            log.info("grading: %s no longer waits for this verdict; ignored", mask(address))

    def _run(self, task: Callable[[], object], lane: str = "default") -> None:
        """Run `task` in the background, on `lane` when the runner has lanes
        (`bot.lanes.Lanes`; a plain runner such as `inline` runs everything alike)."""
        context = contextvars.copy_context()  # keeps the request id in background logs

        def logged() -> None:
            try:
                context.run(task)
            except Exception:
                log.exception("background task failed")

        lanes = getattr(self.background, "lane", None)
        (lanes(lane) if lanes is not None else self.background)(logged)


def _effect_doc(effect: Effect) -> dict[str, Any]:
    """An effect as stored with the turn that made it."""
    doc = {"kind": type(effect).__name__, **asdict(effect)}
    if isinstance(effect, Ask):
        doc["then"] = [reply_to_doc(r) for r in effect.then]
    return doc


def _effect(doc: Mapping[str, Any]) -> Effect:
    """An effect read back (`_effect_doc`'s inverse)."""
    fields = {k: v for k, v in doc.items() if k != "kind"}
    if doc["kind"] == "Ask":
        fields["then"] = tuple(reply_from_doc(r) for r in fields.get("then", ()))
    effect: Effect = EFFECTS[doc["kind"]](**fields)
    return effect


def _effect_ids(doc: Mapping[str, Any]) -> set[str]:
    return {entry.get("id", "") for entry in doc.get("effects", ())}
