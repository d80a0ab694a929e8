"""What the admin Languages page says about each shipped language: how much of the bot
really speaks it, part by part, so that "complete" means a learner never meets English.

A catalog with every key translated is only one part: a learner also types commands, reads
dates and numbers, receives a certificate and has questions answered from the course text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from babel import localedata

from bot import retrieval
from flows.commands import ALIASES, COMMAND_WORDS, Cmd
from flows.messages import CATALOG, LANGUAGES, untranslated

# Commands a learner types: every command with a word (ENROLL is a button only).
TYPED = (*dict.fromkeys(ALIASES.values()), Cmd.SECTION, Cmd.TIMEZONE)
# The words on the certificate PDF and its public verification page.
CERTIFICATE_KEYS = tuple(k for k in CATALOG if k.startswith(("certificate_pdf_", "verify_")))


@dataclass(frozen=True)
class Part:
    """One part of the bot in one language: `done` of `total` things localised."""

    name: str
    done: int
    total: int

    @property
    def complete(self) -> bool:
        return self.done == self.total


@dataclass(frozen=True)
class Language:
    """A shipped language, its parts, and the catalog keys it still sends in English."""

    code: str
    parts: tuple[Part, ...]
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return all(part.complete for part in self.parts)


def language(code: str, texts: Mapping[str, str]) -> Language:
    """How far the bot speaks `code`, whose message catalog is `texts`."""
    missing = untranslated(texts) if code != "en" else []
    words = COMMAND_WORDS.get(code, {}) if code != "en" else {c.value: (c.value,) for c in TYPED}
    parts = (
        Part("messages", len(CATALOG) - len(missing), len(CATALOG)),
        Part("command words", sum(1 for c in TYPED if words.get(c.value)), len(TYPED)),
        Part("dates & numbers", int(localedata.exists(code)), 1),
        Part(
            "certificate & verify page",
            sum(1 for k in CERTIFICATE_KEYS if k not in missing),
            len(CERTIFICATE_KEYS),
        ),
        Part("retrieval (stemmer, stop words)", int(code in retrieval.LANGUAGES), 1),
    )
    return Language(code, parts, tuple(missing))


def shipped_languages() -> list[Language]:
    """Every language the bot ships a message catalog for."""
    return [language(code, texts) for code, texts in LANGUAGES.items()]
