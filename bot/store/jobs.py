"""Scheduled work (reminders, certificate expiry, digests) as documents in `jobs`.

A job is claimed atomically (a guarded compare-and-set) from `pending` (and due) to
`running` with a lease and a fresh claim token, so two clock processes never run the same
job; a clock that crashes mid-job leaves it `running`, and another clock re-claims it once
the lease has passed. Rescheduling a job (a learner wrote again) resets it to `pending`
with a new due time and no claim token, so a runner still holding the old claim cannot
mark the new schedule done. Every write is guarded by the claim token.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # far longer than a job takes, and than any sane clock skew
KEPT = timedelta(days=30)  # finished jobs stay this long for audits
CLAIM_TRIES = 50  # each lost race means another clock took a job: bounded progress
_CLAIMING = threading.Lock()
"""Serialises claims within one process: the embedded store applies a guarded update in
two steps (match, then write), so two threads could both win; across processes (MongoDB
only) the guarded update itself is atomic."""


@dataclass(frozen=True)
class Job:
    """One claimed job."""

    id: str
    kind: str
    due: datetime
    claim: str
    attempts: int = 1
    data: Mapping[str, Any] = field(default_factory=dict)


Handler = Callable[[Job, datetime], str]
"""Runs one job at `now` and says what it did (printed by `trainbot clock --once`)."""


class Jobs:
    """The `jobs` collection: schedule, claim, finish, retry."""

    def __init__(self, db: Any, lease: timedelta = LEASE, max_attempts: int = 5) -> None:
        self.collection = db["jobs"]
        self.lease = lease
        self.max_attempts = max_attempts

    def ensure_indexes(self) -> None:
        """The claim query's index (status, due) and a TTL for finished jobs."""
        self.collection.create_index([("status", 1), ("due", 1)])
        self.collection.create_index(
            [("finished_at", 1)], expireAfterSeconds=int(KEPT.total_seconds())
        )

    def schedule(self, job_id: str, kind: str, due: datetime, data: Mapping[str, Any]) -> None:
        """Create or move job `job_id` (one per id: a learner has one pending reminder)."""
        self.collection.update_one(
            {"_id": job_id},
            {
                "$set": {**_pending(kind, due, data), "error": ""},
                "$unset": {"finished_at": ""},  # else the TTL index could delete it
            },
            upsert=True,
        )

    def ensure(self, job_id: str, kind: str, due: datetime, data: Mapping[str, Any]) -> None:
        """Create job `job_id` unless it exists (recurring jobs such as the digest keep
        their schedule across restarts)."""
        self.collection.update_one(
            {"_id": job_id},
            {"$setOnInsert": _pending(kind, due, data)},
            upsert=True,
        )

    def cancel(self, job_id: str) -> None:
        """Drop a job that is no longer wanted (a running one finishes unharmed)."""
        self.collection.delete_one({"_id": job_id, "status": "pending"})

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job document (for status pages and tests)."""
        return self.collection.find_one({"_id": job_id})

    def waiting_for(self, key: str) -> list[dict[str, Any]]:
        """The learner's jobs not yet done (pending or running), for the learner page."""
        return list(
            self.collection.find({"data.learner": key, "status": {"$in": ["pending", "running"]}})
        )

    def next_due(self) -> datetime | None:
        """When the earliest pending job is due (the console's `/wait` jumps there)."""
        found = list(self.collection.find({"status": "pending"}).sort("due", 1).limit(1))
        return _aware(found[0]["due"]) if found else None

    def claim(self, now: datetime, worker: str = "") -> Job | None:
        """Take the earliest due job, or one whose runner's lease has run out.

        A compare-and-set: read the candidate, then `update_one` guarded by the exact state
        that was read (status, claim token, due). Only one claimer's update can match; a
        loser (or a job rescheduled in between) just tries the next candidate. The
        embedded store is not atomic across threads (a query can match one version of a
        document and return a later one; a guarded update can match and then write after
        another thread's write), hence the re-check and the in-process lock."""
        with _CLAIMING:
            for _ in range(CLAIM_TRIES):
                candidate = self.collection.find_one(
                    {
                        "$or": [
                            {"status": "pending", "due": {"$lte": now}},
                            {"status": "running", "lease_until": {"$lt": now}},
                        ]
                    },
                    sort=[("due", 1)],
                )
                if candidate is None:
                    return None
                if not _claimable(candidate, now):
                    continue  # the embedded store matched an older version of this document
                token = uuid.uuid4().hex
                won = self.collection.update_one(
                    {
                        "_id": candidate["_id"],
                        "status": candidate["status"],
                        "claim": candidate.get("claim"),
                        "due": candidate["due"],
                    },
                    {
                        "$set": {
                            "status": "running",
                            "lease_until": now + self.lease,
                            "claim": token,
                            "worker": worker,
                        },
                        "$inc": {"attempts": 1},
                    },
                )
                if won.modified_count == 1:
                    return Job(
                        candidate["_id"],
                        candidate["kind"],
                        _aware(candidate["due"]),
                        token,
                        int(candidate.get("attempts", 0)) + 1,
                        candidate.get("data", {}),
                    )
            return None

    def finish(self, job: Job, now: datetime, result: str) -> None:
        """Mark a claimed job done (no-op when it was rescheduled meanwhile)."""
        self.collection.update_one(
            {"_id": job.id, "claim": job.claim},
            {"$set": {"status": "done", "finished_at": now, "result": result[:500]}},
        )

    def fail(self, job: Job, now: datetime, error: str) -> None:
        """Retry later with backoff, or give up after `max_attempts` (logged)."""
        if job.attempts >= self.max_attempts:
            log.error("jobs: %s failed %d times, giving up: %s", job.id, job.attempts, error)
            update = {"status": "failed", "finished_at": now, "error": error[:500]}
        else:
            delay = timedelta(minutes=2 ** (job.attempts - 1))
            log.warning("jobs: %s failed, retry in %s: %s", job.id, delay, error)
            update = {"status": "pending", "due": now + delay, "claim": None, "error": error[:500]}
        self.collection.update_one({"_id": job.id, "claim": job.claim}, {"$set": update})

    def run_due(
        self, now: datetime, handlers: Mapping[str, Handler], worker: str = "", limit: int = 500
    ) -> list[str]:
        """Claim and run due jobs until none is left (at most `limit`); one line per job."""
        lines = []
        for _ in range(limit):
            job = self.claim(now, worker)
            if job is None:
                break
            handler = handlers.get(job.kind)
            try:
                if handler is None:
                    raise LookupError(f"no handler for job kind '{job.kind}'")
                result = handler(job, now)
            except Exception as exc:
                log.exception("jobs: %s crashed", job.id)
                self.fail(job, now, f"{type(exc).__name__}: {exc}")
                lines.append(f"{job.id}: failed ({exc})")
                continue
            self.finish(job, now, result)
            log.info("jobs: %s: %s", _masked(job.id), result)
            lines.append(f"{job.id}: {result}")
        return lines


def _masked(job_id: str) -> str:
    # Job ids embed learner keys (`reminder:whatsapp:+1555…`): keep phone numbers out of logs.
    return job_id if len(job_id) < 24 else f"{job_id[:18]}…{job_id[-4:]}"


def _claimable(doc: Mapping[str, Any], now: datetime) -> bool:
    """The claim query's condition, re-checked on the document actually returned."""
    if doc.get("status") == "pending":
        return _aware(doc["due"]) <= now
    lease = doc.get("lease_until")
    return doc.get("status") == "running" and lease is not None and _aware(lease) < now


def _aware(value: datetime) -> datetime:
    # Only a client without tz_aware returns naive datetimes; they are UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _pending(kind: str, due: datetime, data: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a job waiting to run."""
    return {
        "kind": kind,
        "due": due,
        "data": dict(data),
        "status": "pending",
        "claim": None,
        "attempts": 0,
    }
