"""The packages stack: data → synth → models → checkpoints/scoring → train/evaluate → predict → cli.

Every ``import`` in ``src/fakescan`` (at the top, inside functions and under ``TYPE_CHECKING`` alike)
is read with :mod:`ast` and checked against the order; the modules of ``predict`` import each other
without a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import fakescan

SRC = Path(fakescan.__file__).parent

# Each part may import itself and the parts of lower rank only (rank 0, the foundations, each other).
RANKS: dict[str, int] = {
    "__init__": 0,
    "errors": 0,
    "_atomic": 0,
    "ops": 0,
    "data": 1,
    "synth": 2,
    "models": 2,
    "checkpoints": 3,
    "scoring": 3,
    "imports": 4,
    "train": 4,
    "evaluate": 4,
    "predict": 5,
    "serve": 6,
    "demo": 6,
    "cli": 7,
    "__main__": 8,
}
# Within a rank, who may import whom (the pairs not listed are refused).
SIDEWAYS: set[tuple[str, str]] = {
    ("train", "evaluate"),  # training reports validation metrics with evaluate's pure functions
    ("scoring", "checkpoints"),
    ("checkpoints", "scoring"),
}
# Modules any part may import: records with no behaviour (the input a model declares, which the data
# side applies).
SHARED_RECORDS: set[str] = {"fakescan.models.output"}
FORBIDDEN: dict[str, set[str]] = {
    "data": {"synth", "models", "checkpoints", "scoring", "train", "evaluate", "predict", "demo", "cli"},
    "models": {"data", "synth", "train", "evaluate", "predict"},
    "evaluate": {"train", "predict"},
    "synth": {"models", "train", "evaluate", "predict"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every ``fakescan…`` module that ``path`` imports (absolute or relative, at any depth)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            # ``from fakescan import checkpoints`` imports the submodule.
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "fakescan" or name.startswith("fakescan.")}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _all_imports() -> dict[str, set[str]]:
    return {_module_name(path): _imports(path) for path in sorted(SRC.rglob("*.py"))}


MODULES = _all_imports()


def _edges() -> list[tuple[str, str]]:
    known = set(MODULES)
    return [
        (source, target)
        for source, targets in MODULES.items()
        for target in targets
        if target in known and _part(source) != _part(target) and target not in SHARED_RECORDS
    ]


def test_every_part_of_the_package_has_a_rank() -> None:
    assert {_part(m) for m in MODULES} <= set(RANKS), "a new top-level module needs a rank in RANKS"


@pytest.mark.parametrize("source_part", sorted(FORBIDDEN))
def test_a_part_never_imports_what_stands_above_it(source_part: str) -> None:
    wrong = [(s, t) for s, t in _edges() if _part(s) == source_part and _part(t) in FORBIDDEN[source_part]]
    assert wrong == []


def test_imports_point_down_the_stack() -> None:
    upward = []
    for source, target in _edges():
        low, high = RANKS[_part(target)], RANKS[_part(source)]
        if target == "fakescan" or _part(target) == "__init__":
            continue  # the package itself (its version) is below everything
        sideways_ok = low == 0 or (_part(source), _part(target)) in SIDEWAYS  # rank 0: the foundations
        if low > high or (low == high and not sideways_ok):
            upward.append((source, target))
    assert upward == []


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


@pytest.mark.parametrize("part", ["predict", "train", "evaluate", "data", "models", "synth"])
def test_the_modules_of_a_part_import_each_other_without_a_cycle(part: str) -> None:
    members = {m for m in MODULES if _part(m) == part and m != f"fakescan.{part}"}
    graph = {m: {t for t in MODULES[m] if t in members} for m in members}
    assert _cycle(graph) is None


def test_the_checker_sees_a_cycle_and_an_upward_import() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    # The module this test guards against reappearing: data importing synth.
    assert "fakescan.synth.sbi" in MODULES["fakescan.synth.pseudo"]
    assert not any(_part(t) == "synth" for t in MODULES["fakescan.data.loading"])
