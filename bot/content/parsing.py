"""Reading content files: `Problem` (path:line: message), YAML whose mappings and sequences
remember their lines, and the names and patterns every part of the loader checks against."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
QUESTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
DURATION = re.compile(
    r"^(\d+(?:\.\d+)?)\s*(s|secs?|seconds?|m|mins?|minutes?|h|hours?)?$", re.IGNORECASE
)
SESSION_FILE = re.compile(r"^(\d+)[-_ ]?(.*)\.md$")
QUESTION_LINE = "question:"  # key prefix of a question's line in a session's `lines`
MAX_OPTIONS = 10  # a WhatsApp list shows at most 10 rows

COURSE_KEYS = {
    "title",
    "description",
    "enroll",
    "channels",
    "navigation",
    "quiz",
    "certificate",
    "reminders",
    "messages",
    "language",
    "required_for_roles",
    "whatsapp",
}
WHATSAPP_KEYS = {"combine_replies"}
SESSION_KEYS = {"title", "id", "quiz", "final", "draw", "time_limit"}
QUIZ_POLICY_KEYS = {"pass_mark", "max_attempts", "shuffle", "time_limit"}
QUESTION_KEYS = {"q", "options", "answer", "explain", "type", "rubric", "id"}
QUESTION_TYPES = {"single", "multi", "true_false", "text"}


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a content file, at a line an author can jump to."""

    path: str
    line: int
    message: str
    warning: bool = False

    def __str__(self) -> str:
        kind = "warning: " if self.warning else ""
        return f"{self.path}:{self.line}: {kind}{self.message}"


class _Problems(list):
    def error(self, path: Path, line: int, message: str) -> None:
        self.append(Problem(str(path), line, message))

    def warn(self, path: Path, line: int, message: str) -> None:
        self.append(Problem(str(path), line, message, warning=True))


# --- YAML that remembers where each key and item was --------------------------------


class _Map(dict):
    line: int = 1
    lines: dict[Any, int]


class _Seq(list):
    line: int = 1
    lines: list[int]


if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:  # libyaml's loader when PyYAML was built with it: ~10x faster (same methods)
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_SafeLoader):
    """SafeLoader whose mappings and sequences carry 1-based line numbers."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> _Map:
        result = _Map(super().construct_mapping(node, deep=True))
        result.line = node.start_mark.line + 1
        result.lines = {
            self.construct_object(k, deep=True): k.start_mark.line + 1 for k, _ in node.value
        }
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> _Seq:
        result = _Seq(super().construct_sequence(node, deep=True))
        result.line = node.start_mark.line + 1
        result.lines = [item.start_mark.line + 1 for item in node.value]
        return result


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping
)
_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _LineLoader.construct_sequence
)


def _error_line(exc: yaml.YAMLError, text: str) -> int:
    """The 1-based line an author should fix. An unclosed `[`, `{` or quote is only noticed
    where the text ends or the next key starts, a line (or more) later: for those the line
    that opened it is the one to fix. Never past the text's last line."""
    problem = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    unclosed = str(getattr(exc, "context", "")).startswith(
        ("while parsing a flow", "while scanning a quoted")
    )
    mark = context if unclosed and context is not None else problem
    line = mark.line + 1 if mark is not None else 1
    return max(1, min(line, len(text.splitlines())))


def _parse_yaml(text: str, path: Path, problems: _Problems, offset: int = 0) -> Any:
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        problems.error(path, _error_line(exc, text) + offset, f"invalid YAML: {reason}")
        return None


def _line(mapping: Any, key: str, offset: int = 0) -> int:
    lines = getattr(mapping, "lines", {})
    return lines.get(key, getattr(mapping, "line", 1)) + offset


def _unknown_keys(
    mapping: dict, allowed: set[str], path: Path, problems: _Problems, what: str, offset: int = 0
) -> None:
    for key in mapping:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            problems.error(
                path, _line(mapping, key, offset), f"unknown key '{key}' in {what} (known: {known})"
            )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
