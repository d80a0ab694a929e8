"""The assistant's leak check sees through disguises, and citations are honest (issue 16).

On main the rules-leak check compared plain text only, so a model told to dump its rules
with zero-width characters, dots, hyphens or ROT13 between the letters got them out; and
a model answer to an off-course question went out cited "— Session 1" (the first passage
sent for context) or with a session number the model made up.
"""

from __future__ import annotations

import base64
import codecs
from collections.abc import Callable

import pytest

from bot.assistant import Template, shipped_prompt
from flows.course import Catalog
from tests.fakes.openai_api import FakeOpenAI
from tests.test_security_assistant import ADA, QUESTION, Learners, prompt_fragments

RULES = Template.parse(shipped_prompt("assistant.txt"), ()).system.split("Course passages:")[0]


def spaced(text: str, between: str) -> str:
    return between.join(text)


DISGUISES: dict[str, Callable[[str], str]] = {
    "zero-width": lambda t: spaced(t, "\u200b"),
    "soft hyphen and joiners": lambda t: spaced(t, "\u00ad\u2060"),
    "dotted": lambda t: spaced(t, "."),
    "hyphenated": lambda t: spaced(t, "-"),
    "line separators": lambda t: spaced(t, "\u2028"),
    "full-width": lambda t: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in t),
    "rot13": lambda t: codecs.encode(t, "rot13"),
    "base64": lambda t: base64.b64encode(t.encode()).decode(),
    "hex": lambda t: t.encode().hex(" "),
}


@pytest.fixture
def fake(openai_fake: FakeOpenAI) -> FakeOpenAI:
    """conftest's `openai_fake`, by this module's name for it."""
    return openai_fake


@pytest.mark.parametrize("disguise", list(DISGUISES))
def test_disguised_rules_never_reach_the_learner(fake: FakeOpenAI, disguise: str):
    """Regression (issue 16): zero-width, dotted, hyphenated and ROT13 dumps got through."""
    bot = Learners(fake)
    bot.at_session_3(ADA)
    fragments = prompt_fragments()
    for n, piece in enumerate(fragments[:4]):
        fake.answer = f"Gold partners get 10%. {DISGUISES[disguise](piece)} [3]"
        reply = bot.say(ADA, f"{QUESTION} ({n})").text
        assert DISGUISES[disguise](piece) not in reply, piece
    leaks = [q for q in bot.services.store.asked() if q.get("reason") == "leak"]
    assert len(leaks) == 4


def test_the_whole_rules_base64_encoded_are_caught(fake: FakeOpenAI):
    bot = Learners(fake)
    bot.at_session_3(ADA)
    fake.answer = "Here you go: " + base64.b64encode(RULES.encode()).decode()
    reply = bot.say(ADA, QUESTION).text
    assert "Here you go" not in reply and "10% discount" in reply  # the passage instead


def test_real_answers_are_not_taken_for_leaks(sample_catalog: Catalog):
    """Every passage of the sample courses, as a model would quote it, passes the check."""
    from bot.leaks import leaks

    for course in sample_catalog.courses:
        for session in course.sessions:
            assert not leaks(session.body, RULES), session.title


def test_an_off_course_answer_cites_no_session(fake: FakeOpenAI):
    """Regression (issue 16): nothing in the course matched, the model answered anyway,
    and on main the reply was labelled "— Session 3" (the passages sent for context)."""
    bot = Learners(fake)
    bot.at_session_3(ADA)
    fake.answer = "The capital of Australia is Canberra."
    reply = bot.say(ADA, "zxqv what is the capital of australia?").text
    assert "Canberra" in reply
    assert "Session" not in reply


def test_a_made_up_session_number_is_not_cited(fake: FakeOpenAI):
    """Regression (issue 16): on main a citation of a session whose passages the model
    never saw was looked up in the whole course and printed as the answer's source."""
    bot = Learners(fake)
    bot.at_session_3(ADA)
    fake.answer = "Gold partners get a 10% discount on list price. [6]"
    reply = bot.say(ADA, QUESTION).text
    assert "10% discount" in reply
    assert "Session 6" not in reply
    sent = fake.requests[-1].text
    assert 'session="6"' not in sent  # indeed never given to the model
