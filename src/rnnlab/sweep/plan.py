"""Sweeps: a config, a grid and a number of seeds -> validated points, recorded in the store.

A point is identified by its full resolved config, so a sweep can be planned again
from its stored spec (``rnnlab sweep --resume NAME``, reports) and its runs found
among the store's.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import config as config_mod
from ..config import RunConfig
from ..errors import ConfigError, RnnlabError, RunNotFound
from ..store import Store
from ..util import flatten, suggest
from .grid import Block, expand


def _get(cfg: RunConfig, key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


# ---------------------------------------------------------------- sweeps

@dataclass
class Point:
    """One run of a sweep: the values it sets and the validated config they give."""

    values: dict[str, Any]
    cfg: RunConfig

    @property
    def label(self) -> str:
        return " ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in self.values.items())


@dataclass
class Sweep:
    name: str
    spec: dict
    points: list[Point]


def _typed(raw: dict, key: str, value: Any, quick: bool, overrides: Sequence[str],
           source: str) -> Any:
    """A grid value as the config dataclass types it ("1e-3" -> 0.001 for train.lr)."""
    text = f"{key}={json.dumps(value)}"
    try:
        cfg = config_mod.from_dict(raw, quick=quick, overrides=[*overrides, text], source=source)
    except ConfigError as err:
        raise ConfigError(f"--grid {text}: {err}") from None
    return _get(cfg, key)


def default_name(cfg_name: str, blocks: Sequence[Block], quick: bool) -> str:
    keys = [k.rsplit(".", 1)[-1] for b in blocks for k in b if k != "seed"]
    unique = list(dict.fromkeys(keys)) or ["seeds"]
    return "-".join([cfg_name, *unique] + (["quick"] if quick else []))


def plan(raw: dict, blocks: Sequence[Block], *, seeds: int = 1, quick: bool = False,
         overrides: Sequence[str] = (), name: str | None = None,
         source: str = "config") -> Sweep:
    """Validate every point of a sweep before anything runs (a bad key or value fails here)."""
    if seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    blocks = [dict(b) for b in blocks if b]
    if not blocks and seeds == 1:
        raise ConfigError("nothing to sweep: give --grid KEY=V1,V2 (repeatable) and/or "
                          "--seeds N with N > 1")
    base = config_mod.from_dict(raw, quick=quick, overrides=list(overrides), source=source)
    valid = {k for k in flatten(base.to_dict()) if not k.startswith("quick.")} | {"seed"}
    for block in blocks:
        for key in block:
            if key not in valid:
                same_leaf = [k for k in sorted(valid)
                             if k.rsplit(".", 1)[-1] == key.rsplit(".", 1)[-1]]
                hint = suggest(key, valid, 0.5) or (f" Did you mean {same_leaf[0]!r}?"
                                                    if same_leaf else "")
                raise ConfigError(f"--grid {key}: no such config key.{hint} Keys are dotted "
                                  f"section.key names as in the YAML file (e.g. train.lr)")
            if not block[key]:
                raise ConfigError(f"--grid {key}: no values given")
        if "seed" in block and seeds > 1:
            raise ConfigError("give the seeds either with --seeds N or with --grid seed=..., "
                              "not both")
    blocks = [{k: [_typed(raw, k, v, quick, overrides, source) for v in vs]
               for k, vs in block.items()} for block in blocks]
    seed_list = [base.seed + i for i in range(seeds)] if seeds > 1 else None
    points = []
    for values in expand(blocks or [{}], seed_list):
        texts = [f"{k}={json.dumps(v)}" for k, v in values.items()]
        try:
            cfg = config_mod.from_dict(raw, quick=quick, overrides=[*overrides, *texts],
                                       source=source)
        except ConfigError as err:
            raise ConfigError(f"--grid point {' '.join(texts)}: {err}") from None
        points.append(Point({k: _get(cfg, k) for k in values}, cfg))
    name = name or default_name(base.name, blocks, quick)
    spec = {"config": raw, "source": source, "quick": quick, "overrides": list(overrides),
            "blocks": blocks, "seeds": seeds}
    return Sweep(name, json.loads(json.dumps(spec)), points)


def from_store(store: Store, name: str) -> Sweep:
    """A stored sweep, planned again from its spec (for ``--resume NAME`` and reports)."""
    spec = store.get_sweep(name)
    if spec is None:
        known = store.sweep_names()
        raise RunNotFound(f"no sweep {name!r} in {store.path}.{suggest(name, known, 0.5)} "
                          + (f"Sweeps: {', '.join(known)}" if known else
                             "No sweeps yet: start one with `rnnlab sweep CONFIG --grid ...`"))
    return plan(spec["config"], spec["blocks"], seeds=spec["seeds"], quick=spec["quick"],
                overrides=spec["overrides"], name=name, source=spec["source"])


def register(store: Store, sweep: Sweep) -> None:
    """Store the sweep's spec; a different sweep under an existing name is refused."""
    stored = store.get_sweep(sweep.name)
    if stored is None:
        store.save_sweep(sweep.name, sweep.spec)
        return
    if _points(stored) != [settings(p.cfg) for p in sweep.points]:
        raise ConfigError(f"a sweep named {sweep.name!r} already exists with a different "
                          f"config, grid or seed count. Continue it as it was with `rnnlab "
                          f"sweep --resume {sweep.name}`, or give this one another --name")


def _points(spec: dict) -> list[dict] | None:
    """The settings of every point a stored spec plans (None if it no longer plans): two
    specs are the same sweep when they run the same points, however they are written."""
    try:
        old = plan(spec["config"], spec["blocks"], seeds=spec["seeds"], quick=spec["quick"],
                   overrides=spec["overrides"], name="stored", source=spec["source"])
    except (RnnlabError, KeyError):  # e.g. a key or a data file that is gone
        return None
    return [settings(p.cfg) for p in old.points]


def canon(obj: Any) -> Any:
    return json.loads(json.dumps(obj))


def settings(cfg: RunConfig) -> dict:
    """A config as a run is matched by: the values it sets apart from the defaults (an
    option added later, at its default, does not orphan the runs made before it), without
    its published figures (``reference``: notes about it) and its ``quick`` variant
    (already applied or not used)."""
    return {k: v for k, v in canon(config_mod.non_defaults(cfg)).items()
            if k not in ("reference", "quick")}


@functools.lru_cache(maxsize=4096)
def _stored_settings(text: str) -> str | None:
    """The settings of a config stored as JSON, read with today's schema (JSON, to cache)."""
    try:
        return json.dumps(settings(config_mod.from_dict(json.loads(text))), sort_keys=True)
    except RnnlabError:  # a key since removed, or a file since gone: it matches nothing
        return None


def runs_of(rows: list[dict], cfg: RunConfig) -> list[dict]:
    """The store rows (oldest first) of runs made with ``cfg``'s settings."""
    wanted = json.dumps(settings(cfg), sort_keys=True)
    return [r for r in rows if _stored_settings(r["config"]) == wanted]


def sweep_runs(store: Store, sweep: Sweep) -> list[dict]:
    """The store rows of a sweep's current points, in point order (latest run per point)."""
    rows = store.list_runs(sweep=sweep.name)
    out = []
    for point in sweep.points:
        mine = runs_of(rows, point.cfg)
        finished = [r for r in mine if r["status"] == "finished"]
        if finished or mine:
            out.append((finished or mine)[-1])
    return out
