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
from typing import Literal

import numpy as np
import torch
from sklearn.metrics import mean_absolute_error, mean_squared_error
from torch import Tensor, nn

from .. import nn as rnn
from ..config import ModelConfig, option
from ..data import make_scaler, split_points, windows
from ..data.sources import loader
from ..errors import ConfigError
from ..report import figures
from . import Task

SPLITS = ("train", "val", "test")


@dataclass
class ForecastData:
    """The ``data:`` section of a forecasting config."""

    dataset: str = option("los_loop", "registered dataset (see `rnnlab datasets`)")
    history: int = option(12, "input steps per window", ge=1)
    horizon: int = option(1, "future steps predicted per window", ge=1)
    stride: int = option(1, "steps between the starts of consecutive windows", ge=1)
    split: list[float] = option([0.6, 0.2, 0.2],
                                "chronological train/val/test ratios, applied before windowing; "
                                "two ratios = train/test without validation")
    scaler: Literal["minmax", "standard", "none"] = option(
        "minmax", "per-column scaling fitted on the training split only")
    plot_columns: list[int] = option([0, 1, 2], "columns drawn in the prediction plot")

    def check(self) -> None:
        if len(self.split) not in (2, 3):
            raise ConfigError(f"data.split needs 2 (train/test) or 3 (train/val/test) ratios, "
                              f"got {self.split}")
        split_points(100, self.split)  # raises on ratios that are not positive or sum != 1


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

    Input (batch, history, nodes * features) -> output (batch, horizon, nodes * features).
    With ``per_node`` every node is a separate sequence of ``features`` values: the
    batch grows to batch * nodes and all nodes share one set of weights.
    """

    def __init__(self, rnn_layer: nn.Module, hidden_out: int, horizon: int, nodes: int,
                 features: int, per_node: bool = False, residual: bool = False):
        super().__init__()
        self.rnn = rnn_layer
        outputs = features if per_node else nodes * features
        self.head = nn.Linear(hidden_out, horizon * outputs)
        self.horizon, self.nodes, self.features = horizon, nodes, features
        self.per_node, self.residual = per_node, residual

    def forward(self, x: Tensor) -> Tensor:
        batch, steps, width = x.shape
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
            out = (out.view(batch, self.nodes, self.horizon, self.features).permute(0, 2, 1, 3))
        out = out.reshape(batch, self.horizon, width)
        if self.residual:  # the last observed values, repeated over the horizon
            out = out + x[:, -1:, :]
        return out


class ForecastTask(Task):
    name = "forecast"
    DataConfig = ForecastData
    ModelConfig = ForecastModel

    def __init__(self, cfg, data_dir=None, download=False, device="cpu"):
        super().__init__(cfg, data_dir, download, device)
        d = cfg.data
        self.series = loader(d.dataset)(data_dir, download)
        values = self.series.values.reshape(len(self.series), -1)
        points = split_points(len(values), d.split)
        names = SPLITS if len(d.split) == 3 else ("train", "test")
        window = d.history + d.horizon
        self.parts, self.raw = {}, {}
        for name, a, b in zip(names, points[:-1], points[1:]):
            if b - a < window:
                raise ConfigError(
                    f"a window of data.history + data.horizon = {window} steps does not fit in "
                    f"the {name} split ({b - a} of {len(values)} steps). Lower data.history or "
                    f"data.horizon, or give the {name} split a larger share in data.split.")
            self.raw[name] = values[a:b]
            self.parts[name] = (a, b)
        self.scaler = make_scaler(d.scaler).fit(self.raw["train"])
        self.columns = self.series.columns
        self.n_features = values.shape[1]  # nodes * features per node
        self.n_nodes = self.series.values.shape[1]
        self.windows = {}
        for name, raw in self.raw.items():
            scaled = torch.as_tensor(self.scaler.transform(raw), dtype=torch.float32)
            x, y = windows(scaled, d.history, d.horizon, d.stride)  # views, no copies
            x_raw, y_raw = windows(torch.as_tensor(raw), d.history, d.horizon, d.stride)
            self.windows[name] = {"x": x, "y": y, "y_raw": y_raw, "last_raw": x_raw[:, -1]}
        self.train_mean = self.raw["train"].mean(axis=0)

    @property
    def has_validation(self) -> bool:
        return "val" in self.windows

    def describe(self):
        d = self.cfg.data
        return {"dataset": d.dataset, "unit": self.series.unit, "steps": len(self.series),
                "columns": self.n_features, "freq": self.series.freq,
                "windows": {k: len(v["x"]) for k, v in self.windows.items()},
                "split_steps": {k: [a, b] for k, (a, b) in self.parts.items()}}

    def build_model(self) -> nn.Module:
        m, d = self.cfg.model, self.cfg.data
        per_node = m.layout == "per_node"
        node_features = self.n_features // self.n_nodes
        layer = rnn.build_rnn(m.kind, m.impl,
                              input_size=node_features if per_node else self.n_features,
                              hidden_size=m.hidden_size, num_layers=m.num_layers,
                              nonlinearity=m.nonlinearity, batch_first=True, dropout=m.dropout,
                              bidirectional=m.bidirectional, init=m.init)
        out = m.hidden_size * (2 if m.bidirectional else 1)
        return ForecastNet(layer, out, d.horizon, self.n_nodes, node_features, per_node,
                           m.residual)

    def num_train_batches(self) -> int:
        return math.ceil(len(self.windows["train"]["x"]) / self.cfg.train.batch_size)

    def train_batches(self, epoch):
        w = self.windows["train"]
        order = torch.randperm(len(w["x"]), generator=self.batch_generator(self.cfg.seed, epoch))
        for idx in order.split(self.cfg.train.batch_size):
            yield w["x"][idx].to(self.device), w["y"][idx].to(self.device)

    def train_step(self, model, batch):
        x, y = batch
        return nn.functional.mse_loss(model(x), y), len(x)

    @torch.no_grad()
    def predict(self, model: nn.Module, split: str) -> np.ndarray:
        """Forecasts for every window of ``split`` in original units, (N, horizon, columns)."""
        model.eval()
        x = self.windows[split]["x"]
        preds = [model(x[i:i + 1024].to(self.device)).cpu() for i in range(0, len(x), 1024)]
        scaled = torch.cat(preds).double().numpy()
        return self.scaler.inverse_transform(scaled)

    def evaluate(self, model, split):
        w = self.windows[split]
        pred = self.predict(model, split)
        truth = w["y_raw"].numpy()
        scaled_pred = self.scaler.transform(pred)
        loss = float(np.mean((scaled_pred - self.scaler.transform(truth)) ** 2))
        return {"loss": loss, **horizon_metrics(truth, pred)}

    def baselines(self, split: str = "test") -> dict[str, dict[str, float]]:
        """What the network must beat: repeating the last value, and the training mean."""
        w = self.windows[split]
        truth = w["y_raw"].numpy()
        last = np.repeat(w["last_raw"].numpy()[:, None], truth.shape[1], axis=1)
        mean = np.broadcast_to(self.train_mean, truth.shape)
        return {"last_value": horizon_metrics(truth, last),
                "train_mean": horizon_metrics(truth, mean)}

    def test_report(self, model):
        return {"test": self.evaluate(model, "test"), "baselines": self.baselines("test")}

    def figures(self, model, run_dir: Path, history):
        paths = [figures.loss_curve(history, run_dir / "loss.png")]
        split = "val" if self.has_validation else "test"
        keys = [f"{split}_{m}" for m in ("rmse", "mae", "mape")]
        paths.append(figures.metric_curves(history, keys, run_dir / "metrics.png",
                                           unit=self.series.unit))
        pred = self.predict(model, "test")[:, 0]  # one step ahead
        truth = self.windows["test"]["y_raw"].numpy()[:, 0]
        a, _ = self.parts["test"]
        first = a + self.cfg.data.history
        index = self.series.index
        steps = np.arange(len(pred)) * self.cfg.data.stride + first
        times = index[steps] if index is not None else steps
        cols = [c for c in self.cfg.data.plot_columns if c < self.n_features] or [0]
        paths.append(figures.forecast_plot(
            times, truth[:, cols], pred[:, cols],
            [f"{self.series.column_kind} {self.columns[c]}" for c in cols],
            run_dir / "predictions.png", unit=self.series.unit))
        return paths
