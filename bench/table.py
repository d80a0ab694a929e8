"""The figures every benchmark section returns, and the one table `make bench` prints."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    """One measured value, with its target (when the issue sets one) and the conditions
    (learner counts: the embedded store's speed depends on them)."""

    section: str
    name: str
    value: str
    target: str = ""
    met: bool | None = None
    conditions: str = ""


Section = Callable[[], Sequence[Figure]]


def percentile(values: Sequence[float], share: float) -> float:
    """The value below which `share` of `values` fall (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def machine() -> str:
    """What the figures were measured on."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} CPU(s), {memory:.1f} GiB RAM, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}"
    )


def render(figures: Sequence[Figure]) -> str:
    """A plain-text table: section, figure, value, target (✓/✗), conditions."""
    rows = [("section", "figure", "value", "target", "conditions")]
    for f in figures:
        mark = "" if f.met is None else (" ✓" if f.met else " ✗")
        rows.append((f.section, f.name, f.value, f.target + mark, f.conditions))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)
