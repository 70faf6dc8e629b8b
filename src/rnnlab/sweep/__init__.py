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

from .execute import (execute, jobs_for, run_local, run_point, run_ray, sweep_lock,
                      threads_per_worker)
from .grid import COMPARISONS, Block, comparison_blocks, expand, parse_grid, split_values
from .plan import (Point, Sweep, default_name, from_store, plan, register, runs_of,
                   settings, sweep_runs)

__all__ = ["COMPARISONS", "Block", "Point", "Sweep", "comparison_blocks", "default_name",
           "execute", "expand", "from_store", "jobs_for", "parse_grid", "plan", "register",
           "run_local", "run_point", "run_ray", "runs_of", "settings", "split_values",
           "sweep_lock", "sweep_runs", "threads_per_worker"]
