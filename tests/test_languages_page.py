"""What the admin Languages page counts per language (`bot.admin.languages`)."""

from __future__ import annotations

from bot.admin.languages import CERTIFICATE_KEYS, TYPED, language, shipped_languages
from flows.messages import CATALOG, LANGUAGES


def _parts(code: str, texts: dict[str, str]) -> dict[str, tuple[int, int]]:
    return {p.name: (p.done, p.total) for p in language(code, texts).parts}


def test_shipped_languages_are_complete_in_every_part() -> None:
    assert [(lang.code, lang.complete) for lang in shipped_languages()] == [
        ("en", True),
        ("fr", True),
    ]


def test_each_part_is_counted() -> None:
    french = {k: v for k, v in LANGUAGES["fr"].items() if k != "verify_revoked"}
    parts = _parts("fr", french)
    assert parts["messages"] == (len(CATALOG) - 1, len(CATALOG))
    assert parts["certificate & verify page"] == (len(CERTIFICATE_KEYS) - 1, len(CERTIFICATE_KEYS))
    assert parts["command words"] == (len(TYPED), len(TYPED))
    # German: Babel and a stemmer, but no catalog and no command words.
    german = _parts("de", {})
    assert german["messages"] == (0, len(CATALOG)) and german["command words"][0] == 0
    assert german["dates & numbers"] == (1, 1)
    assert german["retrieval (stemmer, stop words)"] == (1, 1)
    assert not language("de", {}).complete
    # A made-up language: nothing but its (copied) messages.
    made_up = _parts("xx", dict(CATALOG))
    assert made_up["dates & numbers"] == (0, 1) and made_up["messages"][0] == len(CATALOG)
