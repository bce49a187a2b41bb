"""The layers ARCHITECTURE.md describes, checked: no module imports upward, and lambda_fn has no import cycle."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import REPO

PACKAGE = REPO / "lambda_fn"

# layer -> the layers it may import (itself included)
VOCABULARY = {
    "contract",
    "errors",
    "result",
    "request",
    "settings",
    "deadline",
    "findings",
    "credentials",
    "log",
    "bounded",
}
ALLOWED = {
    "vocabulary": {"vocabulary"},
    "postgres": {"vocabulary", "postgres"},
    "aws": {"vocabulary", "aws"},
    "engine": {"vocabulary", "postgres", "engine"},
    # a caller answers through its own AWS API (CodePipeline)
    "sources": {
        "vocabulary",
        "aws",
        "sources",
    },
    "edge": {"vocabulary", "postgres", "aws", "engine", "sources", "edge"},
    "cli": {"vocabulary", "postgres", "aws", "engine", "cli"},
}


def layer(module: str) -> str:
    parts = module.split(".")[1:]
    if not parts:
        return "vocabulary"
    if parts[0] in ("postgres", "aws", "engine", "sources", "cli"):
        return parts[0]
    if parts[0] in VOCABULARY:
        return "vocabulary"
    return "edge"  # handler, invocation, telemetry


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(REPO).with_suffix("")
        name = ".".join(p for p in rel.parts if p != "__init__")
        found[name] = path
    return found


def imports(path: Path, *, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lambda_fn"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("lambda_fn"))
    return found


def test_no_module_imports_upward() -> None:
    known = modules()
    wrong = []
    for name, path in known.items():
        for target in imports(path, top_level_only=False):
            if target not in known:
                continue  # a name imported from a module, not a module
            if layer(target) not in ALLOWED[layer(name)]:
                wrong.append(f"{name} ({layer(name)}) imports {target} ({layer(target)})")
    assert wrong == []


def test_lambda_fn_has_no_import_cycle() -> None:
    known = modules()
    graph = {
        name: {t for t in imports(path, top_level_only=True) if t in known and t != name}
        for name, path in known.items()
    }
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_the_layer_table_covers_every_module() -> None:
    assert {layer(name) for name in modules()} <= set(ALLOWED)
