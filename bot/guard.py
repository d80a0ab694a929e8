"""Rate limits that hold across threads, workers and processes.

Counters live in a `limits` storage (the storage layer of Flask-Limiter): MongoDB when the
bot runs on `MONGODB_URI` (every gunicorn worker, and every host, counts in the same
place), memory with the embedded store (one process owns that data anyway), or whatever
`RATELIMIT_STORAGE_URI` names (`redis://…`, `memcached://…`). `limits` is used directly
rather than through Flask-Limiter's decorators because these limits count outcomes (a
failed signature, a failed sign-in, a new anonymous learner), not requests, and a request
with a valid credential is never refused because of someone else's failures.
"""

from __future__ import annotations

import logging
import threading

from limits import parse
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from bot.config import Config
from bot.store import database_name

log = logging.getLogger(__name__)


def limits_for(config: Config) -> Limits:
    """The counters for this configuration: in `RATELIMIT_STORAGE_URI`, else on the MongoDB
    server (database `<the bot's database>_limits`, so deployments sharing a server do not
    share counters), else in this process's memory."""
    if config.ratelimit_storage_uri:
        return Limits(config.ratelimit_storage_uri)
    if config.mongodb_uri.startswith(("mongodb://", "mongodb+srv://")):
        database = database_name(config.mongodb_uri)
        return Limits(config.mongodb_uri, database_name=f"{database}_limits")
    return Limits()


class Limits:
    """Named moving-window counters on one shared storage, connected on first use (the
    clock and CLI commands build services too, and never count anything; and `limits`'
    MongoDB storage connects even when it is only garbage-collected)."""

    def __init__(self, storage: Storage | str = "memory://", **options: str) -> None:
        self._storage = storage
        self._options = options  # for `limits.storage_from_string`
        self._window: MovingWindowRateLimiter | None = None
        self._lock = threading.Lock()

    @property
    def window(self) -> MovingWindowRateLimiter:
        with self._lock:
            if self._window is None:
                spec = self._storage
                storage = (
                    storage_from_string(spec, **self._options) if isinstance(spec, str) else spec
                )
                if not isinstance(storage, Storage):
                    raise ValueError(f"{spec!r} is an async storage; use a synchronous one")
                self._window = MovingWindowRateLimiter(storage)
            return self._window

    def hit(self, rate: str, *key: str) -> bool:
        """Count one event under `key`; False when that goes over `rate` ("20/minute")."""
        return self.window.hit(parse(rate), *key)

    def allows(self, rate: str, *key: str) -> bool:
        """Whether one more event under `key` would stay within `rate` (counts nothing)."""
        return self.window.test(parse(rate), *key)

    def once(self, rate: str, *key: str) -> bool:
        """True the first time in each `rate` window: for logging a flood once, not per request."""
        return self.hit(rate, "log", *key)


class FailureLimiter:
    """Counts requests that fail verification, per client address.

    Twilio and Slack post from shared address pools, so a plain per-IP request limit would
    throttle genuine traffic; only unverifiable requests are counted and only they are
    answered 429 once an address is over `rate` (logged once per window, so a
    forged-request flood neither fills the logs nor gets a helpful answer)."""

    def __init__(
        self, limits: Limits | None = None, rate: str = "20/minute", bucket: str = "signature"
    ) -> None:
        self.limits = limits or Limits()
        self.rate = rate
        self.bucket = bucket

    def failed(self, address: str) -> bool:
        """Record one failed verification from `address`; whether it is now over the limit."""
        if self.limits.hit(self.rate, self.bucket, address):
            return False
        if self.limits.once("1/minute", self.bucket, address):
            log.warning(
                "%s: %s is over %s unverifiable requests; answering 429",
                self.bucket,
                address,
                self.rate,
            )
        return True
