"""Finding the passages of a course that answer a question.

Sessions are split into passages once per loaded course version (a `Course` hashes by
identity, so a content reload builds a fresh index and the old one is dropped with it):
paragraphs, with a lead-in line ("Your discount depends on your tier:") kept with the list
it introduces, code fences kept whole, headings carried into the passage they head, and
over-long paragraphs cut at sentence ends. Passages are ranked with BM25 (`bm25s`), on
terms made with the course language's stop words and Snowball stemmer (`Analyzer`); the
session the learner is reading is boosted, so "and for silver?" finds that session's table
before a similar sentence elsewhere.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

import bm25s
import numpy as np
import Stemmer
from bm25s import stopwords

from flows.course import Course

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build

CURRENT_SESSION_BOOST = 1.6
MAX_PASSAGE_CHARS = 700  # longer paragraphs are cut at sentence ends
MIN_PASSAGE_CHARS = 80  # shorter ones join the next paragraph under the same heading

# English keeps its own list (question words such as "tell", "please", "whats" carry no
# meaning here) on top of bm25s's; other languages use bm25s's lists.
_ENGLISH = frozenset(
    "a about above after again all also am an and any are as at be because been before being "
    "below between both but by can could did do does doing down during each few for from "
    "further get gets got had has have having he her here hers him his how i if in into is "
    "it its itself just me more most my no nor not now of off on once only or other our ours "
    "out over own please same she should so some such tell than that the their theirs them "
    "then there these they this those through to too under until up us very was we were what "
    "when where which while who whom why will with would you your yours whats".split()
)
# A course's `language` (its first part: "fr-CA" → "fr") → Snowball stemmer and stop words.
LANGUAGES = {
    "en": ("english", _ENGLISH | frozenset(stopwords.STOPWORDS_EN)),
    "fr": ("french", frozenset(stopwords.STOPWORDS_FRENCH)),
    "de": ("german", frozenset(stopwords.STOPWORDS_GERMAN)),
    "es": ("spanish", frozenset(stopwords.STOPWORDS_SPANISH)),
    "it": ("italian", frozenset(stopwords.STOPWORDS_ITALIAN)),
    "nl": ("dutch", frozenset(stopwords.STOPWORDS_DUTCH)),
    "pt": ("portuguese", frozenset(stopwords.STOPWORDS_PORTUGUESE)),
}

_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Passage:
    """A piece of a session small enough to quote, the unit answers are grounded in."""

    session_number: int
    session_id: str
    title: str
    text: str  # Markdown as the author wrote it, images removed
    heading: str = ""

    @property
    def first_line(self) -> str:
        return next((line.strip() for line in self.text.splitlines() if line.strip()), "")


@dataclass(frozen=True)
class Hit:
    """A passage and how well it matched."""

    passage: Passage
    score: float


# --- tokenising ------------------------------------------------------------------------


def _fold(word: str) -> str:
    """Without accents, so "prix"/"príx" and "café"/"cafe" meet (after stemming: the
    stemmer knows the language's accented endings)."""
    return "".join(
        ch for ch in unicodedata.normalize("NFKD", word) if not unicodedata.combining(ch)
    )


class Analyzer:
    """Words → index terms for one language: lower case, stop words out, Snowball stems
    (PyStemmer), accents folded. Numbers and `%` are kept as they are."""

    def __init__(self, language: str) -> None:
        algorithm, self.stopwords = LANGUAGES.get(language, LANGUAGES["en"])
        self._stemmer = Stemmer.Stemmer(algorithm)
        self._lock = threading.Lock()  # a PyStemmer object is not thread-safe

    def __call__(self, text: str) -> list[str]:
        words = [
            w
            for w in re.findall(r"\w+%?", unicodedata.normalize("NFC", text.casefold()))
            if _fold(w) not in self.stopwords
            and w not in self.stopwords
            and (len(w) > 1 or w.isdigit())
        ]
        with self._lock:
            stems = self._stemmer.stemWords(words)
        return [_fold(stem) for stem in stems]


@functools.cache
def analyzer(language: str = "en") -> Analyzer:
    """The analyzer for a course language ("fr", "fr-CA"; unknown ones: English)."""
    base = language.split("-")[0].split("_")[0].lower()
    return Analyzer(base if base in LANGUAGES else "en")


def course_language(course: Course) -> str:
    return str(course.settings.get("language") or "en")


def terms(text: str, language: str = "en") -> list[str]:
    """Index terms of `text` in `language` (see `Analyzer`)."""
    return analyzer(language)(text)


# --- splitting -----------------------------------------------------------------------


def _blocks(body: str) -> Iterable[tuple[str, str]]:
    """(heading, block) pairs: blank-line separated blocks, fences kept whole."""
    heading, fenced = "", False
    lines: list[str] = []
    for line in body.splitlines():
        if line.strip().startswith(("```", "~~~")):
            fenced = not fenced
        if not fenced and (match := _HEADING.match(line)):
            if lines:
                yield heading, "\n".join(lines)
                lines = []
            heading = match.group(1)
            continue
        if not fenced and not line.strip():
            if lines:
                yield heading, "\n".join(lines)
                lines = []
            continue
        lines.append(line)
    if lines:
        yield heading, "\n".join(lines)


def _sentences(text: str) -> list[str]:
    """Cut a long paragraph at sentence ends into pieces under MAX_PASSAGE_CHARS."""
    pieces, current = [], ""
    for sentence in _SENTENCE_END.split(text):
        if current and len(current) + len(sentence) + 1 > MAX_PASSAGE_CHARS:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    return [*pieces, current] if current else pieces


def split_session(body: str) -> list[tuple[str, str, str]]:
    """A session body as (heading, passage text, image alt texts) triples; an image's alt
    text belongs to the passage around it, or the one before an image on its own."""
    merged: list[list[str]] = []
    for heading, raw in _blocks(body):
        text = _IMAGE.sub("", raw).strip()
        alt = " ".join(_IMAGE.findall(raw))
        if not text:
            if merged and alt:
                merged[-1][2] = f"{merged[-1][2]} {alt}".strip()
            continue
        lines = text.splitlines()
        is_list = all(_LIST_ITEM.match(line) or line.startswith(" ") for line in lines)
        if merged and merged[-1][0] == heading:
            previous = merged[-1][1]
            if is_list and previous.rstrip().rstrip("*_").endswith(":"):
                merged[-1][1:] = [f"{previous}\n{text}", f"{merged[-1][2]} {alt}".strip()]
                continue
            if len(previous) < MIN_PASSAGE_CHARS and len(previous) + len(text) < MAX_PASSAGE_CHARS:
                merged[-1][1:] = [f"{previous}\n\n{text}", f"{merged[-1][2]} {alt}".strip()]
                continue
        merged.append([heading, text, alt])
    found = []
    for heading, text, alt in merged:
        if len(text) <= MAX_PASSAGE_CHARS or "\n" in text:  # lists and code stay whole
            found.append((heading, text, alt))
        else:
            found.extend((heading, piece, alt) for piece in _sentences(text))
    return found


# --- the index -------------------------------------------------------------------------


class Index:
    """Every passage of one course version, with its BM25 index."""

    def __init__(self, course: Course) -> None:
        self.course = course
        self.terms = analyzer(course_language(course))
        passages, documents = [], []
        for number, session in enumerate(course.sessions, start=1):
            for heading, text, alt in split_session(session.body):
                passages.append(Passage(number, session.id, session.title, text, heading))
                plain = _LINK.sub(r"\1", text)
                documents.append(self.terms(f"{session.title} {heading} {plain} {alt}"))
        self.passages: tuple[Passage, ...] = tuple(passages)
        self._bm25 = bm25s.BM25()
        if any(documents):  # bm25s cannot index a corpus without a single term
            self._bm25.index(documents, show_progress=False)

    def scores(self, query: list[str]) -> np.ndarray:
        """BM25 score of every passage for query terms (zeros when none is known)."""
        vocabulary = getattr(self._bm25, "vocab_dict", {})  # absent when nothing was indexed
        known = list(dict.fromkeys(t for t in query if t in vocabulary))
        if not known:
            return np.zeros(len(self.passages), dtype=np.float32)
        return self._bm25.get_scores(known)

    def search(
        self,
        question: str,
        session_id: str | None = None,
        context: str = "",
        limit: int = 5,
    ) -> list[Hit]:
        """The best passages for `question`, best first, only those that match at all.

        `context` (the learner's previous question) counts half for passages the question
        matches, so a follow-up such as "and for silver?" prefers the passage the
        conversation is about."""
        scores = self.scores(self.terms(question))
        if context:  # only re-ranks passages the question itself matches
            scores = np.where(scores > 0, scores + 0.5 * self.scores(self.terms(context)), 0.0)
        if session_id:
            current = np.array([p.session_id == session_id for p in self.passages])
            scores = scores * np.where(current, CURRENT_SESSION_BOOST, 1.0)
        order = np.argsort(-scores, kind="stable")[:limit]
        return [Hit(self.passages[i], float(scores[i])) for i in order if scores[i] > 0]

    def session_passages(self, session_id: str) -> list[Passage]:
        """A session's passages in reading order (context when nothing matches)."""
        return [p for p in self.passages if p.session_id == session_id]


_indexes: weakref.WeakKeyDictionary[Course, Index] = weakref.WeakKeyDictionary()
_indexes_lock = threading.Lock()


def index(course: Course) -> Index:
    """The index of this course version, built on first use and kept while it is served."""
    with _indexes_lock:
        found = _indexes.get(course)
        if found is None:
            found = _indexes[course] = Index(course)
        return found
