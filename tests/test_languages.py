"""The message catalog per course language, and the untranslated-keys check."""

from __future__ import annotations

from dataclasses import replace

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
