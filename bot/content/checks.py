"""Whole courses and content folders: loading one course, the course-wide quiz rules,
channel lint of every reply, enrollment phrases shared between courses, `check`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from bot.content.course_yaml import (
    _course_settings,
)
from bot.content.media import _check_media_folder
from bot.content.parsing import (
    ID_PATTERN,
    QUESTION_LINE,
    SESSION_FILE,
    Problem,
    _Problems,
)
from bot.content.sessions import _session
from bot.lint import lint
from flows.commands import normalize
from flows.course import Course, Session
from flows.machine import quiz_replies, session_reply
from flows.quiz import questions_for


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
