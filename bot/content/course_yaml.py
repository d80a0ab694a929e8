"""`course.yaml`: a course's settings, checked key by key (quiz policy, engagement,
WhatsApp, message overrides)."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

from bot.content.parsing import (
    COURSE_KEYS,
    DURATION,
    QUIZ_POLICY_KEYS,
    WHATSAPP_KEYS,
    _line,
    _parse_yaml,
    _Problems,
    _text,
    _unknown_keys,
)
from flows.awards import check_award
from flows.commands import ALIASES, normalize, parse
from flows.course import CHANNELS, QuizPolicy
from flows.messages import CATALOG, placeholders
from flows.reminders import parse_policy


def _course_settings(
    folder: Path, problems: _Problems
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    path = folder / "course.yaml"
    data = _parse_yaml(path.read_text(encoding="utf-8", errors="replace"), path, problems)
    if data is None and not any(p.path == str(path) for p in problems):
        problems.error(path, 1, "course.yaml is empty")
    if data is None:
        return None
    if not isinstance(data, dict):
        problems.error(path, 1, "course.yaml must be a mapping of settings")
        return None
    _unknown_keys(data, COURSE_KEYS, path, problems, "course.yaml")
    if not _text(data.get("title")):
        problems.error(path, _line(data, "title"), "'title' is required")
    enroll = data.get("enroll", [])
    if isinstance(enroll, str):
        enroll = [enroll]
    if not isinstance(enroll, list) or not all(isinstance(p, str) and p.strip() for p in enroll):
        problems.error(path, _line(data, "enroll"), "'enroll' must be a list of phrases")
        enroll = []
    for phrase in enroll:
        words = normalize(phrase)
        if words in ALIASES or parse(phrase, str(data.get("language") or "en")):
            problems.error(
                path,
                _line(data, "enroll"),
                f"enrollment phrase '{phrase}' is a command and would never enroll",
            )
    channels = data.get("channels", list(CHANNELS[:3]))
    if not isinstance(channels, list) or any(c not in CHANNELS for c in channels):
        problems.error(
            path,
            _line(data, "channels"),
            f"'channels' must be a list drawn from {', '.join(CHANNELS[:3])}",
        )
        channels = []
    navigation = data.get("navigation", "sequential")
    if navigation not in ("sequential", "free"):
        problems.error(
            path, _line(data, "navigation"), "'navigation' must be 'sequential' or 'free'"
        )
    policy = _check_quiz_policy(data, path, problems)
    _check_engagement(data, path, problems)
    messages = _check_messages(data, path, problems)
    _check_whatsapp(data, path, problems)
    settings = {
        "title": _text(data.get("title")),
        "description": _text(data.get("description")),
        "enroll": tuple(p.strip() for p in enroll),
        "channels": tuple(channels),
        "navigation": navigation,
        "messages": MappingProxyType(messages),
        "quiz": policy,
    }
    return settings, data


def _duration(
    value: Any, path: Path, line: int, problems: _Problems, key: str = "time_limit"
) -> int | None:
    """Seconds from a time limit: a number of minutes, or text such as "90s", "10m", "1h"."""
    if value is None:
        return None
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value * 60
    elif isinstance(value, str) and (match := DURATION.match(value.strip())):
        unit = (match.group(2) or "m")[0].lower()
        seconds = float(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[unit]
    if seconds is None or seconds < 1:
        problems.error(
            path, line, f"'{key}' must be minutes (a number) or a duration like '90s', '10m'"
        )
        return None
    return round(seconds)


def _check_quiz_policy(data: dict, path: Path, problems: _Problems) -> QuizPolicy:
    quiz = data.get("quiz")
    if quiz is None:
        return QuizPolicy()
    if not isinstance(quiz, dict):
        problems.error(path, _line(data, "quiz"), "'quiz' must be a mapping")
        return QuizPolicy()
    _unknown_keys(quiz, QUIZ_POLICY_KEYS, path, problems, "quiz settings")
    policy = QuizPolicy()
    mark = quiz.get("pass_mark", 80)
    if not isinstance(mark, int | float) or isinstance(mark, bool) or not 0 <= mark <= 100:
        problems.error(path, _line(quiz, "pass_mark"), "'pass_mark' must be a number 0-100")
        mark = policy.pass_mark
    attempts = quiz.get("max_attempts", 3)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
        problems.error(path, _line(quiz, "max_attempts"), "'max_attempts' must be 1 or more")
        attempts = policy.max_attempts
    shuffle = quiz.get("shuffle", False)
    if not isinstance(shuffle, bool):
        problems.error(path, _line(quiz, "shuffle"), "'shuffle' must be true or false")
        shuffle = False
    limit = _duration(quiz.get("time_limit"), path, _line(quiz, "time_limit"), problems)
    return QuizPolicy(float(mark), attempts, shuffle, limit)


def _check_engagement(data: dict, path: Path, problems: _Problems) -> None:
    """`reminders:` and `certificate:` settings, checked by the same rules the bot uses."""
    if "reminders" in data:
        try:
            parse_policy(data["reminders"])
        except ValueError as exc:
            problems.error(path, _line(data, "reminders"), str(exc))
    if "certificate" in data and (reason := check_award(data["certificate"])):
        problems.error(path, _line(data, "certificate"), reason)


def _check_whatsapp(data: dict, path: Path, problems: _Problems) -> None:
    """`whatsapp: {combine_replies: …}`: whether a turn's consecutive short text replies
    may go as one WhatsApp message (default no: docs/architecture.md, "Fewer messages")."""
    whatsapp = data.get("whatsapp", {})
    if not isinstance(whatsapp, dict):
        problems.error(path, _line(data, "whatsapp"), "'whatsapp' must be a mapping")
        return
    _unknown_keys(whatsapp, WHATSAPP_KEYS, path, problems, "whatsapp settings")
    if not isinstance(whatsapp.get("combine_replies", False), bool):
        line = _line(whatsapp, "combine_replies")
        problems.error(path, line, "'combine_replies' must be true or false")


def _check_messages(data: dict, path: Path, problems: _Problems) -> dict[str, str]:
    messages = data.get("messages") or {}
    if not isinstance(messages, dict):
        problems.error(path, _line(data, "messages"), "'messages' must map keys to texts")
        return {}
    good: dict[str, str] = {}
    for key, text in messages.items():
        line = _line(messages, key)
        if key not in CATALOG:
            problems.error(path, line, f"unknown message key '{key}'")
        elif not isinstance(text, str) or not text.strip():
            problems.error(path, line, f"message '{key}' must be a non-empty text")
        elif extra := placeholders(text) - placeholders(CATALOG[key]):
            names = ", ".join(f"{{{n}}}" for n in sorted(extra))
            problems.error(path, line, f"message '{key}' uses {names}, which it is not given")
        else:
            good[key] = text
    return good
