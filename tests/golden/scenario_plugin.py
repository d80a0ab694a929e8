"""A pytest plugin that records every call to `flows.machine.step` made by the tests it
runs: (test, call number, input digest, outcome digest), written as gzipped JSON lines to
the file named by `GOLDEN_SCENARIOS` when the session ends.

It wraps `step` when it is loaded (`-p`), before the test modules import it."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import flows.machine
from flows.course import Catalog
from flows.events import Inbound, Outcome
from flows.state import Learner
from tests.golden.recorder import digest, write

_real_step = flows.machine.step
_calls: list[dict[str, Any]] = []
_test = {"id": "", "n": 0}
_catalogs: dict[int, tuple[Catalog, str]] = {}  # id → (kept alive, digest)


def _catalog_digest(catalog: Catalog) -> str:
    kept = _catalogs.get(id(catalog))
    if kept is None or kept[0] is not catalog:
        kept = _catalogs[id(catalog)] = (catalog, digest(catalog))
    return kept[1]


def _recording_step(learner: Learner, catalog: Catalog, event: Inbound, now: datetime) -> Outcome:
    outcome = _real_step(learner, catalog, event, now)
    inputs = digest((learner, event, now)) + _catalog_digest(catalog)
    _calls.append({"t": _test["id"], "n": _test["n"], "in": inputs, "out": digest(outcome)})
    _test["n"] += 1
    return outcome


flows.machine.step = _recording_step  # type: ignore[assignment]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _test["id"], _test["n"] = item.nodeid, 0


def pytest_sessionfinish(session: pytest.Session) -> None:
    write(Path(os.environ["GOLDEN_SCENARIOS"]), iter(_calls))
