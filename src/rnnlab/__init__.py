"""rnnlab: learn, run and compare recurrent networks (RNN, LSTM, GRU) on real sequence data.

    from rnnlab import data, nn, run
    result = run("configs/los_loop.yaml", quick=True)     # or a config dict
    result.metrics, result.history                         # test figures, per-epoch DataFrame
    result.plot_loss(ax); result.predict(frame_of_latest_rows)
"""

from __future__ import annotations

from .version import __version__

__all__ = ["data", "nn", "run", "__version__"]


def run(config, *, quick: bool = False, overrides=(), runs_dir="runs", data_dir=None,
        download: bool = False, progress: bool = True, tensorboard: bool = False):
    """Train and test one experiment, as ``rnnlab run``; returns a RunResult.

    ``config`` is a path to a YAML file, a preset name (configs/NAME.yaml) or a dict
    with the same keys; ``overrides`` are ``"section.key=value"`` strings as ``--set``.
    """
    # torch and the tasks load on the first run, so `import rnnlab` stays light
    from . import config as config_mod
    from . import experiment

    if isinstance(config, dict):
        cfg = config_mod.from_dict(config, quick=quick, overrides=list(overrides))
    else:
        cfg = config_mod.load(config_mod.find(str(config)), quick=quick,
                              overrides=list(overrides))
    return experiment.run(cfg, data_dir=data_dir, runs_dir=runs_dir, download=download,
                          progress=progress, tensorboard=tensorboard)


def __getattr__(name: str):
    # data and nn import torch: load them when first used, so `import rnnlab` stays light.
    if name in ("data", "nn"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'rnnlab' has no attribute {name!r}")
