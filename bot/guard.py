"""Per-IP limiting of webhook requests that fail signature verification.

Twilio (and Slack) post from shared address pools, so a plain per-IP request limit would
throttle genuine traffic from a busy pool. Only requests whose signature does not verify
are counted: a genuinely signed request is never limited. An address that sends more than
`limit` unverifiable requests in `window` seconds is answered 429 (instead of 403) for the
rest of the window, and logged once rather than once per request, so a forged-request
flood neither fills the logs nor gets a helpful answer. Per-process memory, bounded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

log = logging.getLogger(__name__)


class FailureLimiter:
    """Counts signature failures per client address in a sliding window."""

    def __init__(
        self,
        limit: int = 20,
        window: float = 60.0,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_addresses = max_addresses
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def failed(self, address: str) -> bool:
        """Record one failed verification from `address`; whether it is now over the limit
        (logged once, when it first goes over)."""
        now = self.clock()
        with self._lock:
            times = self._failures.pop(address, None) or deque()
            while times and now - times[0] >= self.window:
                times.popleft()
            times.append(now)
            self._failures[address] = times  # most recent last: evict from the front
            while len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)
            count = len(times)
        if count == self.limit + 1:
            log.warning(
                "webhooks: %s sent %d unverifiable requests within %ds; answering 429",
                address,
                count,
                self.window,
            )
        return count > self.limit
