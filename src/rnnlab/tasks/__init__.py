"""What a model is asked to do: forecast, classify or model language.

Each task is a package that owns everything task-specific behind the
:class:`~rnnlab.tasks.base.Task` interface (config sections, data preparation,
model, loss and metrics, baselines, figures, prediction, ensembles) and registers
itself here on import. Adding a task = one package under ``tasks/`` plus its line
below.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from ..config import RunConfig
from ..errors import ConfigError
# each registers its task; this order is the order of `rnnlab compare` and the config docs
from . import forecast, classify, language, long_range  # noqa: F401, I001
from .base import TASKS, PredictOptions, Sample, Task, get_task, register


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


def prepare(cfg: RunConfig, data_dir=None, download=False) -> tuple[Task, torch.nn.Module]:
    """The task (its data loaded) and the model a config describes, seeded by ``cfg.seed``;
    every input error surfaces here, before anything is written."""
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    task = get_task(cfg.task)(cfg, data_dir, download, device)
    torch.manual_seed(cfg.seed)  # the model's weights do not depend on data loading
    model = task.build_model().to(device)
    return task, model


__all__ = ["TASKS", "PredictOptions", "Sample", "Task", "get_task", "prepare", "register",
           "resolve_device", "seed_everything"]
