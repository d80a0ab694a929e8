"""One store boundary: only `bot/store/` talks to MongoDB.

An AST scan of bot/, flows/ and app.py (bot/store/ excepted) fails on an import of pymongo,
bson or mongomock, on a call of a collection method (`find`, `update_one`, `aggregate`…:
repositories name theirs differently), and on reaching for a raw handle (`.db`,
`.collection`). A store error is caught as `bot.store.StoreError`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

DRIVERS = ("pymongo", "bson", "mongomock", "mongomock_ng", "gridfs", "motor")
COLLECTION_METHODS = frozenset(
    {
        "find",
        "find_one",
        "find_one_and_update",
        "find_one_and_replace",
        "find_one_and_delete",
        "insert_one",
        "insert_many",
        "update_one",
        "update_many",
        "replace_one",
        "delete_one",
        "delete_many",
        "bulk_write",
        "aggregate",
        "count_documents",
        "estimated_document_count",
        "distinct",
        "create_index",
        "create_indexes",
        "drop_index",
        "index_information",
        "watch",
    }
)
RAW_HANDLES = frozenset({"db", "collection"})


def _sources() -> list[Path]:
    store = ROOT / "bot" / "store"
    found = [ROOT / "app.py", *(ROOT / "flows").rglob("*.py"), *(ROOT / "bot").rglob("*.py")]
    return [path for path in found if store not in path.parents]


def _driver(module: str | None) -> bool:
    return module is not None and module.split(".")[0] in DRIVERS


def violations(source: str, name: str) -> list[str]:
    """Every use of MongoDB outside the store in one file, as `name:line: what`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            what = [alias.name for alias in node.names if _driver(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            what = [node.module or ""] if _driver(node.module) else []
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            what = [f".{node.func.attr}()"] if node.func.attr in COLLECTION_METHODS else []
        elif isinstance(node, ast.Attribute):
            what = [f".{node.attr}"] if node.attr in RAW_HANDLES else []
        else:
            what = []
        found += [f"{name}:{node.lineno}: {w}" for w in what]
    return found


def test_nothing_outside_bot_store_talks_to_mongodb():
    found = [
        line
        for path in _sources()
        for line in violations(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert found == [], "use a repository of bot/store/ instead:\n" + "\n".join(found)


def test_the_scan_sees_each_kind_of_use():
    """The scan itself: each way around the boundary is caught."""
    source = """
import pymongo
from pymongo.errors import PyMongoError
from bson import ObjectId
store.learners.update_one({"_id": key}, {"$set": {"progress.c.current": "s2"}})
rows = list(reports.learners.aggregate(stages))
doc = store.db["audit"].find_one()
jobs.collection
"""
    found = [line.split(": ", 1)[1] for line in violations(source, "x.py")]
    assert sorted(found) == sorted(
        [
            "pymongo",
            "pymongo.errors",
            "bson",
            ".update_one()",
            ".aggregate()",
            ".find_one()",
            ".db",
            ".collection",
        ]
    )
