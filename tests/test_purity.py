"""`flows/` stays pure: no I/O, clock, randomness or `bot` imports (checked on the source)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FLOWS = Path(__file__).resolve().parent.parent / "flows"
FORBIDDEN_MODULES = {
    "bot",
    "os",
    "io",
    "socket",
    "random",
    "time",
    "pathlib",
    "subprocess",
    "requests",
    "pymongo",
    "flask",
    "openai",
    "twilio",
    "slack_sdk",
    "logging",
}
FORBIDDEN_CALLS = {"open", "print", "input"}


# rglob: the machine is a package (flows/machine/), and its modules must be pure too
@pytest.mark.parametrize(
    "path", sorted(FLOWS.rglob("*.py")), ids=lambda p: str(p.relative_to(FLOWS))
)
def test_flows_module_is_pure(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN_MODULES, f"{path.name} imports {name}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_CALLS, f"{path.name} calls {node.func.id}()"
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("now", "utcnow", "today")
            and isinstance(node.value, ast.Name)
            and node.value.id in ("datetime", "date")
        ):
            raise AssertionError(f"{path.name} reads the clock ({node.attr})")
