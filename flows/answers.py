"""Reading a quiz answer from a chat message (pure): the option number (`2`, `2)`,
`option 2`, `٢`), its letter (`b`), the option's text (`10%`, `solaro max`), `true` /
`false` / `yes` / `no`, several options for a multi-answer question (`1,3`, `1 and 3`,
`a c`), or a button's payload. Split from `flows.quiz` (which re-exports these names) so
that the reader of messages and the grader can each be read on their own.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from flows.commands import normalize
from flows.course import Question

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
