"""The package's shape: no import circles, plugins on the public API only, a core that names no built-in."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = {"harness", "harness.options", "harness.testing"}


def _modules(folder: Path, prefix: str = "") -> dict[str, Path]:
    out = {}
    for path in sorted(folder.rglob("*.py")):
        parts = list(path.relative_to(folder).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join([prefix, *parts] if prefix else parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path, module: str, is_package: bool) -> list[str]:
    """Every module imported anywhere in the file (functions included), except under TYPE_CHECKING."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.extend(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    package = module if is_package else module.rpartition(".")[0]
                    for _ in range(child.level - 1):
                        package = package.rpartition(".")[0]
                    base = f"{package}.{base}".strip(".")
                found.append(base)
                found.extend(f"{base}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules(ROOT / "harness", "harness")
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported in _imports(path, name, path.name == "__init__.py"):
            if imported in modules and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def _package_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's ``__init__`` re-exporting its own submodules is not a circle of the design."""
    return {m: {t for t in targets if not (m == t.rpartition(".")[0] and _is_package(m))} for m, targets in graph.items()}


def _is_package(module: str) -> bool:
    return (ROOT / Path(*module.split(".")) / "__init__.py").exists()


def test_the_import_graph_finds_a_planted_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_circles_in_the_core():
    graph = _package_edges(_graph())
    assert len(graph) > 60  # every module of the package was read
    assert _cycles(graph) == []


def test_built_in_plugins_import_only_the_public_api():
    offenders = []
    for name, path in _modules(ROOT / "plugins").items():
        for imported in _imports(path, name, path.name == "__init__.py"):
            top = imported.split(".")[0]
            if top == "harness" and imported not in PUBLIC and imported.rpartition(".")[0] not in PUBLIC - {"harness"}:
                if imported.rpartition(".")[0] == "harness":  # `from harness import X`: X must be exported
                    import harness

                    if imported.rpartition(".")[2] in harness.__all__:
                        continue
                offenders.append(f"{path.relative_to(ROOT)}: {imported}")
    assert offenders == []


def test_the_core_names_no_built_in_plugin():
    builtin = sorted(p.name for p in (ROOT / "plugins").iterdir() if p.name.startswith("harness_"))
    import harness_datasets  # noqa: F401 - the names its registry entries carry
    from harness.plugins import build_plugins

    plugins = build_plugins()
    entry_names = {e.name for kind in plugins.registries.values() for e in kind if e.plugin in builtin}
    assert "synthetic-defects" in entry_names and len(entry_names) > 40
    words = re.compile(r"[\"']([A-Za-z0-9_.\-]+)[\"']")
    offenders = []
    for path in _modules(ROOT / "harness", "harness").values():
        for line_no, line in enumerate(path.read_text().splitlines(), 1):
            for word in words.findall(line):
                if word in builtin or (word in entry_names and "-" in word):
                    offenders.append(f"{path.relative_to(ROOT)}:{line_no}: {word}")
    assert offenders == []
