"""Hypothesis: arbitrary learner messages never break the state machine's invariants."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from flows.commands import Cmd, parse
from flows.course import Catalog
from flows.events import Inbound
from flows.machine import step
from flows.state import Learner, from_doc, to_doc
from tests.conftest import T0, make_course

COURSE = make_course(5)
CATALOG = Catalog((COURSE, make_course(0, "empty", enroll=("start empty training",))))
WORDS = [
    "next",
    "previous",
    "back",
    "menu",
    "complete",
    "done",
    "section 3",
    "go 9",
    "section x",
    "progress",
    "courses",
    "help",
    "restart",
    "yes",
    "no",
    "exit",
    "resume",
    "STOP",
    "START",
    "start demo training",
    "start empty training",
    "enroll:demo",
    "enroll:nope",
    "",
    "why?",
]
message = st.one_of(st.sampled_from(WORDS), st.text(max_size=60))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(message, st.booleans()), max_size=25))
def test_any_conversation_keeps_the_invariants(messages):
    learner = Learner("console:fuzz")
    ids = {s.id for s in COURSE.sessions}
    now = T0
    for text, as_button in messages:
        now += timedelta(seconds=30)
        before = learner.progress_in("demo")
        event = Inbound(
            "console:fuzz",
            "console",
            "" if as_button else text,
            payload=text if as_button else None,
            message_id=str(now),
        )
        outcome = step(learner, CATALOG, event, now)
        assert outcome.replies or outcome.effects
        after = outcome.learner.progress_in("demo")
        assert set(after.completed) <= ids
        assert after.current is None or after.current in ids
        command = parse(text)
        restarted = learner.pending == "restart" and command is not None and command.name is Cmd.YES
        if not restarted:
            assert set(before.completed) <= set(after.completed)
        assert from_doc(learner.key, to_doc(outcome.learner)) == outcome.learner
        learner = outcome.learner
