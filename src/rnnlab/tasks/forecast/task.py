"""Forecasting: ``history`` steps of a multivariate series in, the next ``horizon`` steps out.

Protocol (the lab's): split the long series chronologically, fit the scaler on
the training part only, cut each part into windows, train on scaled values with
MSE, and report RMSE, MAE and MAPE in the data's original units. MAPE ignores
targets <= 0, as the lab defines it. Two baselines sit beside every result:
repeating the last observed value, and the training mean of each column.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from ... import figures
from ...config import data_label
from ...data import make_scaler, split_points, windows
from ...data.features import assemble, select_features, select_nodes
from ...data.resample import complete_windows, regularize_series
from ...data.sources import series_for
from ...errors import ConfigError, DataError
from ...util import atomic_write, fmt
from ..base import LAB_KINDS, PredictOptions, Sample, Task, recurrent_layer, spread
from . import predict
from .config import ForecastData, ForecastModel
from .metrics import horizon_metrics, regression_metrics
from .model import ForecastNet

SPLITS = ("train", "val", "test")
LOSSES = {"default": nn.functional.mse_loss, "mse": nn.functional.mse_loss,
          "mae": nn.functional.l1_loss, "huber": nn.functional.smooth_l1_loss}


class ForecastTask(Task):
    name = "forecast"
    DataConfig = ForecastData
    ModelConfig = ForecastModel
    hyperparams = [{**LAB_KINDS, "model.hidden_size": [16, 32, 64]},
                   {**LAB_KINDS, "train.batch_size": [32, 64, 128]},
                   {**LAB_KINDS, "train.lr": [1e-2, 3e-3, 1e-3]}]
    can_ensemble = True
    losses = tuple(LOSSES)

    def __init__(self, cfg, data_dir=None, download=False, device="cpu"):
        super().__init__(cfg, data_dir, download, device)
        d = cfg.data
        series = select_nodes(series_for(d, data_dir, download), d.nodes)
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
        layer = recurrent_layer(m, self.n_in if per_node else width)
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
        return self._loss(model(x), y), len(x)

    def _loss(self, pred, target):
        """train.loss on scaled values: MSE (default), MAE or Huber (delta 1)."""
        return LOSSES[self.cfg.train.loss](pred, target)

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
    def forecasts(self, model: nn.Module, split: str) -> np.ndarray:
        """Forecasts for every window of ``split`` in original units, (N, horizon, columns)."""
        model.eval()
        x = self.windows[split]["x"]
        preds = [model(x[i:i + 1024].to(self.device)).cpu() for i in range(0, len(x), 1024)]
        scaled = torch.cat(preds).double().numpy()
        return self.scaler.inverse_transform(scaled)

    def evaluate(self, model, split):
        return self.forecast_metrics(self.forecasts(model, split), split)

    def forecast_metrics(self, pred: np.ndarray, split: str) -> dict[str, float]:
        """The training loss on the scaled values and RMSE/MAE/MAPE in original units of
        forecasts ``pred`` (as :meth:`forecasts` returns them) for the windows of ``split``."""
        truth = self.windows[split]["y_raw"].numpy()
        scaled_pred, scaled_truth = self.scaler.transform(pred), self.scaler.transform(truth)
        if self.cfg.train.loss in ("default", "mse"):
            loss = float(np.mean((scaled_pred - scaled_truth) ** 2))
        else:
            loss = float(self._loss(torch.as_tensor(scaled_pred), torch.as_tensor(scaled_truth)))
        return {"loss": loss, **horizon_metrics(truth, pred)}

    def fingerprint(self, split: str) -> str:
        """A digest of the split's targets (original units) and their names: two runs with the
        same fingerprint forecast the same windows."""
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
        full = self.forecasts(model, "test")
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
            atomic_write(run_dir / "batch_metrics.csv",
                         lambda tmp: pd.DataFrame(self.batch_log).to_csv(tmp, index=False))
        return paths


    # -- describing results
    @classmethod
    def summary_lines(cls, summary):
        """The test metrics at each reported horizon, beside the baselines'."""
        lines = []
        keys = ("rmse", "mae", "mape")
        for step, rows in summary.get("horizons", {}).items():
            lines.append(f"  at {step:<11}" + "".join(f"{k:>10}" for k in keys))
            for label, metrics in rows.items():
                lines.append(f"  {label:<14}" + "".join(f"{fmt(metrics.get(k, '')):>10}"
                                                        for k in keys))
        return lines

    # -- use a trained model
    def predict(self, model, inputs: pd.DataFrame, **options):
        """The forecast after the latest rows ``inputs`` (one column per input, as in
        training; a DatetimeIndex dates the forecast), in original units."""
        return predict.forecast_table(self, model, inputs)

    @classmethod
    def check_predict_inputs(cls, inputs, options):
        if not options.at and len(inputs) != 1:
            raise ConfigError("give one CSV of the latest rows (one column per input, a first "
                              "column of time stamps optional), or --at TIMESTAMP to forecast "
                              "from the dataset")

    def predict_command(self, model, inputs, options: PredictOptions):
        history = (predict.history_at(self, options.at) if options.at
                   else predict.read_history_csv(inputs[0]))
        table = self.predict(model, history)
        if options.output:
            atomic_write(options.output, table.to_csv)
            lines = [f"forecast: {options.output}"]
        else:
            lines = [table.round(4).to_string(max_cols=12)]
        if options.plot:
            path = figures.history_and_forecast(history, table, self.columns[:3],
                                                Path(options.plot), self.unit)
            lines.append(f"plot: {path}")
        return lines

    # -- look inside
    def inspect_samples(self, count, texts=None):
        if texts:
            if len(texts) != 1:
                raise ConfigError("inspect a forecaster on one CSV of its latest rows "
                                  "(--input FILE)")
            raw, _ = predict.inputs_from_frame(self, predict.read_history_csv(texts[0]))
            x = torch.as_tensor(self.input_scaler.transform(raw), dtype=torch.float32)
            return [Sample((x[None].to(self.device),), None, Path(texts[0]).name)]
        w, index = self.windows["test"], self.series.index
        samples = []
        for k in spread(count, len(w["x"])):
            end = int(w["start"][k]) + self.cfg.data.history - 1
            name = f"test window ending {index[end]}" if index is not None else f"test window {k}"
            samples.append(Sample((w["x"][k:k + 1].to(self.device),),
                                  w["y"][k:k + 1].to(self.device), name))
        return samples

    def sample_loss(self, model, sample):
        """MSE of the forecast (scaled units); on the user's rows, the forecast's sum."""
        out = model(*sample.inputs)
        if sample.target is None:
            return out.sum()
        return self._loss(out, sample.target)

    # -- ensembles of runs
    def ensemble_output(self, model, split):
        out = self.forecasts(model, split)
        return out, self.forecast_metrics(out, split)

    def ensemble_report(self, mean, split, figures_dir=None):
        """The averaged forecasts' metrics beside the baselines (last value, training mean)."""
        return {"ensemble": self.forecast_metrics(mean, split), "baselines": self.baselines(split)}
