"""The layering of the packages: every import (module level or inside a function) runs down.

Layers, lowest first; a module may import modules of its own group or of lower layers only.
Groups of one layer are peers and never import each other.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("designer", "latency", "export", "train", "profiles")
LAYERS: tuple[tuple[str, ...], ...] = (
    ("designer.core", "profiles"),  # NumPy only
    ("designer.nn", "designer.plots"),  # PyTorch modules; figures (matplotlib)
    ("latency.predict", "latency"),  # profiles and the predictor (NumPy, SciPy)
    ("latency.measure", "export", "train"),  # services built on the modules
    ("designer.workflows",),  # design, verify, tune, profile
    ("designer.cli", "designer"),  # the console script and the public API
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def group_of(module: str) -> str | None:
    """The longest layer group that ``module`` belongs to (``None`` outside the project)."""
    best = None
    for groups in LAYERS:
        for group in groups:
            if (module == group or module.startswith(group + ".")) and (best is None or len(group) > len(best)):
                best = group
    return best


def rank(group: str) -> int:
    return next(i for i, groups in enumerate(LAYERS) if group in groups)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every project module imported anywhere in the file (functions and TYPE_CHECKING included)."""
    found = []
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # ``from package import module`` depends on the module; ``from module import name`` on the module
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] in PACKAGES]


def project_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def known_modules() -> set[str]:
    return {module_name(path) for path in project_files()}


def resolve(name: str, modules: set[str]) -> str | None:
    """The project module an imported name refers to (``from a.b import c`` may name a function)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def edges() -> dict[str, set[tuple[str, str]]]:
    modules = known_modules()
    graph: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for path in project_files():
        source = module_name(path)
        for line, name in imports_of(path):
            target = resolve(name, modules)
            if target is not None and target != source:
                graph[source].add((target, f"{path.relative_to(ROOT)}:{line}"))
    return graph


def test_every_module_has_a_layer() -> None:
    assert [m for m in known_modules() if group_of(m) is None] == []


def test_imports_run_down_the_layers() -> None:
    wrong = []
    for source, targets in edges().items():
        from_group = group_of(source)
        assert from_group is not None
        for target, where in targets:
            to_group = group_of(target)
            assert to_group is not None
            if to_group != from_group and rank(to_group) >= rank(from_group):
                wrong.append(f"{where}: {source} ({from_group}) imports {target} ({to_group})")
    assert wrong == []


def test_no_import_cycles() -> None:
    graph = {source: {target for target, _ in targets} for source, targets in edges().items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append(
                    " -> ".join(stack[stack.index(target) :] + [node, target])
                    if target in stack
                    else f"{node} -> {target}"
                )
            elif target not in state:
                visit(target, stack + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert cycles == []


def test_core_imports_numpy_only() -> None:
    """The core runs without PyTorch, SciPy or any service: third-party imports are NumPy alone."""
    allowed = {"numpy"}
    found = []
    for path in (ROOT / "designer" / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top in PACKAGES or top in allowed or top in __import__("sys").stdlib_module_names:
                    continue
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert found == []
