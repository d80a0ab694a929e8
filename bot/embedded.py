"""Speed-ups for the embedded store (mongomock-ng), found by profiling `make bench`.

mongomock-ng answers every query, even `{"_id": key}`, by testing the filter against every
document of the collection, so each message cost about six full scans of `learners` and
`deliveries` (16 messages/s at 200 learners, under 5 at 1,000). MongoDB answers these from
the `_id` index. `install()` gives the embedded store the same shortcut: a filter naming a
plain `_id` value is tested against that one document only. The filter is still applied
in full, so results are exactly what the scan would return; other queries are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import mongomock_ng
from mongomock_ng.filtering import filter_applies

_INSTALLED = "_trainbot_id_lookup"


def _by_id(original: Any) -> Any:
    def iter_documents(self: Any, filter: Any) -> Iterator[dict[str, Any]]:
        key = filter.get("_id") if isinstance(filter, Mapping) else None
        documents = getattr(self._store, "_documents", None)
        if not isinstance(key, str | int) or isinstance(key, bool) or documents is None:
            return original(self, filter)
        document = documents.get(key)
        return iter([document] if document is not None and filter_applies(filter, document) else [])

    setattr(iter_documents, _INSTALLED, True)
    return iter_documents


def install() -> None:
    """Look documents up by `_id` directly (idempotent; the embedded store calls it)."""
    collection = mongomock_ng.collection.Collection
    if not getattr(collection._iter_documents, _INSTALLED, False):
        collection._iter_documents = _by_id(collection._iter_documents)
