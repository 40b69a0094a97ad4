"""The modules of canvas_data form no import circle.

Every import of a ``canvas_data`` module is counted, at the top of a file and inside functions
alike (a lazy import still ties the two modules together), and no module may reach itself
through them. The modules checked are the flat ones, ``canvas_data/*.py``; the ``stylizers``
package (a registry its backends fill in as they are imported) is outside this check.
"""

from __future__ import annotations

import ast
from pathlib import Path

import canvas_data

PACKAGE = Path(canvas_data.__file__).parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.glob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The canvas_data modules ``path`` imports anywhere in its body (the package's own
    ``__init__`` left out: every submodule's import runs it, so it is not an edge)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from canvas_data import jpeg` imports the submodule jpeg
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in known)
    found.discard("canvas_data")
    found.discard(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import path back to itself for each module that has one."""
    circles = []
    for start in sorted(graph):
        paths = {start: [start]}
        todo = [start]
        while todo:
            here = todo.pop()
            for there in sorted(graph[here]):
                if there == start:
                    circles.append(paths[here] + [start])
                    todo = []
                    break
                if there not in paths:
                    paths[there] = paths[here] + [there]
                    todo.append(there)
    return circles


def test_the_graph_sees_lazy_imports():
    """The checker counts imports inside functions (cli imports pack lazily)."""
    graph = _graph()
    assert "canvas_data.pack" in graph["canvas_data.cli"]
    assert "canvas_data.card" in graph["canvas_data.pack"]


def test_a_circle_is_found():
    """The checker reports a circle of lazy imports when there is one."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert ["a", "b", "c", "a"] in _circles(graph)
    assert not any(c[0] == "d" for c in _circles(graph))


def test_no_module_imports_itself_back():
    circles = _circles(_graph())
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


def test_shards_does_not_import_the_card():
    """Packing knows the folder's layout, not the card written after it."""
    graph = _graph()
    reached, todo = set(), ["canvas_data.shards"]
    while todo:
        for there in graph[todo.pop()] - reached:
            reached.add(there)
            todo.append(there)
    assert "canvas_data.card" not in reached
