"""Typed configuration: a YAML file (plus ``--set`` overrides) -> validated dataclasses.

A config has five sections::

    name: los_loop          # names the run folder
    task: forecast          # forecast | classify | language
    seed: 0
    data:  {...}            # the task's data options (its own dataclass)
    model: {...}            # recurrent layer: kind, impl, hidden_size, ...
    train: {...}            # optimiser, epochs, batch size, clipping, ...
    quick: {train.epochs: 2, ...}   # overrides applied by --quick

Every key is checked: unknown keys get the nearest valid name suggested, values
get their type and range checked, and each error names the key and the fix.
Field metadata (``help``, bounds) also documents the keys.
"""


from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..errors import ConfigError
from ..util import flatten, suggest
from .files import (PRESETS, apply_override, config_file, default_name, find, parse_override,
                    read_yaml, resolve_path)
from .schema import BOUNDS, build, choices, option

# ---------------------------------------------------------------- sections shared by all tasks

@dataclass
class ModelConfig:
    """The recurrent layer and what sits on it."""

    kind: Literal["rnn", "lstm", "gru", "mingru", "minlstm"] = option(
        "gru", "recurrent cell; mingru and minlstm are the parallel-scan minimal cells of Feng "
        "et al. 2024 (gates read the input only; scratch and teaching impls)")
    impl: Literal["scratch", "torch", "teaching"] = option(
        "scratch", "rnnlab.nn (scratch), torch.nn (torch) or the per-gate textbook forms")
    hidden_size: int = option(64, "features in the hidden state", ge=1)
    num_layers: int = option(1, "stacked recurrent layers", ge=1)
    bidirectional: bool = option(False, "also run each sequence backwards")
    dropout: float = option(0.0, "dropout between recurrent layers", ge=0, lt=1)
    nonlinearity: Literal["tanh", "relu"] = option("tanh", "activation of kind=rnn")
    init: Literal["default", "xavier", "kaiming", "orthogonal"] = option(
        "default", "weight initialisation (default = torch.nn's uniform)")

    def check(self) -> None:
        if self.kind.startswith("min") and self.impl == "torch":
            raise ConfigError(f"model.kind {self.kind} has no torch.nn layer; use model.impl "
                              "scratch (the parallel scan) or teaching (one step at a time)")
        if self.nonlinearity != "tanh" and self.kind != "rnn":
            raise ConfigError(f"model.nonlinearity applies to kind 'rnn' only; "
                              f"{self.kind} has fixed gate activations. Remove the key.")


@dataclass
class TrainConfig:
    """How the model is optimised."""

    epochs: int = option(20, "passes over the training data", ge=1)
    batch_size: int = option(64, "samples per batch", ge=1)
    lr: float = option(1e-3, "learning rate", gt=0)
    optimizer: Literal["adam", "adamw", "sgd", "rmsprop"] = option(
        "adam", "optimiser; sgd, adam and adamw take torch's fused step (the same update, "
        "to rounding)")
    momentum: float = option(0.0, "momentum (sgd, rmsprop)", ge=0, lt=1)
    weight_decay: float = option(0.0, "L2 penalty (decoupled for adamw)", ge=0)
    clip: float | None = option(None, "clip the gradient norm to this value", gt=0)
    scheduler: Literal["none", "cosine", "step", "plateau"] = option(
        "none", "learning-rate schedule: cosine over train.epochs; step: lr x gamma every "
        "step_size epochs; plateau: lr x gamma after 3 epochs without a gain (ties included) "
        "of the validation figure that picks the best epoch")
    step_size: int = option(10, "epochs between lr x gamma (scheduler=step)", ge=1)
    gamma: float = option(0.5, "lr factor of the step and plateau schedules", gt=0, le=1)
    patience: int | None = option(None, "stop after this many epochs without improvement", ge=1)
    grad_warn: float = option(1e3, "warn when the gradient norm (before clipping) exceeds this",
                              gt=0)
    ema: float | None = option(None, "evaluate and keep an exponential moving average of the "
                               "weights, updated after every step with this decay (e.g. 0.999)",
                               gt=0, lt=1)
    loss: Literal["default", "mse", "mae", "huber"] = option(
        "default", "training loss of a forecast (on the scaled values): mse, mae (the traffic "
        "literature's), huber; default = the task's own (forecast mse, classify and language "
        "cross-entropy); validation, best epoch and test report it too")


@dataclass
class Reference:
    """A published figure the experiment reproduces, shown beside the run's own."""

    source: str = option("", "where it was published, e.g. 'report 001' or 'STSGCN (AAAI "
                         "2020), Table 2'")
    model: str = option("", "the model or cell that reached it, e.g. 'LSTM'")
    metric: str = option("test.accuracy", "where the run's own figure is in summary.json "
                         "(dotted), e.g. test.f1_macro, train_seconds, or "
                         "last_epoch.train_perplexity (the final epoch's logged figures)")
    value: float = option(0.0, "the published figure, in the units of the run's own")
    higher_is_better: bool = option(True, "whether a larger figure is better (false for "
                                    "errors, perplexity, seconds)")
    when: dict = option({}, "the settings the figure was reached with, as dotted keys: it is "
                        "compared only with a run that has them all")
    comparable: bool = option(True, "false where the protocol differs beyond the settings "
                              "(other hardware, split or units): shown, not compared")
    protocol: str = option("", "how the figure was measured, in a few words")
    decimals: int | None = option(None, "the decimals the figure was published with: ours "
                                  "is rounded to them before the verdict (1.03 meets a "
                                  "published 1.0 at 1 decimal)", ge=0)
    per_class: dict = option({}, "published precision, recall and F1 of each class, as "
                             "{class: [P, R, F1]}: each compared with the run's "
                             "per_class.<class> figures under the same conditions")

    def __post_init__(self):
        for name, v in self.per_class.items():
            if not (isinstance(v, list) and len(v) == 3
                    and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)):
                raise ConfigError(f"reference {self.source} {self.model}: per_class.{name} "
                                  f"must be [precision, recall, f1], got {v!r}")


@dataclass
class RunConfig:
    """A whole experiment: what to learn from which data with which model, and how."""

    name: str = field(metadata={"help": "names the run and its folder (letters, digits, "
                                         "'_', '-', '.')"})
    task: str = field(metadata={"help": "forecast, classify or language: decides the keys of "
                                         "data and model"})
    data: Any
    model: Any
    train: TrainConfig
    seed: int = option(0, "seed of every random number generator", ge=0)
    device: Literal["auto", "cpu", "cuda"] = option("cpu", "where to train; auto = cuda if present")
    quick: dict = option({}, "overrides applied by --quick (dotted keys)")
    reference: list[Reference] = option([], "published figures this experiment reproduces "
                                        "(see the reference keys below)")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def non_defaults(cfg: RunConfig) -> dict:
    """The values ``cfg`` sets apart from its schema's defaults, as nested dicts (sections
    always, name and task always): what tells two configs apart, whatever options a later
    version adds with defaults that keep the old behaviour."""
    def strip(obj: Any, values: dict) -> dict:
        out = {}
        for f in dataclasses.fields(obj):
            value = values[f.name]
            if dataclasses.is_dataclass(getattr(obj, f.name)):
                out[f.name] = strip(getattr(obj, f.name), value)
                continue
            default = (f.default_factory() if f.default_factory is not dataclasses.MISSING
                       else f.default)
            if default is dataclasses.MISSING or value != default:
                out[f.name] = value
        return out
    return strip(cfg, cfg.to_dict())




# A run name becomes a folder name: no separators, no leading dot, so it cannot leave runs/.
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")


# ---------------------------------------------------------------- the tasks' sections

@dataclass(frozen=True)
class TaskSections:
    """What a task adds to the config: its data and model sections and a check across them."""

    data: type
    model: type
    check: Callable[[RunConfig], None] | None = None


# task name -> its sections; each task registers itself (rnnlab.tasks imports them all)
TASK_SECTIONS: dict[str, TaskSections] = {}


def register_task(name: str, sections: TaskSections) -> None:
    TASK_SECTIONS[name] = sections


def task_sections(task: str) -> TaskSections:
    """The config sections of ``task``; an unknown name lists the registered ones."""
    if task not in TASK_SECTIONS:
        if not TASK_SECTIONS:
            raise ConfigError(f"unknown task {task!r}: no task is registered yet; "
                              "`import rnnlab.tasks` first (rnnlab.run and the CLI do)")
        raise ConfigError(f"unknown task {task!r}.{suggest(task, TASK_SECTIONS)} "
                          f"Valid tasks: {', '.join(TASK_SECTIONS)}")
    return TASK_SECTIONS[task]


def data_label(data: Any) -> str:
    """What a run's data is called in summaries and listings: the registered dataset, or the
    file name of data.path (``data`` is a data config object or its dict)."""
    get = data.get if isinstance(data, dict) else (lambda k, d=None: getattr(data, k, d))
    return get("dataset") or (Path(get("path")).name if get("path") else "")


def from_dict(raw: dict, *, quick: bool = False, overrides: list[str] = (),
              source: str = "config", base_dir: str | Path | None = None) -> RunConfig:
    """A validated RunConfig from a mapping (``quick`` and ``overrides`` applied first).

    A relative ``data.path`` is looked up next to the config file (``base_dir``, by
    default the folder of ``source`` when that is a YAML file), then in the current
    folder, and stored absolute so that the run folder's config.yaml finds it again.
    Without ``name`` the run is named after the config file (or data.path).
    """
    raw = copy.deepcopy(raw)  # overrides set nested keys: the caller's mapping stays as it was
    if quick:
        variant = raw.get("quick") or {}
        if not isinstance(variant, dict):
            raise ConfigError(f"{source}: 'quick' must map dotted keys to values")
        for key, value in variant.items():
            apply_override(raw, key, value, source=f"{source} quick")
    for text in overrides:
        apply_override(raw, *parse_override(text))
    if raw.get("name") is None and isinstance(raw.get("task"), str):
        raw["name"] = default_name(raw, source)
    top = {f.name for f in dataclasses.fields(RunConfig)}
    for key in raw:
        if key not in top:
            raise ConfigError(f"unknown key '{key}'.{suggest(str(key), top)} "
                              f"Valid top-level keys: {', '.join(sorted(top))}")
    for key in ("task", "name"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"{source}: '{key}' is required (text), e.g. "
                              f"{'name: my_run' if key == 'name' else 'task: forecast'}")
    if not RUN_NAME.fullmatch(raw["name"]):
        raise ConfigError(f"{source}: name {raw['name']!r} may hold only letters, digits, "
                          "'_', '-' and '.' (it names the run folder, so no '/' or '..'), "
                          "e.g. name: my_run")
    sections = task_sections(raw["task"])
    values = {k: v for k, v in raw.items() if k not in ("data", "model", "train")}
    cfg = build(RunConfig, {**values, "data": None, "model": None,
                            "train": raw.get("train")}, "config")
    cfg.data = build(sections.data, raw.get("data"), "data")
    cfg.model = build(sections.model, raw.get("model"), "model")
    if sections.check is not None:
        sections.check(cfg)
    _check_references(cfg)
    if getattr(cfg.data, "path", ""):
        if base_dir is None and config_file(source):
            base_dir = config_file(source).parent
        cfg.data.path = str(resolve_path(cfg.data.path, base_dir))
    return cfg


def _check_references(cfg: RunConfig) -> None:
    """Every setting a reference names is a config key (a typo would never match)."""
    keys = set(flatten(cfg.to_dict()))
    for k, ref in enumerate(cfg.reference):
        for key in ref.when:
            if key not in keys:
                raise ConfigError(f"reference[{k}].when: {key!r} is not a config key."
                                  f"{suggest(key, keys, 0.5)} Use dotted keys as in --set, e.g. "
                                  "model.kind")


def load(path: str | Path, *, quick: bool = False, overrides: list[str] = ()) -> RunConfig:
    """Read, override and validate a config file."""
    return from_dict(read_yaml(path), quick=quick, overrides=overrides, source=str(path))


def to_yaml(cfg: RunConfig) -> str:
    """The resolved config as YAML (what a run folder keeps)."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True)


__all__ = ["BOUNDS", "PRESETS", "ModelConfig", "RunConfig", "TaskSections", "TrainConfig",
           "Reference", "apply_override", "build", "choices", "data_label", "default_name", "find", "from_dict", "load",
           "option", "parse_override", "read_yaml", "register_task", "resolve_path",
           "task_sections", "to_yaml"]
