"""The Task interface: everything one kind of experiment does its own way.

A task owns its config sections, data preparation, model, loss and metrics,
baselines, figures, how its results are described, prediction on new input and
ensembles. The training loop, the run folder, the CLI, sweeps and reports only
call this interface and never ask which task they hold. A task registers itself
with :func:`register`, which also registers its config sections.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from .. import nn as rnn
from ..config import ModelConfig, RunConfig, TaskSections, register_task
from ..errors import ConfigError
from ..util import suggest

TASKS: dict[str, type[Task]] = {}
# the cells the lab compares: each line of `compare hyperparams`
LAB_KINDS = {"model.kind": ["rnn", "lstm", "gru"]}
# `compare cell_types`: those and the parallel-scan minimal cells
ALL_KINDS = {"model.kind": ["rnn", "lstm", "gru", "mingru", "minlstm"]}


def register(cls: type[Task]) -> type[Task]:
    """Make ``cls`` the task named ``cls.name``, its config sections included."""
    TASKS[cls.name] = cls

    def check(cfg: RunConfig) -> None:
        if cfg.train.loss not in cls.losses:
            raise ConfigError(f"train.loss {cfg.train.loss!r}: a {cls.name} task trains on its "
                              f"own loss; valid here: {', '.join(cls.losses)}")
        cls.check_config(cfg)
    register_task(cls.name, TaskSections(cls.DataConfig, cls.ModelConfig, check))
    return cls


def get_task(name: str) -> type[Task]:
    """The Task class registered as ``name``."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}.{suggest(name, TASKS)} Valid tasks: "
                          f"{', '.join(TASKS)}")
    return TASKS[name]


def spread(count: int, total: int) -> list[int]:
    """``count`` indices spread evenly over ``range(total)`` (all of them when fewer)."""
    return sorted({round(k * (total - 1) / max(count - 1, 1)) for k in range(min(count, total))})


def recurrent_layer(m: ModelConfig, input_size: int) -> nn.Module:
    """The recurrent layer a ``model:`` section describes, batch first."""
    return rnn.build_rnn(m.kind, m.impl, input_size=input_size, hidden_size=m.hidden_size,
                         num_layers=m.num_layers, nonlinearity=m.nonlinearity,
                         batch_first=True, dropout=m.dropout, bidirectional=m.bidirectional,
                         init=m.init)


@dataclass
class Sample:
    """One input to look inside the model with: the model's arguments, the target (None for
    the user's own input, whose loss is then that of the model's own prediction) and a name."""

    inputs: tuple
    target: Any
    name: str
    tokens: list[str] | None = None  # what each time step reads, to label figures


@dataclass
class PredictOptions:
    """What ``rnnlab predict`` passes besides the inputs; each task reads the ones it has."""

    top: int = 3  # classify: classes shown per text
    at: str | None = None  # forecast: predict from the dataset's rows up to this time stamp
    output: str | None = None  # forecast: write the table here (CSV)
    plot: str | None = None  # forecast: draw input and forecast here (PNG)
    length: int = 100  # language: tokens to generate
    temperature: float = 0.0  # language: 0 = greedy
    seed: int | None = None  # language: seed of the sampling


class Task:
    """Base class of forecast / classify / language.

    Subclasses set ``name``, ``DataConfig`` (their ``data:`` section), optionally
    ``ModelConfig``, which validation metric picks the best epoch, and the grid of
    ``rnnlab compare hyperparams``.
    """

    name: ClassVar[str]
    DataConfig: ClassVar[type]
    ModelConfig: ClassVar[type] = ModelConfig
    monitor: ClassVar[str] = "val_loss"  # history key that selects the best epoch
    monitor_mode: ClassVar[str] = "min"  # "min" or "max"
    # `rnnlab compare hyperparams`: blocks of dotted key -> values, each varied around the config
    hyperparams: ClassVar[list[dict[str, list]]] = []
    # `rnnlab compare long_range`: cells x sequence length, for the tasks that have it
    memory_grid: ClassVar[list[dict[str, list]]] = []
    losses: ClassVar[tuple[str, ...]] = ("default",)  # train.loss values the task takes
    can_generate: ClassVar[bool] = False  # `rnnlab generate` continues texts
    can_ensemble: ClassVar[bool] = False  # `rnnlab ensemble` averages runs' outputs
    ensemble_figures: ClassVar[bool] = False  # ... and draws the ensemble's figures
    same_rows: ClassVar[str] = "one data config"  # how to train ensemble members on one split

    @classmethod
    def check_config(cls, cfg: RunConfig) -> None:
        """Checks across sections (the data and model keys that must fit together)."""

    def __init__(self, cfg: RunConfig, data_dir: str | Path | None = None,
                 download: bool = False, device: torch.device | str = "cpu") -> None:
        self.cfg = cfg
        self.data_dir = data_dir
        self.download = download
        self.device = torch.device(device)

    @classmethod
    def for_prediction(cls, cfg: RunConfig, artifacts: dict[str, Any], data_dir=None,
                       download: bool = False, device: torch.device | str = "cpu") -> Task:
        """A task that can rebuild a trained run's model and use it on new input.

        By default the whole data pipeline is rebuilt (scalers, vocabularies fitted on
        the same training data); a task whose :meth:`artifacts` suffice overrides this.
        """
        return cls(cfg, data_dir, download, device)

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

    @staticmethod
    def batch_generator(seed: int, epoch: int) -> torch.Generator:
        """The generator that shuffles epoch ``epoch``: the same after a resume."""
        return torch.Generator().manual_seed(seed * 1_000_003 + epoch)

    # -- evaluation
    @property
    def has_validation(self) -> bool:
        """False when the split has no validation part: the last epoch is then kept."""
        return True

    def splits(self) -> tuple[str, ...]:
        """The data splits this run has, in order."""
        return ("train", "val", "test") if self.has_validation else ("train", "test")

    def check_split(self, split: str, run_id: str) -> None:
        if split not in self.splits():
            raise ConfigError(f"split {split!r} does not exist for run {run_id}; "
                              f"it has {', '.join(self.splits())}")

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

    def artifacts(self) -> dict[str, Any]:
        """What reusing the run needs besides its weights (labels, vocabulary, ...), as JSON
        files: name -> content. Written once, before training, into the run folder."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Facts about the prepared data (sizes, units) stored with the run."""
        return {}

    @classmethod
    def summary_lines(cls, summary: dict) -> list[str]:
        """Lines printed after a run's metric table (per horizon, memorisation, ...)."""
        return []

    # -- use a trained model
    @classmethod
    def check_predict_inputs(cls, inputs: list[str], options: PredictOptions) -> None:
        """Refuse `rnnlab predict` inputs that cannot work, before the run is loaded."""

    def predict(self, model: nn.Module, inputs: Any, **options: Any) -> Any:
        """The trained model on new input, as Python values (``RunResult.predict``)."""
        raise ConfigError(f"{self.name} runs do not predict from new input")

    def predict_command(self, model: nn.Module, inputs: list[str],
                        options: PredictOptions) -> list[str]:
        """`rnnlab predict`: read the command line's inputs, predict, and say what came out
        (writing the files that ``options`` ask for)."""
        raise ConfigError(f"{self.name} runs do not predict from new input")

    # -- look inside (rnnlab inspect)
    def inspect_samples(self, count: int, texts: list[str] | None = None) -> list[Sample]:
        """``count`` inputs spread over the test split, or the user's ``texts`` (a CSV of the
        latest rows, texts to classify, prefixes) made into inputs as prediction does."""
        raise ConfigError(f"{self.name} runs cannot be inspected yet")

    def sample_loss(self, model: nn.Module, sample: Sample) -> Tensor:
        """The loss of one sample, whose gradient flows back through the recurrent layer."""
        raise NotImplementedError

    # -- ensembles of runs
    def fingerprint(self, split: str) -> str:
        """A digest of what ``split`` holds: runs with equal fingerprints saw the same rows."""
        raise NotImplementedError

    def ensemble_output(self, model: nn.Module, split: str) -> tuple[np.ndarray, dict]:
        """What an ensemble averages for ``split`` (probabilities, forecasts, ...) and this
        member's own metrics."""
        raise ConfigError(f"{self.name} runs cannot be averaged into an ensemble")

    def ensemble_report(self, mean: np.ndarray, split: str,
                        figures_dir: Path | None = None) -> dict:
        """The ensemble's metrics (and tables, baselines, figures) from the averaged outputs."""
        raise ConfigError(f"{self.name} runs cannot be averaged into an ensemble")
