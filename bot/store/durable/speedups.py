"""Speed-ups for the embedded store (mongomock-ng), found by profiling `make bench`.

mongomock-ng answers every query, even `{"_id": key}`, by testing the filter against every
document of the collection, so each message cost about six full scans of `learners` and
`deliveries` (16 messages/s at 200 learners, under 5 at 1,000). MongoDB answers these from
the `_id` index. `install()` gives the embedded store the same shortcut: a filter naming a
plain `_id` value is tested against that one document only. The filter is still applied
in full, so results are exactly what the scan would return; other queries are unchanged.

Every read and write also walks whole documents several times (copying them, converting
datetimes to and from naive UTC), calling a generic function on every string of a
learner's 200 remembered message ids. `install()` replaces those walkers with versions
that return strings and numbers in place and recurse only into plain dicts and lists,
handing every other type to mongomock's own walker: same results, about a third of the
time. (Expiry of TTL indexes runs from the clock: see `bot/store/durable/`.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

import mongomock_ng
from mongomock_ng import collection as mm_collection
from mongomock_ng import helpers
from mongomock_ng.filtering import filter_applies

_INSTALLED = "_trainbot_fast"
_SCAN = "_iter_documents"  # mongomock's per-collection scan, replaced by name: a method
_ATOMS = frozenset({str, int, float, bool, type(None), bytes})


def _by_id(original: Any) -> Any:
    def iter_documents(self: Any, filter: Any) -> Iterator[dict[str, Any]]:
        key = filter.get("_id") if isinstance(filter, Mapping) else None
        documents = getattr(self._store, "_documents", None)
        if not isinstance(key, str | int) or isinstance(key, bool) or documents is None:
            return original(self, filter)
        document = documents.get(key)
        return iter([document] if document is not None and filter_applies(filter, document) else [])

    return iter_documents


def _walker(original: Callable[[Any], Any], leaf: Callable[[Any], Any] | None = None) -> Any:
    """`original` (a recursive document walker), short-cut for atoms, plain dicts and lists
    (and exact datetimes when `leaf` says what becomes of them)."""

    def walk(value: Any) -> Any:
        kind = type(value)
        if kind in _ATOMS:
            return value
        if kind is dict:
            return {k: v if type(v) in _ATOMS else walk(v) for k, v in value.items()}
        if kind is list:
            return [v if type(v) in _ATOMS else walk(v) for v in value]
        if leaf is not None and kind is datetime:
            return leaf(value)
        return original(value)

    walk.__wrapped__ = original  # type: ignore[attr-defined]
    return walk


def _copy_field(original: Any) -> Any:
    """mongomock's result copier (`copy.copy` on every leaf), short-cut like `_walker`."""

    def copy_field(obj: Any, container: Any) -> Any:
        kind = type(obj)
        if kind in _ATOMS:
            return obj
        if kind is list:
            return [v if type(v) in _ATOMS else copy_field(v, container) for v in obj]
        if kind is dict and container is dict:
            return {k: v if type(v) in _ATOMS else copy_field(v, container) for k, v in obj.items()}
        return original(obj, container)

    copy_field.__wrapped__ = original  # type: ignore[attr-defined]
    return copy_field


def install() -> None:
    """Install the shortcuts (idempotent; the embedded store calls it)."""
    if getattr(mongomock_ng, _INSTALLED, False):
        return
    collection = mm_collection.Collection
    setattr(collection, _SCAN, _by_id(getattr(collection, _SCAN)))
    helpers.make_datetime_timezone_aware_in_document = _walker(
        helpers.make_datetime_timezone_aware_in_document,
        lambda value: value.replace(tzinfo=helpers.utc),
    )
    helpers.patch_datetime_awareness_in_document = _walker(
        helpers.patch_datetime_awareness_in_document
    )
    clone = _walker(helpers._clone_document, lambda value: value)
    helpers._clone_document = mm_collection._clone_document = clone
    mm_collection._copy_field = _copy_field(mm_collection._copy_field)
    setattr(mongomock_ng, _INSTALLED, True)
