"""Loading and validating course folders (course.yaml + NN-slug.md session files).

Every problem is reported as `path:line: message` so an author can jump to it. The
`Library` keeps the running bot on the last good version of each course: a broken edit
is reported and logged, never served.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import yaml

from bot.lint import lint
from bot.render import images, links
from bot.security import allowed_media_list, media_type
from flows.awards import check_award
from flows.commands import ALIASES, normalize, parse
from flows.course import CHANNELS, Catalog, Course, Media, Question, QuizPolicy, Session
from flows.machine import quiz_replies, session_reply
from flows.messages import CATALOG, placeholders
from flows.quiz import questions_for
from flows.reminders import parse_policy

log = logging.getLogger(__name__)

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


# --- course.yaml ---------------------------------------------------------------------


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


# --- session files -------------------------------------------------------------------


def _split_front_matter(text: str) -> tuple[str | None, str, int]:
    """(front matter, body, line where the body starts) of a session file."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None, text, 1
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            return "".join(lines[1:index]), "".join(lines[index + 1 :]), index + 2
    return "", "", 1


def _session(
    path: Path, folder: Path, problems: _Problems, lines: dict[str, dict[str, int]]
) -> Session | None:
    """One session file; `lines` gets where its quiz keys are, for course-wide checks."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.error(path, line, "not valid UTF-8 text")
        return None
    front, body, body_line = _split_front_matter(text)
    if front is None:
        problems.error(path, 1, "missing front matter: start the file with '---', a title, '---'")
        return None
    if front == "" and body == "":
        problems.error(path, 1, "front matter is not closed with '---'")
        return None
    meta = _parse_yaml(front, path, problems, offset=1) if front.strip() else _Map()
    if meta is None:
        return None
    if not isinstance(meta, dict):
        problems.error(path, 2, "front matter must be a mapping (title: ...)")
        return None
    _unknown_keys(meta, SESSION_KEYS, path, problems, "session front matter", offset=1)
    title = _text(meta.get("title"))
    if not title:
        problems.error(path, _line(meta, "title", 1), "'title' is required")
    match = SESSION_FILE.match(path.name)
    default_id = (match.group(2) if match else path.stem).lower().replace(" ", "-")
    session_id = str(meta.get("id") or default_id)
    if not ID_PATTERN.match(session_id):
        problems.error(
            path,
            _line(meta, "id", 1),
            f"session id '{session_id}' must be lower-case letters, digits, - or _",
        )
    final = meta.get("final", False)
    if not isinstance(final, bool):
        problems.error(path, _line(meta, "final", 1), "'final' must be true or false")
        final = False
    if not body.strip() and not final:
        problems.error(path, body_line, "the session has no text")
    media = []
    for src, alt, line in images(body):
        if src.startswith(("http://", "https://")):
            media.append(Media(src, alt))
        elif reason := _missing_media(src, folder, "media file"):
            problems.error(path, body_line + line, reason)
        else:
            media.append(Media(src, alt))
    for href, line in links(body):
        parts = urlsplit(href)
        local = not (parts.scheme or parts.netloc or href.startswith(("#", "/")))
        if local and (reason := _missing_media(unquote(parts.path), folder, "linked file")):
            problems.error(path, body_line + line, reason)
    where: dict[str, int] = {}
    quiz = _questions(meta.get("quiz"), meta, path, problems, where)
    draw = meta.get("draw")
    if draw is not None and (not isinstance(draw, int) or isinstance(draw, bool) or draw < 1):
        problems.error(path, _line(meta, "draw", 1), "'draw' must be a number of questions, 1+")
        draw = None
    limit = _duration(meta.get("time_limit"), path, _line(meta, "time_limit", 1), problems)
    lines[session_id] = {
        key: _line(meta, key, 1) for key in ("final", "draw", "quiz") if key in meta
    } | {QUESTION_LINE + qid: line for qid, line in where.items()}
    return Session(session_id, title, body.strip(), tuple(media), quiz, final, draw, limit)


def _questions(
    items: Any, meta: Any, path: Path, problems: _Problems, where: dict[str, int]
) -> tuple[Question, ...]:
    """The valid questions of a front matter's `quiz`; `where` gets each one's line (its
    options, where labels are written)."""
    if items is None:
        return ()
    if not isinstance(items, list):
        problems.error(path, _line(meta, "quiz", 1), "'quiz' must be a list of questions")
        return ()
    questions = []
    for index, item in enumerate(items):
        line = item.line + 1 if isinstance(item, _Map) else _line(meta, "quiz", 1)
        if not isinstance(item, dict):
            problems.error(path, line, "each quiz question must be a mapping with 'q'")
            continue
        _unknown_keys(item, QUESTION_KEYS, path, problems, "a quiz question", offset=1)
        question = _question(item, index, line, path, problems)
        if question:
            questions.append(question)
            where[question.id] = _line(item, "options", 1) if "options" in item else line
    return tuple(questions)


def _question(
    item: dict, index: int, line: int, path: Path, problems: _Problems
) -> Question | None:
    prompt = _text(item.get("q"))
    if not prompt:
        problems.error(path, line, f"quiz question {index + 1} has no 'q'")
        return None
    options = item.get("options") or []
    kind = item.get("type") or ("single" if options else "text")
    answer_line = _line(item, "answer", 1)
    if kind not in QUESTION_TYPES:
        problems.error(
            path,
            _line(item, "type", 1),
            f"unknown question type '{kind}' (known: {', '.join(sorted(QUESTION_TYPES))})",
        )
        return None
    qid = str(item.get("id") or hashlib.sha1(prompt.encode()).hexdigest()[:10])
    if not QUESTION_ID.match(qid):
        problems.error(
            path, _line(item, "id", 1), f"question id '{qid}' must be letters, digits, - or _"
        )
        return None
    answer: tuple[int, ...] | bool | None = None
    if kind in ("single", "multi"):
        if not isinstance(options, list) or len(options) < 2:
            problems.error(path, _line(item, "options", 1), "a choice question needs 2+ options")
            return None
        if len(options) > MAX_OPTIONS:
            problems.error(
                path,
                _line(item, "options", 1),
                f"{len(options)} options: at most {MAX_OPTIONS} fit a WhatsApp list",
            )
        for option in options:
            if isinstance(option, bool):
                problems.warn(
                    path,
                    _line(item, "options", 1),
                    f"an option is read as {str(option).lower()} (YAML reads yes, no, on, "
                    "off that way): put it in quotes to show it as written",
                )
        texts = [str(o).strip() for o in options]
        if len({t.casefold() for t in texts}) != len(texts):
            problems.error(path, _line(item, "options", 1), "duplicate options")
        raw = item.get("answer")
        given: list[object] = raw if isinstance(raw, list) else [raw]
        picks = [p for p in given if isinstance(p, int) and not isinstance(p, bool)]
        if not given or len(picks) != len(given):
            problems.error(path, answer_line, "'answer' must be an option number (1-based)")
            return None
        if any(not 1 <= p <= len(options) for p in picks):
            problems.error(
                path, answer_line, f"answer out of range: choose from 1 to {len(options)}"
            )
            return None
        if kind == "single" and len(picks) > 1:
            kind = "multi"
        answer = tuple(sorted(set(picks)))
        options = tuple(texts)
    elif kind == "true_false":
        if not isinstance(item.get("answer"), bool):
            problems.error(path, answer_line, "a true_false question needs answer: true or false")
            return None
        if item.get("options"):
            problems.warn(
                path, _line(item, "options", 1), "'options' are ignored in a true_false question"
            )
        answer, options = item["answer"], ()
    else:
        options = ()
        if not _text(item.get("rubric")):
            problems.warn(path, line, "a text question without a 'rubric' cannot be graded")
        if "answer" in item:
            problems.warn(
                path, answer_line, "'answer' is ignored in a text question: write a 'rubric'"
            )
    return Question(
        qid, prompt, kind, options, answer, _text(item.get("explain")), _text(item.get("rubric"))
    )


# --- whole courses and catalogs ------------------------------------------------------


def _missing_media(name: str, folder: Path, what: str) -> str | None:
    """Why a course file an image or a link points to cannot be served, or None."""
    target = (folder / name).resolve()
    if not target.is_relative_to(folder.resolve()) or not target.is_file():
        return f"{what} '{name}' not found"
    return _not_media(name) if media_type(name) is None else None


def _not_media(name: str) -> str:
    return (
        f"'{name}' is not an allowed media type (allowed: {allowed_media_list()}); "
        "course files are served from the bot's own site, so pages and scripts may not be"
    )


def _check_media_folder(folder: Path, problems: _Problems) -> None:
    """Every file in `media/` must be allow-listed media: a course author's `x.html` or
    `x.svg` served from the bot's origin could run script with a signed-in admin's cookies
    (the route refuses them too, see `bot.security`). Dot-files are never served."""
    media = folder / "media"
    if not media.is_dir():
        return
    for path in sorted(media.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        hidden = any(part.startswith(".") for part in path.relative_to(media).parts)
        if path.is_file() and not hidden and media_type(path.name) is None:
            problems.error(path, 1, _not_media(relative))


def load_course(folder: Path) -> tuple[Course | None, list[Problem]]:
    """Parse and validate one course folder; the course is None when it has errors."""
    problems = _Problems()
    course_id = folder.name
    if not ID_PATTERN.match(course_id):
        problems.error(
            folder / "course.yaml",
            1,
            f"course folder name '{course_id}' must be lower-case letters, digits, -, _",
        )
    parsed = _course_settings(folder, problems)
    sessions: list[Session] = []
    seen: dict[str, Path] = {}
    key_lines: dict[str, dict[str, int]] = {}
    for path in sorted(folder.glob("*.md")):
        if not SESSION_FILE.match(path.name):
            problems.warn(path, 1, "ignored: session file names start with a number (01-...)")
            continue
        session = _session(path, folder, problems, key_lines)
        if session is None:
            continue
        if session.id in seen:
            problems.error(
                path, 1, f"duplicate session id '{session.id}' (also in {seen[session.id].name})"
            )
            continue
        seen[session.id] = path
        sessions.append(session)
    _check_quizzes(sessions, seen, key_lines, problems)
    _check_media_folder(folder, problems)
    if parsed is None or any(not p.warning for p in problems):
        return None, sorted(problems)
    settings, data = parsed
    # settings the flows do not model (certificate, reminders…) stay available as written;
    # `quiz` too, beside its parsed form in `Course.quiz`
    extra = MappingProxyType({k: v for k, v in data.items() if k not in settings or k == "quiz"})
    course = Course(id=course_id, sessions=tuple(sessions), settings=extra, **settings)
    _check_channels(course, folder, seen, key_lines, problems)
    return (None if any(not p.warning for p in problems) else course), sorted(problems)


def _check_quizzes(
    sessions: list[Session],
    paths: dict[str, Path],
    lines: dict[str, dict[str, int]],
    problems: _Problems,
) -> None:
    """Course-wide quiz rules: question ids unique across sessions (progress and reviews
    refer to them), one final exam and it comes last, `draw` within the pool."""
    owner: dict[str, str] = {}
    for session in sessions:
        where = lines.get(session.id, {})
        for question in session.quiz:
            if question.id in owner and owner[question.id] != session.id:
                problems.error(
                    paths[session.id],
                    where.get("quiz", 1),
                    f"quiz question id '{question.id}' is also used in "
                    f"{paths[owner[question.id]].name}: give one of them another 'id'",
                )
            owner.setdefault(question.id, session.id)
    finals = [s for s in sessions if s.final]
    for extra in finals[1:]:
        problems.error(
            paths[extra.id],
            lines.get(extra.id, {}).get("final", 1),
            f"a course has one final exam (also {paths[finals[0].id].name})",
        )
    if finals and finals[0] is not sessions[-1]:
        problems.warn(
            paths[finals[0].id],
            lines.get(finals[0].id, {}).get("final", 1),
            "the final exam is not the last session",
        )
    course = Course(id="_", title="_", sessions=tuple(sessions))
    for session in sessions:
        where = lines.get(session.id, {})
        pool = len(questions_for(course, session))
        if session.final and not pool:
            problems.error(
                paths[session.id],
                where.get("final", 1),
                "the final exam has no questions to draw from: no session has a quiz",
            )
        if session.draw is not None and not pool:
            problems.error(paths[session.id], where.get("draw", 1), "'draw' needs quiz questions")
        elif session.draw is not None and session.draw > pool:
            problems.warn(
                paths[session.id],
                where.get("draw", 1),
                f"draw: {session.draw} but only {pool} questions exist: all are asked",
            )


def _check_channels(
    course: Course,
    folder: Path,
    paths: dict[str, Path],
    lines: dict[str, dict[str, int]],
    problems: _Problems,
) -> None:
    """Channel lint (`bot.lint`) of every session and quiz question as a learner gets them:
    a session's findings on its first line, a question's on its own."""

    def size_of(name: str) -> int | None:
        target = folder / name
        return target.stat().st_size if target.is_file() else None

    for number, session in enumerate(course.sessions, start=1):
        where = lines.get(session.id, {})
        replies = [(session_reply(course, number), 1)] + [
            (reply, where.get(QUESTION_LINE + question.id, 1))
            for reply, question in zip(quiz_replies(course, number), session.quiz, strict=True)
        ]
        for reply, line in replies:
            for finding in lint(reply, size_of):
                add = problems.error if finding.error else problems.warn
                add(paths[session.id], line, finding.message)


def course_folders(root: Path) -> list[Path]:
    """The course folders under `root` (or `root` itself when it is one course)."""
    if (root / "course.yaml").is_file():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "course.yaml").is_file())


def check_enrollment(courses: list[Course], root: Path) -> list[Problem]:
    """Errors for enrollment phrases that two courses share (the second would never win)."""
    problems = _Problems()
    owner: dict[str, str] = {}
    for course in courses:
        for phrase in course.enroll:
            key = normalize(phrase)
            if key in owner and owner[key] != course.id:
                problems.error(
                    root / course.id / "course.yaml",
                    1,
                    f"enrollment phrase '{phrase}' is also used by '{owner[key]}'",
                )
            owner.setdefault(key, course.id)
    return problems


@dataclass
class CheckResult:
    """The outcome of validating a content folder."""

    courses: list[Course] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]


def check(root: Path) -> CheckResult:
    """Validate every course under `root`, reporting all problems at once."""
    result = CheckResult()
    if not root.is_dir():
        result.problems.append(Problem(str(root), 1, "no such content folder"))
        return result
    folders = course_folders(root)
    if not folders:
        result.problems.append(Problem(str(root), 1, "no course folders (each needs course.yaml)"))
    for folder in folders:
        course, problems = load_course(folder)
        result.problems.extend(problems)
        if course:
            result.courses.append(course)
    result.problems.extend(check_enrollment(result.courses, root))
    return result


# --- the running bot's view of the content -------------------------------------------


def _fingerprint(root: Path) -> tuple:
    try:
        return tuple(
            sorted(
                (str(p), p.stat().st_mtime_ns, p.stat().st_size)
                for p in root.rglob("*")
                if p.is_file()
            )
        )
    except OSError:
        return ()


class Library:
    """The courses the bot serves, reloaded when files change.

    A course whose new version has errors keeps serving its last good version; the
    problems are logged and kept for the admin pages and `/healthz`.
    """

    def __init__(
        self, root: Path, check_every: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.root = root
        self.check_every = check_every
        self._clock = clock
        self._lock = threading.Lock()
        self._good: dict[str, Course] = {}
        self._fingerprint: tuple = ()
        self._checked_at = float("-inf")
        self.problems: list[Problem] = []
        self.loaded_at: datetime | None = None
        self.catalog = Catalog()
        self.reload()

    def reload(self) -> None:
        """Load the folder now, keeping last good courses where the new ones fail."""
        fingerprint = _fingerprint(self.root)
        result = check(self.root)
        fresh = {c.id: c for c in result.courses}
        failed = {Path(p.path).parent.name for p in result.errors} - set(fresh)
        keep = {cid: c for cid, c in self._good.items() if cid in failed}
        for cid in keep:
            log.error("content: course %s has errors; still serving its last good version", cid)
        for problem in result.errors:
            log.error("content: %s", problem)
        self._good = {**fresh, **keep}
        self.problems = result.problems
        self.catalog = Catalog(tuple(self._good[k] for k in sorted(self._good)))
        self._fingerprint = fingerprint
        self.loaded_at = datetime.now(UTC)
        log.info("content: %d course(s) loaded from %s", len(self._good), self.root)

    def folder_of(self, course_id: str) -> Path | None:
        """The folder a served course was loaded from."""
        if self.catalog.get(course_id) is None:
            return None
        return next((f for f in course_folders(self.root) if f.name == course_id), None)

    def combines_replies(self, course_id: str | None) -> bool:
        """The course's `whatsapp.combine_replies` (off unless the author turns it on)."""
        course = self.current().get(course_id) if course_id else None
        whatsapp = course.settings.get("whatsapp") if course else None
        return isinstance(whatsapp, dict) and whatsapp.get("combine_replies") is True

    def current(self) -> Catalog:
        """The catalog, after reloading if files changed (checked at most every few seconds)."""
        now = self._clock()
        if now - self._checked_at >= self.check_every:
            with self._lock:
                if now - self._checked_at >= self.check_every:
                    self._checked_at = now
                    if _fingerprint(self.root) != self._fingerprint:
                        self.reload()
        return self.catalog
