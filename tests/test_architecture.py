"""The shape the code keeps (issue 14): no module imports back into one that imports it, and
no module under api/ grows past what one reads in a sitting."""

from __future__ import annotations

import ast
from pathlib import Path

API = Path(__file__).resolve().parent.parent / "api"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for path in API.rglob("*.py"):
        name = ".".join(path.relative_to(API.parent).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The api modules `path` imports, at any depth of its code (lazy imports count)."""
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                targets.add(name)
    return targets


def test_no_import_cycle_between_modules() -> None:
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    # A package imports its own modules to expose them; only cycles through other code count.
    for name in graph:
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        assert name not in visiting, " -> ".join([*visiting[visiting.index(name) :], name])
        visiting.append(name)
        for target in sorted(graph[name]):
            visit(target)
        visiting.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_no_module_is_over_the_size_limit() -> None:
    long = {
        str(path.relative_to(API.parent)): lines
        for path in API.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long
