"""Grids: ``--grid KEY=V1,V2`` values, blocks of keys and their cartesian products, and the
grids of the lab's comparison questions.

A grid is a list of *blocks*; each block maps dotted config keys to value lists
and stands for their cartesian product; the points of all blocks are joined
(duplicates dropped) and crossed with the seeds. ``--grid`` on the command line
gives one block; the comparison presets (:data:`COMPARISONS`) give several, e.g.
one block per hyperparameter so each varies around the base config.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Sequence

from .. import config as config_mod
from ..errors import ConfigError
from ..tasks import Task, get_task
from ..tasks.base import ALL_KINDS, LAB_KINDS
from ..util import suggest

Block = dict[str, list]

# The lab's comparison questions as sweeps: preset -> the blocks for a task and the base
# config's implementation. cell_types adds the minimal cells to the lab's three (torch.nn
# has none: left out under impl torch). hyperparams varies one key at a time around the
# base config, for each cell type (so the effect plots get one line per cell type); each
# task says which keys (Task.hyperparams).
COMPARISONS: dict[str, Callable[[type[Task], str], list[Block]]] = {
    "scratch_vs_torch": lambda task, impl: [{"model.impl": ["scratch", "torch"]}],
    "cell_types": lambda task, impl: [LAB_KINDS if impl == "torch" else ALL_KINDS],
    "hyperparams": lambda task, impl: task.hyperparams,
    # cells x sequence length for the long-range memory problems (minimal cells not on torch)
    "long_range": lambda task, impl: [
        {**b, "model.kind": [k for k in b["model.kind"] if impl != "torch" or k in
                             LAB_KINDS["model.kind"]]} for b in task.memory_grid],
}


def comparison_blocks(preset: str, task: str, impl: str = "scratch") -> list[Block]:
    """The grid of a comparison preset for ``task`` around a config of implementation
    ``impl``."""
    if preset not in COMPARISONS:
        raise ConfigError(f"unknown comparison {preset!r}.{suggest(preset, COMPARISONS, 0.5)} "
                          f"Valid: {', '.join(COMPARISONS)}")
    blocks = COMPARISONS[preset](get_task(task), impl)
    if not blocks:
        raise ConfigError(f"comparison {preset!r} has no grid for task {task!r} yet")
    return copy.deepcopy(blocks)


def split_values(text: str) -> list[str]:
    """``64,128`` -> ["64", "128"]; commas inside [...] or {...} stay (``[0.6,0.2],[0.8,0.2]``)."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts]


def parse_grid(items: Sequence[str]) -> Block:
    """``["model.hidden_size=64,128", "train.lr=0.1,0.01"]`` -> one block of typed values."""
    block: Block = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--grid {item!r}: expected KEY=V1,V2,..., "
                              f"e.g. --grid model.hidden_size=64,128")
        key, text = item.split("=", 1)
        key = key.strip()
        if key in block:
            raise ConfigError(f"--grid {key} is given twice; list all its values in one --grid")
        texts = split_values(text)
        if not text.strip() or any(not t for t in texts):
            raise ConfigError(f"--grid {key}: empty value in {text!r}; give values separated "
                              f"by commas, e.g. --grid {key}=V1,V2")
        values = [config_mod.parse_override(f"{key}={t}")[1] for t in texts]
        dupes = [t for t, v in zip(texts, values) if values.count(v) > 1]
        if dupes:
            raise ConfigError(f"--grid {key}: value {dupes[0]!r} is listed twice")
        block[key] = values
    return block


def expand(blocks: Sequence[Block], seeds: Sequence[int] | None = None) -> list[dict]:
    """The points of a grid: each block's cartesian product, joined in order without
    duplicates, then crossed with ``seeds`` (when given) as the last key ``seed``."""
    points: list[dict] = []
    for block in blocks:
        keys = list(block)
        for combo in itertools.product(*(block[k] for k in keys)):
            point = dict(zip(keys, combo))
            if point not in points:
                points.append(point)
    if not seeds:
        return points
    return [{**p, "seed": s} for p in points for s in seeds]
