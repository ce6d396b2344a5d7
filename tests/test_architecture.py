"""The layout docs/architecture.md promises: small modules, no cycles between packages, and no
vendor SDK imported at module level outside the providers and trackers that wrap them."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "evalkit"
VENDOR_SDKS = ("mlflow", "openai", "torch", "transformers", "ray")
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _package_of(module: str) -> str | None:
    """evalkit.gates.apply -> "gates"; top-level modules (api, errors, ...) are their own."""
    parts = module.split(".")
    return parts[1] if parts[0] == "evalkit" and len(parts) > 1 else None


def package_graph() -> dict[str, set[str]]:
    """Which evalkit package imports which, counting imports inside functions too."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in _modules():
        source = _package_of(_name(path))
        if source is None:
            continue
        for imported in _imports(path, top_level_only=False):
            target = _package_of(imported)
            if target is not None and target != source:
                graph[source].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules: {long}"


def test_no_import_cycle_between_packages() -> None:
    cycle = _cycle(package_graph())
    assert cycle is None, " -> ".join(cycle or [])


@pytest.mark.parametrize("sdk", VENDOR_SDKS)
def test_the_core_imports_no_vendor_sdk_at_module_level(sdk: str) -> None:
    wrappers = ("evalkit.providers", "evalkit.trackers")
    offenders = [
        _name(path)
        for path in _modules()
        if not _name(path).startswith(wrappers)
        and any(i == sdk or i.startswith(f"{sdk}.") for i in _imports(path, top_level_only=True))
    ]
    assert not offenders, f"{sdk} imported at module level in {offenders}"


def test_the_cycle_check_can_fail() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
