"""The bot's own words, in one catalog that a course may override key by key.

Templates are Markdown (`**bold**`, `_italic_`) with `{placeholders}`; `course.yaml` may
give a `messages:` map that replaces any of them for that course (the validator checks keys
and placeholders).

Numbers and dates given to `say` are written the course language's way through Babel (a
pure library: locale data and arithmetic, no clock): "1,234" / "1 234", "29 December
2026" / "29 décembre 2026". A count that a noun follows picks its plural form in the
template, `{left:one=# attempt left|other=# attempts left}` (`#` is the number; the forms
are the language's CLDR plural categories: one, two, few, many, other), so that no learner
reads "1 attempts left".
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from datetime import date
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal

from flows.commands import ALIASES, command_word
from flows.course import Course
from flows.messages_en import CATALOG as CATALOG  # re-exported: the English catalog
from flows.messages_fr import FR

_MARKDOWN = set("\\`*_[]<>#~|")


def md_escape(text: str) -> str:
    """Text (an option, what a learner typed) made safe to put inside a template."""
    return "".join(f"\\{ch}" if ch in _MARKDOWN else ch for ch in text)


def placeholders(template: str) -> set[str]:
    """The `{names}` a template uses (to check that an override keeps them)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class _Blank(dict[str, object]):
    # An override that omits a placeholder must not crash a learner's conversation.
    def __missing__(self, key: str) -> str:
        return ""


# Placeholders filled with what a learner typed (a WhatsApp ProfileName, a simulator name,
# an unknown time zone or session number they gave): shown literally, never as Markdown.
LEARNER_TEXT = frozenset({"name", "given"})


class _Number:
    """A number in a template: written in the course's locale, and with a spec of plural
    forms (`{n:one=# item|other=# items}`) the form the locale's rules pick for it."""

    def __init__(self, value: float, locale: Locale) -> None:
        self.value, self.locale = value, locale

    def __format__(self, spec: str) -> str:
        shown = str(format_decimal(self.value, locale=self.locale))
        if "=" not in spec:
            try:  # an override's spec such as `{n:03d}`; a bad one must not end a conversation
                return format(self.value, spec) if spec else shown
            except ValueError:
                return shown
        forms = dict(part.split("=", 1) for part in spec.split("|") if "=" in part)
        category = str(self.locale.plural_form(self.value))
        return forms.get(category, forms.get("other", "#")).replace("#", shown)


def _localized(value: object, locale: Locale) -> object:
    """A number or date as the locale writes it; anything else unchanged."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return _Number(value, locale)
    if isinstance(value, date):
        return format_day(value, locale)
    return value


def say(key: str, course: Course | None = None, /, **values: object) -> str:
    """The catalog text for `key`, the course's override first, filled with `values`
    (learner-typed ones escaped, see `LEARNER_TEXT`; numbers and dates localized)."""
    overrides: Mapping[str, str] = course.messages if course else {}
    template = overrides.get(key) or catalog_for(course).get(key) or CATALOG[key]
    locale = locale_of(course)
    safe = {
        k: md_escape(v) if k in LEARNER_TEXT and isinstance(v, str) else _localized(v, locale)
        for k, v in values.items()
    }
    return template.format_map(_Blank(safe))


def format_day(value: date, locale: Locale) -> str:
    """A calendar day in the locale's long form ("29 décembre 2026", "December 29, 2026")."""
    return str(format_date(value, format="long", locale=locale))


# English with no region writes the day first ("5 January 2027"), as the bot always did
# and as its learners in Lagos and London read it; `language: en-US` gives "January 5, 2027".
ENGLISH = "en-GB"


def locale_of(course: Course | None) -> Locale:
    """The Babel locale of the course's `language:` (region kept: `fr-CA`); English when
    the bot has no catalog in that language, so that numbers and dates match the words."""
    language = str(course.settings.get("language") or "en") if course else "en"
    if language.split("-")[0].lower() not in LANGUAGES or language.lower() == "en":
        language = ENGLISH
    return _locale(language)


@lru_cache(maxsize=64)
def _locale(tag: str) -> Locale:
    try:
        return Locale.parse(tag, sep="-" if "-" in tag else "_")
    except (ValueError, UnknownLocaleError):
        return Locale.parse(tag.split("-")[0].split("_")[0])


LANGUAGES: dict[str, Mapping[str, str]] = {"en": CATALOG, "fr": FR}  # shipped catalogs


def language_of(course: Course | None) -> str:
    """The shipped language the course speaks (`fr` for `language: fr-CA`): the catalog
    and command words it uses; English when absent or not shipped."""
    language = str(course.settings.get("language") or "en") if course else "en"
    code = language.split("-")[0].lower()
    return code if code in LANGUAGES else "en"


def catalog_for(course: Course | None) -> Mapping[str, str]:
    """The catalog in the course's `language:` (English when absent or not shipped); keys
    a translation lacks fall back to English in `say`."""
    return LANGUAGES[language_of(course)]


def untranslated(translation: Mapping[str, str]) -> list[str]:
    """Catalog keys a translation lacks or whose placeholders differ from English."""
    return [
        key
        for key, text in CATALOG.items()
        if key not in translation or placeholders(translation[key]) != placeholders(text)
    ]


def typed_hint(text: str, payloads: Iterable[str], course: Course | None) -> str:
    """Buttons as the words a learner types in the course's language ("👉 Répondez
    *suivant* · *menu*"), for a channel that cannot show the buttons: leaving out the
    commands `text` (WhatsApp-formatted) already names and payloads nobody could type."""
    language = language_of(course)
    typed = (command_word(ALIASES[p], language) if p in ALIASES else p for p in payloads)
    words = [f"*{w}*" for w in typed if ":" not in w and f"*{w}*" not in text.lower()]
    return say("buttons_hint", course, commands=" · ".join(words)) if words else ""
