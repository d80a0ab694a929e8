"""Turning what a learner typed (or the button they pressed) into a command.

Matching ignores case, surrounding punctuation and emoji. Commands match exactly (after
normalising) so that a question is never mistaken for a command; enrollment phrases also
tolerate small typos because they are long enough for that to be safe.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from flows.commands_fr import COMMANDS_FR
from flows.course import Catalog, Course


class Cmd(StrEnum):
    """Everything a learner can ask the bot to do (besides asking a question)."""

    NEXT = "next"
    PREVIOUS = "previous"
    MENU = "menu"
    COMPLETE = "complete"
    SECTION = "section"
    PROGRESS = "progress"
    COURSES = "courses"
    HELP = "help"
    RESTART = "restart"
    EXIT = "exit"
    RESUME = "resume"
    STOP = "stop"
    START = "start"
    YES = "yes"
    NO = "no"
    ENROLL = "enroll"
    QUIZ = "quiz"
    RETAKE = "retake"
    REVIEW = "review"
    SKIP = "skip"
    QUIT = "quit"
    TIMEZONE = "timezone"
    CERTIFICATE = "certificate"
    LINK = "link"


ALIASES: dict[str, Cmd] = {
    "next": Cmd.NEXT,
    "continue": Cmd.NEXT,
    "previous": Cmd.PREVIOUS,
    "prev": Cmd.PREVIOUS,
    "back": Cmd.PREVIOUS,
    "go back": Cmd.PREVIOUS,
    "menu": Cmd.MENU,
    "options": Cmd.MENU,
    "complete": Cmd.COMPLETE,
    "done": Cmd.COMPLETE,
    "mark complete": Cmd.COMPLETE,
    "progress": Cmd.PROGRESS,
    "status": Cmd.PROGRESS,
    "courses": Cmd.COURSES,
    "catalog": Cmd.COURSES,
    "help": Cmd.HELP,
    "commands": Cmd.HELP,
    "restart": Cmd.RESTART,
    "start over": Cmd.RESTART,
    "exit": Cmd.EXIT,
    "pause": Cmd.EXIT,
    "resume": Cmd.RESUME,
    "stop": Cmd.STOP,
    "unsubscribe": Cmd.STOP,
    "start": Cmd.START,
    "unstop": Cmd.START,
    "yes": Cmd.YES,
    "y": Cmd.YES,
    "confirm": Cmd.YES,
    "no": Cmd.NO,
    "cancel": Cmd.NO,
    "quiz": Cmd.QUIZ,
    "take quiz": Cmd.QUIZ,
    "take the quiz": Cmd.QUIZ,
    "start quiz": Cmd.QUIZ,
    "test me": Cmd.QUIZ,
    "retake": Cmd.RETAKE,
    "retake quiz": Cmd.RETAKE,
    "retry": Cmd.RETAKE,
    "try again": Cmd.RETAKE,
    "review": Cmd.REVIEW,
    "skip": Cmd.SKIP,
    "skip question": Cmd.SKIP,
    "skip it": Cmd.SKIP,
    "quit": Cmd.QUIT,
    "quit quiz": Cmd.QUIT,
    "leave quiz": Cmd.QUIT,
    "stop quiz": Cmd.QUIT,
    "end quiz": Cmd.QUIT,
    "certificate": Cmd.CERTIFICATE,
    "my certificate": Cmd.CERTIFICATE,
    "link": Cmd.LINK,
}

# Matched on the raw text: normalising would turn "Europe/Berlin" into "europe berlin".
_TIMEZONE = re.compile(r"^\s*(?:timezone|time zone)(?:\s+(\S+))?\s*$", re.IGNORECASE)
_SECTION = re.compile(r"^(?:section|session|go to|go|jump to)\s+(\S+)$")
# `link 123 456` as well as `link 123456`: the code is the digits (matched on normalised words).
_LINK = re.compile(r"^link\s+(\d[\d ]*)$")


COMMAND_WORDS: dict[str, Mapping[str, tuple[str, ...]]] = {"fr": COMMANDS_FR}
"""Command words of a course language beside English, by `Cmd` value: the message catalog's
words for commands, so that a learner can type them in the language the course speaks."""


@dataclass(frozen=True)
class _Local:
    """A language's command words, ready to match (accents folded away)."""

    aliases: Mapping[str, Cmd]
    section: re.Pattern[str]
    timezone: re.Pattern[str]
    link: re.Pattern[str]


def fold(text: str) -> str:
    """Text without accents ("précédent" → "precedent"), for people who do not type them."""
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", kept)


def _prefixes(words: tuple[str, ...]) -> str:
    return "|".join(r"\s+".join(map(re.escape, fold(normalize(w)).split())) for w in words)


@lru_cache(maxsize=16)
def _local(language: str) -> _Local | None:
    """The command words of a language (`fr`, `fr-CA`); None for English or a language
    without command words."""
    words = COMMAND_WORDS.get(language.split("-")[0].lower())
    if words is None:
        return None
    aliases = {
        fold(normalize(word)): Cmd(name)
        for name, said in words.items()
        if name not in (Cmd.SECTION, Cmd.TIMEZONE)
        for word in said
    }
    return _Local(
        aliases,
        re.compile(rf"^(?:{_prefixes(words[Cmd.SECTION])})\s+(\S+)$"),
        re.compile(rf"^\s*(?:{_prefixes(words[Cmd.TIMEZONE])})(?:\s+(\S+))?\s*$", re.IGNORECASE),
        re.compile(rf"^(?:{_prefixes(words[Cmd.LINK])})\s+(\d[\d ]*)$"),
    )


def command_word(name: Cmd, language: str) -> str:
    """The word a learner types for a command in a language: its first command word there,
    else the English one (the command's own name)."""
    words = COMMAND_WORDS.get(language.split("-")[0].lower(), {}).get(name)
    return words[0] if words else name.value


@dataclass(frozen=True)
class Command:
    """A parsed command and its argument (`section 3` → SECTION, "3")."""

    name: Cmd
    arg: str = ""


def normalize(text: str) -> str:
    """Lower-case words only: punctuation, symbols and emoji become spaces."""
    kept = (
        ch if unicodedata.category(ch)[0] in "LN" else " "
        for ch in unicodedata.normalize("NFKC", text.casefold())
    )
    return " ".join("".join(kept).split())


def parse(text: str, language: str = "en") -> Command | None:
    """The command a message or button payload stands for, or None (a question): the
    words of the course's `language` first (accents optional), then English, which always
    works (buttons send English payloads)."""
    if text.startswith("enroll:"):
        return Command(Cmd.ENROLL, text.removeprefix("enroll:"))
    local = _local(language)
    if match := (local and local.timezone.match(fold(text))) or _TIMEZONE.match(text):
        return Command(Cmd.TIMEZONE, match.group(1) or "")
    words = normalize(text)
    if local and (name := local.aliases.get(fold(words))):
        return Command(name)
    if words in ALIASES:
        return Command(ALIASES[words])
    if match := (local and local.section.match(fold(words))) or _SECTION.match(words):
        return Command(Cmd.SECTION, match.group(1))
    if match := (local and local.link.match(fold(words))) or _LINK.match(words):
        return Command(Cmd.LINK, match.group(1).replace(" ", ""))
    return None


def _distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment edit distance, giving up early once it exceeds `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        row = [i]
        for j, cb in enumerate(b, start=1):
            cost = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            row.append(cost)
        if min(row) > limit:
            return limit + 1
        prev2, prev = prev, row
    return prev[-1]


def typo_budget(phrase: str) -> int:
    """How many one-letter typos a phrase of this length tolerates."""
    return 1 if len(phrase) < 24 else 2


def phrase_matches(text: str, phrase: str) -> bool:
    """Whether a message says an enrollment phrase: exactly, inside a longer greeting, or
    with a small typo ("I am a new partnr")."""
    said, wanted = normalize(text), normalize(phrase)
    if not wanted:
        return False
    if f" {wanted} " in f" {said} ":
        return True
    return _distance(said, wanted, typo_budget(wanted)) <= typo_budget(wanted)


def match_enrollment(catalog: Catalog, text: str, channel: str) -> Course | None:
    """The course whose enrollment phrase this message says, among those on the channel."""
    for course in catalog.for_channel(channel):
        if any(phrase_matches(text, phrase) for phrase in course.enroll):
            return course
    return None
