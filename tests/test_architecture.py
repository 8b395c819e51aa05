"""The package's shape: imports only point down the layers of DESIGN.md, with no cycles.

Every ``import`` of a minnet module, at module level or inside a function, is an edge
of the graph checked here; an edge that points up a layer, or any cycle, fails.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "minnet"

# The layers, lowest first.  ``minnet`` itself (the package __init__) re-exports
# layers 1-3; the old import paths re-export layer 4.
LAYERS: list[tuple[int, tuple[str, ...]]] = [
    (1, ("minnet.autograd", "minnet.extend")),
    (2, ("minnet.nn", "minnet.losses", "minnet.optim", "minnet.hparams", "minnet.compiler")),
    (3, ("minnet.graph",)),
    (4, ("minnet",)),  # the package facade: import minnet
    (5, ("minnet.train",)),
    (6, ("minnet.training", "minnet.sweep")),  # old paths, thin re-exports
    (7, ("minnet.cli", "minnet.sklearn", "minnet.__main__")),
]
DOORS = ("minnet.cli", "minnet.sklearn", "minnet.__main__")


def layer_of(module: str) -> int:
    best, length = None, -1
    for layer, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > length:
                best, length = layer, len(prefix)
    assert best is not None, f"{module} is in no layer"
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(module: str) -> set[str]:
    """The minnet modules ``module`` imports (``from minnet import nn`` is minnet.nn)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [n if n in MODULES else node.module for n in names]
        else:
            continue
        found.update(n for n in names if n == "minnet" or n.startswith("minnet."))
    found.discard(module)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_is_in_a_layer():
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_point_down(module):
    mine = layer_of(module)
    upward = [target for target in GRAPH[module] if layer_of(target) > mine]
    assert not upward, f"{module} (layer {mine}) imports {upward} from a higher layer"


def within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_only_entry_points_import_the_entry_points():
    """The CLI and the estimators are doors: nothing but another door imports them."""
    for module, targets in GRAPH.items():
        if not within(module, DOORS):
            assert not [t for t in targets if within(t, DOORS)], f"{module} imports a door"


def test_there_are_no_import_cycles():
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_the_checker_sees_a_cycle_and_an_upward_import():
    """The two checks above would fail on a real offence (they are not vacuous)."""
    assert "minnet.autograd.tensor" in GRAPH["minnet.autograd.ops"]
    assert layer_of("minnet.train.run") > layer_of("minnet.nn.layers")
    assert "minnet.train.loop" in GRAPH["minnet.sklearn"]


def test_import_minnet_loads_no_scikit_learn_tqdm_or_matplotlib():
    code = (
        "import sys, minnet; "
        "heavy = [m for m in ('sklearn', 'tqdm', 'matplotlib', 'joblib') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_one_training_step_loop_in_the_package():
    """``optimizer.step()`` is called in one place: the compiled step, which the epoch
    function every trainer uses runs (compiled or, when it cannot compile, eagerly)."""
    step = re.compile(r"\b(optimizer|opt)\.step\(\)")
    callers = sorted(module for module, path in MODULES.items()
                     if step.search(path.read_text(encoding="utf-8")) and not module.startswith("minnet.optim"))
    assert callers == ["minnet.compiler.step"]
