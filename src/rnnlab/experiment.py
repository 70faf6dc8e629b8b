"""A config -> a finished run: data, model, training, test figures, run folder and store.

Everything that can fail on bad input (the config, the data files, a window
that does not fit) fails before anything is written. A run folder holds::

    config.yaml     the resolved config (after --quick and --set)
    metrics.csv     one row per epoch
    best.pt         weights of the best validation epoch; last.pt: full checkpoint
    summary.json    test metrics, baselines, timings, versions (written last)
    *.png           loss curve and the task's figures
"""

from __future__ import annotations

import csv
import json
import os
import platform
import random
import secrets
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from . import __version__
from . import config as config_mod
from .config import RunConfig
from .errors import ConfigError, RunInterrupted, RunNotFound
from .nn import count_parameters
from .store import Store, now
from .tasks import Task, get_task
from .tblog import TensorBoardLog
from .train import fit, load_checkpoint

DB_NAME = "rnnlab.db"


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
        self._loaded = None

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
        from .report.figures import draw_curves

        if ax is None:
            import matplotlib.pyplot as plt
            _, ax = plt.subplots(figsize=(6, 3.5))
        keys = [f"{split}_{name}" for split in ("train", "val", "test")]
        if not any(k in self.history.columns for k in keys):
            raise ConfigError(f"no {name!r} in this run's history; it has "
                              f"{', '.join(map(str, self.history.columns))}")
        draw_curves(ax, self.history.to_dict("records"), keys, ylabel=name, title=name)
        return ax

    def load(self, data_dir=None):
        """The run's config, data pipeline and best model (see rnnlab.inference.load_run)."""
        if self._loaded is None:
            from .inference import load_run
            self._loaded = load_run(str(self.run_dir), data_dir=data_dir)
        return self._loaded

    def predict(self, inputs, top: int = 3):
        """classify: texts -> top (label, probability) pairs; forecast: a DataFrame of the
        latest rows -> the next steps; language: prefixes -> continued text (greedy)."""
        from . import inference

        task = self.summary.get("task")
        if task == "language":
            from .tasks.language import generate_text, load_run as load_lm
            model, vocab, cfg = load_lm(self.run_dir)
            prefixes = [inputs] if isinstance(inputs, str) else list(inputs)
            return [generate_text(model, vocab, cfg, p, 100, 0.0, None) for p in prefixes]
        if task == "classify":
            texts = [inputs] if isinstance(inputs, str) else list(inputs)
            return inference.classify_texts(self.load(), texts, top)
        return inference.forecast_table(self.load(), inputs)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available; "
                          "use --device cpu (or auto)")
    return torch.device(name)


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


def new_run_id(cfg: RunConfig) -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{cfg.name}-{cfg.model.kind}-{cfg.model.impl}-{stamp}-{secrets.token_hex(2)}"


def write_history(history: list[dict], path: Path) -> None:
    """metrics.csv: one row per epoch, all keys seen, written atomically."""
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)
    os.replace(tmp, path)


def write_json(obj: dict, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=float))
    os.replace(tmp, path)


def prepare(cfg: RunConfig, data_dir=None, download=False) -> tuple[Task, torch.nn.Module]:
    """Load the data and build the model; all input errors surface here, before any write."""
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    task = get_task(cfg.task)(cfg, data_dir, download, device)
    torch.manual_seed(cfg.seed)  # the model's weights do not depend on data loading
    model = task.build_model().to(device)
    return task, model


def run(cfg: RunConfig, *, data_dir=None, runs_dir: str | Path = "runs", download: bool = False,
        progress: bool = True, sweep: str | None = None, tensorboard: bool = False) -> RunResult:
    """Train and test one config; record it in ``runs_dir``."""
    task, model = prepare(cfg, data_dir, download)
    runs_dir = Path(runs_dir)
    run_id = new_run_id(cfg)
    run_dir = runs_dir / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(config_mod.to_yaml(cfg))
    task.save_artifacts(run_dir)
    store = Store(runs_dir / DB_NAME)
    store.start_run(run_id, cfg.to_dict(), run_dir, sweep)
    return _train_and_report(task, model, cfg, run_id, run_dir, store, resume=False,
                             progress=progress, tensorboard=tensorboard)


def find_run_dir(ref: str, runs_dir: str | Path = "runs") -> tuple[str, Path]:
    """A run given as a folder path, an id or a unique id prefix -> (id, folder)."""
    path = Path(ref)
    if (path / "config.yaml").is_file():
        return path.name, path
    row = Store(Path(runs_dir) / DB_NAME).get_run(ref)
    run_dir = Path(row["run_dir"])
    if not (run_dir / "config.yaml").is_file():
        raise RunNotFound(f"run {row['id']} is in the store but its folder {run_dir} is gone")
    return row["id"], run_dir


def resume(ref: str, *, data_dir=None, runs_dir: str | Path = "runs", download: bool = False,
           progress: bool = True, tensorboard: bool = False) -> RunResult:
    """Continue an interrupted run from its last checkpoint, to the same result."""
    run_id, run_dir = find_run_dir(ref, runs_dir)
    store = Store(Path(runs_dir) / DB_NAME)
    row = store.get_run(run_id)
    if row["status"] == "finished":
        raise ConfigError(f"run {run_id} already finished; start a new one with `rnnlab run`")
    cfg = config_mod.from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()),
                               source=str(run_dir / "config.yaml"))
    task, model = prepare(cfg, data_dir, download)
    store.set_status(run_id, "running")
    return _train_and_report(task, model, cfg, run_id, run_dir, store, resume=True,
                             progress=progress, tensorboard=tensorboard)


def _train_and_report(task: Task, model, cfg: RunConfig, run_id: str, run_dir: Path,
                      store: Store, *, resume: bool, progress: bool,
                      tensorboard: bool = False) -> RunResult:
    history_path = run_dir / "metrics.csv"
    history_so_far: list[dict] = []

    board = TensorBoardLog(run_dir) if tensorboard else None

    def on_epoch(row: dict) -> None:
        if board:
            board.epoch(row)
        history_so_far.append(row)
        store.log_epoch(run_id, row["epoch"], row)
        write_history(history_so_far, history_path)

    try:
        if resume and (run_dir / "last.pt").exists():
            history_so_far.extend(load_checkpoint(run_dir / "last.pt")["history"])
        started = now()
        result = fit(task, model, cfg, run_dir, resume=resume, progress=progress,
                     on_epoch=on_epoch)
        model.load_state_dict(load_checkpoint(run_dir / "best.pt")["model"])
        report = task.test_report(model)
        pictures = task.figures(model, run_dir, result.history)
        epochs = len(result.history)
        summary = {
            "run_id": run_id, "name": cfg.name, "task": cfg.task,
            "dataset": config_mod.data_label(cfg.data),
            "model": cfg.model.kind, "impl": cfg.model.impl, "hidden_size": cfg.model.hidden_size,
            "num_layers": cfg.model.num_layers, "bidirectional": cfg.model.bidirectional,
            "seed": cfg.seed, "parameters": count_parameters(model), "epochs": epochs,
            "best_epoch": result.best_epoch,
            "selection": ("best validation " + task.monitor) if task.has_validation
            else "last epoch (no validation split)",
            "stopped_early": result.stopped_early, "warnings": result.warnings,
            "train_seconds": result.train_seconds,
            "seconds_per_epoch": result.train_seconds / max(epochs, 1),
            **report, "data": task.describe(), "versions": versions(),
            "started": started, "finished": now(),
        }
        write_json(summary, run_dir / "summary.json")  # last file: its presence means done
        store.finish_run(run_id, summary)
        if board:
            board.finish(cfg.to_dict(), summary, pictures)
    except KeyboardInterrupt:
        store.set_status(run_id, "interrupted")
        raise RunInterrupted(run_id) from None
    except BaseException as err:
        store.set_status(run_id, "failed", str(err)[:2000])
        raise
    return RunResult(run_id, run_dir, summary, result.history)
