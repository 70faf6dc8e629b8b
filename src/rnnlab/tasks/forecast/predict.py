"""A trained forecaster on new rows: the latest ``history`` rows in, the next ``horizon`` out.

The rows come as a table (a CSV of the latest rows, one column per input as in
training) or from the dataset itself (``--at TIMESTAMP``); they are scaled with the
scalers fitted on the run's training split, and the forecast is returned in
original units with its time stamps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from ...data.features import TIME_FEATURES, assemble
from ...data.series import TimeSeries
from ...errors import ConfigError, DataError


def read_history_csv(path: str | Path) -> pd.DataFrame:
    """A CSV of recent rows; a first column of time stamps becomes the index."""
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(f"input file {path} does not exist") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataError(f"input file {path} is not a readable CSV ({err})") from None
    first = frame.columns[0] if len(frame.columns) else None
    if first is not None and not pd.api.types.is_numeric_dtype(frame[first]):
        try:
            frame.index = pd.DatetimeIndex(pd.to_datetime(frame[first]))
            frame = frame.drop(columns=first)
        except (ValueError, TypeError):
            pass  # not times: a column like any other
    return frame


def forecast_table(task, model: nn.Module, history: pd.DataFrame) -> pd.DataFrame:
    """The next ``horizon`` steps after ``history`` in original units, one column per target."""
    raw, index = inputs_from_frame(task, history)
    values = forecast(task, model, raw)
    freq = task.series.freq
    if index is not None and freq:
        steps = pd.date_range(index[-1], periods=len(values) + 1, freq=freq)[1:]
        rows = pd.Index(steps, name="time")
    else:
        rows = pd.Index([f"+{k}" for k in range(1, len(values) + 1)], name="step")
    return pd.DataFrame(values, index=rows, columns=task.columns)


def _value_features(task) -> list[str]:
    return [f for f in task.input_names if f not in TIME_FEATURES]


def input_labels(task) -> list[str]:
    """The columns a prediction CSV must hold: each node, or each node x input feature."""
    nodes = [str(c) for c in task.series.columns]
    if task.series.values.ndim == 2:
        return nodes
    feats = _value_features(task)
    return list(feats) if len(nodes) == 1 else [f"{n} {f}" for n in nodes for f in feats]


def inputs_from_frame(task, frame: pd.DataFrame) -> tuple[np.ndarray, pd.Index | None]:
    """The last ``history`` rows of ``frame`` as raw model inputs, and their times."""
    d = task.cfg.data
    frame = frame.rename(columns=str)
    wanted = input_labels(task)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        shown = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
        raise ConfigError(f"the input lacks {len(missing)} of the model's {len(wanted)} "
                          f"input columns ({shown}); it needs one column per "
                          f"{task.series.column_kind}, named as in the training data "
                          f"({', '.join(wanted[:5])}{' ...' if len(wanted) > 5 else ''})")
    if len(frame) < d.history:
        raise ConfigError(f"the model reads data.history = {d.history} steps; the input "
                          f"has {len(frame)} rows")
    frame = frame.iloc[-d.history:]
    try:
        values = frame[wanted].to_numpy(dtype=np.float64)
    except ValueError:
        raise ConfigError("the input columns must hold numbers only") from None
    if not np.isfinite(values).all():
        raise ConfigError("the input holds empty or non-numeric cells in its last "
                          f"{d.history} rows; fill them first")
    index = frame.index if isinstance(frame.index, pd.DatetimeIndex) else None
    nodes = len(task.series.columns)
    if task.series.values.ndim == 3:
        values = values.reshape(len(values), nodes, -1)
        feats = _value_features(task)
        if any(f in TIME_FEATURES for f in task.input_names):
            if index is None:
                raise ConfigError("this model also reads the time of day; give the input "
                                  "a first column of time stamps")
        part = TimeSeries(task.series.name, values, list(task.series.columns),
                          index=index, features=feats)
        values = assemble(part, task.input_names).reshape(len(values), -1)
    return values, index


@torch.no_grad()
def forecast(task, model: nn.Module, raw_inputs: np.ndarray) -> np.ndarray:
    """(horizon, target columns) in original units from (history, input columns) raw values."""
    model.eval()
    x = torch.as_tensor(task.input_scaler.transform(raw_inputs), dtype=torch.float32)
    scaled = model(x[None].to(task.device)).cpu().double().numpy()[0]
    return task.scaler.inverse_transform(scaled)


def history_at(task, when: str) -> pd.DataFrame:
    """The ``history`` input rows of the dataset ending at time stamp ``when``."""
    index = task.series.index
    if index is None:
        raise ConfigError(f"{task.series.name} has no time stamps; give the latest rows "
                          "as a CSV instead of --at")
    try:
        stamp = pd.Timestamp(when)
        if index.tz is not None and stamp.tz is None:  # read in the series' time zone
            stamp = stamp.tz_localize(index.tz)
        pos = index.get_loc(stamp)
    except (KeyError, ValueError, TypeError):
        raise ConfigError(f"--at {when!r} is not a time stamp of {task.series.name} "
                          f"({index[0]} .. {index[-1]}, every {task.series.freq})") from None
    start = pos - task.cfg.data.history + 1
    if start < 0:
        raise ConfigError(f"--at {when!r} leaves fewer than data.history = "
                          f"{task.cfg.data.history} steps before it")
    rows = task.series.values[start:pos + 1]
    frame = pd.DataFrame(rows.reshape(len(rows), -1), index=index[start:pos + 1])
    frame.columns = ([str(c) for c in task.series.columns] if rows.ndim == 2 else
                     [f"{n} {f}" if len(task.series.columns) > 1 else f
                      for n in task.series.columns for f in task.series.features])
    return frame
