"""The package's shape: the stages are folders, and no module imports another in a circle (not even
lazily, inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "helpers"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports(path: Path, known: set[str]) -> set[str]:
    """Modules of the package that ``path`` imports anywhere (functions included; TYPE_CHECKING blocks not)."""
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for node in ast.walk(tree)
                   if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in known} - {module_name(path)}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(p) for p in paths}
    return {module_name(p): package_imports(p, known) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_module_imports_another_in_a_circle() -> None:
    graph = import_graph()
    assert len(graph) > 40 and "helpers.answer" in graph  # the walk found the package
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_stages_are_folders() -> None:
    stages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert {"providers", "estimates", "runlog", "compare", "commands", "labcheck"} <= stages
    flat = {p.stem for p in PACKAGE.glob("*.py")}
    assert not flat & {"store", "cost", "puzzles", "graders", "results", "report", "charts", "grid", "replay",
                       "caching", "run_budget", "local_engine", "ollama", "quantities"}


def test_adapters_declare_what_they_support() -> None:
    from helpers.providers import ADAPTERS, adapter
    from helpers.providers.base import SAMPLING, Adapter

    for api in ADAPTERS:
        chosen = adapter(api)
        assert isinstance(chosen, Adapter) and chosen.api == api
        assert chosen.params <= set(SAMPLING)
        assert type(chosen).exchange is not Adapter.exchange  # each implements its one call
    assert "temperature" not in adapter("anthropic").params  # the Messages API version we use has none
    assert adapter("openai").prompt_cache and adapter("anthropic").prompt_cache.mode == "explicit"
    assert not adapter("stub").lists_models and adapter("openai").lists_models
