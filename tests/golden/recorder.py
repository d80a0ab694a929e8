"""Golden recorder for `flows.machine`: what the state machine did, kept to prove a
refactoring changed nothing.

Two recordings, both made on the code before `flows/machine.py` was split into a package:

- `fuzz.jsonl.gz`: a few thousand seeded conversations' steps over several catalogs (the
  sample content, small in-memory courses with every kind of question, a final exam with a
  draw and a time limit, free navigation, an empty course) with random commands, buttons
  from the previous replies, answers, free text, grader verdicts, time jumps and content
  edits mid-course; plus the public reply builders for every session. Each line is one
  step: a digest of the learner's state, the replies and the effects (`outcome_record`).
- `scenarios.jsonl.gz`: every call to `step` that the machine and quiz tests make, as
  (test, call number, input digest, outcome digest), captured by `scenario_plugin`.

`python -m tests.golden.recorder` rewrites both (only do that when a behaviour change is
intended); `tests/test_machine_golden.py` replays and compares them exactly.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import fields, is_dataclass, replace
from datetime import date, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from flows import machine
from flows.course import Catalog, Course, Question, QuizPolicy, Session
from flows.events import Grade, Graded, Inbound, Outcome
from flows.quiz import find_question
from flows.state import Learner

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FUZZ = HERE / "fuzz.jsonl.gz"
SCENARIOS = HERE / "scenarios.jsonl.gz"
T0 = datetime.fromisoformat("2026-01-05T09:00:00+00:00")
SEED = 19
CONVERSATIONS = 240
SCENARIO_TESTS = (
    "tests/test_machine.py",
    "tests/test_quiz.py",
    "tests/test_grading.py",
    "tests/test_languages.py",
    "tests/test_reminders.py",
)


def canon(value: Any) -> Any:
    """A JSON-able, order-stable form of any flows value (dataclasses by field)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return canon(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if is_dataclass(value) and not isinstance(value, type):
        body = {f.name: canon(getattr(value, f.name)) for f in fields(value)}
        return {"@": type(value).__name__, **body}
    if isinstance(value, Mapping):
        return {str(k): canon(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, set | frozenset):
        return sorted((canon(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, list | tuple):
        return [canon(v) for v in value]
    raise TypeError(f"no canonical form for {type(value).__name__}")


def digest(value: Any) -> str:
    """A short stable fingerprint of a value's canonical form."""
    text = json.dumps(canon(value), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def outcome_record(outcome: Outcome) -> dict[str, Any]:
    """One step's result as one digest of the learner, the replies and the effects, with
    the start of each reply and the kind of each effect to read a difference by."""
    return {
        "out": digest(outcome),
        "said": [reply.text[:40] for reply in outcome.replies],
        "did": [type(effect).__name__ for effect in outcome.effects],
    }


# --- catalogs ---------------------------------------------------------------------------


def _sample() -> Catalog:
    from bot.content import check  # the loader; only the sample content needs it

    result = check(ROOT / "content")
    assert not result.errors, result.errors
    return Catalog(tuple(result.courses))


def _plain(n: int, course_id: str, navigation: str = "sequential") -> Course:
    sessions = tuple(
        Session(f"s{i}", f"Topic {i}", f"Body of topic {i}. Word{i} appears here.")
        for i in range(1, n + 1)
    )
    return Course(
        id=course_id,
        title=f"{course_id.title()} Course",
        sessions=sessions,
        description="A demo.",
        enroll=(f"start {course_id} training",),
        navigation=navigation,
    )


def _questions(prefix: str) -> tuple[Question, ...]:
    return (
        Question(
            f"{prefix}-single", "Which discount?", "single", ("5%", "10%", "15%"), (2,), "Gold."
        ),
        Question(f"{prefix}-multi", "Pick the true ones", "multi", ("A", "B", "C", "D"), (1, 3)),
        Question(f"{prefix}-tf", "Orders ship in two days.", "true_false", (), True, "They do."),
        Question(
            f"{prefix}-text",
            "How would you open a call?",
            "text",
            rubric="Mentions the retailer's business; asks a question; under 60 words.",
            explain="Ask about them first.",
        ),
    )


def _exam(course_id: str, navigation: str, shuffle: bool, attempts: int) -> Course:
    sessions = (
        Session("intro", "Intro", "Welcome text."),
        Session("pricing", "Pricing", "Gold gets 10%.", quiz=_questions("p")),
        Session("ship", "Shipping", "Two days.", quiz=_questions("s")[1:3], time_limit=90),
        Session("calls", "Calls", "Open with questions.", quiz=_questions("c")[3:]),
        Session("final", "Final exam", "All of it.", quiz=_questions("f")[:2], final=True, draw=3),
    )
    return Course(
        id=course_id,
        title=f"{course_id.title()} Course",
        sessions=sessions,
        description="Quizzes of every kind.",
        enroll=(f"start {course_id} training",),
        navigation=navigation,
        quiz=QuizPolicy(pass_mark=75, max_attempts=attempts, shuffle=shuffle, time_limit=300),
    )


def _edited(catalog: Catalog) -> tuple[Catalog, ...]:
    """The same catalog after an author's edits, three ways: the first course loses its
    second session and its sessions' first quiz questions, sessions are reordered and
    options reworded (progress is kept by id); the first course is removed; every course
    loses all its sessions."""

    def edit(course: Course) -> Course:
        kept = [s for n, s in enumerate(course.sessions, 1) if n != 2 or len(course.sessions) < 3]
        kept = [replace(s, quiz=s.quiz[1:]) if len(s.quiz) > 1 else s for s in kept]
        kept = [replace(s, quiz=tuple(_reworded(q) for q in s.quiz)) for s in kept]
        if len(kept) > 2:
            kept[1], kept[2] = kept[2], kept[1]
        return replace(course, sessions=tuple(kept))

    first, *others = catalog.courses
    return (
        Catalog((edit(first), *others)),
        Catalog(tuple(others)),
        Catalog(tuple(replace(c, sessions=()) for c in catalog.courses)),
    )


def _reworded(question: Question) -> Question:
    """A question whose last option an author reworded (shown again mid-quiz)."""
    if question.kind not in ("single", "multi") or not question.options:
        return question
    return replace(question, options=(*question.options[:-1], f"{question.options[-1]} (new)"))


def catalogs() -> list[tuple[Catalog, tuple[Catalog, ...]]]:
    """(catalog, the same after edits) pairs the fuzzer converses over."""
    empty = replace(_plain(0, "empty"), enroll=("start empty training",))
    families = [
        _sample(),
        Catalog((_plain(4, "demo"), _plain(2, "other"), empty)),
        Catalog((_exam("exam", "sequential", False, 2), _plain(3, "demo", "free"))),
        Catalog((_exam("loose", "free", True, 3),)),
    ]
    return [(c, _edited(c)) for c in families]


# --- the fuzzer -------------------------------------------------------------------------

WORDS = (
    "next",
    "continue",
    "previous",
    "back",
    "menu",
    "complete",
    "done",
    "section 2",
    "go 3",
    "section 9",
    "section x",
    "jump to 1",
    "progress",
    "courses",
    "help",
    "restart",
    "start over",
    "yes",
    "no",
    "exit",
    "pause",
    "resume",
    "STOP",
    "START",
    "quiz",
    "retake",
    "try again",
    "review",
    "skip",
    "quit",
    "leave quiz",
    "certificate",
    "timezone",
    "timezone Europe/Berlin",
    "time zone Mars/Olympus",
    "enroll:nope",
    "Next!",
    "  MENU 🙂 ",
)
ANSWERS = ("1", "2", "3", "4", "b", "c", "1,3", "1 and 3", "true", "false", "yes", "no", "0", "7")
TEXTS = (
    "",
    "why is it 10%?",
    "how do I price a kit",
    "I'd ask about their shop and what sells; what do you stock?",
    "hello there",
    "quiz:nope:1",
    "I am a new partnr",
    "x" * 300,
)


def _right_answer(learner: Learner, catalog: Catalog) -> str | None:
    """The right answer to the learner's current quiz question, so that quizzes get passed."""
    course = catalog.get(learner.active_course)
    attempt = learner.progress_in(course.id).active_quiz if course else None
    asked = attempt.current if attempt else None
    found = find_question(course, asked.question_id) if course and asked else None
    if found is None or asked is None:
        return None
    question = found[1]
    if question.kind == "text":
        return "I'd ask about their business and what sells there: what do you stock?"
    if question.kind == "true_false":
        return "true" if question.answer else "false"
    wanted = question.answer if isinstance(question.answer, tuple) else ()
    texts = [question.options[n - 1] for n in wanted if 0 < n <= len(question.options)]
    shown = [asked.options.index(t) + 1 for t in texts if t in asked.options]
    return ",".join(str(n) for n in sorted(shown)) or None


def _message(
    rng: random.Random, learner: Learner, catalog: Catalog, last: Outcome | None, skill: float
) -> tuple[str, str | None]:
    """(text, payload) of the next learner message (the right answer with odds `skill`)."""
    if rng.random() < skill and (right := _right_answer(learner, catalog)) is not None:
        return right, None
    buttons = [b for r in (last.replies if last else ()) for b in r.buttons]
    roll = rng.random()
    if buttons and roll < 0.35:
        return "", rng.choice(buttons).payload
    if roll < 0.6:
        return rng.choice(WORDS), None
    if roll < 0.75:
        return rng.choice(ANSWERS), None
    if roll < 0.85 and catalog.courses:
        course = rng.choice(catalog.courses)
        if course.enroll and rng.random() < 0.7:
            return rng.choice(course.enroll), None
        return "", f"enroll:{course.id}"
    return rng.choice(TEXTS), None


def _verdict(rng: random.Random, grade: Grade) -> Graded:
    """A grader's verdict for a `Grade` effect: sometimes for another attempt or question."""
    mode = rng.choice(("model", "model", "keywords"))
    attempt = grade.attempt + (1 if rng.random() < 0.15 else 0)
    return Graded(grade.session_id, attempt, grade.question_id, rng.random(), "Fair.", mode)


def conversation(index: int, pair: tuple[Catalog, tuple[Catalog, ...]]) -> Iterator[dict[str, Any]]:
    """One seeded conversation's steps as records."""
    rng = random.Random(f"{SEED}:{index}")
    channel = rng.choice(("whatsapp", "slack", "web", "console"))
    key = f"{channel}:fuzz{index}"
    learner = Learner(key)
    now = T0
    last: Outcome | None = None
    pending: Grade | None = None
    catalog, edits = pair
    edited = rng.choice(edits)
    model = rng.random() < 0.5
    steps, skill = rng.choice(((20, 0.2), (30, 0.4), (80, 0.6)))
    edit_at = rng.randrange(steps) if rng.random() < 0.5 else -1
    for number in range(steps):
        now += timedelta(seconds=rng.choice((5, 40, 300, 1800, 7200, 86400 * 3, 86400 * 9)))
        if number == edit_at:
            catalog = edited
        if pending is not None and rng.random() < 0.6:
            event = Inbound(key, channel, grade=_verdict(rng, pending))
            pending = None
        else:
            text, payload = _message(rng, learner, catalog, last, skill)
            event = Inbound(
                key,
                channel,
                text=text,
                payload=payload,
                name=rng.choice(("Ada", "", "Bo")),
                message_id=f"m{index}-{number}",
                media_count=rng.choice((0, 0, 0, 1)) if not text and payload is None else 0,
                model_grading=model,
            )
        last = machine.step(learner, catalog, event, now)
        learner = last.learner
        grades = [e for e in last.effects if isinstance(e, Grade)]
        pending = grades[-1] if grades else pending
        shown = {"text": event.text, "payload": event.payload, "grade": canon(event.grade)}
        yield {"c": index, "n": number, "in": shown, **outcome_record(last)}


def builders(pair: tuple[Catalog, tuple[Catalog, ...]]) -> Iterator[dict[str, Any]]:
    """The public reply builders (`session_reply`, `quiz_replies`) for every session."""
    for course in pair[0].courses:
        for number in range(1, len(course.sessions) + 1):
            yield {
                "course": course.id,
                "session": number,
                "session_reply": digest(machine.session_reply(course, number)),
                "quiz_replies": digest(machine.quiz_replies(course, number)),
            }


def fuzz_records() -> Iterator[dict[str, Any]]:
    """Every fuzz record, in a fixed order."""
    pairs = catalogs()
    for pair in pairs:
        yield from builders(pair)
    for index in range(CONVERSATIONS):
        yield from conversation(index, pairs[index % len(pairs)])


# --- files ------------------------------------------------------------------------------


def write(path: Path, records: Iterator[dict[str, Any]]) -> int:
    """Write records as gzipped JSON lines (no timestamp in the header: stable bytes)."""
    lines = [json.dumps(r, sort_keys=True, ensure_ascii=False) for r in records]
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data, mtime=0))
    return len(lines)


def read(path: Path) -> list[dict[str, Any]]:
    """The records of a gzipped JSON lines file."""
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]


def record_scenarios(out: Path) -> int:
    """Run the machine and quiz tests with `step` wrapped, writing every call to `out`."""
    env = {**os.environ, "GOLDEN_SCENARIOS": str(out), "PYTHONHASHSEED": "0"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "tests.golden.scenario_plugin"]
    command += ["-p", "no:cacheprovider", "-p", "no:randomly", *SCENARIO_TESTS]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-3000:] + done.stderr[-3000:])
    return len(read(out))


if __name__ == "__main__":
    print("fuzz records:", write(FUZZ, fuzz_records()))
    print("scenario calls:", record_scenarios(SCENARIOS))
