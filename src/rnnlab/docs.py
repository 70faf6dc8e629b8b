"""Reference documentation generated from the typed config classes.

``docs/config.md`` lists every config key with its type, default and meaning, read
from the dataclasses of :mod:`rnnlab.config` and of each task (their ``option``
metadata), so the page cannot drift from the code::

    python -m rnnlab.docs > docs/config.md      # or: rnnlab config-docs -o docs/config.md

A test regenerates the page and fails when the file in the repository differs.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import sys
import types
import typing
from typing import Any, Literal, get_args, get_origin

from .config import BOUNDS, ModelConfig, Reference, RunConfig, TrainConfig
from .tasks import TASKS
from .util import write_text

COMMAND = "python -m rnnlab.docs > docs/config.md"
SECTIONS = ("data", "model", "train")  # RunConfig fields that are sections, not keys
MAX_DEFAULT = 60  # longer defaults are abbreviated in the table


def type_text(tp: Any) -> str:
    """A config value type in the words a YAML user needs."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return "any"
    if origin in (typing.Union, types.UnionType):
        inner = [type_text(a) for a in args if a is not type(None)]
        text = " or ".join(inner)
        return f"{text} or null" if type(None) in args else text
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin is list:
        return f"list of {type_text(args[0])}" if args and args[0] is not Any else "list"
    if origin is dict or tp is dict:
        return "mapping"
    names = {bool: "bool", int: "int", float: "float", str: "text"}
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def bounds_text(meta: typing.Mapping) -> str:
    """Numeric bounds of an option, e.g. ``>= 1`` or ``> 0, < 1``."""
    parts = [f"{sign} {meta[key]:g}" for key, sign, _ in BOUNDS if meta.get(key) is not None]
    return ", ".join(parts)


def yaml_value(value: Any) -> str:
    """A default as it would be written in a YAML config."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        text = "[" + ", ".join(yaml_value(v) for v in value) + "]"
        if len(text) > MAX_DEFAULT:
            return f"[{yaml_value(value[0])}, ...] ({len(value)} items)"
        return text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def default_of(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        return yaml_value(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return yaml_value(f.default_factory())
    return ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def fields_table(cls: type, prefix: str, skip: typing.Container[str] = ()) -> str:
    """A markdown table of the keys of dataclass ``cls`` (those not in ``skip``)."""
    hints = typing.get_type_hints(cls)
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        help_text = f.metadata.get("help")
        if not help_text:
            raise ValueError(f"config key {prefix}{f.name} ({cls.__name__}) has no help text; "
                             f"declare it with rnnlab.config.option(default, help)")
        kind = type_text(hints[f.name])
        bounds = bounds_text(f.metadata)
        if bounds:
            kind = f"{kind}, {bounds}"
        default = default_of(f)
        default = f"`{_cell(default)}`" if default else "required"
        rows.append(f"| `{prefix}{f.name}` | {_cell(kind)} | {default} | {_cell(help_text)} |")
    return "\n".join(rows)


def _doc(cls: type) -> str:
    text = inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0].replace("\n", " ")
    return text.replace("``", "`")


def config_markdown() -> str:
    """The whole docs/config.md page."""
    shared_model = {f.name for f in dataclasses.fields(ModelConfig)}
    out = [
        "# Config reference",
        "",
        f"<!-- Generated from the config dataclasses by `{COMMAND}`; do not edit by hand. -->",
        "",
        "Every key a config file (or `--set section.key=value`, or a dict passed to "
        "`rnnlab.run`) accepts, with its type, default and meaning. Keys are checked: an "
        "unknown key gets the nearest valid one suggested, and values outside the range "
        "shown here are refused. `null` is YAML's empty value.",
        "",
        "Contents: [top level](#top-level) · [model (all tasks)](#model-all-tasks) · "
        "[train (all tasks)](#train-all-tasks) · [reference](#reference-published-figures) · "
        + " · ".join(f"[task: {t}](#task-{t})" for t in TASKS),
        "",
        "## Top level",
        "",
        _doc(RunConfig) + " A config has these keys and the sections `data`, `model` and "
        "`train`; the task decides which keys `data` and `model` take.",
        "",
        fields_table(RunConfig, "", skip=SECTIONS),
        "",
        "## model (all tasks)",
        "",
        _doc(ModelConfig) + " Each task adds its own keys below.",
        "",
        fields_table(ModelConfig, "model."),
        "",
        "## train (all tasks)",
        "",
        _doc(TrainConfig),
        "",
        fields_table(TrainConfig, "train."),
        "",
        "## reference (published figures)",
        "",
        _doc(Reference) + " `reference` is a list of these; `rnnlab run` prints each "
        "beside the run's own figure, reports and `rnnlab reproduce` table them.",
        "",
        fields_table(Reference, "reference[]."),
    ]
    for name, task in TASKS.items():
        extra = [f.name for f in dataclasses.fields(task.ModelConfig) if f.name not in shared_model]
        out += ["", f"## task: {name}", "", f"Keys of a config with `task: {name}`.", "",
                "### data", "", _doc(task.DataConfig), "",
                fields_table(task.DataConfig, "data."), "",
                "### model", "", _doc(task.ModelConfig)
                + (" Keys added to the shared model keys:" if extra
                   else " No keys beyond the shared model keys."), ""]
        if extra:
            out += [fields_table(task.ModelConfig, "model.", skip=shared_model), ""]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnlab.docs",
                                     description="print docs/config.md, generated from the "
                                                 "config classes")
    parser.add_argument("-o", "--output", help="write to this file instead of stdout")
    args = parser.parse_args(argv)
    text = config_markdown()
    if args.output:
        write_text(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
