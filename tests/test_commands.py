"""Parsing what learners type into commands, and enrollment phrase matching."""

from __future__ import annotations

import pytest

from flows.commands import Cmd, Command, match_enrollment, normalize, parse, phrase_matches
from flows.course import Catalog
from tests.conftest import make_course


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("next", Command(Cmd.NEXT)),
        ("NEXT", Command(Cmd.NEXT)),
        ("  Next!!! ", Command(Cmd.NEXT)),
        ("next ➡️", Command(Cmd.NEXT)),
        ("👉 menu 👈", Command(Cmd.MENU)),
        ("back", Command(Cmd.PREVIOUS)),
        ("previous", Command(Cmd.PREVIOUS)),
        ("done.", Command(Cmd.COMPLETE)),
        ("complete", Command(Cmd.COMPLETE)),
        ("section 3", Command(Cmd.SECTION, "3")),
        ("Section 12.", Command(Cmd.SECTION, "12")),
        ("go 2", Command(Cmd.SECTION, "2")),
        ("go to 4", Command(Cmd.SECTION, "4")),
        ("section abc", Command(Cmd.SECTION, "abc")),
        ("section ٣", Command(Cmd.SECTION, "٣")),
        ("progress", Command(Cmd.PROGRESS)),
        ("courses", Command(Cmd.COURSES)),
        ("help?", Command(Cmd.HELP)),
        ("restart", Command(Cmd.RESTART)),
        ("exit", Command(Cmd.EXIT)),
        ("pause", Command(Cmd.EXIT)),
        ("resume", Command(Cmd.RESUME)),
        ("STOP", Command(Cmd.STOP)),
        ("Stop.", Command(Cmd.STOP)),
        ("START", Command(Cmd.START)),
        ("yes", Command(Cmd.YES)),
        ("no", Command(Cmd.NO)),
        ("enroll:demo", Command(Cmd.ENROLL, "demo")),
        ("what is next?", None),
        ("next steps for a gold partner", None),
        ("", None),
        ("🙂🙂", None),
        ("nxt", None),
    ],
)
def test_parse(text, expected):
    assert parse(text) == expected


def test_normalize_drops_punctuation_emoji_and_case():
    assert normalize("  Hi!! I'm   a NEW partner 🚀 ") == "hi i m a new partner"


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("I am a new partner", True),
        ("i am a new partner", True),
        ("I AM A NEW PARTNER!!!", True),
        ("🎉 I am a new partner 🎉", True),
        ("Hello, I am a new partner.", True),
        ("I am a new partnr", True),  # one letter missing
        ("I am a new parnter", True),  # two letters swapped
        ("I am a nwe partnre", False),  # two typos in a short phrase
        ("I am a partner", False),
        ("new partner", False),
        ("", False),
    ],
)
def test_enrollment_phrase_tolerance(text, matches):
    assert phrase_matches(text, "I am a new partner") is matches


def test_enrollment_only_for_courses_on_the_channel():
    web_only = make_course(course_id="webby", enroll=("start web training",))
    web_only = type(web_only)(**{**web_only.__dict__, "channels": ("web",)})
    catalog = Catalog((web_only,))
    assert match_enrollment(catalog, "start web training", "web") is web_only
    assert match_enrollment(catalog, "start web training", "console") is web_only
    assert match_enrollment(catalog, "start web training", "whatsapp") is None
