"""Effects survive the process that committed them: a certificate, an assistant's answer
and the reminder ladder are committed with the turn and performed again by whoever finds
them pending, and a replay never sends their replies twice.

Before, they ran only in the committing process's background: killed after the commit, a
learner who had just completed a course never got a certificate (the retried webhook was
a duplicate, so nothing ran them again), a question was never answered, and an enrolment
started no reminders (seen once in `tests/test_durable_kill.py`: no certificate message).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import quizless_sample
from tests.fakes.twilio_api import FakeTwilio
from tests.harness import ENROL, Served, bodies_to, message, phone

ADA = phone(1)
COMPLETE = [ENROL, *["next"] * 7]  # the quiz-free sample: the 7th `next` completes it


@pytest.fixture
def fake(twilio_fake: FakeTwilio) -> FakeTwilio:
    """conftest's `twilio_fake`, by this module's name for it."""
    return twilio_fake


def died(fake: FakeTwilio, script: list[str]) -> Served:
    """A bot that commits every message of `script` and dies before any background work
    (delivery, effects) runs."""
    bot = Served(fake, background=lambda task: None, CONTENT_DIR=str(quizless_sample()))
    for n, text in enumerate(script):
        assert bot.post(message(n, ADA, text)).status_code == 200
    return bot


def restarted(fake: FakeTwilio, dead: Served) -> Served:
    return Served(fake, store=dead.store, CONTENT_DIR=str(quizless_sample()))


def test_a_certificate_committed_by_a_dead_process_is_sent_once(fake: FakeTwilio):
    dead = died(fake, COMPLETE)
    pending = [e["effect"]["kind"] for e in dead.store.load(ADA)["effects"]]
    assert "CourseCompleted" in pending and dead.store.db["certificates"].count_documents({}) == 0
    bot = restarted(fake, dead)
    assert bot.services.conversations.perform_due(stale=timedelta(0)) == len(pending)
    bot.services.outbox.flush(ADA)
    certificates = [b for b in bodies_to(fake, ADA) if "certificate for" in b]
    assert len(certificates) == 1
    assert bot.store.db["certificates"].count_documents({"learner": ADA}) == 1
    assert bot.store.load(ADA)["effects"] == []
    assert bot.services.conversations.perform_due(stale=timedelta(0)) == 0


def test_performing_an_effect_twice_sends_its_replies_once(fake: FakeTwilio):
    """Two performers hold the same pending entry (a slow one and the clock's replay): the
    second finds it gone and queues nothing."""
    dead = died(fake, COMPLETE)
    bot = restarted(fake, dead)
    (entry,) = [
        e for e in bot.store.load(ADA)["effects"] if e["effect"]["kind"] == "CourseCompleted"
    ]
    conversations = bot.services.conversations
    conversations._perform(ADA, entry)
    conversations._perform(ADA, entry)
    conversations.perform_due(stale=timedelta(0))
    bot.services.outbox.flush(ADA)
    assert sum("certificate for" in b for b in bodies_to(fake, ADA)) == 1


def test_a_question_committed_by_a_dead_process_is_answered_once(fake: FakeTwilio):
    dead = died(fake, [ENROL, "what discount does a gold partner get?"])
    assert [e["effect"]["kind"] for e in dead.store.load(ADA)["effects"]].count("Ask") == 1
    bot = restarted(fake, dead)
    bot.services.conversations.perform_due(stale=timedelta(0))
    bot.services.conversations.perform_due(stale=timedelta(0))
    bot.services.outbox.flush(ADA)
    answers = [b for b in bodies_to(fake, ADA) if "Gold" in b and "Welcome" not in b]
    assert len(answers) == 1


def test_an_enrolment_committed_by_a_dead_process_still_starts_the_reminders(fake: FakeTwilio):
    dead = died(fake, [ENROL])
    assert dead.services.engagement.jobs.get(f"reminder:{ADA}") is None
    bot = restarted(fake, dead)
    bot.services.conversations.perform_due(stale=timedelta(0))
    assert bot.services.engagement.jobs.get(f"reminder:{ADA}")["status"] == "pending"


def test_fresh_effects_are_left_to_their_performer(fake: FakeTwilio):
    """On MongoDB another worker may be performing an effect right now: the clock only
    takes those pending longer than EFFECT_STALE."""
    dead = died(fake, [ENROL])
    bot = restarted(fake, dead)
    assert bot.services.conversations.perform_due() == 0
    assert dead.store.load(ADA)["effects"]
