"""Whether a model's answer repeats the assistant's rules, however it is disguised.

The rules (the prompt template's system part before the passages) are not secret in the
cryptographic sense, but printing them is the first step of most prompt attacks, and
an answer that does so is not an answer. A plain substring check was beaten by dumps the
model was told to disguise: zero-width characters between letters, `Y.o.u a.r.e`,
`y-o-u-a-r-e`, full-width or other compatibility forms, ROT13 and base64. Both sides are
therefore normalised before comparing: Unicode NFKC, case folded, every character that is
not a letter or digit dropped (separators, punctuation, zero-width and other format
characters); and the answer is also compared after undoing ROT13 and after decoding any
base64 or hex run in it.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from functools import lru_cache

MIN_PIECE = 16  # letters and digits: long enough to be the rules, not a common phrase
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}[\s:]?){12,}")


def normalise(text: str) -> str:
    """Letters and digits only, NFKC-folded and case-folded."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


@lru_cache(maxsize=32)
def pieces(rules: str) -> tuple[str, ...]:
    """The normalised stretches of the rules between placeholders, long enough to count."""
    rules = re.split(r"Course passages:|\{passages\}", rules, maxsplit=1)[0]
    found = []
    for line in rules.splitlines():
        for piece in re.split(r"\{\w+\}", line):
            normal = normalise(piece)
            if len(normal) >= MIN_PIECE:
                found.append(normal)
    return tuple(found)


def _decodings(answer: str) -> list[str]:
    """The answer as written, un-ROT13'd, and every base64 or hex run in it decoded."""
    out = [answer, codecs.decode(answer, "rot13")]
    for run in _BASE64.findall(answer):
        padded = run + "=" * (-len(run) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                out.append(decode(padded).decode("utf-8", "ignore"))
            except (binascii.Error, ValueError):
                continue
    for run in _HEX.findall(answer):
        try:
            out.append(bytes.fromhex(re.sub(r"[\s:]", "", run)).decode("utf-8", "ignore"))
        except ValueError:
            continue
    return out


def leaks(answer: str, rules: str) -> bool:
    """Whether `answer` repeats any piece of `rules`, in any of the disguises above."""
    wanted = pieces(rules)
    return any(piece in normal for normal in map(normalise, _decodings(answer)) for piece in wanted)
