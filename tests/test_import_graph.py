"""The modules of canvas_data form no import circle.

Every import of a ``canvas_data`` module is counted, at the top of a file and inside functions
alike (a lazy import still ties the two modules together), and no module may reach itself
through them. Every module of the tree is checked, sub-packages included. Importing a package is
not an edge (every submodule's import runs its ``__init__``): the sub-packages' ``__init__`` files
import nothing when imported, which is checked too.
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
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _packages() -> set[str]:
    return {_module_name(p) for p in PACKAGE.rglob("__init__.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The canvas_data modules ``path`` imports anywhere in its body (packages left out: every
    submodule's import runs its package's ``__init__``, so that is not an edge)."""
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
    found -= _packages()
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
    assert "canvas_data.pipeline" in graph["canvas_data.cli.build"]
    assert "canvas_data.card.dataset_card" in graph["canvas_data.pipeline"]


def test_a_circle_is_found():
    """The checker reports a circle of lazy imports when there is one."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert ["a", "b", "c", "a"] in _circles(graph)
    assert not any(c[0] == "d" for c in _circles(graph))


def test_no_module_imports_itself_back():
    circles = _circles(_graph())
    assert not circles, "import circles:\n" + "\n".join(" -> ".join(c) for c in circles)


def _reached(graph: dict[str, set[str]], start: str) -> set[str]:
    reached, todo = set(), [start]
    while todo:
        for there in graph[todo.pop()] - reached:
            reached.add(there)
            todo.append(there)
    return reached


def test_packing_does_not_import_the_card():
    """Packing knows the folder's layout, not the card written after it."""
    graph = _graph()
    for name in graph:
        if name.startswith("canvas_data.pack."):
            card = {m for m in _reached(graph, name) if m.startswith("canvas_data.card.")}
            assert not card, f"{name} reaches {sorted(card)}"


# The stages in the order data flows through them: each imports only the core and those before it.
LAYERS = ("images", "intake", "stylizers", "pack", "card", "loading", "classify", "transfer",
          "metrics", "cli")  # fmt: skip
# The core's one reach into a stage: the recipe's schema checks a style's procedural chain against
# the op table, which imports nothing of the core.
# The adain stylizer runs the style-transfer stage's network (which imports no stylizer backend).
EXCEPTIONS = {
    ("canvas_data.recipe_schema", "canvas_data.stylizers.procedural_ops"),
    ("canvas_data.stylizers.adain_backend", "canvas_data.transfer.adain"),
}


def _layer(module: str) -> int | None:
    """The index of ``module``'s stage in ``LAYERS``; ``None`` for the core at the top."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_stages_import_only_the_core_and_earlier_stages():
    graph = _graph()
    wrong = []
    for here, theres in graph.items():
        if here in {"canvas_data.pipeline", "canvas_data.cli_train", "canvas_data.cli_eval"}:
            continue  # above the stages: they run them
        for there in theres:
            if (here, there) in EXCEPTIONS:
                continue
            a, b = _layer(here), _layer(there)
            if b is not None and (a is None or b > a):
                wrong.append(f"{here} -> {there}")
    assert not wrong, "imports against the order of the stages:\n" + "\n".join(sorted(wrong))


def test_the_order_check_sees_the_graph():
    """The order is checked on real edges: pictures are normalised below intake, and the Parquet
    reader that intake and packing share sits in the core below both."""
    graph = _graph()
    assert _layer("canvas_data.pack.shards") < _layer("canvas_data.card.preview")
    assert _layer("canvas_data.recipe") is None
    assert "canvas_data.images.normalize" in graph["canvas_data.images.jpeg"]
    assert "canvas_data.parquet_read" in graph["canvas_data.intake.release_rows"]


def test_sub_package_inits_import_nothing_when_imported():
    """A sub-package's ``__init__`` holds a docstring and imports nothing at import time (a
    function in it may import lazily; its edges are in the graph like any module's)."""
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        assert not imports, f"{init} imports {ast.unparse(imports[0])}"
        assert ast.get_docstring(tree), f"{init} has no docstring"


def test_the_sub_packages_are_checked():
    graph = _graph()
    assert "canvas_data.stylizers.procedural_ops" in graph
    assert "canvas_data.stylizers.procedural_ops" in graph["canvas_data.recipe_schema"]
