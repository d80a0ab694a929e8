"""No import cycle under `bot/` and `flows/` (issue 19).

Cycles are what made adding a channel touch ten files: `bot.services` built the senders and
the channels imported `Services` back. A deferred (function-level) import only hides such a
cycle from Python's import machinery, not from a reader, so every `import` statement counts
wherever it stands, except those under `if TYPE_CHECKING:` (never executed: they only name
types for mypy). A submodule's implicit import of its parent package is not an edge: else
every package whose `__init__` gathers its submodules (`bot.admin.register`) would be one.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "flows")


def module_name(path: Path) -> str:
    """`bot/channels/slack.py` → `bot.channels.slack`; a package's `__init__` is the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`): imports there never run."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", "")
    return name == "TYPE_CHECKING"


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in the module, at any depth, skipping TYPE_CHECKING blocks."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if _type_checking_only(node):
            pending.extend(node.orelse)  # type: ignore[attr-defined]
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return found


def _resolve(name: str, modules: set[str]) -> str | None:
    """The project module a dotted name refers to (`bot.render.to_slack` → `bot.render`)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    """module → the project modules it imports (from `bot/` and `flows/` only)."""
    paths = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    modules = set(paths)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in paths.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from bot.channels import slack` names the module bot.channels.slack;
                # `from bot.render import to_slack` a name in the module bot.render
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for target in targets:
                found = _resolve(target, modules)
                if found is not None and found != module:
                    graph[module].add(found)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_under_bot_and_flows() -> None:
    found = cycles(import_graph())
    assert not found, (
        "import cycles (each line is one group of modules importing each other):\n"
        + ("\n".join(" ↔ ".join(group) for group in found))
    )


def test_the_graph_sees_function_level_and_relative_imports() -> None:
    """The checker itself: a deferred import is an edge, a TYPE_CHECKING one is not."""
    graph = import_graph()
    assert "bot.config" in graph["bot.web"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_flows_never_imports_bot() -> None:
    """The pure core stays pure (DESIGN §2): no edge from flows/ into bot/."""
    graph = import_graph()
    leaks = {m: sorted(t for t in ts if t.startswith("bot")) for m, ts in graph.items()}
    assert not {m: ts for m, ts in leaks.items() if m.startswith("flows") and ts}
