"""Ensembles: average several finished runs' outputs on one split and score the average.

What is averaged and how it is scored is the task's (classify: class probabilities;
forecast: forecasts in original units). The runs must have been evaluated on the
same rows: their tasks' fingerprints of the split must agree.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .errors import ConfigError
from .rundir import RunFolder
from .tasks import TASKS


def ensemble_runs(refs: list[str], split: str = "test", figures_dir: str | Path | None = None,
                  *, runs_dir: str | Path = "runs", data_dir=None,
                  download: bool = False) -> dict:
    """Average the runs ``refs`` (ids, prefixes or folders) on ``split``.

    Each may differ in seed, model or settings. Returns the members' own metrics and
    the ensemble's, with what the task adds (per-class tables, baselines, ...);
    ``figures_dir`` gets the ensemble's figures where the task draws any.
    """
    if len(refs) < 2:
        raise ConfigError(f"an ensemble needs at least two runs, got {len(refs)}")
    members, total, first, key = {}, None, None, None
    for ref in refs:
        run = RunFolder.find(ref, runs_dir).load(data_dir, download)
        task = run.task
        if not task.can_ensemble:
            able = [name for name, cls in TASKS.items() if cls.can_ensemble]
            raise ConfigError(f"run {run.run_id} is a {task.name} run; ensembles average runs "
                              f"of the tasks {', '.join(able)}")
        if first is not None and task.name != first.task.name:
            raise ConfigError(f"run {run.run_id} is a {task.name} run and {first.run_id} a "
                              f"{first.task.name} run; an ensemble averages runs of one task")
        if figures_dir is not None and not task.ensemble_figures:
            raise ConfigError(f"--figures draws a classification ensemble's confusion matrix "
                              f"and per-class F1; {task.name} runs have none, leave it out")
        task.check_split(split, run.run_id)
        if run.run_id in members:
            raise ConfigError(f"run {run.run_id} is listed twice")
        if first is None:
            first, key = run, task.fingerprint(split)
        elif task.fingerprint(split) != key:
            raise ConfigError(f"runs {first.run_id} and {run.run_id} were not evaluated on the "
                              f"same {split} rows (their data, split or preprocessing differ: "
                              "data.split, data.limit, data.split_seed, data.max_length, "
                              f"windows, ...); train the members on {task.same_rows}")
        with torch.no_grad():
            out, members[run.run_id] = task.ensemble_output(run.model, split)
        total = out if total is None else total + out
    mean = total / len(members)
    return {"task": first.task.name, "split": split, "members": members,
            **first.task.ensemble_report(mean, split, figures_dir)}
