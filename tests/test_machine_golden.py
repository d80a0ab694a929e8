"""The state machine does exactly what it did when the golden files were recorded.

`tests/golden/` holds the outcomes of a few thousand seeded fuzzed steps and of every
`step` call the machine and quiz tests make, recorded on `flows/machine.py` before it was
split into the `flows/machine/` package (issue 19). A difference here is a behaviour
change: fix the code, or, when the change is intended, re-record with
`python -m tests.golden.recorder` and say why in the commit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.golden.recorder import FUZZ, SCENARIOS, fuzz_records, read, record_scenarios


def _first_difference(kind: str, expected: list[dict[str, Any]], got: list[dict[str, Any]]):
    for number, (want, have) in enumerate(zip(expected, got, strict=False)):
        if want != have:
            return f"{kind} record {number} differs:\nrecorded {want}\nnow      {have}"
    return f"{kind}: {len(expected)} records recorded, {len(got)} now"


def test_fuzzed_conversations_are_unchanged():
    expected = read(FUZZ)
    got = list(fuzz_records())
    assert got == expected, _first_difference("fuzz", expected, got)


def test_the_machine_and_quiz_tests_see_the_same_outcomes(tmp_path: Path):
    now = tmp_path / "scenarios.jsonl.gz"
    record_scenarios(now)
    expected, got = read(SCENARIOS), read(now)
    assert got == expected, _first_difference("scenario", expected, got)
