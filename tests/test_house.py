"""The house rules a newcomer can rely on: small modules, short functions, no import cycles.

Module size and function length keep each file readable on its own; the import graph (imports
inside functions included) has no cycle, so every module can be read, imported and tested
after the ones it depends on. The import-linter contracts in ``setup.cfg`` (run by
``test_import_contracts``) keep each heavy dependency in its stage.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "rnnstrategy"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60  # the body, its docstring not counted


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The rnnstrategy modules ``module`` imports anywhere in its file (deferred imports included)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name in known and name != module}


def _graph() -> nx.DiGraph:
    modules = _modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        graph.add_edges_from((module, other) for other in _imported(module, path, set(modules)))
    return graph


def test_no_module_is_over_600_lines() -> None:
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"split these by job: {long}"


def test_no_function_body_is_over_60_lines() -> None:
    long = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            body = node.body
            if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                body = body[1:]
            if body and (lines := body[-1].end_lineno - body[0].lineno + 1) > MAX_FUNCTION_LINES:
                long.append(f"{name}.{node.name} ({lines} lines)")
    assert not long, f"split these into named steps: {long}"


def test_the_import_graph_has_no_cycle() -> None:
    cycles = list(nx.simple_cycles(_graph()))
    assert not cycles, f"modules that import each other: {sorted(cycles, key=len)[:5]}"


def test_the_graph_sees_deferred_imports() -> None:
    """The check has teeth: an import inside a function is an edge."""
    graph = _graph()
    assert graph.has_edge("rnnstrategy.cli.forecast", "rnnstrategy.api") or any(
        other.startswith("rnnstrategy.api") for other in graph.successors("rnnstrategy.cli.forecast"))
