"""Command words in the course's language (issue 17): a French course accepts `suivant`,
`précédent`, `aide`… with or without accents, English keeps working there, and an English
course reads French words as questions, as before."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.content import check
from flows.commands import ALIASES, COMMAND_WORDS, Cmd, Command, fold, normalize, parse
from flows.commands_fr import COMMANDS_FR
from flows.course import Catalog, Course, Question, Session
from flows.events import Ask, Inbound, Outcome
from flows.machine import step
from flows.messages import CATALOG, LANGUAGES, typed_hint
from flows.state import Learner
from tests.conftest import T0, make_course

TYPED = {*ALIASES.values(), Cmd.SECTION, Cmd.TIMEZONE}
QUIZ = (Question("q1", "Pick one", options=("a", "b")), Question("q2", "Pick", options=("c", "d")))


def _course(language: str) -> Course:
    course = make_course(4, settings={"language": language})
    sessions = list(course.sessions)
    sessions[1] = Session("s2", "Topic 2", "Body of topic 2.", quiz=QUIZ)
    return Course(**{**vars(course), "sessions": tuple(sessions)})


def _say(learner: Learner, catalog: Catalog, text: str, n: int) -> Outcome:
    event = Inbound(learner.key, "web", text=text, name="Ada", message_id=f"m{n}")
    return step(learner, catalog, event, T0 + timedelta(minutes=n))


def _drive(catalog: Catalog, *texts: str) -> Learner:
    learner = Learner("web:ada")
    for n, text in enumerate(("start demo training", *texts)):
        learner = _say(learner, catalog, text, n).learner
    return learner


def _where(name: str, catalog: Catalog) -> Learner:
    """A learner in the situation where the command means something."""
    if name in (Cmd.YES, Cmd.NO):
        return _drive(catalog, "next", "restart")
    if name in (Cmd.SKIP, Cmd.QUIT):
        return _drive(catalog, "next", "quiz")
    if name == Cmd.RESUME:
        return _drive(catalog, "next", "exit")
    return _drive(catalog, "next")


def _english(name: str, word: str) -> tuple[str, str]:
    """A French word as typed (with the argument the prefixes need, punctuation around
    others) and the English command it stands for."""
    if name == Cmd.SECTION:
        return f"{word} 3", "section 3"
    if name == Cmd.TIMEZONE:
        return f"{word} Europe/Paris", "timezone Europe/Paris"
    return f"« {word} » !", name


FRENCH = [(name, word) for name, words in COMMANDS_FR.items() for word in words]


def test_every_typed_command_has_french_words() -> None:
    assert set(COMMANDS_FR) == {c.value for c in TYPED}
    assert COMMAND_WORDS["fr"] is COMMANDS_FR


def test_no_french_word_is_an_english_command_of_another_meaning() -> None:
    for name, word in FRENCH:
        english = ALIASES.get(normalize(word)) or ALIASES.get(fold(normalize(word)))
        assert english in (None, Cmd(name)), (word, english)


@pytest.mark.parametrize(("name", "word"), FRENCH)
def test_a_french_word_does_what_its_english_word_does(name: str, word: str) -> None:
    catalog = Catalog((_course("fr"),))
    learner = _where(name, catalog)
    english = _english(name, name)[1]
    for said in (word, fold(word), word.upper()):  # accents and case optional
        typed = _english(name, said)[0]
        assert _say(learner, catalog, typed, 9) == _say(learner, catalog, english, 9), typed


def test_french_words_are_parsed_with_their_arguments() -> None:
    assert parse("Précédent", "fr") == Command(Cmd.PREVIOUS)
    assert parse("precedent", "fr-CA") == Command(Cmd.PREVIOUS)
    assert parse("J'ai fini !", "fr") == Command(Cmd.COMPLETE)
    assert parse("aller à 3", "fr") == Command(Cmd.SECTION, "3")
    assert parse("Partie 2", "fr") == Command(Cmd.SECTION, "2")
    assert parse("fuseau horaire Europe/Paris", "fr") == Command(Cmd.TIMEZONE, "Europe/Paris")
    assert parse("next", "fr") == Command(Cmd.NEXT)  # English always works
    assert parse("suivant") is None and parse("aide", "en") is None
    assert parse("suivant", "sw") is None  # a language without command words: English only


def test_english_still_works_in_a_french_course() -> None:
    catalog = Catalog((_course("fr"),))
    learner = _drive(catalog, "next")
    outcome = _say(learner, catalog, "previous", 9)
    assert outcome.learner.progress_in("demo").current == "s1"
    assert not any(isinstance(e, Ask) for e in outcome.effects)


@pytest.mark.parametrize("word", ["suivant", "précédent", "aide", "reprendre", "certificat"])
def test_french_words_are_questions_in_an_english_course(word: str) -> None:
    catalog = Catalog((_course("en"),))
    learner = _drive(catalog, "next")
    outcome = _say(learner, catalog, word, 9)
    assert [type(e) for e in outcome.effects] == [Ask]
    assert outcome.learner.progress_in("demo").current == "s2"


def test_french_texts_name_the_french_words() -> None:
    """A bold word in a French text that is an English command is also a French one."""
    french_words = {fold(normalize(w)) for words in COMMANDS_FR.values() for w in words}
    for key, text in LANGUAGES["fr"].items():
        for bold in re.findall(r"\*\*([^*{]+)\*\*", text):
            said = normalize(bold)
            assert said not in ALIASES or fold(said) in french_words, (key, bold)
    assert "**suivant**" in LANGUAGES["fr"]["help"] and "**next**" in CATALOG["help"]


def test_typed_hints_are_in_the_course_language() -> None:
    payloads = ["previous", "next", "menu", "enroll:demo"]
    english, french = make_course(2), make_course(2, settings={"language": "fr"})
    assert typed_hint("Reply *next*", payloads, english) == "👉 Reply *previous* · *menu*"
    assert typed_hint("Répondez *suivant*", payloads, french) == "👉 Répondez *précédent* · *menu*"
    assert typed_hint("*yes* or *no*", ["yes", "no"], english) == ""


def test_an_enrollment_phrase_may_not_be_a_command_of_the_course_language(tmp_path: Path) -> None:
    for language, phrase, refused in (("fr", "Aide", True), ("en", "Aide", False)):
        folder = tmp_path / language / "demo"
        folder.mkdir(parents=True)
        settings = f"title: Demo\nenroll: ['{phrase}']\nlanguage: {language}\n"
        (folder / "course.yaml").write_text(settings, encoding="utf-8")
        (folder / "01-a.md").write_text("---\ntitle: A\n---\nBody.\n", encoding="utf-8")
        found = [p.message for p in check(folder.parent).problems]
        assert ("enrollment phrase 'Aide' is a command and would never enroll" in found) is refused
