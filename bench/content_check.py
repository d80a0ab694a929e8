"""`trainbot content check` on a generated course of 200 sessions (target < 1 s)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

from bench.table import Figure
from bot.cli import main

SESSIONS = 200
COURSE = """title: Generated course
description: {sessions} sessions written by the benchmark.
enroll: ["start generated course"]
quiz: {{pass_mark: 80, max_attempts: 3}}
"""
SESSION = """---
title: "Topic {n}: what a rep needs to know"
quiz:
  - q: "Which option is right for topic {n}?"
    options: ["The first", "The second", "The third"]
    answer: 2
    explain: The second one, as the session says.
  - q: "In a sentence, how would you explain topic {n} to a customer?"
    type: text
    rubric: Names topic {n}; under 60 words.
---
## Topic {n}

{body}
"""


def write_course(folder: Path, sessions: int = SESSIONS) -> Path:
    """A course folder with `sessions` Markdown sessions, each with a two-question quiz."""
    course = folder / "generated"
    course.mkdir(parents=True)
    (course / "course.yaml").write_text(COURSE.format(sessions=sessions))
    paragraph = "A **rep** explains the product, listens, and agrees a next step. " * 12
    for n in range(1, sessions + 1):
        body = "\n\n".join([paragraph, "- one point\n- another point", paragraph])
        (course / f"{n:03d}-topic-{n}.md").write_text(SESSION.format(n=n, body=body))
    return folder


def section() -> list[Figure]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_course(Path(tmp))
        started = time.perf_counter()
        result = CliRunner().invoke(main, ["content", "check", str(folder)])
        elapsed = time.perf_counter() - started
    if result.exit_code != 0:
        raise RuntimeError(f"content check failed on the generated course:\n{result.output[:2000]}")
    return [
        Figure(
            "content check",
            f"{SESSIONS}-session course",
            f"{elapsed * 1000:.0f} ms",
            "< 1 s",
            elapsed < 1,
            result.output.strip().splitlines()[-1],
        )
    ]
