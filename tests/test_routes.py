"""The machine's route tables are well-formed: every situation has one, every command
means something in each, and the situations are what the learner's state says."""

from __future__ import annotations

import pytest

from flows.commands import Cmd
from flows.course import Catalog
from flows.events import Inbound
from flows.machine.routes import (
    EVERYWHERE,
    OUTSIDE_QUIZZES,
    QUIZ_ROUTES,
    ROUTES,
    any_command,
    any_message,
    is_command,
)
from flows.machine.situation import Situation, situation_of
from flows.machine.turn import Turn
from tests.conftest import T0
from tests.test_grading import written_first
from tests.test_quiz import PRICE, Chat, course_of

TABLES = {**ROUTES, **QUIZ_ROUTES}


def commands_of(table) -> list[Cmd]:
    """The commands the table's plain `is_command` rows route, with repeats."""
    return [c for matches, _ in table if isinstance(matches, is_command) for c in matches.names]


def test_every_situation_has_exactly_one_table():
    assert set(ROUTES) | set(QUIZ_ROUTES) == set(Situation)
    assert not set(ROUTES) & set(QUIZ_ROUTES)


@pytest.mark.parametrize("situation", list(Situation))
def test_every_table_ends_with_a_row_for_any_message(situation: Situation):
    table = TABLES[situation]
    assert table[-1][0] is any_message
    assert all(matches is not any_message for matches, _ in table[:-1])


@pytest.mark.parametrize("situation", list(Situation))
def test_no_command_is_routed_twice_in_a_table(situation: Situation):
    routed = commands_of(TABLES[situation])
    assert len(routed) == len(set(routed)), sorted(routed)


def test_in_a_course_every_command_has_its_own_row():
    """Nothing a learner types as a command becomes a question for the assistant."""
    assert set(commands_of(ROUTES[Situation.IN_COURSE])) == set(Cmd)


@pytest.mark.parametrize("situation", [Situation.NOT_ENROLLED, Situation.PAUSED])
def test_outside_a_course_course_commands_go_to_the_fallback(situation: Situation):
    """Course commands reach the last row ('not in a course' / 'paused: resume?')."""
    table = ROUTES[situation]
    assert set(commands_of(table)) == set(commands_of(OUTSIDE_QUIZZES))
    assert table[-1][1].__name__ == "not_in_a_course"


@pytest.mark.parametrize("situation", [Situation.IN_QUIZ, Situation.AWAITING_GRADE])
def test_in_a_quiz_the_commands_answered_everywhere_are_answered(situation: Situation):
    everywhere = set(commands_of(EVERYWHERE))
    assert everywhere <= set(commands_of(QUIZ_ROUTES[situation]))


def test_in_a_quiz_other_commands_are_declared_busy():
    """Commands without a quiz row fall to `any_command` (finish or quit first)."""
    rows = [matches for matches, _ in QUIZ_ROUTES[Situation.IN_QUIZ]]
    assert any_command in rows


def situation(chat_or_learner, catalog: Catalog) -> Situation:
    learner = getattr(chat_or_learner, "learner", chat_or_learner)
    turn = Turn(learner, catalog, Inbound(learner.key, "web"), T0)
    return situation_of(turn)


def test_the_situation_follows_the_learner_state():
    chat = Chat(course_of((), (PRICE,)))  # session 2 has a quiz
    assert situation(chat, chat.catalog) is Situation.NOT_ENROLLED
    chat.start()
    assert situation(chat, chat.catalog) is Situation.IN_COURSE
    chat.send("restart")
    assert situation(chat, chat.catalog) is Situation.CONFIRMING
    chat.send("no").send("exit")
    assert situation(chat, chat.catalog) is Situation.PAUSED
    chat.send("resume").send("quiz")
    assert situation(chat, chat.catalog) is Situation.IN_QUIZ
    grading = written_first()
    assert situation(grading, grading.catalog) is Situation.AWAITING_GRADE
    assert situation(chat, Catalog()) is Situation.NOT_ENROLLED  # the course was removed
