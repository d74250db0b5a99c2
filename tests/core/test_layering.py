"""salescoach_core's packages depend on each other one way (docs/architecture.md, "Inside
salescoach_core"): the import graph between its top-level packages and modules has no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import salescoach_core

CORE = Path(salescoach_core.__file__).parent


def _top(node: str) -> str:
    return node.split(".")[0]


def package_imports() -> dict[str, set[str]]:
    """For each top-level package or module of salescoach_core, the others it imports."""
    graph: dict[str, set[str]] = {}
    for path in CORE.rglob("*.py"):
        source = _top(str(path.relative_to(CORE).with_suffix("")).replace("/", "."))
        targets = graph.setdefault(source, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "salescoach_core":
                    targets.update(alias.name for alias in node.names)
                elif node.module.startswith("salescoach_core."):
                    targets.add(_top(node.module.removeprefix("salescoach_core.")))
            elif isinstance(node, ast.Import):
                targets.update(
                    _top(alias.name.removeprefix("salescoach_core."))
                    for alias in node.names
                    if alias.name.startswith("salescoach_core.")
                )
        targets.discard(source)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as the path that closes it, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph.get(node, ())):
            if cycle := visit(target, [*path, node]):
                return cycle
        done.add(node)
        return None

    for start in sorted(graph):
        if cycle := visit(start, []):
            return cycle
    return None


def test_find_cycle_reports_a_cycle_and_accepts_a_chain() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_core_packages_import_each_other_one_way() -> None:
    graph = package_imports()
    assert graph["coaching"] >= {"scorecards", "analytics"}  # the graph sees package imports
    cycle = find_cycle(graph)
    assert cycle is None, f"salescoach_core packages import each other in a cycle: {' -> '.join(cycle or [])}"
