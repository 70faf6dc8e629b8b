"""Forecasting: ``history`` steps of a multivariate series in, the next ``horizon`` steps out.

Protocol (the lab's): split the long series chronologically, fit the scaler on
the training part only, cut each part into windows, train on scaled values with
MSE, and report RMSE, MAE and MAPE in the data's original units. MAPE ignores
targets <= 0, as the lab defines it. Two baselines sit beside every result:
repeating the last observed value, and the training mean of each column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import mean_absolute_error, mean_squared_error
from torch import Tensor, nn

from .. import nn as rnn
from ..config import ModelConfig, data_label, option
from ..data import make_scaler, split_points, windows
from ..data.windows import check_ratios
from ..data.features import TIME_FEATURES, assemble, select_features, select_nodes
from ..data.resample import complete_windows, pandas_freq, regularize_series
from ..data.series import TimeSeries
from ..data.sources import loader
from ..errors import ConfigError, DataError
from ..report import figures
from . import Task

SPLITS = ("train", "val", "test")


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
        from ..data.sources.files import ARRAYS, PARQUET, TABLES, settle_source

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


def mape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute percentage error over targets > 0, in percent (the lab's definition)."""
    keep = y_true > 0
    if not keep.any():
        return float("nan")
    return float(np.mean(np.abs((y_true[keep] - y_pred[keep]) / y_true[keep])) * 100)


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and MAPE of two arrays of the same shape, in their units."""
    t, p = y_true.reshape(-1), y_pred.reshape(-1)
    return {"rmse": math.sqrt(mean_squared_error(t, p)), "mae": mean_absolute_error(t, p),
            "mape": mape(t, p)}


def horizon_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Metrics averaged over all horizons, plus ``rmse@k`` etc. per step when horizon > 1."""
    out = regression_metrics(y_true, y_pred)
    if y_true.shape[1] > 1:
        for k in range(y_true.shape[1]):
            for name, value in regression_metrics(y_true[:, k], y_pred[:, k]).items():
                out[f"{name}@{k + 1}"] = value
    return out


class ForecastNet(nn.Module):
    """A recurrent layer reading the window, a linear head mapping its final state to the forecast.

    Input (batch, history, nodes * features) -> output (batch, horizon, nodes * out_features).
    With ``per_node`` every node is a separate sequence of ``features`` values: the
    batch grows to batch * nodes and all nodes share one set of weights.
    ``out_features`` (default: ``features``) are the predicted features of each node;
    ``residual_index`` says where each of them sits among the input features.
    """

    def __init__(self, rnn_layer: nn.Module, hidden_out: int, horizon: int, nodes: int,
                 features: int, per_node: bool = False, residual: bool = False,
                 out_features: int | None = None, residual_index: list[int] | None = None):
        super().__init__()
        self.rnn = rnn_layer
        out_features = features if out_features is None else out_features
        outputs = out_features if per_node else nodes * out_features
        self.head = nn.Linear(hidden_out, horizon * outputs)
        self.horizon, self.nodes, self.features = horizon, nodes, features
        self.out_features = out_features
        self.per_node, self.residual = per_node, residual
        self.residual_index = (list(range(features)) if residual_index is None
                               else list(residual_index))

    def forward(self, x: Tensor) -> Tensor:
        batch, steps, _ = x.shape
        seq = x
        if self.per_node:
            seq = (x.view(batch, steps, self.nodes, self.features).permute(0, 2, 1, 3)
                   .reshape(batch * self.nodes, steps, self.features))
        _, state = self.rnn(seq)
        h_n = state[0] if isinstance(state, tuple) else state
        directions = 2 if self.rnn.bidirectional else 1
        last = torch.cat(list(h_n[-directions:]), dim=1)  # final layer, all directions
        out = self.head(last)
        if self.per_node:
            out = (out.view(batch, self.nodes, self.horizon, self.out_features)
                   .permute(0, 2, 1, 3))
        out = out.reshape(batch, self.horizon, self.nodes * self.out_features)
        if self.residual:  # the last observed values of the targets, repeated over the horizon
            last_in = x[:, -1].reshape(batch, self.nodes, self.features)[:, :, self.residual_index]
            out = out + last_in.reshape(batch, 1, -1)
        return out


def load_series(d: ForecastData, data_dir=None, download: bool = False) -> TimeSeries:
    """The long series a forecasting config names: a registered dataset or the user's file."""
    from ..data.sources import files

    if d.source == "csv":
        return files.table_series(Path(d.path), time_column=d.time_column, columns=d.columns,
                                  id_column=d.id_column, timezone=d.timezone,
                                  time_format=d.time_format, resample=d.resample)
    if d.source == "npz":
        return files.array_series(Path(d.path), d.key)
    return loader(d.dataset)(data_dir, download)


class ForecastTask(Task):
    name = "forecast"
    DataConfig = ForecastData
    ModelConfig = ForecastModel

    def __init__(self, cfg, data_dir=None, download=False, device="cpu"):
        super().__init__(cfg, data_dir, download, device)
        d = cfg.data
        series = select_nodes(load_series(d, data_dir, download), d.nodes)
        series, in_names, out_names = select_features(series, d.features, d.targets)
        # regular steps and short gaps filled before anything is split or scaled
        self.series = regularize_series(series, d.resample, d.interpolate_limit)
        self.input_names, self.target_names = in_names, out_names
        inputs = assemble(self.series, in_names)  # (time, nodes, input features)
        targets = assemble(self.series, out_names)  # (time, nodes, target features)
        self.n_nodes, self.n_in, self.n_out = inputs.shape[1], inputs.shape[2], targets.shape[2]
        x_all = inputs.reshape(len(inputs), -1)
        y_all = targets.reshape(len(targets), -1)
        if d.split_dates:
            points = split_points(len(x_all), index=self.series.index, dates=d.split_dates)
        else:
            points = split_points(len(x_all), d.split)
        names = SPLITS if len(points) == 4 else ("train", "test")
        how = "data.split_dates" if d.split_dates else "data.split"
        window = d.history + d.horizon
        self.parts, self.raw, self.raw_inputs = {}, {}, {}
        for name, a, b in zip(names, points[:-1], points[1:]):
            if b - a < window:
                raise ConfigError(
                    f"a window of data.history + data.horizon = {window} steps does not fit in "
                    f"the {name} split ({b - a} of {len(x_all)} steps). Lower data.history or "
                    f"data.horizon, or give the {name} split a larger share in {how}.")
            self.raw[name], self.raw_inputs[name] = y_all[a:b], x_all[a:b]
            self.parts[name] = (a, b)
        empty = np.isnan(self.raw_inputs["train"]).all(axis=0)
        if empty.any():  # a scaler cannot be fitted on nothing; name the columns instead
            labels = [f"{node}/{feat}" if self.n_in > 1 else str(node)
                      for node in self.series.columns for feat in in_names]
            bad = [lab for lab, e in zip(labels, empty) if e]
            raise DataError(f"{len(bad)} input column(s) hold no values in the train split: "
                            f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}. Leave them "
                            f"out with data.nodes / data.features (or data.columns), or check "
                            f"the file")
        self.input_scaler = make_scaler(d.scaler).fit(self.raw_inputs["train"])
        self.scaler = make_scaler(d.scaler).fit(self.raw["train"])  # targets: metrics invert it
        self.columns = self._target_labels()
        self.n_features = y_all.shape[1]  # target columns: nodes * target features
        self.windows, self.dropped = {}, {}
        for name, (a, _) in self.parts.items():
            self.windows[name], self.dropped[name] = self._make_windows(name, a)
            if len(self.windows[name]["x"]) == 0:
                raise ConfigError(
                    f"every window of the {name} split holds a gap (NaN) that interpolation "
                    f"did not fill. Raise data.interpolate_limit, or choose other "
                    f"data.nodes / data.features.")
        self.train_mean = np.nanmean(self.raw["train"], axis=0)
        self.batch_log: list[dict] = []
        self._trained = 0

    def _make_windows(self, name: str, first_step: int) -> tuple[dict, int]:
        """Scaled input/target windows of one split (views), minus those holding NaN."""
        d = self.cfg.data
        scaled_x = torch.as_tensor(self.input_scaler.transform(self.raw_inputs[name]),
                                   dtype=torch.float32)
        scaled_y = torch.as_tensor(self.scaler.transform(self.raw[name]), dtype=torch.float32)
        x, _ = windows(scaled_x, d.history, d.horizon, d.stride)  # views, no copies
        _, y = windows(scaled_y, d.history, d.horizon, d.stride)
        seen_raw, y_raw = windows(torch.as_tensor(self.raw[name]), d.history, d.horizon,
                                  d.stride)
        w = {"x": x, "y": y, "y_raw": y_raw, "last_raw": seen_raw[:, -1],
             "start": torch.arange(len(x)) * d.stride + first_step}
        keep = complete_windows(x, y, seen_raw[:, -1:])
        dropped = int((~keep).sum())
        if dropped:  # copies only where windows had to go
            idx = torch.from_numpy(np.flatnonzero(keep))
            w = {k: v[idx] for k, v in w.items()}
        return w, dropped

    def _target_labels(self) -> list[str]:
        nodes = [str(c) for c in self.series.columns]
        if not self.target_names:
            return nodes
        if len(nodes) == 1:
            return list(self.target_names)
        return [f"{n} {f}" for n in nodes for f in self.target_names]

    @property
    def unit(self) -> str:
        """The unit of the targets, or '' when they mix units."""
        units = {self.series.unit_of(f) for f in self.target_names} or {self.series.unit}
        return units.pop() if len(units) == 1 else ""

    @property
    def has_validation(self) -> bool:
        return "val" in self.windows

    def describe(self):
        d = self.cfg.data
        return {"dataset": data_label(d), "source": d.source, "unit": self.unit,
                "steps": len(self.series),
                "columns": self.n_features, "nodes": self.n_nodes, "freq": self.series.freq,
                "inputs": self.input_names or None, "targets": self.target_names or None,
                "windows": {k: len(v["x"]) for k, v in self.windows.items()},
                "dropped_nan_windows": self.dropped,
                "split_steps": {k: [a, b] for k, (a, b) in self.parts.items()},
                "split_times": self._split_times()}

    def _split_times(self) -> dict | None:
        index = self.series.index
        if index is None:
            return None
        return {k: [str(index[a]), str(index[b - 1])] for k, (a, b) in self.parts.items()}

    def build_model(self) -> nn.Module:
        m, d = self.cfg.model, self.cfg.data
        per_node = m.layout == "per_node"
        residual_index = None
        if self.target_names:
            missing = [f for f in self.target_names if f not in self.input_names]
            if m.residual and missing:
                raise ConfigError(f"model.residual adds the last observed target to the "
                                  f"forecast, but the targets {missing} are not among "
                                  f"data.features; add them or set model.residual=false")
            if not missing:
                residual_index = [self.input_names.index(f) for f in self.target_names]
        width = self.n_nodes * self.n_in
        layer = rnn.build_rnn(m.kind, m.impl,
                              input_size=self.n_in if per_node else width,
                              hidden_size=m.hidden_size, num_layers=m.num_layers,
                              nonlinearity=m.nonlinearity, batch_first=True, dropout=m.dropout,
                              bidirectional=m.bidirectional, init=m.init)
        out = m.hidden_size * (2 if m.bidirectional else 1)
        return ForecastNet(layer, out, d.horizon, self.n_nodes, self.n_in, per_node,
                           m.residual, out_features=self.n_out, residual_index=residual_index)

    def num_train_batches(self) -> int:
        return math.ceil(len(self.windows["train"]["x"]) / self.cfg.train.batch_size)

    def train_batches(self, epoch):
        w = self.windows["train"]
        self._trained = (epoch - 1) * self.num_train_batches()  # also right after a resume
        order = torch.randperm(len(w["x"]), generator=self.batch_generator(self.cfg.seed, epoch))
        for idx in order.split(self.cfg.train.batch_size):
            yield w["x"][idx].to(self.device), w["y"][idx].to(self.device)

    def train_step(self, model, batch):
        x, y = batch
        return nn.functional.mse_loss(model(x), y), len(x)

    def after_step(self, judged):
        self._trained += 1
        every = self.cfg.data.test_every
        if every and self._trained % every == 0:
            was_training = judged.training
            self.batch_log.append({"batch": self._trained, **self.evaluate(judged, "test")})
            judged.train(was_training)

    def state_dict(self):
        return {"batch_log": list(self.batch_log)}

    def load_state_dict(self, state):
        self.batch_log = list(state.get("batch_log", []))

    @torch.no_grad()
    def predict(self, model: nn.Module, split: str) -> np.ndarray:
        """Forecasts for every window of ``split`` in original units, (N, horizon, columns)."""
        model.eval()
        x = self.windows[split]["x"]
        preds = [model(x[i:i + 1024].to(self.device)).cpu() for i in range(0, len(x), 1024)]
        scaled = torch.cat(preds).double().numpy()
        return self.scaler.inverse_transform(scaled)

    def evaluate(self, model, split):
        return self.forecast_metrics(self.predict(model, split), split)

    def forecast_metrics(self, pred: np.ndarray, split: str) -> dict[str, float]:
        """MSE on the scaled values (the training loss) and RMSE/MAE/MAPE in original units of
        forecasts ``pred`` (as :meth:`predict` returns them) for the windows of ``split``."""
        truth = self.windows[split]["y_raw"].numpy()
        loss = float(np.mean((self.scaler.transform(pred) - self.scaler.transform(truth)) ** 2))
        return {"loss": loss, **horizon_metrics(truth, pred)}

    def fingerprint(self, split: str) -> str:
        """A digest of the split's targets (original units) and their names: two runs with the
        same fingerprint forecast the same windows."""
        import hashlib

        digest = hashlib.sha256("\x1f".join(self._target_labels()).encode())
        truth = self.windows[split]["y_raw"].contiguous().numpy()
        digest.update(str(truth.shape).encode())
        digest.update(truth.tobytes())
        return digest.hexdigest()

    def _baseline_forecasts(self, split: str) -> dict[str, np.ndarray]:
        w = self.windows[split]
        shape = w["y_raw"].shape
        last = np.repeat(w["last_raw"].numpy()[:, None], shape[1], axis=1)
        return {"last_value": last, "train_mean": np.broadcast_to(self.train_mean, shape)}

    def baselines(self, split: str = "test") -> dict[str, dict[str, float]]:
        """What the network must beat: repeating the last value, and the training mean."""
        truth = self.windows[split]["y_raw"].numpy()
        return {name: horizon_metrics(truth, forecast)
                for name, forecast in self._baseline_forecasts(split).items()}

    def step_label(self, k: int) -> str:
        """'15min' for step 3 of a 5-min series; 'step 3' without a known step length."""
        try:
            step = pd.Timedelta(pd.tseries.frequencies.to_offset(self.series.freq))
        except (TypeError, ValueError):
            return f"step {k}"
        minutes = k * step.total_seconds() / 60
        return f"{minutes:g}min" if minutes < 120 else f"{minutes / 60:g}h"

    def test_report(self, model):
        test, base = self.evaluate(model, "test"), self.baselines("test")
        report = {"test": test, "baselines": base}
        if self.cfg.data.horizon > 1:
            steps = self.cfg.data.report_horizons or range(1, self.cfg.data.horizon + 1)
            report["horizons"] = {
                self.step_label(k): {
                    label: {m: metrics[f"{m}@{k}"] for m in ("rmse", "mae", "mape")}
                    for label, metrics in (("model", test), *base.items())}
                for k in steps}
        return report

    def figures(self, model, run_dir: Path, history):
        paths = [figures.loss_curve(history, run_dir / "loss.png")]
        split = "val" if self.has_validation else "test"
        keys = [f"{split}_{m}" for m in ("rmse", "mae", "mape")]
        paths.append(figures.metric_curves(history, keys, run_dir / "metrics.png",
                                           unit=self.unit))
        full = self.predict(model, "test")
        pred = full[:, 0]  # one step ahead
        w = self.windows["test"]
        truth = w["y_raw"].numpy()
        steps = w["start"].numpy() + self.cfg.data.history
        index = self.series.index
        times = index[steps] if index is not None else steps
        cols = [c for c in self.cfg.data.plot_columns if c < self.n_features] or [0]
        kind = self.series.column_kind if self.n_nodes > 1 or not self.target_names else ""
        paths.append(figures.forecast_plot(
            times, truth[:, 0][:, cols], pred[:, cols],
            [f"{kind} {self.columns[c]}".strip() for c in cols],
            run_dir / "predictions.png", unit=self.unit))
        if self.cfg.data.horizon > 1:
            errors = {"model": full, **self._baseline_forecasts("test")}
            per_step = {label: {m: [regression_metrics(truth[:, k], f[:, k])[m]
                                    for k in range(truth.shape[1])] for m in ("mae", "rmse")}
                        for label, f in errors.items()}
            labels = [self.step_label(k) for k in range(1, truth.shape[1] + 1)]
            paths.append(figures.error_by_horizon(per_step, labels, run_dir / "horizons.png",
                                                  unit=self.unit))
        if self.batch_log:
            paths.append(figures.batch_curves(self.batch_log, run_dir / "batch_metrics.png",
                                              unit=self.unit))
            pd.DataFrame(self.batch_log).to_csv(run_dir / "batch_metrics.csv", index=False)
        return paths

    # -- use a trained model
    def _value_features(self) -> list[str]:
        return [f for f in self.input_names if f not in TIME_FEATURES]

    def input_labels(self) -> list[str]:
        """The columns a prediction CSV must hold: each node, or each node x input feature."""
        nodes = [str(c) for c in self.series.columns]
        if self.series.values.ndim == 2:
            return nodes
        feats = self._value_features()
        return list(feats) if len(nodes) == 1 else [f"{n} {f}" for n in nodes for f in feats]

    def inputs_from_frame(self, frame: pd.DataFrame) -> tuple[np.ndarray, pd.Index | None]:
        """The last ``history`` rows of ``frame`` as raw model inputs, and their times."""
        d = self.cfg.data
        frame = frame.rename(columns=str)
        wanted = self.input_labels()
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            shown = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
            raise ConfigError(f"the input lacks {len(missing)} of the model's {len(wanted)} "
                              f"input columns ({shown}); it needs one column per "
                              f"{self.series.column_kind}, named as in the training data "
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
        nodes = len(self.series.columns)
        if self.series.values.ndim == 3:
            values = values.reshape(len(values), nodes, -1)
            feats = self._value_features()
            if any(f in TIME_FEATURES for f in self.input_names):
                if index is None:
                    raise ConfigError("this model also reads the time of day; give the input "
                                      "a first column of time stamps")
            part = TimeSeries(self.series.name, values, list(self.series.columns),
                              index=index, features=feats)
            values = assemble(part, self.input_names).reshape(len(values), -1)
        return values, index

    @torch.no_grad()
    def forecast(self, model: nn.Module, raw_inputs: np.ndarray) -> np.ndarray:
        """(horizon, target columns) in original units from (history, input columns) raw values."""
        model.eval()
        x = torch.as_tensor(self.input_scaler.transform(raw_inputs), dtype=torch.float32)
        scaled = model(x[None].to(self.device)).cpu().double().numpy()[0]
        return self.scaler.inverse_transform(scaled)

    def history_at(self, when: str) -> pd.DataFrame:
        """The ``history`` input rows of the dataset ending at time stamp ``when``."""
        index = self.series.index
        if index is None:
            raise ConfigError(f"{self.series.name} has no time stamps; give the latest rows "
                              "as a CSV instead of --at")
        try:
            stamp = pd.Timestamp(when)
            if index.tz is not None and stamp.tz is None:  # read in the series' time zone
                stamp = stamp.tz_localize(index.tz)
            pos = index.get_loc(stamp)
        except (KeyError, ValueError, TypeError):
            raise ConfigError(f"--at {when!r} is not a time stamp of {self.series.name} "
                              f"({index[0]} .. {index[-1]}, every {self.series.freq})") from None
        start = pos - self.cfg.data.history + 1
        if start < 0:
            raise ConfigError(f"--at {when!r} leaves fewer than data.history = "
                              f"{self.cfg.data.history} steps before it")
        rows = self.series.values[start:pos + 1]
        frame = pd.DataFrame(rows.reshape(len(rows), -1), index=index[start:pos + 1])
        frame.columns = ([str(c) for c in self.series.columns] if rows.ndim == 2 else
                         [f"{n} {f}" if len(self.series.columns) > 1 else f
                          for n in self.series.columns for f in self.series.features])
        return frame
