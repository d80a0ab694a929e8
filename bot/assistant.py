"""Answering learners' questions about the course.

This is the seam the OpenAI-backed assistant plugs into. Without a model it answers with
the passage of the course that best matches the question, preferring the session the
learner is reading, and says that it is a passage rather than a personal answer.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from flows.commands import normalize
from flows.course import Course
from flows.events import Ask, Reply
from flows.messages import say

CURRENT_SESSION_BOOST = 1.5
MAX_QUESTION = 2000

STOPWORDS = frozenset(
    "a an and are as at be but by can do does for from get gets how i if in is it me my "
    "of on or our so that the their then there this to was we what when where which who "
    "why will with you your".split()
)


@dataclass(frozen=True)
class Passage:
    """A paragraph of a session, the unit answers are drawn from."""

    session_number: int
    session_id: str
    title: str
    text: str
    terms: Counter


def _terms(text: str) -> Counter:
    return Counter(w for w in normalize(text).split() if w not in STOPWORDS and len(w) > 1)


@lru_cache(maxsize=64)
def passages(course: Course) -> tuple[Passage, ...]:
    """Every paragraph of every session (images dropped), computed once per course version."""
    found = []
    for number, session in enumerate(course.sessions, start=1):
        for block in re.split(r"\n\s*\n", session.body):
            text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", block).strip()
            if text:
                found.append(
                    Passage(
                        number, session.id, session.title, text, _terms(f"{session.title} {text}")
                    )
                )
    return tuple(found)


def best_passage(course: Course, session_id: str, question: str) -> Passage | None:
    """The passage sharing the most (rarity-weighted) words with the question."""
    pool = passages(course)
    wanted = _terms(question[:MAX_QUESTION])
    if not pool or not wanted:
        return None
    document_frequency = Counter(t for p in pool for t in p.terms)

    def score(p: Passage) -> float:
        base = sum(math.log(1 + len(pool) / document_frequency[t]) for t in wanted if t in p.terms)
        return base * (CURRENT_SESSION_BOOST if p.session_id == session_id else 1.0)

    best = max(pool, key=score)
    return best if score(best) > 0 else None


class Assistant:
    """Answers an `Ask` effect with a reply (retrieval-only until a model is configured)."""

    def answer(self, course: Course, ask: Ask) -> Reply:
        """A reply to the learner's question, always (never None, never an exception)."""
        found = best_passage(course, ask.session_id, ask.question)
        if found is None:
            return Reply(say("answer_none", course, course=course.title), course_id=course.id)
        text = say(
            "answer_passage",
            course,
            number=found.session_number,
            title=found.title,
            passage=found.text,
        )
        return Reply(text, course_id=course.id)
