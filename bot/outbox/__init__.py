"""Delivering queued replies: in order per learner, never twice, never skipped.

Replies are written to the learner's `outbox` in the same update as the state that caused
them. A delivery round (`flush`) claims the learner's lease under a fresh **fencing token**:
the lease is renewed before every provider call, and every write the round makes (entry
sent, part sent, postponed, parked, release) is guarded by the token, so a deliverer whose
lease passed to another (it stalled past the lease) can neither send nor record again.

A failure stops the learner's queue until the head entry's next attempt: transient failures
are retried with capped backoff for the channel's **time budget** (`budgets`); when the head
finally fails the queue is **parked**, not skipped (the rest of a conversation makes no sense
without it), for an admin to retry or drop (`bot/admin`). A message the provider may have
accepted without answering (`Unconfirmed`) is never re-sent blindly: it is settled by a
status callback or a lookup first. See docs/hardening.md, "Delivery faults".
"""

from bot.outbox.delivery import Outbox
from bot.outbox.fencing import (
    DeliveryError,
    Lease,
    LeaseLost,
    Parts,
    Sender,
    Unconfirmed,
    channel_of,
    reply_from_doc,
    reply_to_doc,
)
from bot.outbox.policy import DEFAULT_BUDGET, MAX_DELAY, SETTLE_AFTER
from bot.privacy import mask

__all__ = [
    "DEFAULT_BUDGET",
    "MAX_DELAY",
    "SETTLE_AFTER",
    "DeliveryError",
    "Lease",
    "LeaseLost",
    "Outbox",
    "Parts",
    "Sender",
    "Unconfirmed",
    "channel_of",
    "mask",
    "reply_from_doc",
    "reply_to_doc",
]
