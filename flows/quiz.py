"""The quiz engine: reading answers, grading, scoring, shuffling and the review schedule.

Everything here is pure. Randomness is derived from a seed the caller passes in (the
learner's key, the question id and the attempt number), so the same learner sees the same
order again on a reload and a test can predict it; time comes in as arguments.

Answers are read in every form a learner uses in a chat: the option number (`2`, `2)`,
`option 2`, `٢`), its letter (`b`), the option's text (`10%`, `solaro max`), `true` /
`false` / `yes` / `no`, several options for a multi-answer question (`1,3`, `1 and 3`,
`a c`), or a button's payload.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType

from flows.commands import normalize
from flows.course import Course, Question, Session
from flows.state import ReviewItem

LETTERS = "abcdefghij"  # a-j: at most 10 options (a WhatsApp list has 10 rows)
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "correct", "right", "yeah", "yep"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "incorrect", "wrong", "nope"})
FILLER = frozenset({"option", "options", "answer", "answers", "number", "numbers", "and", "both"})
SEPARATORS = re.compile(r"[,;/&+،、]|\s+and\s+", re.IGNORECASE)
QUESTION_WORDS = frozenset(
    "why what how when where who whom whose which can could would should is are does do did "
    "will explain".split()
)
MAX_GIVEN = 1000  # characters of a written answer kept

MODEL_PASS = 0.5  # a model's score (0–1, the share of the rubric met) at or above this is right
GRADE_WAIT = timedelta(minutes=2)  # after this the keyword verdict stands (the grader is lost)

REVIEW_RIGHTS = 2  # right answers in a row that retire a review item
SPACED_KINDS = ("single", "multi", "true_false")  # written answers are not drilled


# --- what a question looks like in an attempt ----------------------------------------


def _rank(seed: str) -> bytes:
    return hashlib.sha256(seed.encode()).digest()


def seed_for(learner_key: str, question_id: str, kind: str, number: int) -> str:
    """The seed of one question in one attempt: stable per learner, question and attempt."""
    return f"{learner_key}|{question_id}|{kind}|{number}"


def option_order(question: Question, seed: str, shuffle: bool) -> tuple[int, ...]:
    """The author's 1-based option numbers in the order the learner sees them."""
    numbers = tuple(range(1, len(question.options) + 1))
    if not shuffle or question.kind not in ("single", "multi"):
        return numbers
    return tuple(sorted(numbers, key=lambda n: _rank(f"{seed}|{n}")))


def shown_options(
    question: Question, order: Sequence[int], true_false: tuple[str, str]
) -> tuple[str, ...]:
    """The option texts as shown (`true_false` gives the words for True and False)."""
    if question.kind == "true_false":
        return true_false
    if question.kind == "text":
        return ()
    return tuple(question.options[n - 1] for n in order)


def draw(pool: Sequence[Question], count: int | None, seed: str) -> tuple[Question, ...]:
    """`count` questions from `pool` chosen by `seed` (all when count is None or larger)."""
    if count is None or count >= len(pool):
        return tuple(pool)
    chosen = sorted(pool, key=lambda q: _rank(f"{seed}|{q.id}"))[:count]
    return tuple(chosen)


def questions_for(course: Course, session: Session) -> tuple[Question, ...]:
    """The questions a session's quiz draws from: its own, and for a final exam every other
    session's too (each question once, by id)."""
    if not session.final:
        return session.quiz
    seen: dict[str, Question] = {q.id: q for q in session.quiz}
    for other in course.sessions:
        if not other.final:
            for question in other.quiz:
                seen.setdefault(question.id, question)
    return tuple(seen.values())


def has_quiz(course: Course, session: Session) -> bool:
    """Whether completing this session needs a passed quiz."""
    return bool(questions_for(course, session))


def find_question(course: Course, question_id: str) -> tuple[Session, Question] | None:
    """The question with this id and the session it belongs to (final exams last)."""
    found = None
    for session in course.sessions:
        for question in session.quiz:
            if question.id == question_id and (found is None or found[0].final):
                found = (session, question)
    return found


# --- reading an answer ---------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """An answer read from a message: option positions as shown, a written text, or why it
    could not be read (`error` is a message key, `values` fill it in)."""

    picks: tuple[int, ...] = ()
    text: str = ""
    error: str = ""
    values: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


def _ascii_digits(text: str) -> str:
    """Every decimal digit as 0-9, whatever the script (٢, ২, ２ → 2)."""
    out = []
    for ch in text:
        value = unicodedata.decimal(ch, None)
        out.append(str(value) if value is not None else ch)
    return "".join(out)


def _fold(text: str) -> str:
    """Case, width and spacing folded, surrounding punctuation dropped ("  10% ." → "10%")."""
    folded = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return folded.strip(" .!,;:'\"“”‘’()[]")


def _token(token: str, count: int) -> int | str | None:
    """An option position from one token (`2`, `b`, `b)`), None when it is not one, or
    the token itself when it is a number or letter out of range."""
    bare = token.strip("()[].:#")
    if bare.isdigit() and len(bare) <= 3:
        number = int(bare)
        return number if 1 <= number <= count else bare
    if len(bare) == 1 and bare in LETTERS:
        number = LETTERS.index(bare) + 1
        return number if number <= count else bare
    return None


def _positions(text: str, count: int) -> tuple[tuple[int, ...], str] | None:
    """Option positions when the whole message is numbers and letters ("1,3", "a and c",
    "option 2"); (picks, "") or ((), bad token); None when it is something else."""
    tokens = [t for t in re.split(r"[\s,;/&+،、]+", text) if t and t not in FILLER]
    if not tokens:
        return None
    picks: list[int] = []
    for token in tokens:
        value = _token(token, count)
        if value is None:
            return None
        if isinstance(value, str):
            return (), value
        picks.append(value)
    return tuple(picks), ""


def _by_text(text: str, options: Sequence[str]) -> int | None:
    """The one option this text names: exactly, by its words, or by a distinctive part
    of them ("max" → "Solaro Max"); None when none or several match."""
    folded, words = _fold(text), normalize(text)
    matchers: tuple[Callable[[str], bool], ...] = (
        lambda o: _fold(o) == folded,
        lambda o: bool(words) and normalize(o) == words,
        lambda o: len(words) >= 3 and not words.isdigit() and f" {words} " in f" {normalize(o)} ",
    )
    for matcher in matchers:
        hits = [n for n, option in enumerate(options, start=1) if matcher(option)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            return None
    return None


def parse_answer(question: Question, options: Sequence[str], text: str) -> Parsed:
    """Read a learner's message as an answer to `question` shown with `options`."""
    if question.kind == "text":
        written = text.strip()[:MAX_GIVEN]
        return Parsed(text=written) if written else Parsed(error="quiz_empty")
    raw = _ascii_digits(unicodedata.normalize("NFKC", text)).strip()
    folded = _fold(raw)
    if not folded:
        return Parsed(error="quiz_empty")
    count = len(options)
    if question.kind == "true_false":
        words = normalize(folded)
        if words in TRUE_WORDS:
            return Parsed(picks=(1,))
        if words in FALSE_WORDS:
            return Parsed(picks=(2,))
    picks: tuple[int, ...] | None = None
    found = _positions(folded, count)
    if found is not None and not found[1]:
        picks = found[0]
    elif named := _by_text(folded, options):
        # also "10" for the options "5%", "10%": out of range as a number, but an option's text
        picks = (named,)
    elif found is not None:
        return Parsed(error="quiz_bad_number", values={"given": found[1], "count": count})
    if picks is None and question.kind == "multi":
        parts = [p for p in SEPARATORS.split(folded) if p.strip()]
        named_parts = [_by_text(p, options) for p in parts]
        if len(parts) > 1 and all(named_parts):
            picks = tuple(n for n in named_parts if n)
    if picks is None:
        return Parsed(error="quiz_unreadable", values={"given": raw})
    repeated = sorted({p for p in picks if picks.count(p) > 1})
    if repeated:
        return Parsed(error="quiz_repeated", values={"number": repeated[0]})
    if len(picks) > 1 and question.kind != "multi":
        return Parsed(error="quiz_one_answer")
    return Parsed(picks=tuple(sorted(picks)))


def looks_like_question(text: str) -> bool:
    """Whether a message is a question rather than an answer ("why is it 10%?")."""
    words = normalize(text).split()
    return "?" in text or (len(words) > 1 and words[0] in QUESTION_WORDS)


# --- grading -------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Verdict:
    """How an answer was graded."""

    correct: bool
    picked: tuple[str, ...] = ()  # option texts as shown
    grading: str = "exact"  # exact | keywords
    keywords: KeywordGrade | None = None


def grade(
    question: Question, order: Sequence[int], options: Sequence[str], parsed: Parsed
) -> Verdict:
    """Grade a readable answer: choice answers exactly, written ones by keywords."""
    if question.kind == "text":
        checked = keyword_grade(question.rubric, parsed.text)
        return Verdict(checked.correct, (), "keywords", checked)
    picked = tuple(options[p - 1] for p in parsed.picks)
    if question.kind == "true_false":
        return Verdict(parsed.picks == ((1,) if question.answer is True else (2,)), picked)
    chosen = {order[p - 1] for p in parsed.picks}
    answer = question.answer if isinstance(question.answer, tuple) else ()
    return Verdict(chosen == set(answer), picked)


def right_positions(question: Question, order: Sequence[int]) -> tuple[int, ...]:
    """The positions (as shown) of the right options."""
    if question.kind == "true_false":
        return (1,) if question.answer is True else (2,)
    answer = question.answer if isinstance(question.answer, tuple) else ()
    return tuple(sorted(order.index(n) + 1 for n in answer if n in order))


# --- scores --------------------------------------------------------------------------


def percent(score: int, total: int) -> int:
    """Score as a whole percentage, halves rounded up (2/3 → 67, 1/8 → 13)."""
    return (200 * score + total) // (2 * total) if total else 0


def passed(score: int, total: int, pass_mark: float) -> bool:
    """Whether the score reaches the pass mark; exactly the pass mark passes (4/5 at 80)."""
    return total > 0 and 100 * score >= pass_mark * total


def is_late(started_at: datetime | None, limit: int | None, now: datetime) -> bool:
    """Whether an answer at `now` comes after the attempt's time limit."""
    return bool(limit and started_at and now - started_at > timedelta(seconds=limit))


# --- spaced review -------------------------------------------------------------------


def review_interval(box: int) -> timedelta:
    """How long after its anchor an item in `box` is due: 1, 2, 4, 8… days."""
    return timedelta(days=2 ** (max(box, 1) - 1))


def schedule_miss(
    items: Sequence[ReviewItem], question_id: str, session_id: str, now: datetime
) -> tuple[ReviewItem, ...]:
    """A wrong answer (anywhere) puts the question in box 1: due again one day later."""
    item = ReviewItem(question_id, session_id, anchor=now, due=now + review_interval(1))
    return (*(i for i in items if i.question_id != question_id), item)


def schedule_right(
    items: Sequence[ReviewItem], question_id: str, now: datetime
) -> tuple[ReviewItem, ...]:
    """A right answer in a review moves the item up a box: due on the 2nd, 4th, 8th… day
    after the miss (the first such day still ahead); the second right in a row retires it."""
    result = []
    for item in items:
        if item.question_id != question_id:
            result.append(item)
            continue
        if item.rights + 1 >= REVIEW_RIGHTS:
            continue
        box = item.box + 1
        while item.anchor + review_interval(box) <= now:
            box += 1
        due = item.anchor + review_interval(box)
        result.append(replace(item, box=box, due=due, rights=item.rights + 1))
    return tuple(result)


def due_reviews(items: Sequence[ReviewItem], now: datetime) -> tuple[ReviewItem, ...]:
    """Items due at `now`, the longest-waiting first."""
    return tuple(sorted((i for i in items if i.due <= now), key=lambda i: (i.due, i.question_id)))
