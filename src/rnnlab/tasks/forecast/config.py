"""The ``data:`` and ``model:`` sections of a forecasting config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ...config import ModelConfig, option
from ...data.resample import pandas_freq
from ...data.sources.files import ARRAYS, PARQUET, TABLES, settle_source
from ...data.windows import check_ratios
from ...errors import ConfigError


@dataclass
class ForecastData:
    """The ``data:`` section of a forecasting config."""

    dataset: str = option("los_loop", "registered dataset (see `rnnlab datasets`); "
                          "with data.path (your own file) leave it out")
    source: Literal["auto", "registry", "csv", "npz"] = option(
        "auto", "where the series comes from: registry = data.dataset; csv = a CSV or Parquet "
        "table at data.path; npz = an .npz/.npy array at data.path, shaped (time, columns) or "
        "(time, nodes, features); auto = registry without data.path, else by its extension")
    path: str = option("", "your own data file (csv/npz sources); a relative path is looked up "
                       "next to the config file first, then in the current folder")
    time_column: str = option("", "csv: column of time stamps (parsed; ISO text such as "
                              "'2024-01-31 13:00' or see data.time_format); empty = the row "
                              "order is the time axis")
    time_format: str = option("", "csv: strptime format of data.time_column, e.g. "
                              "'%d/%m/%Y %H:%M'; empty = inferred")
    timezone: str = option("", "csv: time zone, e.g. Europe/Warsaw: naive stamps are read in "
                           "it, stamps with an offset converted to it; empty = as written")
    columns: list[str] = option([], "csv: value columns to read (wide table: the variables; "
                                "long table: the value column(s) of each id); empty = every "
                                "numeric column except the time and id columns. Inputs and "
                                "targets are chosen among them with data.features / "
                                "data.targets")
    id_column: str = option("", "csv: long format (id, time, value rows): the column naming "
                            "the series; each id becomes a node (select with data.nodes)")
    key: str = option("", "npz: name of the array inside the .npz file (needed when it holds "
                      "several)")
    history: int = option(12, "input steps per window", ge=1)
    horizon: int = option(1, "future steps predicted per window", ge=1)
    stride: int = option(1, "steps between the starts of consecutive windows", ge=1)
    split: list[float] = option([0.6, 0.2, 0.2],
                                "chronological train/val/test ratios, applied before windowing; "
                                "two ratios = train/test without validation")
    split_dates: list[str] = option(
        [], "split by dates instead of ratios: each date starts the next part, e.g. "
        "['2015-01-01'] = train before 2015, test from 2015 (one date: no validation)")
    nodes: list[Any] = option([], "nodes (sensors, stations) to use, by column name (a "
                              "number is read as its name); empty = all")
    features: list[str] = option(
        [], "input features of each node, by name (time features: hour, weekday, dayofyear); "
        "empty = all")
    targets: list[str] = option([], "features to predict; empty = the input features")
    resample: str = option("", "put the series on a full regular index first: hourly, 10min, "
                           "5min, ... (empty = keep the source's steps)")
    interpolate_limit: int = option(
        2, "fill gaps by linear interpolation, at most this many steps from each side "
        "(limit_direction='both'); windows still holding NaN are dropped; 0 = no filling", ge=0)
    scaler: Literal["minmax", "standard", "none"] = option(
        "minmax", "per-column (node x feature) scaling fitted on the training split only")
    plot_columns: list[int] = option([0, 1, 2], "target columns drawn in the prediction plot")
    report_horizons: list[int] = option(
        [], "forecast steps reported on their own in the summary, e.g. [3, 6, 12] = 15/30/60 "
        "min at 5-min steps; empty = all steps of the horizon")
    test_every: int = option(
        0, "also compute RMSE/MAE/MAPE on the test split every N training batches, as the "
        "slides do (batch_metrics.csv/.png), with the weights that validation scores (the EMA "
        "under train.ema); 0 = off", ge=0)

    def check(self) -> None:
        settle_source(self, {"csv": TABLES + PARQUET, "npz": ARRAYS}, "los_loop",
                      {"time_column": ("csv",), "time_format": ("csv",), "timezone": ("csv",),
                       "columns": ("csv",), "id_column": ("csv",), "key": ("npz",)})
        if (self.time_format or self.timezone) and not self.time_column:
            raise ConfigError("data.time_format and data.timezone describe data.time_column; "
                              "name the time column too")
        if any(not isinstance(n, (str, int)) or isinstance(n, bool) for n in self.nodes):
            raise ConfigError(f"data.nodes: expected names or numbers, got {self.nodes}")
        self.nodes = [str(n) for n in self.nodes]  # YAML reads sensor ids such as 171 as ints
        if self.split_dates:
            if len(self.split_dates) not in (1, 2):
                raise ConfigError(f"data.split_dates needs 1 (train/test) or 2 (train/val/test) "
                                  f"dates, got {self.split_dates}")
            # their format and range are checked against the series' dates when it loads
        elif len(self.split) not in (2, 3):
            raise ConfigError(f"data.split needs 2 (train/test) or 3 (train/val/test) ratios, "
                              f"got {self.split}")
        else:
            check_ratios(self.split, "data.split")
        bad = [k for k in self.report_horizons if not 1 <= k <= self.horizon]
        if bad:
            raise ConfigError(f"data.report_horizons {bad} outside 1..data.horizon "
                              f"({self.horizon})")
        if self.resample:
            pandas_freq(self.resample)


@dataclass
class ForecastModel(ModelConfig):
    """The ``model:`` section of a forecasting config: a recurrent layer plus its head."""

    layout: Literal["joint", "per_node"] = option(
        "joint", "joint: one sequence per window with every column as a feature (the lab's "
        "form); per_node: each node (sensor) is its own sequence of its own features, with "
        "weights shared across nodes")
    residual: bool = option(
        False, "predict the change from the last observed value instead of the value "
        "itself: the network learns a correction to the repeat-last-value baseline")

