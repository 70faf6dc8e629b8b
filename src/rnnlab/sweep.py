"""Sweeps: a config, a grid of overrides and a number of seeds -> one normal run per point.

A grid is a list of *blocks*; each block maps dotted config keys to value lists
and stands for their cartesian product; the points of all blocks are joined
(duplicates dropped) and crossed with the seeds. ``--grid`` on the command line
gives one block; the comparison presets (:data:`COMPARISONS`) give several, e.g.
one block per hyperparameter so each varies around the base config.

Every point is a normal run (:func:`rnnlab.experiment.run`) recorded in the
store under the sweep's name. A point is identified by its full resolved
config, so rerunning a sweep skips points that finished, resumes interrupted
ones from their last checkpoint, and runs only what is missing. The sweep's
spec is stored too: ``rnnlab sweep --resume NAME`` reruns it as it was.

Executors: ``local`` (in this process, or N worker processes) and ``ray`` (Ray
Tune runs the same :func:`run_point` on a Ray cluster).
"""

from __future__ import annotations

import copy
import difflib
import itertools
import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from . import config as config_mod
from .config import RunConfig
from .errors import ConfigError, RnnlabError, RunNotFound, TrainingError
from .report.tables import flatten
from .store import Store

Block = dict[str, list]

# The lab's comparison questions as sweeps: preset -> task -> blocks ("*" = any task).
# hyperparams varies one key at a time around the base config, for each cell type
# (so the effect plots get one line per cell type).
_KINDS = {"model.kind": ["rnn", "lstm", "gru"]}
COMPARISONS: dict[str, dict[str, list[Block]]] = {
    "scratch_vs_torch": {"*": [{"model.impl": ["scratch", "torch"]}]},
    "cell_types": {"*": [{"model.kind": ["rnn", "lstm", "gru"]}]},
    "hyperparams": {
        "forecast": [{**_KINDS, "model.hidden_size": [16, 32, 64]},
                     {**_KINDS, "train.batch_size": [32, 64, 128]},
                     {**_KINDS, "train.lr": [1e-2, 3e-3, 1e-3]}],
        "classify": [{**_KINDS, "model.hidden_size": [32, 64, 128]},
                     {**_KINDS, "train.batch_size": [32, 64, 128]},
                     {**_KINDS, "train.lr": [1e-2, 1e-3, 1e-4]}],
        "language": [{**_KINDS, "model.hidden_size": [128, 256, 512]},
                     {**_KINDS, "train.batch_size": [16, 32, 64]},
                     {**_KINDS, "train.lr": [0.1, 1.0, 5.0]},
                     {**_KINDS, "data.num_steps": [20, 35, 60]},
                     # an optimiser comes with its own learning rate: one block each
                     {**_KINDS, "train.optimizer": ["sgd"], "train.lr": [1.0]},
                     {**_KINDS, "train.optimizer": ["adam"], "train.lr": [1e-3]},
                     {**_KINDS, "model.init": ["default", "xavier", "kaiming", "orthogonal"]}],
    },
}


def comparison_blocks(preset: str, task: str) -> list[Block]:
    """The grid of a comparison preset for ``task``."""
    if preset not in COMPARISONS:
        raise ConfigError(f"unknown comparison {preset!r}.{_close(preset, COMPARISONS)} "
                          f"Valid: {', '.join(COMPARISONS)}")
    table = COMPARISONS[preset]
    blocks = table.get(task, table.get("*"))
    if blocks is None:
        raise ConfigError(f"comparison {preset!r} has no grid for task {task!r} yet; "
                          f"it has grids for: {', '.join(table)}")
    return copy.deepcopy(blocks)


def _close(word: str, valid) -> str:
    match = difflib.get_close_matches(word, list(valid), n=1, cutoff=0.5)
    return f" Did you mean {match[0]!r}?" if match else ""


# ---------------------------------------------------------------- grids

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
                close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5) or [
                    k for k in sorted(valid) if k.rsplit(".", 1)[-1] == key.rsplit(".", 1)[-1]]
                hint = f" Did you mean {close[0]!r}?" if close else ""
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
        raise RunNotFound(f"no sweep {name!r} in {store.path}.{_close(name, known)} "
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
    same = {k: stored.get(k) for k in ("config", "quick", "overrides", "blocks", "seeds")}
    if same != {k: sweep.spec[k] for k in same}:
        raise ConfigError(f"a sweep named {sweep.name!r} already exists with a different "
                          f"config, grid or seed count. Continue it as it was with `rnnlab "
                          f"sweep --resume {sweep.name}`, or give this one another --name")


# ---------------------------------------------------------------- running one point

def _canon(obj: Any) -> Any:
    return json.loads(json.dumps(obj))


def run_point(job: dict) -> dict:
    """Run (or skip, or resume) one point of a sweep; what every executor calls.

    ``job``: config (a resolved config dict), sweep, runs_dir, data_dir, download,
    threads, progress. Returns run_id, action (ran | resumed | skipped | failed),
    status and error.
    """
    from . import experiment

    if job.get("threads"):
        import torch

        torch.set_num_threads(job["threads"])
    runs_dir = Path(job["runs_dir"])
    store = Store(runs_dir / experiment.DB_NAME)
    cfg_dict = _canon(job["config"])
    mine = [r for r in store.list_runs(sweep=job["sweep"]) if json.loads(r["config"]) == cfg_dict]
    kwargs = dict(data_dir=job.get("data_dir"), runs_dir=runs_dir,
                  download=job.get("download", False), progress=job.get("progress", False))
    done = [r for r in mine if r["status"] == "finished"]
    if done:
        return {"run_id": done[-1]["id"], "action": "skipped", "status": "finished"}
    try:
        if mine:  # interrupted, killed (left 'running') or failed: continue from last.pt
            result = experiment.resume(mine[-1]["id"], **kwargs)
            action = "resumed"
        else:
            cfg = config_mod.from_dict(cfg_dict, source=f"sweep {job['sweep']}")
            result = experiment.run(cfg, sweep=job["sweep"], **kwargs)
            action = "ran"
    except RnnlabError as err:
        run_id = mine[-1]["id"] if mine else None
        return {"run_id": run_id, "action": "failed", "status": "failed", "error": str(err)}
    return {"run_id": result.run_id, "action": action, "status": "finished"}


# ---------------------------------------------------------------- executors

def jobs_for(sweep: Sweep, *, runs_dir: str | Path = "runs", data_dir=None,
             download: bool = False, threads: int | None = None,
             progress: bool = False) -> list[dict]:
    """One plain, picklable job per point (absolute paths: Ray workers run elsewhere)."""
    return [{"config": p.cfg.to_dict(), "sweep": sweep.name, "label": p.label,
             "runs_dir": str(Path(runs_dir).resolve()),
             "data_dir": str(Path(data_dir).resolve()) if data_dir else None,
             "download": download, "threads": threads, "progress": progress}
            for p in sweep.points]


def threads_per_worker(workers: int) -> int:
    """Split the CPU cores evenly between workers (at least one thread each)."""
    return max(1, (os.cpu_count() or 1) // max(workers, 1))


def run_local(jobs: list[dict], workers: int = 1,
              on_result: Callable[[dict, dict], None] | None = None) -> list[dict]:
    """Run the jobs here, one after another, or in ``workers`` processes at once."""
    results: list[dict | None] = [None] * len(jobs)
    if workers <= 1:
        for i, job in enumerate(jobs):
            results[i] = run_point(job)
            if on_result:
                on_result(job, results[i])
        return results
    # spawn, not fork: a forked child inherits torch's thread pools in an unusable state
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(run_point, job): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            if on_result:
                on_result(jobs[i], results[i])
    return results


def _tune_trainable(params: dict, jobs: list[dict]) -> None:
    from ray import tune

    result = run_point(jobs[params["index"]])
    tune.report({"index": params["index"], **{k: v or "" for k, v in result.items()}})


def run_ray(jobs: list[dict], *, address: str | None = None, threads: int = 1,
            name: str = "sweep", storage: str | Path = "runs/ray",
            on_result: Callable[[dict, dict], None] | None = None) -> list[dict]:
    """Run the jobs as Ray Tune trials (a grid search over their indices).

    ``address``: "auto" or host:port of a running cluster; None starts a local Ray.
    On a cluster every node must see the same runs folder and data (a shared disk).
    """
    try:
        import ray
        from ray import tune
    except ImportError:
        raise ConfigError("the ray executor needs Ray Tune: pip install 'rnnlab[cluster]' "
                          "(or pip install 'ray[tune]')") from None
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise ConfigError(f"cannot reach a Ray cluster at {address!r}: {err}. Start one "
                              f"with `ray start --head`, or leave out --ray-address to run "
                              f"Ray locally") from None
    try:
        trainable = tune.with_resources(tune.with_parameters(_tune_trainable, jobs=jobs),
                                        {"cpu": threads})
        tuner = tune.Tuner(
            trainable, param_space={"index": tune.grid_search(list(range(len(jobs))))},
            run_config=tune.RunConfig(name=name, storage_path=str(Path(storage).resolve()),
                                      verbose=0))
        grid = tuner.fit()
        results: list[dict | None] = [None] * len(jobs)
        for trial in grid:
            if trial.error is not None or "index" not in (trial.metrics or {}):
                continue
            m = trial.metrics
            results[m["index"]] = {k: (m.get(k) or None) for k in
                                   ("run_id", "action", "status", "error")}
        for i, job in enumerate(jobs):
            if results[i] is None:  # the trial itself crashed (not an rnnlab error)
                results[i] = {"run_id": None, "action": "failed", "status": "failed",
                              "error": "the Ray trial crashed; see its log under "
                                       f"{Path(storage) / name}"}
            if on_result:
                on_result(job, results[i])
        return results
    finally:
        if started:
            ray.shutdown()


def execute(sweep: Sweep, *, executor: str = "local", workers: int = 1,
            ray_address: str | None = None, runs_dir: str | Path = "runs", data_dir=None,
            download: bool = False, progress: bool | None = None,
            on_result: Callable[[dict, dict], None] | None = None) -> list[dict]:
    """Record the sweep and run its points; returns one outcome per point.

    Raises TrainingError after all points ran when any of them failed.
    """
    from .experiment import DB_NAME

    if executor not in ("local", "ray"):
        raise ConfigError(f"unknown executor {executor!r}; valid: local, ray")
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    store = Store(Path(runs_dir) / DB_NAME)
    register(store, sweep)
    parallel = executor == "ray" or workers > 1
    threads = threads_per_worker(workers) if parallel else None
    jobs = jobs_for(sweep, runs_dir=runs_dir, data_dir=data_dir, download=download,
                    threads=threads, progress=(not parallel) if progress is None else progress)
    if executor == "ray":
        results = run_ray(jobs, address=ray_address, threads=threads or 1, name=sweep.name,
                          storage=Path(runs_dir) / "ray", on_result=on_result)
    else:
        results = run_local(jobs, workers, on_result)
    failed = [(j, r) for j, r in zip(jobs, results) if r["action"] == "failed"]
    if failed:
        lines = "; ".join(f"{j['label']}: {r['error']}" for j, r in failed[:3])
        raise TrainingError(f"{len(failed)} of {len(jobs)} points of sweep {sweep.name!r} "
                            f"failed ({lines}). Fix the cause and rerun `rnnlab sweep --resume "
                            f"{sweep.name}`: finished points are kept")
    return results


def sweep_runs(store: Store, sweep: Sweep) -> list[dict]:
    """The store rows of a sweep's current points, in point order (latest run per point)."""
    rows = store.list_runs(sweep=sweep.name)
    out = []
    for point in sweep.points:
        cfg = _canon(point.cfg.to_dict())
        mine = [r for r in rows if json.loads(r["config"]) == cfg]
        finished = [r for r in mine if r["status"] == "finished"]
        if finished or mine:
            out.append((finished or mine)[-1])
    return out


__all__ = ["COMPARISONS", "Point", "Sweep", "comparison_blocks", "execute", "expand",
           "flatten", "parse_grid", "plan", "from_store", "run_point", "sweep_runs"]
