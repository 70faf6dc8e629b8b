"""What a model is asked to do. Each task owns its data pipeline, model head, loss and metrics.

A task is a :class:`Task` subclass registered in ``TASKS``; the training loop
(:mod:`rnnlab.train`) and the experiment runner only talk to this interface.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from ..config import ModelConfig, RunConfig
from ..errors import ConfigError

# name -> "module:Class", imported on first use so a task's heavy imports stay lazy.
TASKS = {
    "forecast": "rnnlab.tasks.forecast:ForecastTask",
    "classify": "rnnlab.tasks.classify:ClassifyTask",
    "language": "rnnlab.tasks.language:LanguageTask",
}


def get_task(name: str) -> type[Task]:
    """The Task class registered as ``name``."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}")
    module, cls = TASKS[name].split(":")
    return getattr(import_module(module), cls)


class Task:
    """Base class of forecast / classify / language.

    Subclasses set ``DataConfig`` (their ``data:`` section), optionally
    ``ModelConfig``, and which validation metric picks the best epoch.
    """

    name: ClassVar[str]
    DataConfig: ClassVar[type]
    ModelConfig: ClassVar[type] = ModelConfig
    monitor: ClassVar[str] = "val_loss"  # history key that selects the best epoch
    monitor_mode: ClassVar[str] = "min"  # "min" or "max"

    def __init__(self, cfg: RunConfig, data_dir: str | Path | None = None,
                 download: bool = False, device: torch.device | str = "cpu") -> None:
        self.cfg = cfg
        self.data_dir = data_dir
        self.download = download
        self.device = torch.device(device)

    # -- model
    def build_model(self) -> nn.Module:
        raise NotImplementedError

    # -- training
    def train_batches(self, epoch: int) -> Iterator[Any]:
        """Training batches of one epoch, shuffled reproducibly from (seed, epoch)."""
        raise NotImplementedError

    def num_train_batches(self) -> int:
        raise NotImplementedError

    def train_step(self, model: nn.Module, batch: Any) -> tuple[Tensor, int]:
        """Mean loss of one batch (a tensor to backpropagate) and how many items it covers."""
        raise NotImplementedError

    def after_step(self, judged: nn.Module) -> None:
        """Called after every optimiser step with the model that validation scores (the weight
        average under ``train.ema``, else the trained model); for periodic logs."""

    def state_dict(self) -> dict[str, Any]:
        """What the task logs while training (e.g. per-batch metrics), saved in ``last.pt`` at
        the end of every epoch so that a resumed run carries it on."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` when a run resumes."""

    def train_metrics(self, mean_loss: float, items: int, seconds: float) -> dict[str, float]:
        """Per-epoch training figures derived from the mean loss (e.g. perplexity)."""
        return {"train_loss": mean_loss}

    # -- evaluation
    @property
    def has_validation(self) -> bool:
        """False when the split has no validation part: the last epoch is then kept."""
        return True

    def splits(self) -> tuple[str, ...]:
        """The data splits this run has, in order."""
        return ("train", "val", "test") if self.has_validation else ("train", "test")

    def example_input(self) -> tuple:
        """A small batch of model inputs (positional), for tracing and export."""
        batch = next(iter(self.train_batches(1)))
        first = batch[0] if isinstance(batch, (tuple, list)) else batch
        return (first[:2],)

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        """Loss and metrics on ``split`` (train | val | test), without prefixes."""
        raise NotImplementedError

    def test_report(self, model: nn.Module) -> dict[str, Any]:
        """Final figures for summary.json: test metrics, baselines, per-class tables, ..."""
        return {"test": self.evaluate(model, "test")}

    def figures(self, model: nn.Module, run_dir: Path, history: list[dict]) -> list[Path]:
        """Write the task's PNG figures into ``run_dir``; return their paths."""
        return []

    def save_artifacts(self, run_dir: Path) -> None:
        """Write what reusing the run needs (labels, vocabulary, ...) into ``run_dir``.

        Called once, right after the run folder is created and before training.
        """

    def describe(self) -> dict[str, Any]:
        """Facts about the prepared data (sizes, units) stored with the run."""
        return {}

    @staticmethod
    def batch_generator(seed: int, epoch: int) -> torch.Generator:
        """The generator that shuffles epoch ``epoch``: the same after a resume."""
        return torch.Generator().manual_seed(seed * 1_000_003 + epoch)
