"""A config -> a finished run: data, model, training, test figures, run folder and store.

Everything that can fail on bad input (the config, the data files, a window
that does not fit) fails before anything is written; the folder's files are
described in :mod:`rnnlab.rundir`.
"""

from __future__ import annotations

import errno
import json
import platform
import secrets
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import config as config_mod
from .config import RunConfig, data_label
from .errors import ConfigError, RunInterrupted, TrainingError
from .figures import draw_curves, new_axes
from .nn import count_parameters
from .process import HEARTBEAT_SECONDS, me
from .references import compare as compare_references
from .rundir import BEST, CONFIG, LoadedRun, RunFolder
from .store import Store, now
from .tasks import Task, prepare
from .tblog import TensorBoardLog
from .train import fit
from .version import __version__


@dataclass
class RunResult:
    """What a finished run returns: where it is, what it measured, and its model for reuse.

    ``history`` is a DataFrame with one row per epoch (the run's metrics.csv).
    """

    run_id: str
    run_dir: Path
    summary: dict
    history: pd.DataFrame

    def __post_init__(self) -> None:
        if not isinstance(self.history, pd.DataFrame):
            self.history = pd.DataFrame(list(self.history))
        self._loaded: dict[bool, LoadedRun] = {}

    @property
    def metrics(self) -> dict:
        """Test metrics of the selected epoch."""
        return self.summary.get("test", {})

    @property
    def baselines(self) -> dict:
        return self.summary.get("baselines", {})

    def plot_loss(self, ax=None):
        """Training and validation loss per epoch, drawn into ``ax`` (a new figure if None)."""
        return self.plot_metric("loss", ax)

    def plot_metric(self, name: str, ax=None):
        """``train_<name>`` / ``val_<name>`` / ``test_<name>`` per epoch, drawn into ``ax``."""
        ax = new_axes() if ax is None else ax
        keys = [f"{split}_{name}" for split in ("train", "val", "test")]
        if not any(k in self.history.columns for k in keys):
            raise ConfigError(f"no {name!r} in this run's history; it has "
                              f"{', '.join(map(str, self.history.columns))}")
        draw_curves(ax, self.history.to_dict("records"), keys, ylabel=name, title=name)
        return ax

    def load(self, data_dir=None, *, for_prediction: bool = False) -> LoadedRun:
        """The run's config, task (its data pipeline rebuilt, unless ``for_prediction``) and
        best model (see :meth:`rnnlab.rundir.RunFolder.load`)."""
        if for_prediction not in self._loaded:
            folder = RunFolder(self.run_id, self.run_dir)
            self._loaded[for_prediction] = folder.load(data_dir, for_prediction=for_prediction)
        return self._loaded[for_prediction]

    def predict(self, inputs, top: int = 3):
        """classify: texts -> top (label, probability) pairs; forecast: a DataFrame of the
        latest rows -> the next steps; language: prefixes -> continued text (greedy)."""
        run = self.load(for_prediction=True)
        return run.task.predict(run.model, inputs, top=top)






def git_revision() -> str | None:
    """The commit of the rnnlab checkout in use, if it is one."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5, cwd=Path(__file__).parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict:
    return {"rnnlab": __version__, "python": platform.python_version(),
            "torch": torch.__version__, "numpy": np.__version__, "git": git_revision()}


class Heartbeat:
    """While a run trains, a daemon thread says every HEARTBEAT_SECONDS that it is alive, so
    that a run on another host whose process died reads as interrupted."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store, self.run_id, self.owner = store, run_id, me()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self.store.beat(self.run_id, self.owner)
            except sqlite3.Error:
                pass  # a busy or unreachable store: the next beat tries again

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _speeds(history: list[dict]) -> dict[str, float]:
    """The median over epochs of every rate a task logs per epoch (``*_per_s``)."""
    keys = {k for row in history for k in row if k.endswith("_per_s")}
    return {k: float(np.median([row[k] for row in history if k in row])) for k in sorted(keys)}


def _last_epoch(history: list[dict]) -> dict[str, float]:
    """The final epoch's logged figures: what a notebook without a validation split (d2l's
    train_ch8) reports, whichever epoch validation chose (timings left out)."""
    row = history[-1] if history else {}
    return {k: float(v) for k, v in row.items() if isinstance(v, (int, float))
            and not isinstance(v, bool) and k != "epoch_seconds" and not k.endswith("_per_s")}


def new_run_id(cfg: RunConfig) -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{cfg.name}-{cfg.model.kind}-{cfg.model.impl}-{stamp}-{secrets.token_hex(2)}"


def run(cfg: RunConfig, *, data_dir=None, runs_dir: str | Path = "runs", download: bool = False,
        progress: bool = True, sweep: str | None = None, tensorboard: bool = False) -> RunResult:
    """Train and test one config; record it in ``runs_dir``."""
    task, model = prepare(cfg, data_dir, download)
    run_id = new_run_id(cfg)
    store = Store.of(runs_dir)
    # recorded before its folder exists: a run killed at any moment after this can resume
    store.start_run(run_id, cfg.to_dict(), Path(runs_dir) / run_id, sweep, owner=me())
    folder = RunFolder.create(runs_dir, run_id)
    folder.write_config(cfg)
    folder.write_artifacts(task.artifacts())
    return _train_and_report(task, model, cfg, folder, store, resume_from=None,
                             progress=progress, tensorboard=tensorboard)


def resume(ref: str, *, data_dir=None, runs_dir: str | Path = "runs", download: bool = False,
           progress: bool = True, tensorboard: bool = False) -> RunResult:
    """Continue an interrupted, failed or killed run from its last checkpoint, to the same
    result; a run that another live process is running is refused."""
    store = Store.of(runs_dir)
    path = Path(ref)
    row = store.get_run(path.name if (path / CONFIG).is_file() else ref)
    folder = RunFolder(row["id"], path if (path / CONFIG).is_file() else Path(row["run_dir"]))
    if row["status"] == "finished":
        raise ConfigError(f"run {folder.run_id} already finished; start a new one with "
                          "`rnnlab run`")
    # a run killed before its folder was written is rebuilt from the config in the store
    raw = folder.raw_config() if folder.has(CONFIG) else json.loads(row["config"])
    cfg = config_mod.from_dict(raw, source=str(folder.path / CONFIG))
    task, model = prepare(cfg, data_dir, download)
    store.claim(folder.run_id, me())
    if not folder.has(CONFIG):
        folder.path.mkdir(parents=True, exist_ok=True)
        folder.write_config(cfg)
    folder.write_artifacts({k: v for k, v in task.artifacts().items() if not folder.has(k)})
    folder.remove_stale_temp_files()
    last, warnings = folder.resume_point()
    for warning in warnings:
        print(warning, file=sys.stderr)
    store.set_epochs(folder.run_id, last["history"] if last else [])
    folder.write_history(last["history"] if last else [])
    return _train_and_report(task, model, cfg, folder, store, resume_from=last,
                             progress=progress, tensorboard=tensorboard)


def _train_and_report(task: Task, model, cfg: RunConfig, folder: RunFolder, store: Store, *,
                      resume_from: dict | None, progress: bool,
                      tensorboard: bool = False) -> RunResult:
    run_id, run_dir = folder.run_id, folder.path
    history_so_far: list[dict] = list(resume_from["history"]) if resume_from else []
    board = TensorBoardLog(run_dir) if tensorboard else None

    def on_epoch(row: dict) -> None:
        if board:
            board.epoch(row)
        history_so_far.append(row)
        store.log_epoch(run_id, row["epoch"], row)
        folder.write_history(history_so_far)

    try:
        started = now()
        with Heartbeat(store, run_id):
            result = fit(task, model, cfg, run_dir, resume_from=resume_from,
                         progress=progress, on_epoch=on_epoch)
        model.load_state_dict(folder.checkpoint(BEST)["model"])
        report = task.test_report(model)
        pictures = task.figures(model, run_dir, result.history)
        epochs = len(result.history)
        summary = {
            "run_id": run_id, "name": cfg.name, "task": cfg.task,
            "dataset": data_label(cfg.data),
            "model": cfg.model.kind, "impl": cfg.model.impl, "hidden_size": cfg.model.hidden_size,
            "num_layers": cfg.model.num_layers, "bidirectional": cfg.model.bidirectional,
            "seed": cfg.seed, "parameters": count_parameters(model), "epochs": epochs,
            "best_epoch": result.best_epoch,
            "selection": ("best validation " + task.monitor) if task.has_validation
            else "last epoch (no validation split)",
            "stopped_early": result.stopped_early, "warnings": result.warnings,
            "train_seconds": result.train_seconds,
            "seconds_per_epoch": result.train_seconds / max(epochs, 1),
            "speed": _speeds(result.history),
            "last_epoch": _last_epoch(result.history),
            **report, "data": task.describe(), "versions": versions(),
            "started": started, "finished": now(),
        }
        if cfg.reference:
            summary["references"] = compare_references(cfg.reference, cfg.to_dict(), summary)
        folder.write_summary(summary)
        store.finish_run(run_id, summary)
        if board:
            board.finish(cfg.to_dict(), summary, pictures)
    except KeyboardInterrupt:
        store.set_status(run_id, "interrupted")
        raise RunInterrupted(run_id) from None
    except OSError as err:
        if err.errno != errno.ENOSPC:
            store.set_status(run_id, "failed", str(err)[:2000])
            raise
        message = (f"the disk is full ({err}); run {run_id} stopped with its last checkpoint "
                   f"kept. Free some space, then continue with `rnnlab run --resume {run_id}`")
        store.set_status(run_id, "failed", message)
        raise TrainingError(message) from None
    except BaseException as err:
        store.set_status(run_id, "failed", str(err)[:2000])
        raise
    return RunResult(run_id, run_dir, summary, result.history)
