"""``rnnlab run``: train and test one experiment, or resume one."""

from __future__ import annotations

from .. import config
from ..config import ModelConfig, RunConfig
from ..errors import ConfigError
from .args import DOWNLOAD, LOCATIONS, NO_PROGRESS, arg, command


@command(
    "run", "train and test one experiment",
    arg("config", nargs="?", help="config file or preset name (configs/NAME.yaml)"),
    arg("--quick", action="store_true", help="apply the config's quick variant (about a "
        "minute on a CPU)"),
    arg("--set", action="append", metavar="KEY=VALUE",
        help="override a config value, e.g. --set model.hidden_size=128 (repeatable)"),
    arg("--impl", choices=config.choices(ModelConfig, "impl"),
        help="shorthand for --set model.impl=..."),
    arg("--kind", choices=config.choices(ModelConfig, "kind"),
        help="shorthand for --set model.kind=..."),
    arg("--seed", type=int, help="shorthand for --set seed=..."),
    arg("--device", choices=config.choices(RunConfig, "device"),
        help="shorthand for --set device=..."),
    arg("--resume", metavar="RUN", help="continue an interrupted run (id, prefix or folder)"),
    DOWNLOAD, NO_PROGRESS,
    arg("--tensorboard", action="store_true", help="also log scalars, figures and "
        "hyperparameters for TensorBoard under RUN/tensorboard "
        "(pip install 'rnnlab[tensorboard]')"),
    LOCATIONS,
    description="Train and test one experiment from a YAML config. Example: rnnlab run "
    "configs/los_loop.yaml --quick --impl torch")
def run(args) -> int:
    from .. import experiment  # heavy (torch): loaded when the command runs
    from ..report.console import run_summary  # heavy (matplotlib), likewise

    options = dict(data_dir=args.data_dir, runs_dir=args.runs_dir, download=args.download,
                   progress=not args.no_progress, tensorboard=args.tensorboard)
    if args.resume:
        result = experiment.resume(args.resume, **options)
    else:
        if not args.config:
            raise ConfigError("give a config file or preset name, e.g. `rnnlab run "
                              "configs/los_loop.yaml`, or --resume RUN")
        overrides = list(args.set or [])
        overrides += [f"model.{key}={getattr(args, key)}" for key in ("impl", "kind")
                      if getattr(args, key)]
        overrides += [f"{key}={getattr(args, key)}" for key in ("seed", "device")
                      if getattr(args, key) is not None]
        cfg = config.load(config.find(args.config), quick=args.quick, overrides=overrides)
        result = experiment.run(cfg, **options)
    print("\n".join(run_summary(result.summary, result.run_dir)))
    return 0
