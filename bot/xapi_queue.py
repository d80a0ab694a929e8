"""The durable queue of xAPI statements and the clock job that sends them (issue 20).

`record(key)` derives the learner's statements (`bot/xapi.py`) and queues those never
queued, keyed by their UUIDv5 id: recording twice, from two processes, or after a crash
sends nothing twice (at worst a statement again, which the LRS keeps once). It runs as a
committed effect of every turn (`Conversations`), so a process that dies before recording
leaves the effect to be performed again.

`send_due()` (the clock's `xapi` job) posts the oldest waiting statements in batches to
`XAPI_ENDPOINT/statements`. A statement leaves the queue (is deleted) only when the LRS
has it: 200 or 204, or 409 (a statement with that id is already stored: a resend after a
lost answer). While the LRS is down or refuses our credentials nothing leaves the queue
and the sender waits, backing off up to ten minutes; a statement the LRS rejects as
invalid (400, 422) is set aside as `rejected` with the LRS's reason, counted, and shown
on the admin overview.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import urllib3

from bot.content import Library
from bot.observability import XAPI_BACKLOG, XAPI_FAILURES, XAPI_SENT
from bot.privacy import mask
from bot.store import Store
from bot.xapi import VERSION, Statements, opaque_id
from flows.state import from_doc

log = logging.getLogger(__name__)

BATCH = 50  # statements per POST
TIMEOUT = 10.0  # seconds per request to the LRS
BACKOFF_FIRST, BACKOFF_MAX = 10.0, 600.0  # seconds between tries while the LRS is down
PENDING, REJECTED = "pending", "rejected"
INVALID = (400, 422)  # the LRS says a statement is malformed (ralph answers 422)


class XapiQueue:
    """The `xapi_statements` collection (one document per waiting statement, `_id` its
    id), `xapi_recorded` (per learner, the ids ever queued) and `xapi_state` (the actor-id
    salt, the sender's backoff and last error)."""

    def __init__(
        self,
        store: Store,
        library: Library,
        endpoint: str,
        key: str,
        secret: str,
        base_url: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.library = library
        self.url = endpoint.rstrip("/") + "/statements"
        self.base_url = base_url
        self.clock = clock
        self.statements = store.xapi_statements  # waiting (and rejected) statements
        self.recorded = store.xapi_recorded  # per learner: the ids ever queued
        self.state = store.xapi_state
        self.headers = {
            "Content-Type": "application/json",
            "X-Experience-API-Version": VERSION,
            **(urllib3.make_headers(basic_auth=f"{key}:{secret}") if key or secret else {}),
        }
        self.http = urllib3.PoolManager(
            timeout=urllib3.Timeout(total=TIMEOUT), retries=False, num_pools=1
        )
        self._salt: str | None = None

    def ensure_indexes(self) -> None:
        """The sender reads the oldest pending statements."""
        self.statements.ensure_indexes()

    def learner_id(self, key: str) -> str:
        """The opaque id a learner has in every statement (salted per install)."""
        if self._salt is None:
            self._salt = self.state.salt()
        return opaque_id(self._salt, key)

    # --- recording ----------------------------------------------------------------------

    def record(self, key: str) -> int:
        """Queue the learner's statements not queued before; how many were new.

        What was queued is remembered per learner (one document read by id), so recording
        costs the same however long the queue's history, and sent statements can leave
        the queue. Dying between the two writes below only makes the next recording queue
        some statements again: the LRS keeps one statement per id."""
        learner = from_doc(key, self.store.load(key))
        certificates = self.store.certificates.of_learner(key)
        learner_id = self.learner_id(key)
        now = self.clock()
        found = Statements(self.base_url, learner_id).all(
            learner, self.library.current(), certificates, now
        )
        known = self.recorded.known(learner_id)
        new = [s for s in found if s["id"] not in known]
        if not new:
            return 0
        docs = [{"_id": s["id"], "statement": s, "status": PENDING, "created_at": now} for s in new]
        if not self.statements.add(docs):  # another recorder queued some: they stand
            log.info("xapi: statements of %s were queued concurrently", mask(key))
        self.recorded.remember(learner_id, [s["id"] for s in new])
        return len(new)

    # --- sending ------------------------------------------------------------------------

    def send_due(self) -> int:
        """The clock's job: send what waits, batch by batch, until the queue is empty or
        the LRS fails (then back off). How many statements the LRS now has."""
        sent = 0
        while self._sender().get("next_at", self.clock()) <= self.clock():
            batch = self.statements.oldest(PENDING, BATCH)
            if not batch:
                break
            done = self._deliver(batch)
            if done is None:
                break
            sent += done
        return sent

    def _deliver(self, batch: list[dict[str, Any]]) -> int | None:
        """Post one batch; the count the LRS took, or None when it could not be reached
        (the batch waits). A batch the LRS refuses as a whole (an id it holds with other
        content: 409; one invalid statement: 400 or 422) is sent again one statement at a time,
        so one bad statement never holds the others."""
        ids = [d["_id"] for d in batch]
        try:
            response = self.http.request(
                "POST",
                self.url,
                body=json.dumps([d["statement"] for d in batch]).encode(),
                headers=self.headers,
            )
        except urllib3.exceptions.HTTPError as exc:
            self._failed(f"{type(exc).__name__}: {exc}")
            return None
        status = response.status
        if status in (200, 204) or (status == 409 and len(batch) == 1):
            self.statements.remove(ids)
            XAPI_SENT.inc(len(ids))
            self.state.set_sender({"failures": 0})
            return len(ids)
        reason = f"HTTP {status}: {response.data[:300].decode('utf-8', 'replace')}"
        if (status == 409 or status in INVALID) and len(batch) > 1:
            taken = 0
            for doc in batch:
                one = self._deliver([doc])
                if one is None:
                    return None
                taken += one
            return taken
        if status in INVALID:
            self.statements.set_status(ids[0], REJECTED, reason)
            XAPI_FAILURES.labels("rejected").inc()
            self._note_error(reason)
            log.error("xapi: the LRS rejected statement %s: %s", ids[0], reason)
            return 0
        self._failed(reason)
        return None

    def _failed(self, reason: str) -> None:
        """The LRS is unreachable or refuses us: everything waits, and the next try is
        later each time (10 s, 20 s, … 10 min)."""
        failures = int(self._sender().get("failures", 0)) + 1
        wait = min(BACKOFF_FIRST * 2 ** (failures - 1), BACKOFF_MAX)
        self.state.set_sender(
            {"failures": failures, "next_at": self.clock() + timedelta(seconds=wait)}
        )
        self._note_error(reason)
        XAPI_FAILURES.labels("unreachable").inc()
        log.warning("xapi: LRS not reached (%s); retry in %.0f s", reason, wait)

    def _note_error(self, reason: str) -> None:
        self.state.set_sender({"last_error": reason, "last_error_at": self.clock()})

    def _sender(self) -> dict[str, Any]:
        found = self.state.sender()
        if "next_at" in found and found["next_at"].tzinfo is None:  # BSON: naive UTC
            found["next_at"] = found["next_at"].replace(tzinfo=UTC)
        return found

    # --- what operators see -------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Backlog and the last error, for the admin overview and `/metrics`."""
        sender = self._sender()
        return {
            "waiting": self.statements.count({"status": PENDING}),
            "rejected": self.statements.count({"status": REJECTED}),
            "failures": int(sender.get("failures", 0)),
            "last_error": sender.get("last_error"),
            "last_error_at": sender.get("last_error_at"),
        }

    def sample(self) -> None:
        """Set the backlog gauges (at each scrape of `/metrics`)."""
        found = self.status()
        XAPI_BACKLOG.labels(PENDING).set(found["waiting"])
        XAPI_BACKLOG.labels(REJECTED).set(found["rejected"])
