"""Which database a configuration names: MongoDB over the wire, or the embedded store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pymongo

from bot.store.durable import Embedded


def database_name(uri: str, default: str = "trainbot") -> str:
    """The database a MongoDB URI names, else `default`."""
    return pymongo.uri_parser.parse_uri(uri).get("database") or default


def open_client(
    uri: str | None, db_name: str, data_dir: Path | None
) -> tuple[Any, str, Embedded | None]:
    """(client, database name, embedded engine or None) for real MongoDB at `uri`, else
    for the embedded store, durable in `data_dir` or in memory without one."""
    if uri:
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            uri, tz_aware=True, serverSelectionTimeoutMS=3000
        )
        return client, database_name(uri, db_name), None
    from bot.store.durable import speedups

    speedups.install()
    engine = Embedded(data_dir)
    return engine.client, db_name, engine
