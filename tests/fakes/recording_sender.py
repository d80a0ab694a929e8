"""A channel sender that records what it would send (for admin actions such as nudges)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.events import Reply


class RecordingSender:
    """Implements the outbox `Sender` protocol by keeping every reply in `sent`."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []
        self.failures: list[Exception] = []  # raised, in order, by the next sends

    def send(self, learner: Mapping[str, Any], reply: Reply) -> str | None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((str(learner.get("_id")), reply))
        return f"fake-{len(self.sent)}"
