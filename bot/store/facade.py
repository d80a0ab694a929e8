"""The `Store` facade: the database, its repositories, and the names callers use.

`Store.connect` opens real MongoDB (`MONGODB_URI`) or the embedded store (mongomock-ng,
journaled to `DATA_DIR` by `bot/store/durable/`). Each collection has its repository
(`store.learners`, `store.outbox`, `store.deliveries`, …), which owns its queries, indexes
and document mapping; the store's own methods (`store.commit`, `store.claim_outbox`, …) are
those repositories' methods under the names callers have always used.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from pymongo.errors import PyMongoError

from bot.store.addresses import Addresses
from bot.store.atomic import _AtomicDatabase
from bot.store.audit import Audit
from bot.store.certificates import CertificateRecords
from bot.store.connection import open_client
from bot.store.deliveries import Deliveries
from bot.store.durable import Embedded
from bot.store.events import Events
from bot.store.inbound import Inbound
from bot.store.jobs import Jobs
from bot.store.learners import Learners
from bot.store.link_codes import LinkCodes
from bot.store.outbox import Outbox
from bot.store.problems import Problems
from bot.store.questions import Questions
from bot.store.settings import Settings
from bot.store.signing_keys import SigningKeys
from bot.store.webhooks import WebhookDeliveries
from bot.store.xapi import XapiRecorded, XapiState, XapiStatements

log = logging.getLogger(__name__)


class Store:
    """The one place that talks to MongoDB."""

    def __init__(
        self, client: Any, db_name: str = "trainbot", engine: Embedded | None = None
    ) -> None:
        self.client = client
        self.engine = engine
        self.embedded = engine is not None
        self.db = _AtomicDatabase(client[db_name], engine.lock) if engine else client[db_name]
        self.deliveries = Deliveries(self.db)
        self.learners = Learners(self.db, self.deliveries)
        self.addresses = Addresses(self.db)  # a learner's other channel addresses
        self.link_codes = LinkCodes(self.db)  # one-time codes that link a channel
        self.outbox = Outbox(self.db, self.deliveries)
        self.events = Events(self.db)
        self.questions = Questions(self.db)
        self.inbound = Inbound(self.db)
        self.problems = Problems(self.db)  # standing set-up problems for the admin
        self.jobs = Jobs(self.db)
        self.certificates = CertificateRecords(self.db)
        self.signing_keys = SigningKeys(self.db)
        self.webhooks = WebhookDeliveries(self.db)
        self.xapi_statements = XapiStatements(self.db)
        self.xapi_recorded = XapiRecorded(self.db)
        self.xapi_state = XapiState(self.db)
        self.audit = Audit(self.db)
        self.settings = Settings(self.db)
        # learners
        self.load = self.learners.load
        self.commit = self.learners.commit
        self.effects_due = self.learners.effects_due
        self.effect_done = self.learners.effect_done
        self.set_fields = self.learners.set_fields
        self.flag_learner = self.learners.flag_learner
        self.record_assistant_turn = self.learners.record_assistant_turn
        # outbox
        self.claim_outbox = self.outbox.claim_outbox
        self.renew_lease = self.outbox.renew_lease
        self.end_dead_leases = self.outbox.end_dead_leases
        self.already_sent = self.outbox.already_sent
        self.mark_done = self.outbox.mark_done
        self.release_outbox = self.outbox.release_outbox
        self.delivered = self.outbox.delivered
        self.part_sent = self.outbox.part_sent
        self.postpone = self.outbox.postpone
        self.intend = self.outbox.intend
        self.unconfirmed = self.outbox.unconfirmed
        self.settle_unconfirmed = self.outbox.settle_unconfirmed
        self.confirm_by_callback = self.outbox.confirm_by_callback
        self.park = self.outbox.park
        self.parked_learners = self.outbox.parked_learners
        self.unpark = self.outbox.unpark
        self.drop_parked = self.outbox.drop_parked
        self.due_outboxes = self.outbox.due_outboxes
        self.pending_count = self.outbox.pending_count
        # deliveries, inbound ids, events, problems, questions
        self.delivery_status = self.deliveries.delivery_status
        self.recorded = self.deliveries.recorded
        self.transcript = self.deliveries.transcript
        self.seen_inbound = self.inbound.seen_inbound
        self.remember_inbound = self.inbound.remember_inbound
        self.log_event = self.events.log_event
        self.note_problem = self.problems.note_problem
        self.clear_problem = self.problems.clear_problem
        self.open_problems = self.problems.open_problems
        self.log_question = self.questions.log_question
        self.asked = self.questions.asked

    @classmethod
    def connect(
        cls, uri: str | None, db_name: str = "trainbot", data_dir: Path | None = None
    ) -> Store:
        """Real MongoDB at `uri`; else the embedded store, durable in `data_dir` (which this
        process then owns: `DataDirLocked` if another does), or in memory without one."""
        client, name, engine = open_client(uri, db_name, data_dir)
        return cls(client, name, engine)

    def status(self) -> dict[str, Any]:
        """Which store, where, and whether it survives a crash (/healthz, the banner)."""
        if self.engine is not None:
            return self.engine.status()
        nodes = ", ".join(f"{host}:{port}" for host, port in self.client.nodes) or "?"
        return {"backend": "mongodb", "durable": True, "where": nodes, "db": self.db.name}

    def writable(self, now: datetime) -> bool:
        """Whether a write reaches the store now (readiness): one small upsert."""
        try:
            self.db["health"].update_one({"_id": "ready"}, {"$set": {"at": now}}, upsert=True)
            return True
        except (PyMongoError, OSError) as exc:
            log.error("store: write check failed: %s: %s", type(exc).__name__, exc)
            return False

    def close(self) -> None:
        """Release the client (and the embedded store's data directory)."""
        if self.engine is not None:
            self.engine.close()
        else:
            self.client.close()

    def ensure_indexes(self) -> None:
        """Create the indexes the queries rely on (idempotent, run at start-up)."""
        for repository in (
            self.learners,
            self.addresses,
            self.link_codes,
            self.deliveries,
            self.events,
            self.questions,
            self.inbound,
        ):
            repository.ensure_indexes()

    def ping(self) -> bool:
        """Whether the database answers."""
        try:
            self.client.admin.command("ping")
            return True
        except PyMongoError as exc:
            log.warning("store: ping failed: %s", exc)
            return False
