"""Background work in bounded lanes: one per channel's deliveries, one for the assistant.

One shared pool let a hanging provider take every worker: with Twilio hanging, a healthy
Slack's replies waited 31 s behind WhatsApp deliveries (issue 15). Each lane has its own
threads and a bounded queue, so a stalled channel can only fill its own lane. A task its
lane has no room for is refused, logged and counted (`trainbot_background_rejected_total`),
never queued without bound: a refused delivery is picked up by the clock's retry job (its
replies are due in the outbox), a refused question or grading is the assistant's overload.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from bot.channels.registry import CHANNELS
from bot.observability import BACKGROUND_REJECTED

log = logging.getLogger(__name__)

Task = Callable[[], object]

# Threads per lane. Deliveries wait on provider calls (bounded by the clients' timeouts);
# the assistant waits on the model (OPENAI_TIMEOUT); `default` runs short store work
# (reminder scheduling, certificates).
# (`bot.channels.registry`: each channel's `threads`)
LANES: Mapping[str, int] = {
    **{channel.name: channel.threads for channel in CHANNELS},
    "assistant": 4,
    "default": 2,
}
QUEUED = 1000  # tasks waiting per lane beyond its running ones


class Lane:
    """A thread pool whose queue holds at most `queued` waiting tasks."""

    def __init__(self, name: str, threads: int, queued: int = QUEUED) -> None:
        self.name = name
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"lane-{name}")
        self._room = threading.BoundedSemaphore(threads + queued)

    def __call__(self, task: Task) -> None:
        """Run `task` on this lane, or refuse it (logged, counted) when the lane is full."""
        if not self._room.acquire(blocking=False):
            BACKGROUND_REJECTED.labels(self.name).inc()
            log.error("lanes: %s lane full; task refused", self.name)
            return
        try:
            self._pool.submit(self._run, task)
        except RuntimeError:  # shutting down
            self._room.release()

    def _run(self, task: Task) -> None:
        try:
            task()
        finally:
            self._room.release()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class Lanes:
    """The web app's background runner: `lanes.lane(name)(task)`, or `lanes(task)` for the
    default lane (the `Background` signature, for callers that name no lane)."""

    def __init__(self, threads: Mapping[str, int] = LANES, queued: int = QUEUED) -> None:
        self._lanes = {name: Lane(name, count, queued) for name, count in threads.items()}
        self._default = self._lanes.setdefault("default", Lane("default", 2, queued))

    def lane(self, name: str) -> Lane:
        """The lane called `name` (the default lane for a name without one)."""
        return self._lanes.get(name, self._default)

    def __call__(self, task: Task) -> None:
        self._default(task)

    def shutdown(self) -> None:
        for lane in self._lanes.values():
            lane.shutdown()
