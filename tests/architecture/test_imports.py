"""Imports point one way: no import cycle among the parser's (or the test server's) modules, and every
module of the parser imports only the layers below its own (docs/architecture.md).

The graph is read from the source with `ast` (nothing is imported): every `import` and `from … import`
that runs, also inside functions; imports under `if TYPE_CHECKING:` are left out (they never run).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOP_LEVEL = ("errors", "exit_codes", "session_lock", "telegram_parser", "telegram_parser_skill")
PACKAGES = ("tgexport", "telegram_test_server")

# The parser's layers, bottom first: a module may import its own package and the layers below it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),
    ("tgexport.core",),
    ("tgexport.config",),
    ("tgexport.session",),
    ("tgexport.client",),
    ("tgexport.history", "tgexport.records", "tgexport.store"),
    ("tgexport.media",),
    ("tgexport.run",),
    ("tgexport.cli",),
    ("exit_codes", "session_lock", "telegram_parser"),
    ("telegram_parser_skill",),
)


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name → file, for the top-level parser files and both packages."""
    found = {name: root / f"{name}.py" for name in TOP_LEVEL if (root / f"{name}.py").is_file()}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _type_checking_only(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return found


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module → the modules of this repository it imports (as far as they exist in `module_files`).

    Importing `a.b.c` also runs the package `a.b`; that implicit edge is not drawn (a package's
    `__init__` that re-exports its modules would otherwise close a circle with each of them)."""
    files = module_files(root)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            base = node.module or ""
            if node.level:
                package = _package_of(module, path).split(".")
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:  # a submodule, else a name defined in `base`
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base)
        graph[module] = {t for t in targets if t in files and t != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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


def layer_of(module: str) -> tuple[int, str] | None:
    """(layer index, the layer's package) of a parser module; None outside the layered parser."""
    for rank, names in enumerate(LAYERS):
        for name in names:
            if module == name or module.startswith(name + "."):
                return rank, name
    return None


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """`a -> b` for every import of a parser module that reaches its own layer's peers or a higher layer."""
    wrong = []
    for module, targets in sorted(graph.items()):
        here = layer_of(module)
        if here is None:
            continue
        for target in sorted(targets):
            there = layer_of(target)
            if there is None or there[1] == here[1]:
                continue
            if there[0] >= here[0]:
                wrong.append(f"{module} -> {target}")
    return wrong


def test_no_import_cycles() -> None:
    assert cycles(import_graph(ROOT)) == []


def test_imports_follow_the_layers() -> None:
    assert upward_imports(import_graph(ROOT)) == []


def test_every_parser_module_has_a_layer() -> None:
    graph = import_graph(ROOT)
    unplaced = [m for m in graph if not m.startswith("telegram_test_server") and layer_of(m) is None
                and m != "tgexport"]
    assert unplaced == []


@pytest.fixture
def tiny_repo(tmp_path: Path) -> Path:
    (tmp_path / "tgexport" / "core").mkdir(parents=True)
    (tmp_path / "tgexport" / "store").mkdir()
    for folder in ("tgexport", "tgexport/core", "tgexport/store"):
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "errors.py").write_text("import os\n")
    (tmp_path / "tgexport" / "core" / "clock.py").write_text("import errors\n")
    (tmp_path / "tgexport" / "store" / "files.py").write_text("from tgexport.core import clock\n")
    return tmp_path


def test_the_checks_see_a_cycle_and_an_upward_import(tiny_repo: Path) -> None:
    assert cycles(import_graph(tiny_repo)) == [] and upward_imports(import_graph(tiny_repo)) == []
    # a lazy import inside a function closes a cycle core.clock -> store.files -> core.clock
    (tiny_repo / "tgexport" / "core" / "clock.py").write_text(
        "import errors\n\ndef later():\n    from tgexport.store.files import x\n")
    graph = import_graph(tiny_repo)
    assert cycles(graph) == [["tgexport.core.clock", "tgexport.store.files"]]
    assert upward_imports(graph) == ["tgexport.core.clock -> tgexport.store.files"]


def test_type_checking_imports_and_relative_imports(tiny_repo: Path) -> None:
    (tiny_repo / "tgexport" / "core" / "clock.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tgexport.store import files\n"
        "from . import other\n")
    (tiny_repo / "tgexport" / "core" / "other.py").write_text("")
    graph = import_graph(tiny_repo)
    assert graph["tgexport.core.clock"] == {"tgexport.core.other"}
    assert cycles(graph) == []
