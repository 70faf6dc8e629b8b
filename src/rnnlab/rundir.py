"""A run folder: the one place that knows its files, finds it, reads it and writes it.

A run folder holds::

    config.yaml     the resolved config (after --quick and --set)
    metrics.csv     one row per epoch
    best.pt         weights of the best validation epoch; last.pt: full checkpoint
                    (last.prev.pt: the one before it, in case last.pt is damaged)
    summary.json    test metrics, baselines, timings, versions (written last)
    *.json          what the task needs to reuse the run (labels.json, vocab.json)
    *.png           loss curve and the task's figures

A folder is self-sufficient: ``config.yaml`` rebuilds the exact data pipeline (same
split, scaler fitted on the same training data, same vocabulary) and ``best.pt``
holds the weights, so a folder copied to another machine evaluates to the numbers
in its ``summary.json``. Resume, eval, predict, export, ensemble and reports all
read folders through :class:`RunFolder`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import pickle
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from . import config as config_mod
from .config import RunConfig
from .errors import DataError, RunNotFound
from .store import Store
from .tasks import Task, get_task, prepare
from .process import pid_alive
from .util import TEMP_FILE, atomic_write, write_json, write_text

CONFIG, METRICS, SUMMARY = "config.yaml", "metrics.csv", "summary.json"
BEST, LAST, PREVIOUS = "best.pt", "last.pt", "last.prev.pt"


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint without running code from it (``weights_only=True``)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "Unsupported global" not in str(err):
            raise DataError(f"checkpoint {path} cannot be read; it is damaged or not a torch "
                            "checkpoint. Start a new run or restore the file.") from None
        raise DataError(f"checkpoint {path} holds objects other than tensors and plain values; "
                        "rnnlab refuses to load it (it could run code). Use a checkpoint "
                        "written by rnnlab.") from None
    except (RuntimeError, EOFError, OSError) as err:
        raise DataError(f"checkpoint {path} cannot be read ({err}); it is damaged or not a "
                        "torch checkpoint. Start a new run or restore the file.") from None


def read_history(path: Path) -> list[dict]:
    """metrics.csv as rows: ``epoch`` an int, other cells floats (NaN when empty)."""
    if not path.is_file() or path.stat().st_size == 0:
        return []
    with open(path, newline="") as f:
        return [{k: _cell(k, v) for k, v in row.items()} for row in csv.DictReader(f)]


def _cell(key: str, value: str | None):
    if value is None or value == "":
        return math.nan
    try:
        return int(value) if key == "epoch" else float(value)
    except ValueError:
        return value


class _JsonFiles(Mapping):
    """The JSON files of a folder as a read-only mapping, parsed on access."""

    def __init__(self, folder: Path) -> None:
        self._names = [p.name for p in sorted(folder.glob("*.json")) if p.name != SUMMARY]
        self._folder = folder

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        path = self._folder / name
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"{path} is damaged ({err}); restore it from a copy of the run "
                            "folder") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@dataclass
class LoadedRun:
    """A run brought back to life: its config, task, trained model (eval mode) and summary."""

    run_id: str
    folder: RunFolder
    cfg: RunConfig
    task: Task
    model: nn.Module
    summary: dict

    @property
    def run_dir(self) -> Path:
        return self.folder.path


@dataclass(frozen=True)
class RunFolder:
    """The folder ``path`` of run ``run_id``."""

    run_id: str
    path: Path

    @classmethod
    def create(cls, runs_dir: str | Path, run_id: str) -> RunFolder:
        path = Path(runs_dir) / run_id
        path.mkdir(parents=True)
        return cls(run_id, path)

    @classmethod
    def find(cls, ref: str, runs_dir: str | Path = "runs") -> RunFolder:
        """A run given as a folder path, an id or a unique id prefix (looked up in the store)."""
        path = Path(ref)
        if (path / CONFIG).is_file():
            return cls(path.name, path)
        row = Store.of(runs_dir).get_run(ref)
        run_dir = Path(row["run_dir"])
        if not (run_dir / CONFIG).is_file():
            raise RunNotFound(f"run {row['id']} is in the store but its folder {run_dir} "
                              "is gone")
        return cls(row["id"], run_dir)

    # -- reading
    def raw_config(self) -> dict:
        return yaml.safe_load((self.path / CONFIG).read_text(encoding="utf-8"))

    def config(self) -> RunConfig:
        """The run's config, validated as when it ran."""
        return config_mod.from_dict(self.raw_config(), source=str(self.path / CONFIG))

    @property
    def task_name(self) -> str:
        return str(self.raw_config().get("task"))

    def summary(self) -> dict:
        """summary.json; empty while the run has not finished."""
        path = self.path / SUMMARY
        return json.loads(path.read_text()) if path.is_file() else {}

    def history(self) -> list[dict]:
        """One row per finished epoch (metrics.csv)."""
        return read_history(self.path / METRICS)

    def has(self, name: str) -> bool:
        return (self.path / name).is_file()

    def checkpoint(self, name: str = BEST) -> dict:
        return load_checkpoint(self.path / name)

    def artifacts(self) -> Mapping[str, Any]:
        """The JSON files a task wrote for reuse (labels.json, vocab.json, ...), by name;
        each is read when asked for."""
        return _JsonFiles(self.path)

    def resume_point(self) -> tuple[dict | None, list[str]]:
        """The checkpoint to continue from (last.pt, else the one before it when last.pt is
        damaged; None to start over) and warnings saying what was passed over."""
        warnings = []
        for name in (LAST, PREVIOUS):
            if self.has(name):
                try:
                    ckpt = self.checkpoint(name)
                except DataError as err:
                    warnings.append(f"warning: {err}")
                    continue
                if warnings:
                    warnings.append(f"warning: run {self.run_id} resumes from {name} (epoch "
                                    f"{ckpt['epoch']}) instead, to the same result")
                return ckpt, warnings
        if warnings:
            warnings.append(f"warning: run {self.run_id} has no readable checkpoint left; it "
                            "starts again from its first epoch (to the same result)")
        return None, warnings

    def remove_stale_temp_files(self) -> list[Path]:
        """Delete the temporary files that a killed process left (they hold its pid)."""
        removed = []
        for path in self.path.glob(".*.tmp*"):
            match = TEMP_FILE.match(path.name)
            if match and int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1))):
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def load(self, data_dir=None, download: bool = False, *,
             for_prediction: bool = False) -> LoadedRun:
        """The run with its best weights loaded, in eval mode.

        By default the data pipeline is rebuilt as when the run trained (to evaluate or
        export it); ``for_prediction`` builds only what predicting on new input needs.
        """
        if not self.has(BEST):
            raise DataError(f"run {self.run_id} has no {BEST} in {self.path}: it stopped before "
                            "its first epoch ended. Resume it with `rnnlab run --resume` or "
                            "start a new run.")
        cfg = self.config()
        if for_prediction:
            task = get_task(cfg.task).for_prediction(cfg, self.artifacts(), data_dir, download)
            model = task.build_model()
        else:
            task, model = prepare(cfg, data_dir, download)
        model.load_state_dict(self.checkpoint(BEST)["model"])
        model.eval()
        return LoadedRun(self.run_id, self, cfg, task, model, self.summary())

    # -- writing (each file atomically: a reader sees the old file or the new one)
    def write_config(self, cfg: RunConfig) -> None:
        write_text(self.path / CONFIG, config_mod.to_yaml(cfg))

    def write_artifacts(self, artifacts: dict[str, Any]) -> None:
        for name, content in artifacts.items():
            write_text(self.path / name, json.dumps(content, indent=1, ensure_ascii=False))

    def write_history(self, history: list[dict]) -> None:
        """metrics.csv: one row per epoch, every key seen."""
        keys: list[str] = []
        for row in history:
            keys += [k for k in row if k not in keys]

        def write(tmp: Path) -> None:
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=keys)
                writer.writeheader()
                writer.writerows(history)
        atomic_write(self.path / METRICS, write)

    def write_summary(self, summary: dict) -> None:
        """summary.json, the last file a run writes: its presence means the run finished."""
        write_json(self.path / SUMMARY, summary)
