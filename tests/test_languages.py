"""The message catalog per course language, and the untranslated-keys check."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from flows.course import Catalog
from flows.events import Inbound
from flows.machine import step
from flows.messages import CATALOG, LANGUAGES, placeholders, say, untranslated
from flows.state import Learner
from tests.conftest import T0, make_course


def test_french_translations_fit_the_catalog() -> None:
    """Every French text has a key and the placeholders English has. Keys other branches add
    to CATALOG show on /admin/languages until translated, so completeness is not asserted
    here (it would fail a merge); today French covers every key."""
    french = LANGUAGES["fr"]
    assert set(french) <= set(CATALOG)
    assert all(placeholders(text) == placeholders(CATALOG[k]) for k, text in french.items())


def test_untranslated_lists_missing_and_mismatched_keys() -> None:
    partial = {**LANGUAGES["fr"], "welcome": "Bienvenue !"}
    del partial["help"]
    assert untranslated(partial) == ["welcome", "help"]


def test_course_language_selects_the_catalog() -> None:
    french = make_course(2, settings={"language": "fr"})
    assert say("start", french) == "🔔 Les rappels sont réactivés."
    assert say("start", make_course(2, settings={"language": "fr-CA"})).startswith("🔔 Les")
    assert say("start", make_course(2, settings={"language": "sw"})) == CATALOG["start"]
    assert say("start") == CATALOG["start"]
    overridden = replace(french, messages={"start": "Rappels : oui"})
    assert say("start", overridden) == "Rappels : oui"


def test_a_french_course_enrols_in_french() -> None:
    course = make_course(2, settings={"language": "fr"})
    outcome = step(
        Learner("web:x"),
        Catalog((course,)),
        Inbound("web:x", "web", text="start demo training", name="Ada"),
        T0,
    )
    assert outcome.replies[0].text.startswith("👋 Bienvenue, Ada !")
    assert outcome.replies[1].buttons[0].title == "Suivant ➡️"


def test_counts_take_the_plural_form_of_the_course_language() -> None:
    """Failed before (issue 17): "1 attempts left", "1 question(s) ... are due"."""
    english, french = make_course(2), make_course(2, settings={"language": "fr"})
    assert "(1 attempt left)" in say("quiz_retry", english, left=1, number=2)
    assert "(2 attempts left)" in say("quiz_retry", english, left=2, number=2)
    assert "(0 attempts left)" in say("quiz_retry", english, left=0, number=2)
    assert "il vous reste 1 tentative)" in say("quiz_retry", french, left=1, number=2)
    assert "il vous reste 0 tentative)" in say("quiz_retry", french, left=0, number=2)  # CLDR
    assert "il vous reste 2 tentatives)" in say("quiz_retry", french, left=2, number=2)
    assert "1 question you missed before is due" in say("review_start", english, count=1)
    assert "1 courte session." in say("welcome", french, name="A", course="C", total=1)


def test_numbers_and_dates_are_written_the_course_language_way() -> None:
    english, french = make_course(2), make_course(2, settings={"language": "fr"})
    assert "(1,500 attempts left)" in say("quiz_retry", english, left=1500, number=2)
    assert "1\u202f500 tentatives" in say("quiz_retry", french, left=1500, number=2)
    when = datetime(2026, 12, 29, 9, 0, tzinfo=UTC)
    assert say("certificate_expiry", english, date=when) == " (valid until 29 December 2026)"
    assert say("certificate_expiry", french, date=when) == " (valable jusqu'au 29 décembre 2026)"
    # a language with no catalog is English throughout, numbers and dates included
    swahili = make_course(2, settings={"language": "sw"})
    assert say("certificate_expiry", swahili, date=when) == " (valid until 29 December 2026)"


def test_an_override_with_a_bad_number_format_still_answers() -> None:
    course = replace(make_course(2), messages={"quiz_retry": "{left:zz} left, {left:03d}"})
    assert say("quiz_retry", course, left=2, number=1) == "2 left, 002"
