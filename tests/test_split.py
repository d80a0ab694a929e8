"""Splitting long WhatsApp text: readable boundaries, nothing lost, markup never broken."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.split import split_text

BOLD = re.compile(r"(?<![\w*])\*(?=\S)[^*]*?(?<=\S)\*(?![\w*])")


def test_short_text_is_one_message():
    assert split_text("  Hello *there*.  ") == ["Hello *there*."]
    assert split_text("") == []


def test_paragraphs_first_then_sentences():
    one, two = "A" * 60 + ".", "B" * 60 + "."
    assert split_text(f"{one}\n\n{two}", limit=100) == [one, two]
    text = f"{one} {two} {one}"
    assert split_text(text, limit=130) == [f"{one} {two}", one]


def test_never_cuts_inside_bold_when_a_word_boundary_exists():
    text = "intro " * 10 + "*this whole phrase is bold and long*" + " tail" * 10
    for chunk in split_text(text, limit=70):
        assert chunk.count("*") in (0, 2)
        assert len(chunk) <= 70


def test_a_bold_span_longer_than_the_limit_is_closed_and_reopened():
    text = "*" + " ".join(["bold"] * 100) + "*"
    chunks = split_text(text, limit=60)
    assert all(c.startswith("*") and c.endswith("*") and len(c) <= 60 for c in chunks)
    assert " ".join(c.strip("*") for c in chunks).split() == ["bold"] * 100


def test_only_a_giant_word_is_cut():
    url = "https://example.com/" + "x" * 200
    chunks = split_text(f"see {url} now", limit=100)
    assert all(len(c) <= 100 for c in chunks)
    assert "".join(chunks).replace(" ", "") == f"see{url}now"


words = st.text(alphabet="abcdefghij", min_size=1, max_size=12)
pieces = st.one_of(words, words.map(lambda w: f"*{w}*"), words.map(lambda w: f"{w}."))
separators = st.sampled_from([" ", " ", " ", "\n", "\n\n"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(pieces, separators), min_size=1, max_size=400), st.integers(40, 400))
def test_split_properties(items, limit):
    text = "".join(p + s for p, s in items).strip()
    chunks = split_text(text, limit)
    assert all(0 < len(c) <= limit for c in chunks)
    assert " ".join(chunks).split() == text.split()  # nothing lost, no word cut, in order
    spans = BOLD.findall(text)
    assert sum(len(BOLD.findall(c)) for c in chunks) == len(spans)  # every bold span intact
