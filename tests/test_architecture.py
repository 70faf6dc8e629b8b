"""The package's structure, as the README's Architecture section states it.

Modules import only modules of their own layer or below (function-local imports
included, except those of optional or slow third-party packages, which are not
rnnlab's); no module imports another that imports it back; no module is longer
than 400 lines; and nothing outside tasks/ asks which task it holds.
"""

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "rnnlab"

# Lowest first; a module may import its own layer and those before it.
LAYERS = [
    ["version", "errors", "util", "process"],
    ["nn"],
    ["data"],
    ["config", "figures", "tblog"],
    ["tasks"],
    ["store", "docs", "references"],
    ["rundir"],
    ["train", "inference", "export", "ensemble"],
    ["experiment"],
    ["sweep", "__init__"],
    ["report"],
    ["reproduce"],
    ["cli", "__main__"],
]
LAYER_OF = {name: i for i, names in enumerate(LAYERS) for name in names}


def modules() -> dict[str, Path]:
    """Dotted module name (without 'rnnlab.') -> file, for every module of the package."""
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def top(module: str) -> str:
    """The first part of a dotted module name: what the layers are made of."""
    return module.split(".")[0]


def imported(module: str, path: Path) -> set[str]:
    """The rnnlab modules ``module`` imports, at the top or inside functions."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    package = [] if module == "__init__" else package  # rnnlab/__init__.py: the package itself
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1] if node.level > 1 else package
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("rnnlab."):
                target = node.module[len("rnnlab."):]
            else:
                continue
            subs = [f"{target}.{a.name}" if target else a.name for a in node.names]
            found.update([n for n in subs if n in MODULES] or [target])
        elif isinstance(node, ast.Import):
            found.update(a.name[len("rnnlab."):] for a in node.names
                         if a.name.startswith("rnnlab."))
    found.discard("")
    return {m for m in found if m != module}


MODULES = modules()
IMPORTS = {m: imported(m, p) for m, p in MODULES.items()}


def test_every_module_has_a_layer():
    assert {top(m) for m in MODULES} <= set(LAYER_OF), \
        f"add to LAYERS: {sorted({top(m) for m in MODULES} - set(LAYER_OF))}"


def test_imports_point_down():
    upward = [f"{m} -> {t}" for m, targets in IMPORTS.items() for t in targets
              if LAYER_OF[top(t)] > LAYER_OF[top(m)]]
    assert not upward, "imports from a lower layer to a higher one: " + "; ".join(upward)


def test_no_import_cycles():
    seen, stack, cycles = set(), [], []

    def visit(m: str) -> None:
        if m in stack:
            cycles.append(stack[stack.index(m):] + [m])
            return
        if m in seen:
            return
        seen.add(m)
        stack.append(m)
        for t in sorted(IMPORTS.get(m, ())):
            if t in IMPORTS:
                visit(t)
        stack.pop()

    for m in sorted(IMPORTS):
        visit(m)
    # a package's __init__ handing on its own modules' names is no cycle between files
    real = [c for c in cycles if not any(a.startswith(b + ".") or b.startswith(a + ".")
                                         for a, b in zip(c, c[1:]))]
    assert not real, "import cycles: " + "; ".join(" -> ".join(c) for c in real)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module):
    lines = len(MODULES[module].read_text(encoding="utf-8").splitlines())
    assert lines <= 400, f"{module} has {lines} lines; split it by job"


TASK_BRANCH = re.compile(r"""(task|\.name)\s*(==|!=|in)\s*\(?\s*["'](forecast|classify|language)""")


def test_no_branch_on_a_task_name_outside_tasks():
    found = [f"{m}: {line.strip()}" for m, p in MODULES.items() if top(m) != "tasks"
             for line in p.read_text(encoding="utf-8").splitlines() if TASK_BRANCH.search(line)]
    assert not found, "task-specific behaviour belongs behind the Task interface: " + \
        "; ".join(found)


def test_the_checker_sees_an_upward_import(tmp_path):
    """The checks above can fail: an import from data up to tasks is caught."""
    path = tmp_path / "probe.py"
    path.write_text("from ..tasks import get_task\n")
    (target,) = imported("data.probe", path)
    assert LAYER_OF[top(target)] > LAYER_OF["data"]
    assert TASK_BRANCH.search('if cfg.task == "language":')
