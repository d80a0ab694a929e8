"""Hypothesis: arbitrary course files never make the validator raise."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.content import check

YAML_BITS = st.sampled_from(
    [
        "title: T\n",
        "title: [x\n",
        "enroll: 5\n",
        "enroll: [a, b]\n",
        "channels: web\n",
        "quiz: 3\n",
        "quiz: {pass_mark: x}\n",
        "messages: [1]\n",
        "messages: {welcome: 5}\n",
        "navigation: {a: 1}\n",
        "- list\n",
        "&a [*a]\n",
        "!!python/object:os.system x\n",
        "? complex\n",
        "title: 'ünïcode ✓'\n",
        "\t\n",
        "---\n",
        "...\n",
        "key: &x\n  <<: *x\n",
    ]
)
FRONT_BITS = st.sampled_from(
    [
        "title: A\n",
        "id: x y\n",
        "quiz: 1\n",
        "quiz: [1, {q: 2}]\n",
        "quiz:\n  - q: a\n    options: 3\n",
        "quiz:\n  - q: a\n    options: [x]\n    answer: [0, 9]\n",
        "quiz:\n  - q: a\n    type: true_false\n    answer: maybe\n",
        "quiz:\n  - {q: a, type: zz}\n",
        "quiz:\n  - q: a\n    options: [1, 2]\n    answer: true\n",
        "title: [\n",
        "- x\n",
    ]
)


@settings(max_examples=120, deadline=None)
@given(
    course=st.one_of(st.lists(YAML_BITS, max_size=6).map("".join), st.text(max_size=80)),
    front=st.lists(FRONT_BITS, max_size=4).map("".join),
    body=st.text(max_size=120),
    raw=st.binary(max_size=60),
)
def test_validator_never_raises(course, front, body, raw):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "c"
        folder.mkdir()
        (folder / "course.yaml").write_text(course, encoding="utf-8")
        (folder / "01-a.md").write_text(f"---\n{front}---\n{body}", encoding="utf-8")
        (folder / "02-b.md").write_bytes(raw)
        result = check(Path(tmp))
        for problem in result.problems:
            assert str(problem).startswith(str(folder))
