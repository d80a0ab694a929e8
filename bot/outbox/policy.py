"""What happens to a reply after its attempt: the retry policy (capped exponential backoff
with jitter within the channel's time budget), parking the queue when the head reply finally
fails, giving up on a proactive notice, and the delivery records of every outcome. The
`Outbox` (`bot.outbox.delivery`) inherits it; see docs/architecture.md, "Delivery: fenced,
budgeted, parked".
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.observability import DELIVERY_FAILURES, MESSAGES_OUT, OUTBOX_PARKED
from bot.outbox.fencing import DeliveryError, Lease, channel_of
from bot.privacy import mask
from bot.store import Store
from flows.events import Reply

log = logging.getLogger(__name__)


# How long a head reply is retried before its queue is parked, for a channel with no
# `budget` of its own in the registry (`bot.channels.registry`, passed in by `bot.services`).
DEFAULT_BUDGET = timedelta(hours=1)
MAX_DELAY = timedelta(minutes=5)  # longest wait between attempts: bounds recovery time
SETTLE_AFTER = timedelta(minutes=2)  # wait for a status callback before looking a message up


class Retrying:
    """The outcome half of the `Outbox`: finishing a batch, its delivery records, and the
    retry, budget and parking decisions for a failed head reply."""

    store: Store
    clock: Callable[[], datetime]
    base_delay: timedelta
    budgets: dict[str, timedelta]

    def _finish(
        self,
        lease: Lease,
        batch: list[dict[str, Any]],
        status: str,
        provider_ids: list[str],
        done: list[int],
        error: str = "",
    ) -> None:
        """Flag the batch's entries done (one fenced write), then log each one's delivery;
        they leave the outbox on release."""
        key, seqs = lease.key, [e["seq"] for e in batch]
        lease.confirm(self.store.mark_done(key, lease.claim, seqs, provider_ids, lease.until()))
        for entry in batch:
            first = provider_ids[0] if provider_ids else None
            record = self._record(key, entry, status, first, error)
            if provider_ids:
                record["provider_ids"] = provider_ids
            if len(batch) > 1:
                record["combined"] = seqs  # one provider message carried these replies
            self.store.delivered(key, entry, record, pull=False)
        done.extend(seqs)

    def _record(
        self,
        key: str,
        entry: Mapping[str, Any],
        status: str,
        provider_id: str | None = None,
        error: str = "",
    ) -> dict[str, Any]:
        return {
            "learner": key,
            "channel": channel_of(key),
            "seq": entry["seq"],
            "reply": entry["reply"],
            "status": status,
            "provider_id": provider_id,
            "attempts": entry.get("attempts", 0) + 1,
            "error": error,
            "at": self.clock(),
        }

    def budget(self, channel: str) -> timedelta:
        """How long a failing head reply of `channel` is retried before its queue parks."""
        return self.budgets.get(channel, DEFAULT_BUDGET)

    def _fail(
        self,
        lease: Lease,
        entry: Mapping[str, Any],
        reply: Reply,
        exc: DeliveryError,
        done: list[int],
    ) -> bool:
        """Retry later, or give up on the entry: True when the queue goes on without it
        (a proactive notice nothing later depends on), False when it waits."""
        key, channel, now, error = lease.key, channel_of(lease.key), self.clock(), str(exc)
        attempts = entry.get("attempts", 0) + 1
        first = entry.get("first_failed_at") or now
        DELIVERY_FAILURES.labels(channel, str(exc.retryable).lower()).inc()
        if exc.flags:  # unfenced: the provider's word on the learner holds whoever sends
            self.store.flag_learner(key, exc.flags)
        if exc.retryable and now - first < self.budget(channel):
            # (the exponent is capped: a day of retries would overflow a timedelta)
            delay = min(self.base_delay * 2 ** min(attempts - 1, 16), MAX_DELAY)
            delay *= random.uniform(0.5, 1.0)  # jitter spreads retries of many learners
            log.warning(
                "outbox: reply %s to %s failed (attempt %d), retry in %ds: %s",
                entry["seq"],
                mask(key),
                attempts,
                delay.total_seconds(),
                error,
            )
            held = self.store.postpone(
                key, entry["seq"], attempts, now + delay, error, lease.claim, first
            )
            lease.confirm(held, extended=False)
            return False
        MESSAGES_OUT.labels(channel, "failed").inc()
        if reply.proactive:
            log.error(
                "outbox: giving up on notice %s to %s after %d attempt(s): %s",
                entry["seq"],
                mask(key),
                attempts,
                error,
            )
            self._finish(lease, [{**entry, "attempts": attempts - 1}], "failed", [], done, error)
            return True
        OUTBOX_PARKED.labels(channel).inc()
        log.error(
            "outbox: reply %s to %s failed after %d attempt(s); queue parked: %s",
            entry["seq"],
            mask(key),
            attempts,
            error,
        )
        held = self.store.park(key, lease.claim, entry, attempts, error, now, exc.unreachable)
        lease.confirm(held, extended=False)
        return False
