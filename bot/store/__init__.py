"""MongoDB persistence, in one package: nothing outside `bot/store/` imports pymongo or
holds a raw collection (`tests/test_store_boundary.py`).

Every inbound message costs one read and one write: the new state, the outgoing replies and
the message id go into the learner document in one `update_one`, guarded by `version` and
by the list of recently processed message ids (`learners.py`). Without `MONGODB_URI` the
same code runs on the embedded store (`durable/`: mongomock-ng journaled to `DATA_DIR`).
"""

from __future__ import annotations

from pymongo.errors import PyMongoError as StoreError

from bot.store.connection import database_name
from bot.store.deliveries import KEPT_SECONDS
from bot.store.durable import DataDirLocked
from bot.store.facade import Store
from bot.store.inbound import INBOUND_KEPT_DAYS
from bot.store.learners import OUTBOX_KEPT, PROCESSED_KEPT, Commit, changed
from bot.store.outbox import DELIVERY_VIEW, NOT_PARKED

__all__ = [
    "DELIVERY_VIEW",
    "INBOUND_KEPT_DAYS",
    "KEPT_SECONDS",
    "NOT_PARKED",
    "OUTBOX_KEPT",
    "PROCESSED_KEPT",
    "Commit",
    "DataDirLocked",
    "Store",
    "StoreError",
    "changed",
    "database_name",
]
