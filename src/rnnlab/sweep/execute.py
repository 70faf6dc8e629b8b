"""Running a sweep: every point is a normal run, here, in worker processes, or as Ray Tune trials.

Rerunning a sweep skips points that finished, resumes interrupted ones from their
last checkpoint, and runs only what is missing. Executors: ``local`` (in this
process, or N worker processes) and ``ray`` (Ray Tune runs the same
:func:`run_point` on a Ray cluster).
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import ExitStack, contextmanager
from multiprocessing import get_context
from pathlib import Path

import torch
from filelock import FileLock, Timeout

from .. import config as config_mod
from .. import experiment
from ..errors import ConfigError, RnnlabError, RunInUse, TrainingError
from ..process import me
from ..store import Store
from ..util import write_text
from .plan import Sweep, canon, register, runs_of


_stopping = False  # set in a sweep worker once it was told to stop (_stop_like_ctrl_c)


def run_point(job: dict) -> dict:
    """Run (or skip, or resume) one point of a sweep; what every executor calls.

    ``job``: config (a resolved config dict), sweep, runs_dir, data_dir, download,
    threads, progress. Returns run_id, action (ran | resumed | skipped | failed),
    status and error.
    """
    if _stopping:  # a queued point reaching a worker that was told to stop
        raise KeyboardInterrupt
    if job.get("threads"):
        torch.set_num_threads(job["threads"])
    runs_dir = Path(job["runs_dir"])
    store = Store.of(runs_dir)
    try:  # planning checked it; a store or schema changed since gets a failed point
        cfg = config_mod.from_dict(canon(job["config"]), source=f"sweep {job['sweep']}")
    except RnnlabError as err:
        return {"run_id": None, "action": "failed", "status": "failed", "error": str(err)}
    mine = runs_of(store.list_runs(sweep=job["sweep"]), cfg)
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
    others = set(multiprocessing.active_children())  # children that are not this pool's
    # spawn, not fork: a forked child inherits torch's thread pools in an unusable state
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                             initializer=_stop_like_ctrl_c) as pool:
        futures = {pool.submit(run_point, job): i for i, job in enumerate(jobs)}
        try:
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                if on_result:
                    on_result(jobs[i], results[i])
        except BaseException:
            # Ctrl-C, SIGTERM or a failure here: start no more points, and stop the running
            # ones as Ctrl-C stops a run (marked interrupted, checkpoints kept), not after
            # the whole grid has run; leaving the with-block waits for them
            pool.shutdown(wait=False, cancel_futures=True)
            for worker in set(multiprocessing.active_children()) - others:
                worker.terminate()
            raise
    return results


def _stop_like_ctrl_c() -> None:
    """In a worker: SIGTERM or SIGINT raises KeyboardInterrupt once and no later point starts;
    later signals (Ctrl-C reaches the workers too, then the sweep's own SIGTERM) must not cut
    the clean-up short."""
    def stop(signum, frame):
        global _stopping
        _stopping = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def _tune_trainable(params: dict, jobs: list[dict]) -> None:
    from ray import tune  # the optional cluster extra; this runs inside a Ray worker

    result = run_point(jobs[params["index"]])
    tune.report({"index": params["index"], **{k: v or "" for k, v in result.items()}})


def run_ray(jobs: list[dict], *, address: str | None = None, threads: int = 1,
            name: str = "sweep", storage: str | Path = "runs/ray",
            on_result: Callable[[dict, dict], None] | None = None) -> list[dict]:
    """Run the jobs as Ray Tune trials (a grid search over their indices).

    ``address``: "auto" or host:port of a running cluster; None starts a local Ray.
    On a cluster every node must see the same runs folder and data (a shared disk).
    """
    try:  # the optional cluster extra
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


def execute(sweep: Sweep | list[Sweep], *, executor: str = "local", workers: int = 1,
            ray_address: str | None = None, runs_dir: str | Path = "runs", data_dir=None,
            download: bool = False, progress: bool | None = None,
            on_result: Callable[[dict, dict], None] | None = None) -> list[dict]:
    """Record the sweep (or several, whose points then share the workers) and run its
    points; returns one outcome per point.

    Raises TrainingError after all points ran when any of them failed.
    """
    if executor not in ("local", "ray"):
        raise ConfigError(f"unknown executor {executor!r}; valid: local, ray")
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    sweeps = sweep if isinstance(sweep, list) else [sweep]
    store = Store.of(runs_dir)
    with ExitStack() as locks:
        for s in sweeps:
            register(store, s)
            locks.enter_context(sweep_lock(runs_dir, s.name))
        return _execute(sweeps, executor, workers, ray_address, runs_dir, data_dir, download,
                        progress, on_result)


@contextmanager
def sweep_lock(runs_dir: str | Path, name: str) -> Iterator[None]:
    """Hold the sweep's lock file, or refuse: one process runs a sweep at a time. The lock
    goes with its process, however that ends (the operating system releases it)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    lock = FileLock(Path(runs_dir) / f".sweep-{safe}.lock")
    holder = Path(runs_dir) / f".sweep-{safe}.owner"
    try:
        lock.acquire(timeout=0)
    except Timeout:
        who = holder.read_text().strip() if holder.is_file() else "another process"
        raise RunInUse(f"sweep {name!r} is being run by {who} on {runs_dir}; wait for it to "
                       "finish and rerun this command to run what it left, or give this sweep "
                       "another --name") from None
    try:
        write_text(holder, str(me()))
        yield
    finally:
        holder.unlink(missing_ok=True)
        lock.release()


def _execute(sweeps: list[Sweep], executor: str, workers: int, ray_address: str | None,
             runs_dir: str | Path, data_dir, download: bool, progress: bool | None,
             on_result: Callable[[dict, dict], None] | None) -> list[dict]:
    parallel = executor == "ray" or workers > 1
    threads = threads_per_worker(workers) if parallel else None
    jobs = [job for s in sweeps for job in jobs_for(
        s, runs_dir=runs_dir, data_dir=data_dir, download=download, threads=threads,
        progress=(not parallel) if progress is None else progress)]
    name = sweeps[0].name if len(sweeps) == 1 else f"{sweeps[0].name}+{len(sweeps) - 1}"
    if executor == "ray":
        results = run_ray(jobs, address=ray_address, threads=threads or 1, name=name,
                          storage=Path(runs_dir) / "ray", on_result=on_result)
    else:
        results = run_local(jobs, workers, on_result)
    failed = [(j, r) for j, r in zip(jobs, results) if r["action"] == "failed"]
    if failed:
        errors = list(dict.fromkeys(r["error"] for _, r in failed))
        lines = (errors[0] if len(errors) == 1 and len(failed) > 1  # one cause, said once
                 else "; ".join(f"{j['label']}: {r['error']}" for j, r in failed[:3]))
        again = (f"`rnnlab sweep --resume {name}`" if len(sweeps) == 1
                 else "the same command")
        raise TrainingError(f"{len(failed)} of {len(jobs)} points of sweep {name!r} "
                            f"failed ({lines}). Fix the cause and rerun {again}: finished "
                            "points are kept")
    return results
