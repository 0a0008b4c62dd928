"""The package layout: no import cycles, the user's API never imports the core, old paths work.

The import graph is read from the source (every ``import``, also those inside functions),
so a lazy import that closes a cycle counts as much as one at the top of a module.
"""

import ast
import importlib
from pathlib import Path

import pytest

import scrapepool

PACKAGE = Path(scrapepool.__file__).parent


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name, path, modules):
    """The scrapepool modules that module ``name`` imports (packages' own __init__ left out)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            # `from pkg import mod` imports the module pkg.mod
            targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in modules else module
                       for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name and not _is_package(t, modules))
    return found


def _is_package(name, modules):
    return modules[name].name == "__init__.py"


def _graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_graph_is_read_from_the_source():
    graph = _graph()
    assert "scrapepool.core.ledger" in graph["scrapepool.core.engine"]
    assert "scrapepool._messages" in graph["scrapepool.core.engine"]  # from .. import _messages
    assert "scrapepool.spiders.builtin" in graph["scrapepool.spiders.loading"]
    assert "scrapepool.core.engine" in graph["scrapepool.cli"]  # a lazy import inside a function


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_users_api_never_imports_the_core():
    graph = _graph()
    for name, imported in graph.items():
        if name.startswith(("scrapepool.spiders.", "scrapepool.net.", "scrapepool.output.",
                            "scrapepool.testing.")):
            core = sorted(m for m in imported if m.startswith(("scrapepool.core", "scrapepool.api",
                                                               "scrapepool.cli")))
            assert core == [], f"{name} imports {core}"


def test_only_the_entry_points_import_the_core():
    graph = _graph()
    importers = {name for name, imported in graph.items()
                 if not name.startswith("scrapepool.core")
                 and any(m.startswith("scrapepool.core") for m in imported)}
    assert importers == {"scrapepool.api", "scrapepool.cli"}


@pytest.mark.parametrize("old, new", [
    ("scrapepool.testserver", "scrapepool.testing.testserver"),
    ("scrapepool.pytest_plugin", "scrapepool.testing.pytest_plugin"),
])
def test_public_module_paths_still_work(old, new):
    old_module, new_module = importlib.import_module(old), importlib.import_module(new)
    assert old_module.__all__ == new_module.__all__
    for name in old_module.__all__:
        assert getattr(old_module, name) is getattr(new_module, name)


def test_every_public_name_imports():
    for name in scrapepool.__all__:
        assert getattr(scrapepool, name) is not None


def test_the_pytest11_entry_point_names_the_plugin():
    from importlib.metadata import entry_points

    (point,) = [p for p in entry_points(group="pytest11") if p.name == "scrapepool"]
    assert point.value == "scrapepool.testing.pytest_plugin"
    assert point.load().crawl_spider is importlib.import_module("scrapepool.pytest_plugin").crawl_spider
