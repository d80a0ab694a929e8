"""Run the benchmark sections: `python -m bench [SECTION ...]` (default: all)."""

from __future__ import annotations

import importlib
import sys
import time

# name → module with `run() -> list[str]`; add a section by adding a line here.
SECTIONS = {
    "assistant": "bench.assistant",
}


def main(argv: list[str]) -> int:
    wanted = argv or list(SECTIONS)
    unknown = [name for name in wanted if name not in SECTIONS]
    if unknown:
        print(f"unknown section(s): {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
        return 2
    for name in wanted:
        started = time.perf_counter()
        print(f"== {name}")
        for line in importlib.import_module(SECTIONS[name]).run():
            print(f"   {line}")
        print(f"   ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
