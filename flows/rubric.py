"""Checking a written answer against its rubric by keywords (pure): the verdict that
stands without a model, and the fallback when the model cannot mark. Split from
`flows.quiz`, which re-exports these names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flows.answers import QUESTION_WORDS
from flows.commands import normalize


@dataclass(frozen=True)
class Point:
    """One criterion of a rubric and whether a written answer meets it."""

    text: str
    met: bool


@dataclass(frozen=True)
class KeywordGrade:
    """A written answer checked against the rubric's criteria by their keywords."""

    points: tuple[Point, ...]

    @property
    def met(self) -> int:
        return sum(1 for p in self.points if p.met)

    @property
    def correct(self) -> bool:
        """Right when it meets at least two thirds of the criteria (any answer counts when
        the author gave no rubric)."""
        return not self.points or 3 * self.met >= 2 * len(self.points)


RUBRIC_WORDS = frozenset(
    "mentions mention mentioning includes include including names name says say uses use "
    "using gives give explains explain describes describe refers refer talks talk about own "
    "their his her its they them answer response learner should must least most clearly "
    "sentence sentences one two three words word".split()
)
STOPWORDS = frozenset(
    "a an and are as at be but by can do does for from get how i if in is it me my of on or "
    "our so that the then there this to was we what when where which who why will with you "
    "your s".split()
)
_WORD_LIMIT = re.compile(
    r"\b(under|fewer than|less than|at most|no more than|maximum|max|within|up to)\s+(\d+)\s+words?"
)
_WORD_MINIMUM = re.compile(r"\b(at least|more than|over|minimum|min)\s+(\d+)\s+words?")
_ASKS = re.compile(r"\bask(s|ing)?\b.*\bquestions?\b")


def _stem(word: str) -> str:
    return word[:5] if len(word) >= 5 else word.removesuffix("s")


def _criteria(rubric: str) -> list[str]:
    return [c.strip(" .") for c in re.split(r"[;\n]|(?<=[.!])\s+", rubric) if c.strip(" .")]


def _meets(criterion: str, answer: str) -> bool:
    lowered = criterion.casefold()
    said = normalize(answer)
    count = len(said.split())
    if match := _WORD_LIMIT.search(lowered):
        limit = int(match.group(2))
        strict = match.group(1) in ("under", "fewer than", "less than")
        return count < limit if strict else count <= limit
    if match := _WORD_MINIMUM.search(lowered):
        limit = int(match.group(2))
        return count > limit if match.group(1) in ("more than", "over") else count >= limit
    if _ASKS.search(lowered):
        listed = re.search(r"\(([^)]*)\)", criterion)
        if listed:
            phrases = [normalize(p) for p in re.split(r",|\bor\b", listed.group(1))]
            return any(p and f" {p} " in f" {said} " for p in phrases)
        return "?" in answer or any(w in QUESTION_WORDS for w in said.split())
    keywords = {
        _stem(w)
        for w in normalize(re.sub(r"\([^)]*\)", " ", criterion)).split()
        if w not in STOPWORDS and w not in RUBRIC_WORDS and len(w) > 1
    }
    if not keywords:
        return bool(said)
    return bool(keywords & {_stem(w) for w in said.split()})


def keyword_grade(rubric: str, answer: str) -> KeywordGrade:
    """Check a written answer against each criterion of a rubric ("Mentions X; asks a
    question; under 60 words."): word limits are counted, "asks a question" looks for a
    question (or the words listed in brackets), anything else for its keywords."""
    return KeywordGrade(tuple(Point(c, _meets(c, answer)) for c in _criteria(rubric)))
