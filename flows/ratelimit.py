"""Per-learner flood protection: a sliding window of recent message times.

Up to `LIMIT` messages per `WINDOW` are processed. The first message beyond that gets one
"slow down" reply; the rest of the burst is dropped without touching the learner's state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from flows.events import Outcome, Reply
from flows.messages import say
from flows.state import Learner

LIMIT = 30
WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class Admission:
    """`process` (with the window updated), `warn` (outcome to save) or `drop`."""

    verdict: str
    learner: Learner
    outcome: Outcome | None = None


def admit(
    learner: Learner, now: datetime, limit: int = LIMIT, window: timedelta = WINDOW
) -> Admission:
    """Decide what to do with a message arriving at `now`."""
    kept = tuple(t for t in learner.recent if timedelta(0) <= now - t < window)
    if len(kept) < limit:
        return Admission("process", replace(learner, recent=(*kept, now)))
    if learner.slowed_at is None or now - learner.slowed_at >= window:
        slowed = replace(learner, recent=kept, slowed_at=now)
        return Admission("warn", slowed, Outcome(slowed, (Reply(say("slow_down")),)))
    return Admission("drop", learner)
