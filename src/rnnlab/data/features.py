"""Which parts of a series go in and which come out: nodes, input features, target features.

A forecasting series is ``values[t, node, feature]`` (PEMS: sensors x flow,
occupancy, speed; Jena: one station x 14 weather variables) or, for a series
of one variable per column (Los-loop), ``values[t, node]``. A model reads the
selected input features of every selected node and predicts the selected
target features: Jena reads 7 variables and predicts temperature; PEMS reads
and predicts all three. Inputs may also name a time feature computed from the
time index (``hour``, as report 001 uses).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .series import TimeSeries

# time features a config may name among its inputs: index -> value per step
TIME_FEATURES = {
    "hour": lambda ix: ix.hour + ix.minute / 60,  # hour of the day, 0 .. 23.83
    "weekday": lambda ix: ix.weekday,  # Monday = 0
    "dayofyear": lambda ix: ix.day_of_year,
}


def select_nodes(series: TimeSeries, nodes: Sequence[str]) -> TimeSeries:
    """The series restricted to the named nodes (columns), in the order given."""
    if not nodes:
        return series
    names = [str(c) for c in series.columns]
    missing = [n for n in nodes if str(n) not in names]
    if missing:
        shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
        raise ConfigError(f"data.nodes: {missing} not in {series.name} ({series.column_kind}s: "
                          f"{shown})")
    idx = [names.index(str(n)) for n in nodes]
    return replace(series, values=series.values[:, idx], columns=[series.columns[i] for i in idx])


def select_features(series: TimeSeries, features: Sequence[str],
                    targets: Sequence[str]) -> tuple[TimeSeries, list[str], list[str]]:
    """Keep only the features used as inputs or targets; return it with both name lists.

    Empty ``features`` = all of the series' features; empty ``targets`` = the
    input features that are not time features. Time features stay out of the
    returned series (they are computed later from its index, see :func:`assemble`).
    """
    if series.values.ndim == 2:
        if features or targets:
            raise ConfigError(f"{series.name} has one variable per {series.column_kind} and no "
                              f"named features; remove data.features and data.targets (choose "
                              f"{series.column_kind}s with data.nodes)")
        return series, [], []
    names = list(series.features)
    features = list(features) or names
    targets = list(targets) or [f for f in features if f not in TIME_FEATURES]
    for key, wanted, allowed in (("features", features, names + list(TIME_FEATURES)),
                                 ("targets", targets, names)):
        bad = [f for f in wanted if f not in allowed]
        if bad:
            raise ConfigError(f"data.{key}: {bad} not in {series.name}; valid: "
                              f"{', '.join(allowed)}")
    if len(set(features)) != len(features) or len(set(targets)) != len(targets):
        raise ConfigError("data.features and data.targets must not repeat a name")
    keep = [f for f in names if f in features or f in targets]
    idx = [names.index(f) for f in keep]
    return replace(series, values=series.values[:, :, idx], features=keep), features, targets


def assemble(series: TimeSeries, names: Sequence[str]) -> np.ndarray:
    """Values ``(time, nodes, len(names))`` of the named features, time features included."""
    if series.values.ndim == 2:
        return series.values[:, :, None]
    parts = []
    for name in names:
        if name in TIME_FEATURES:
            if series.index is None:
                raise ConfigError(f"the time feature {name!r} needs a time index, which "
                                  f"{series.name} lacks")
            column = np.asarray(TIME_FEATURES[name](pd.DatetimeIndex(series.index)), float)
            parts.append(np.broadcast_to(column[:, None], series.values.shape[:2]))
        else:
            parts.append(series.values[:, :, series.features.index(name)])
    return np.stack(parts, axis=2).astype(np.float64)
