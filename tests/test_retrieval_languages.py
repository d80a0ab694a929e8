"""Retrieval in the course's language: its stop words and Snowball stemmer (issue 17)."""

from __future__ import annotations

from bot.retrieval import index, terms
from flows.course import Course, Session

BATTERY = (
    "Que faire si la batterie est vide ? Est-ce que le voyant clignote ? Que dit le manuel "
    "quand ce voyant est rouge ? Une fois que la batterie est chargée, est-ce que tout repart ?"
)
DISCOUNTS = "Les remises dépendent du niveau de l'installateur : Argent 5 %, Or 10 %."


def french(*bodies: str) -> Course:
    sessions = tuple(Session(f"s{n}", f"Partie {n}", body) for n, body in enumerate(bodies, 1))
    return Course(id="fr", title="Cours", sessions=sessions, settings={"language": "fr-FR"})


def test_french_stop_words_do_not_drown_the_question():
    """Failed before: with English stop words, "est-ce que … une" matched the battery
    passage's many "que/est/une" before the one passage about discounts."""
    course = french(BATTERY, DISCOUNTS)
    [best, *_] = index(course).search("Est-ce que je peux avoir une remise ?")
    assert best.passage.session_id == "s2"


def test_french_words_meet_their_forms_and_accents():
    course = french(BATTERY, "Chaque installation est vérifiée par un technicien agréé.")
    [best, *_] = index(course).search("les installations sont verifiees comment ?")
    assert best.passage.session_id == "s2"
    assert terms("installations installer", "fr") == terms("installation installé", "fr")


def test_english_stays_the_default_and_unknown_languages_fall_back_to_it():
    assert terms("What discounts do installers get?") == ["discount", "instal"]
    assert terms("discounts", "sw") == terms("discounts")
