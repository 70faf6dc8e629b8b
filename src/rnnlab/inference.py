"""Use a finished run: re-evaluate its best checkpoint, or predict on new input.

Both rebuild the run from its folder (:meth:`rnnlab.rundir.RunFolder.load`) and go
through its task: what the input is, how it is read and what comes out is the
task's business (:meth:`rnnlab.tasks.base.Task.predict_command`).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from .rundir import RunFolder
from .tasks import PredictOptions, get_task


def evaluate_run(ref: str, split: str = "test", *, runs_dir: str | Path = "runs",
                 data_dir=None, download: bool = False) -> tuple[dict, dict]:
    """(recomputed metrics, metrics stored with the run) on ``split``."""
    run = RunFolder.find(ref, runs_dir).load(data_dir, download)
    run.task.check_split(split, run.run_id)
    with torch.no_grad():
        computed = run.task.evaluate(run.model, split)
    stored = run.summary.get(split, {}) if split == "test" else _stored_epoch(run, split)
    return computed, stored


def _stored_epoch(run, split: str) -> dict:
    """The figures stored for the best epoch (what best.pt holds) on ``split``."""
    prefix = f"{split}_"
    for row in run.folder.history():
        if row.get("epoch") == run.summary.get("best_epoch"):
            return {k[len(prefix):]: v for k, v in row.items()
                    if k.startswith(prefix) and not (isinstance(v, float) and math.isnan(v))}
    return {}


def metrics_agree(computed: dict, stored: dict, rel: float = 1e-6) -> bool:
    """True when every stored figure is reproduced (to float rounding)."""
    return all(k in computed and math.isclose(computed[k], v, rel_tol=rel, abs_tol=1e-9)
               for k, v in stored.items() if isinstance(v, (int, float)))


def predict_run(ref: str, inputs: list[str], options: PredictOptions, *,
                runs_dir: str | Path = "runs", data_dir=None, download: bool = False
                ) -> list[str]:
    """`rnnlab predict`: the run ``ref`` on the command line's ``inputs``, as lines to print."""
    folder = RunFolder.find(ref, runs_dir)
    get_task(folder.task_name).check_predict_inputs(inputs, options)
    run = folder.load(data_dir, download, for_prediction=True)
    return run.task.predict_command(run.model, inputs, options)
