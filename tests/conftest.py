"""Shared fixtures: where the real datasets are, and how to drive the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import rnnlab.tasks  # noqa: F401  (registers the tasks' config sections, as the CLI does)


def pytest_configure(config):
    """Under pytest-xdist (``-n 2``) each worker uses one torch thread, and the CLI runs it
    starts inherit that: two workers with two threads each on a 2-core box oversubscribe
    it, and the spinning OpenMP threads slow every run down several times."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        os.environ.setdefault("OMP_NUM_THREADS", "1")
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The folder of real datasets ($RNNLAB_DATA), laid out as ../shared/datasets.

    Without it the test is skipped, except where RNNLAB_REQUIRE_DATA=1 (CI):
    there a missing folder fails the test, so real-data tests can never be
    skipped silently.
    """
    root = os.environ.get("RNNLAB_DATA")
    if root and Path(root).is_dir():
        return Path(root).resolve()
    message = "set RNNLAB_DATA to the real datasets folder (e.g. ../shared/datasets)"
    if os.environ.get("RNNLAB_REQUIRE_DATA") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def cli(tmp_path):
    """Run ``python -m rnnlab ...`` in a fresh folder; returns the CompletedProcess.

    The user cache points into the test folder so nothing outside it is read
    or written.
    """

    def run(*args, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "RNNLAB_CACHE": str(tmp_path / "cache"),
                    "PYTHONUNBUFFERED": "1", **(env or {})}
        return subprocess.run([sys.executable, "-m", "rnnlab", *map(str, args)],
                              cwd=tmp_path, env=full_env, capture_output=True, text=True,
                              timeout=timeout)

    run.cwd = tmp_path
    return run


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- a tiny dataset for sweeps

def _toy_wave(data_dir=None, download=False):
    """Three noisy waves, 240 steps: a forecast run on it takes well under a second."""
    import numpy as np

    from rnnlab.data.series import TimeSeries

    t = np.arange(240)
    values = np.stack([np.sin(t / 7) + 2, np.cos(t / 4) + 2, np.sin(t / 3) + 3], axis=1)
    values += np.random.default_rng(0).normal(0, 0.05, values.shape)
    return TimeSeries("toy_wave", values, ["a", "b", "c"], unit="u")


def _register_toy_wave():
    from rnnlab.data import registry

    registry.register(registry.DatasetInfo("toy_wave", "forecast", "synthetic sweep series", (),
                                           load=_toy_wave))


_register_toy_wave()


TOY_RAW = {"name": "toy", "task": "forecast", "seed": 0,
           "data": {"dataset": "toy_wave", "history": 5, "horizon": 1, "plot_columns": [0]},
           "model": {"kind": "gru", "hidden_size": 4},
           "train": {"epochs": 2, "batch_size": 32, "lr": 0.01},
           "quick": {"train.epochs": 1}}


@pytest.fixture
def toy_raw() -> dict:
    """A raw config (as read from YAML) of a tiny forecast run on toy_wave."""
    import copy

    return copy.deepcopy(TOY_RAW)


@pytest.fixture
def los_loop_tiny_raw(repo_root) -> dict:
    """The bundled Los-loop preset shrunk to seconds: for runs in other processes (workers,
    Ray), which see the registered datasets only, not the test-only toy ones."""
    import yaml

    raw = yaml.safe_load((repo_root / "configs" / "los_loop.yaml").read_text())
    raw["model"].update({"layout": "joint", "hidden_size": 4, "residual": False})
    raw["train"].update({"epochs": 1, "batch_size": 256})
    return raw


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $RNNLAB_DATA, an empty cache, no bundled copies."""
    monkeypatch.delenv("RNNLAB_DATA", raising=False)
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RNNLAB_NO_BUNDLED", "1")
    return tmp_path
