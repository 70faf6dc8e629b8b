"""Typed config sections: dataclass fields with help texts and bounds, built from mappings.

:func:`option` declares a field (default, help, numeric bounds); :func:`build` makes a
section from a mapping, checking every key (unknown ones get the nearest valid name),
type and bound, and naming the key in each error.
"""

from __future__ import annotations

import dataclasses
import operator
import types
import typing
from dataclasses import field
from typing import Any, Literal, get_args, get_origin

from ..errors import ConfigError
from ..util import suggest


def option(default: Any, help: str, *, gt: float | None = None, ge: float | None = None,
           lt: float | None = None, le: float | None = None) -> Any:
    """A config field with a help text and optional numeric bounds."""
    meta = {"help": help, "gt": gt, "ge": ge, "lt": lt, "le": le}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)



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
                              f"{suggest(str(value), [str(a) for a in args])} Valid: {valid}")
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
            raise ConfigError(f"unknown key '{_join(where, key)}'.{suggest(str(key), fields)} "
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



def choices(cls: type, name: str) -> tuple:
    """The values a ``Literal`` field of config class ``cls`` allows (for command-line flags)."""
    return get_args(typing.get_type_hints(cls)[name])
