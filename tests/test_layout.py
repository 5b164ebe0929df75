"""The layout's promises (docs/architecture.md): one-way imports, modules a reader can hold."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "derivcheck"
MAX_MODULE_LINES = 650


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _import_time_edges() -> dict[str, set[str]]:
    """derivcheck modules each module imports when it is imported (top level, not
    under ``if TYPE_CHECKING:``, not inside functions)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                base = node.module
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if sub in modules else base)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
        edges[name] = {t for t in targets if t in modules and t != name}
    return edges


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            # a package's __init__ importing its own submodule is not a cycle
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_import_graph_finds_a_planted_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    assert _cycle(_import_time_edges()) is None


def test_sampling_never_imports_decide_and_symbolic_never_imports_sampling():
    edges = _import_time_edges()
    assert "derivcheck.claims.decide" not in edges["derivcheck.claims.sampling"]
    assert "derivcheck.claims.sampling" not in edges["derivcheck.claims.symbolic"]


def test_the_claims_half_and_the_layers_half_do_not_import_each_other():
    edges = _import_time_edges()
    for name, targets in edges.items():
        if name.startswith("derivcheck.claims"):
            assert not any(t.startswith("derivcheck.layers") for t in targets), name
        if name.startswith("derivcheck.layers"):
            assert not any(t.startswith("derivcheck.claims") for t in targets), name


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_modules_stay_readable(path: Path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines"
