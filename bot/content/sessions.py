"""Session files: front matter, body, media and links, and the quiz questions in them."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.content.course_yaml import (
    _duration,
)
from bot.content.media import _missing_media
from bot.content.parsing import (
    ID_PATTERN,
    MAX_OPTIONS,
    QUESTION_ID,
    QUESTION_KEYS,
    QUESTION_LINE,
    QUESTION_TYPES,
    SESSION_FILE,
    SESSION_KEYS,
    _line,
    _Map,
    _parse_yaml,
    _Problems,
    _text,
    _unknown_keys,
)
from bot.render import images, links
from flows.course import Media, Question, Session


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
