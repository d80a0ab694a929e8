"""The running bot's view of the content: the `Library` serves each course's last good
version and reloads when files change."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.content.checks import (
    check,
    course_folders,
)
from bot.content.parsing import (
    Problem,
)
from flows.course import Catalog, Course

log = logging.getLogger(__package__)  # "bot.content", as before the split


def _fingerprint(root: Path) -> tuple:
    try:
        return tuple(
            sorted(
                (str(p), p.stat().st_mtime_ns, p.stat().st_size)
                for p in root.rglob("*")
                if p.is_file()
            )
        )
    except OSError:
        return ()


class Library:
    """The courses the bot serves, reloaded when files change.

    A course whose new version has errors keeps serving its last good version; the
    problems are logged and kept for the admin pages and `/healthz`.
    """

    def __init__(
        self, root: Path, check_every: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.root = root
        self.check_every = check_every
        self._clock = clock
        self._lock = threading.Lock()
        self._good: dict[str, Course] = {}
        self._fingerprint: tuple = ()
        self._checked_at = float("-inf")
        self.problems: list[Problem] = []
        self.loaded_at: datetime | None = None
        self.catalog = Catalog()
        self.reload()

    def reload(self) -> None:
        """Load the folder now, keeping last good courses where the new ones fail."""
        fingerprint = _fingerprint(self.root)
        result = check(self.root)
        fresh = {c.id: c for c in result.courses}
        failed = {Path(p.path).parent.name for p in result.errors} - set(fresh)
        keep = {cid: c for cid, c in self._good.items() if cid in failed}
        for cid in keep:
            log.error("content: course %s has errors; still serving its last good version", cid)
        for problem in result.errors:
            log.error("content: %s", problem)
        self._good = {**fresh, **keep}
        self.problems = result.problems
        self.catalog = Catalog(tuple(self._good[k] for k in sorted(self._good)))
        self._fingerprint = fingerprint
        self.loaded_at = datetime.now(UTC)
        log.info("content: %d course(s) loaded from %s", len(self._good), self.root)

    def folder_of(self, course_id: str) -> Path | None:
        """The folder a served course was loaded from."""
        if self.catalog.get(course_id) is None:
            return None
        return next((f for f in course_folders(self.root) if f.name == course_id), None)

    def combines_replies(self, course_id: str | None) -> bool:
        """The course's `whatsapp.combine_replies` (off unless the author turns it on)."""
        course = self.current().get(course_id) if course_id else None
        whatsapp = course.settings.get("whatsapp") if course else None
        return isinstance(whatsapp, dict) and whatsapp.get("combine_replies") is True

    def current(self) -> Catalog:
        """The catalog, after reloading if files changed (checked at most every few seconds)."""
        now = self._clock()
        if now - self._checked_at >= self.check_every:
            with self._lock:
                if now - self._checked_at >= self.check_every:
                    self._checked_at = now
                    if _fingerprint(self.root) != self._fingerprint:
                        self.reload()
        return self.catalog
