"""Use a finished run: reload its model and data pipeline, re-evaluate it, export the model.

A run folder is self-sufficient: ``config.yaml`` rebuilds the exact data
pipeline (same split, scaler fitted on the same training data, same
vocabulary) and ``best.pt`` holds the weights, so a folder copied to another
machine evaluates to the numbers stored in its ``summary.json``.
"""

from __future__ import annotations

import copy
import json
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
import yaml
from torch import nn

from . import config as config_mod
from . import nn as rnn
from .config import RunConfig
from .errors import ConfigError, DataError
from .experiment import find_run_dir, prepare
from .tasks import Task
from .train import load_checkpoint

EXPORT_FORMATS = ("state_dict", "torchscript", "onnx")


@dataclass
class LoadedRun:
    """A run brought back to life: its config, data pipeline, trained model and summary."""

    run_id: str
    run_dir: Path
    cfg: RunConfig
    task: Task
    model: nn.Module
    summary: dict


def load_run(ref: str, *, runs_dir: str | Path = "runs", data_dir=None,
             download: bool = False) -> LoadedRun:
    """The run ``ref`` (folder, id or id prefix) with its best weights loaded, in eval mode."""
    run_id, run_dir = find_run_dir(ref, runs_dir)
    weights = run_dir / "best.pt"
    if not weights.is_file():
        raise DataError(f"run {run_id} has no best.pt in {run_dir}: it stopped before its first "
                        "epoch ended. Resume it with `rnnlab run --resume` or start a new run.")
    cfg = config_mod.from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()),
                               source=str(run_dir / "config.yaml"))
    task, model = prepare(cfg, data_dir, download)
    model.load_state_dict(load_checkpoint(weights)["model"])
    model.eval()
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    return LoadedRun(run_id, run_dir, cfg, task, model, summary)


def evaluate_run(ref: str, split: str = "test", **kwargs) -> tuple[dict, dict]:
    """(recomputed metrics, metrics stored with the run) on ``split``."""
    run = load_run(ref, **kwargs)
    available = run.task.splits()
    if split not in available:
        raise ConfigError(f"split {split!r} does not exist for run {run.run_id}; "
                          f"it has {', '.join(available)}")
    with torch.no_grad():
        computed = run.task.evaluate(run.model, split)
    stored = run.summary.get(split, {}) if split == "test" else _stored_epoch(run, split)
    return computed, stored


def _stored_epoch(run: LoadedRun, split: str) -> dict:
    """The validation figures stored for the best epoch (what best.pt holds)."""
    best = run.summary.get("best_epoch")
    prefix = f"{split}_"
    for row in _read_history(run.run_dir):
        if row.get("epoch") == best:
            return {k[len(prefix):]: v for k, v in row.items() if k.startswith(prefix)}
    return {}


def _read_history(run_dir: Path) -> list[dict]:
    import csv

    path = run_dir / "metrics.csv"
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v}
                for row in csv.DictReader(f)]


def metrics_agree(computed: dict, stored: dict, rel: float = 1e-6) -> bool:
    """True when every stored figure is reproduced (to float rounding)."""
    return all(k in computed and math.isclose(computed[k], v, rel_tol=rel, abs_tol=1e-9)
               for k, v in stored.items() if isinstance(v, (int, float)))


def ensemble_runs(refs: list[str], split: str = "test", figures_dir: str | Path | None = None,
                  **kwargs) -> dict:
    """Average several runs of one task on one split: classify runs' class probabilities,
    or forecast runs' predictions (in original units).

    The runs must have been evaluated on the same rows (classify: train them with one
    ``data.split_seed``; forecast: one data config); each may differ in seed, model or
    settings. Returns the members' own metrics and the ensemble's. Classify adds its
    per-class table and confusion matrix, on test its seen-in-train split of accuracy, and
    ``figures_dir`` gets its confusion.csv, confusion.png and per_class_f1.png; forecast
    adds the baselines (last value, training mean).
    """
    if len(refs) < 2:
        raise ConfigError(f"an ensemble needs at least two runs, got {len(refs)}")
    members, total, first, key = {}, None, None, None
    for ref in refs:
        run = load_run(ref, **kwargs)
        task = run.cfg.task
        if task not in ("classify", "forecast"):
            raise ConfigError(f"run {run.run_id} is a {task} run; ensembles average classify "
                              "runs' probabilities or forecast runs' predictions")
        if first is not None and task != first.cfg.task:
            raise ConfigError(f"run {run.run_id} is a {task} run and {first.run_id} a "
                              f"{first.cfg.task} run; an ensemble averages runs of one task")
        if figures_dir is not None and task != "classify":
            raise ConfigError("--figures draws a classify ensemble's confusion matrix and "
                              "per-class F1; leave it out for forecast runs")
        if split not in run.task.splits():
            raise ConfigError(f"split {split!r} does not exist for run {run.run_id}; "
                              f"it has {', '.join(run.task.splits())}")
        if run.run_id in members:
            raise ConfigError(f"run {run.run_id} is listed twice")
        if first is None:
            first, key = run, run.task.fingerprint(split)
        elif run.task.fingerprint(split) != key:
            raise ConfigError(f"runs {first.run_id} and {run.run_id} were not evaluated on the "
                              f"same {split} rows (their data, split or preprocessing differ: "
                              "data.split, data.limit, data.split_seed, data.max_length, "
                              "windows, ...); train the members on one data config"
                              + (" with one data.split_seed" if task == "classify" else ""))
        with torch.no_grad():
            if task == "classify":
                logits = run.task.logits(run.model, split)
                members[run.run_id] = run.task._metrics(run.task.parts[split].labels.numpy(),
                                                        logits)
                out = torch.softmax(logits.double(), dim=1).numpy()
            else:
                out = run.task.predict(run.model, split)
                members[run.run_id] = run.task.forecast_metrics(out, split)
        total = out if total is None else total + out
    mean = total / len(members)
    if first.cfg.task == "forecast":
        return {"split": split, "members": members,
                "ensemble": first.task.forecast_metrics(mean, split),
                "baselines": first.task.baselines(split)}
    truth = first.task.parts[split].labels.numpy()
    # log of the averaged probabilities: the ensemble's cross-entropy is its own
    metrics = first.task._metrics(truth, torch.from_numpy(mean).clamp_min(1e-300).log().float())
    pred = mean.argmax(1)
    tables, cm = first.task.class_tables(truth, pred)
    out = {"split": split, "members": members, "ensemble": metrics, **tables}
    if split == "test":
        out["seen_in_train"] = first.task.seen_in_train(truth, pred)
    if figures_dir is not None:
        Path(figures_dir).mkdir(parents=True, exist_ok=True)
        out["figures"] = [str(p) for p in first.task.confusion_figures(truth, pred, cm,
                                                                         Path(figures_dir))]
    return out


# ---------------------------------------------------------------- export

def to_torch_layers(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose rnnlab.nn layers are torch.nn layers with the same weights.

    Scratch layers share torch.nn's parameter names and gate order, so their
    state_dict loads unchanged; exporters (TorchScript, ONNX) know torch.nn's layers.
    """
    model = copy.deepcopy(model)
    for name, child in list(model.named_children()):
        if isinstance(child, rnn.RNNBase):
            args = dict(input_size=child.input_size, hidden_size=child.hidden_size,
                        num_layers=child.num_layers, bias=child.bias,
                        batch_first=child.batch_first, dropout=child.dropout,
                        bidirectional=child.bidirectional)
            if child.mode == "LSTM" and getattr(child, "proj_size", 0):
                args["proj_size"] = child.proj_size
            if child.mode.startswith("RNN"):
                args["nonlinearity"] = child.nonlinearity
            cls = {"LSTM": nn.LSTM, "GRU": nn.GRU}.get(child.mode, nn.RNN)
            layer = cls(**args)
            layer.load_state_dict(child.state_dict())
            setattr(model, name, layer)
        else:
            setattr(model, name, to_torch_layers(child))
    return model


def export_run(ref: str, fmt: str, out: str | Path | None = None, **kwargs) -> Path:
    """Write the run's model as a state_dict, TorchScript or ONNX file; return its path."""
    if fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; choose one of "
                          f"{', '.join(EXPORT_FORMATS)}")
    run = load_run(ref, **kwargs)
    suffix = {"state_dict": ".pt", "torchscript": ".torchscript.pt", "onnx": ".onnx"}[fmt]
    out = Path(out) if out else run.run_dir / f"model{suffix}"
    if fmt == "state_dict":
        torch.save(run.model.state_dict(), out)
        return out
    model = to_torch_layers(run.model).eval()
    example = run.task.example_input()
    with torch.no_grad():
        expected = model(*example)
    if fmt == "torchscript":
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(model, example)
        traced.save(str(out))
        return out
    try:
        import onnx  # noqa: F401  (the exporter needs it; say so before tracing)
    except ImportError:
        raise ConfigError("ONNX export needs the onnx package: pip install 'rnnlab[export]'"
                          ) from None
    names = [f"input{i}" for i in range(len(example))]
    with warnings.catch_warnings():  # tracer notes about shapes: the check below is the proof
        warnings.simplefilter("ignore")
        torch.onnx.export(model, example, str(out), input_names=names, output_names=["output"],
                          dynamic_axes={n: {0: "batch"} for n in names + ["output"]},
                          dynamo=False)
    check_onnx(out, example, expected)
    return out


def check_onnx(path: Path, example: tuple, expected: torch.Tensor) -> None:
    """Check the file with the ONNX checker and, when onnxruntime is installed, its outputs."""
    import onnx

    onnx.checker.check_model(onnx.load(str(path)))
    try:
        import onnxruntime
    except ImportError:
        return
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: t.numpy() for i, t in zip(session.get_inputs(), example)}
    (got,) = session.run(None, feeds)[:1]
    if not torch.allclose(torch.as_tensor(got), expected.float(), rtol=1e-4, atol=1e-5):
        path.unlink()
        raise DataError(f"the ONNX export of this model does not reproduce its outputs "
                        f"(max difference {(torch.as_tensor(got) - expected).abs().max():.3g}); "
                        "export it as torchscript or state_dict instead")


# ---------------------------------------------------------------- predict

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


def forecast_table(run: LoadedRun, history: pd.DataFrame) -> pd.DataFrame:
    """The next ``horizon`` steps after ``history`` in original units, one column per target."""
    task = run.task
    raw, index = task.inputs_from_frame(history)
    values = task.forecast(run.model, raw)
    freq = task.series.freq
    if index is not None and freq:
        steps = pd.date_range(index[-1], periods=len(values) + 1, freq=freq)[1:]
        rows = pd.Index(steps, name="time")
    else:
        rows = pd.Index([f"+{k}" for k in range(1, len(values) + 1)], name="step")
    return pd.DataFrame(values, index=rows, columns=task.columns)


def classify_texts(run: LoadedRun, texts: list[str], top: int = 3) -> list[list[tuple]]:
    """Top-``top`` (label, probability) pairs of each text."""
    if top < 1:
        raise ConfigError(f"--top must be at least 1, got {top}")
    return run.task.predict_texts(run.model, texts, top)
