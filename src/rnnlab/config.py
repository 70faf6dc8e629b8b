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

import dataclasses
import difflib
import operator
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

from .errors import ConfigError


def option(default: Any, help: str, *, gt: float | None = None, ge: float | None = None,
           lt: float | None = None, le: float | None = None) -> Any:
    """A config field with a help text and optional numeric bounds."""
    meta = {"help": help, "gt": gt, "ge": ge, "lt": lt, "le": le}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


# ---------------------------------------------------------------- sections shared by all tasks

@dataclass
class ModelConfig:
    """The recurrent layer and what sits on it."""

    kind: Literal["rnn", "lstm", "gru"] = option("gru", "recurrent cell")
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
        "none", "learning-rate schedule")
    step_size: int = option(10, "epochs between lr x gamma (scheduler=step)", ge=1)
    gamma: float = option(0.5, "lr factor of the step and plateau schedules", gt=0, le=1)
    patience: int | None = option(None, "stop after this many epochs without improvement", ge=1)
    grad_warn: float = option(1e3, "warn when the gradient norm (before clipping) exceeds this",
                              gt=0)
    ema: float | None = option(None, "evaluate and keep an exponential moving average of the "
                               "weights, updated after every step with this decay (e.g. 0.999)",
                               gt=0, lt=1)


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

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------- parsing and checking

# A run name becomes a folder name: no separators, no leading dot, so it cannot leave runs/.
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")


def _suggest(key: str, valid) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """``value`` as type ``tp``, or a ConfigError saying what was expected."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(value, inner[0], where)
    if origin is Literal:
        if value not in args:
            valid = ", ".join(str(a) for a in args)
            raise ConfigError(f"{where}: {value!r} is not a valid choice."
                              f"{_suggest(str(value), [str(a) for a in args])} Valid: {valid}")
        return value
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, args[0] if args else Any, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping of keys to values, got {value!r}")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{where}: expected a whole number, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads 5e-4 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected text, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        return build(tp, value, where)
    raise TypeError(f"config field {where} has unsupported type {tp}")


def _join(where: str, key: str) -> str:
    """The dotted name a user writes in --set: the top level has no prefix."""
    return key if where == "config" else f"{where}.{key}"


# option() bounds: metadata key, how the docs and errors write it, the test
BOUNDS = (("gt", ">", operator.gt), ("ge", ">=", operator.ge), ("lt", "<", operator.lt),
          ("le", "<=", operator.le))


def _check_bounds(obj: Any, f: dataclasses.Field, where: str) -> None:
    value = getattr(obj, f.name)
    if value is None or isinstance(value, (bool, str, list, dict)):
        return
    meta = f.metadata
    for key, text, ok in BOUNDS:
        bound = meta.get(key)
        if bound is not None and not ok(value, bound):
            raise ConfigError(f"{_join(where, f.name)} must be {text} {bound:g}, got {value!r}")


def build(cls: type, raw: Any, where: str) -> Any:
    """Instantiate dataclass ``cls`` from a mapping, checking keys, types and bounds."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys to values, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in raw:
        if key not in fields:
            raise ConfigError(f"unknown key '{_join(where, key)}'.{_suggest(str(key), fields)} "
                              f"Valid keys of {where}: {', '.join(fields)}")
    missing = [name for name, f in fields.items() if name not in raw
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{where}: missing required key(s) {', '.join(missing)}")
    obj = cls(**{k: _coerce(v, hints[k], _join(where, k)) for k, v in raw.items()})
    for f in fields.values():
        _check_bounds(obj, f, where)
    if hasattr(obj, "check"):
        obj.check()
    return obj


def read_yaml(path: Path) -> dict:
    """A YAML file as a mapping; syntax errors name the line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist. Presets live in configs/ "
                          f"(e.g. configs/los_loop.yaml)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{path}{at}: YAML syntax error: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config must be a mapping (key: value lines), got "
                          f"{type(raw).__name__}")
    return raw


def parse_override(text: str) -> tuple[str, Any]:
    """``model.hidden_size=128`` -> ("model.hidden_size", 128); values are read as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set model.hidden_size=128")
    key, value = text.split("=", 1)
    try:
        return key.strip(), yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        return key.strip(), value


def apply_override(raw: dict, key: str, value: Any, source: str = "--set") -> None:
    """Set a dotted key in a nested mapping; the key is checked later by :func:`build`."""
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{source} {key}: '{part}' is not a section")
        node = child
    node[parts[-1]] = value


def task_sections(task: str) -> tuple[type, type]:
    """The (data, model) config classes of a task."""
    from .tasks import get_task

    cls = get_task(task)
    return cls.DataConfig, cls.ModelConfig


def _config_file(source: str) -> Path | None:
    """The YAML file a config came from, when ``source`` names one."""
    path = Path(source)
    return path if path.suffix.lower() in (".yaml", ".yml") and path.is_file() else None


def default_name(raw: dict, source: str) -> str:
    """A run name for a config without one: the config file's stem, else data.path's, else
    the task (characters a folder name cannot hold become '_')."""
    data = raw.get("data") if isinstance(raw.get("data"), dict) else {}
    file = _config_file(source)
    stem = (file.stem if file else "") or (Path(str(data.get("path"))).stem
                                          if data.get("path") else "") or str(raw.get("task"))
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).lstrip("._-")[:80]
    return name or "run"


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
    from .tasks import TASKS

    raw = dict(raw)
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
            raise ConfigError(f"unknown key '{key}'.{_suggest(str(key), top)} "
                              f"Valid top-level keys: {', '.join(sorted(top))}")
    for key in ("task", "name"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"{source}: '{key}' is required (text), e.g. "
                              f"{'name: my_run' if key == 'name' else 'task: forecast'}")
    if not RUN_NAME.fullmatch(raw["name"]):
        raise ConfigError(f"{source}: name {raw['name']!r} may hold only letters, digits, "
                          "'_', '-' and '.' (it names the run folder, so no '/' or '..'), "
                          "e.g. name: my_run")
    if raw["task"] not in TASKS:
        raise ConfigError(f"unknown task {raw['task']!r}.{_suggest(raw['task'], TASKS)} "
                          f"Valid tasks: {', '.join(TASKS)}")
    data_cls, model_cls = task_sections(raw["task"])
    values = {k: v for k, v in raw.items() if k not in ("data", "model", "train")}
    cfg = build(RunConfig, {**values, "data": None, "model": None,
                            "train": raw.get("train")}, "config")
    cfg.data = build(data_cls, raw.get("data"), "data")
    cfg.model = build(model_cls, raw.get("model"), "model")
    if getattr(cfg.data, "path", ""):
        from .data.sources.files import resolve_path

        if base_dir is None and _config_file(source):
            base_dir = _config_file(source).parent
        cfg.data.path = str(resolve_path(cfg.data.path, base_dir))
    return cfg


def load(path: str | Path, *, quick: bool = False, overrides: list[str] = ()) -> RunConfig:
    """Read, override and validate a config file."""
    return from_dict(read_yaml(Path(path)), quick=quick, overrides=overrides, source=str(path))


def to_yaml(cfg: RunConfig) -> str:
    """The resolved config as YAML (what a run folder keeps)."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True)
