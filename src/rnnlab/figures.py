"""Matplotlib figures of one run. ``draw_*`` draw into a given Axes; the others save a PNG.

The ``draw_*`` functions let a notebook compose its own figures; the saving
functions are what a run writes into its folder.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

if "ipykernel" not in sys.modules:  # in Jupyter keep the inline backend: notebooks show plots
    matplotlib.use("Agg")  # files only; never needs a display

import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .util import atomic_write  # noqa: E402

if TYPE_CHECKING:
    import pandas as pd


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110))  # never half a PNG
    finally:
        plt.close(fig)


def draw_curves(ax, history: Sequence[dict], keys: Sequence[str], *, ylabel: str = "",
                title: str = "", log: bool = False) -> None:
    """One line per history key against the epoch number; missing keys are skipped."""
    epochs = [row["epoch"] for row in history]
    for key in keys:
        values = [row.get(key, np.nan) for row in history]
        if not all(v is None or np.isnan(v) for v in values):
            ax.plot(epochs, values, marker="o" if len(epochs) < 30 else None, ms=3, label=key)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no "epoch 1.25" ticks
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend()


def new_axes(figsize: tuple[float, float] = (6, 3.5)):
    """One empty Axes on a new figure, for the ``draw_*`` functions."""
    return plt.subplots(figsize=figsize)[1]


def loss_curve(history: Sequence[dict], path: Path, title: str = "Loss") -> Path:
    """Training and validation (or test) loss per epoch."""
    fig, ax = plt.subplots(figsize=(6, 4))
    draw_curves(ax, history, ["train_loss", "val_loss", "test_loss"], ylabel="loss",
                title=title)
    return _save(fig, path)


def curves(history: Sequence[dict], keys: Sequence[str], path: Path, *, ylabel: str = "",
           title: str = "", log: bool = False) -> Path:
    """Several history keys on one panel (e.g. train and held-out perplexity)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    draw_curves(ax, history, keys, ylabel=ylabel, title=title, log=log)
    return _save(fig, path)


def metric_curves(history: Sequence[dict], keys: Sequence[str], path: Path,
                  unit: str = "") -> Path:
    """One panel per metric (e.g. val_rmse, val_mae, val_mape) against the epoch."""
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.5), squeeze=False)
    for ax, key in zip(axes[0], keys):
        label = "%" if key.endswith("mape") else unit
        draw_curves(ax, history, [key], ylabel=label, title=key)
    return _save(fig, path)


def draw_forecast(ax, times, truth: np.ndarray, pred: np.ndarray, label: str,
                  unit: str = "") -> None:
    """Predicted against true values of one column over time."""
    ax.plot(times, truth, lw=1.2, label="true")
    ax.plot(times, pred, lw=1.0, label="predicted", alpha=0.85)
    ax.set_title(label)
    ax.set_ylabel(unit)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)


def forecast_plot(times, truth: np.ndarray, pred: np.ndarray, labels: Sequence[str],
                  path: Path, unit: str = "") -> Path:
    """One panel per chosen column: true vs one-step-ahead prediction on the test split."""
    fig, axes = plt.subplots(len(labels), 1, figsize=(10, 2.6 * len(labels)), squeeze=False)
    for k, (ax, label) in enumerate(zip(axes[:, 0], labels)):
        draw_forecast(ax, times, truth[:, k], pred[:, k], label, unit)
    fig.autofmt_xdate()
    return _save(fig, path)


def error_by_horizon(per_step: dict[str, dict[str, Sequence[float]]], labels: Sequence[str],
                     path: Path, unit: str = "") -> Path:
    """MAE and RMSE at each forecast step, one line per forecaster (model, baselines).

    ``per_step[forecaster][metric]`` holds one value per step; ``labels`` name the
    steps (e.g. 5min, 10min, ...).
    """
    metrics = ("mae", "rmse")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.8), squeeze=False)
    x = np.arange(1, len(labels) + 1)
    for ax, metric in zip(axes[0], metrics):
        for name, values in per_step.items():
            ax.plot(x, values[metric], marker="o", ms=3, label=name)
        ax.set_xticks(x, labels, rotation=45 if len(labels) > 6 else 0, fontsize=8)
        ax.set_xlabel("forecast horizon")
        ax.set_ylabel(unit)
        ax.set_title(f"test {metric.upper()} by horizon")
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def batch_curves(log: Sequence[dict], path: Path, unit: str = "") -> Path:
    """Test RMSE, MAE and MAPE against the number of trained batches (the slides' curves)."""
    keys = ("rmse", "mae", "mape")
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.5), squeeze=False)
    batches = [row["batch"] for row in log]
    for ax, key in zip(axes[0], keys):
        ax.plot(batches, [row[key] for row in log], marker="o" if len(log) < 30 else None, ms=3)
        ax.set_xlabel("trained batches")
        ax.set_ylabel("%" if key == "mape" else unit)
        ax.set_title(f"test {key.upper()}")
        ax.grid(alpha=0.3)
    return _save(fig, path)


def classification_curves(history: Sequence[dict], path: Path) -> Path:
    """Accuracy and macro F1 per epoch, training beside validation (or test)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, metric, label in ((axes[0], "accuracy", "accuracy"), (axes[1], "f1_macro", "macro F1")):
        draw_curves(ax, history, [f"train_{metric}", f"val_{metric}", f"test_{metric}"],
                    ylabel=label, title=label)
    return _save(fig, path)


def draw_confusion(ax, matrix: np.ndarray, labels: Sequence[str], *, normalize: bool = True,
                   title: str = "Confusion matrix") -> None:
    """Heatmap of a confusion matrix (rows = true class), row-normalised by default."""
    m = np.asarray(matrix, dtype=float)
    if normalize:
        m = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(m, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, labels, rotation=90, fontsize=7 if len(labels) > 12 else 9)
    ax.set_yticks(ticks, labels, fontsize=7 if len(labels) > 12 else 9)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title + (" (each row sums to 1)" if normalize else ""))
    if len(labels) <= 12:  # the values themselves where they fit
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(j, i, f"{m[i, j]:.2f}" if normalize else f"{int(m[i, j])}",
                        ha="center", va="center", fontsize=7,
                        color="white" if m[i, j] > 0.5 * np.nanmax(m) else "black")


def confusion_heatmap(matrix: np.ndarray, labels: Sequence[str], path: Path,
                      normalize: bool = True) -> Path:
    """The test confusion matrix with class names, row-normalised."""
    size = max(5.0, 0.38 * len(labels) + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    draw_confusion(ax, matrix, labels, normalize=normalize)
    return _save(fig, path)


def per_class_bars(labels: Sequence[str], values: Sequence[float], path: Path,
                   ylabel: str = "F1 (test)") -> Path:
    """One bar per class (e.g. test F1), with the macro average as a line."""
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(labels) + 2), 4))
    x = np.arange(len(labels))
    ax.bar(x, values, color="tab:blue")
    ax.axhline(float(np.mean(values)), color="tab:red", ls="--", lw=1,
               label=f"macro mean {np.mean(values):.3f}")
    ax.set_xticks(x, labels, rotation=90 if len(labels) > 8 else 0, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(loc="lower right")
    return _save(fig, path)


def bar_chart(labels: Sequence[str], values: Sequence[float], path: Path, *, ylabel: str = "",
              title: str = "") -> Path:
    """One labelled bar per value (e.g. tokens/s per implementation)."""
    fig, ax = plt.subplots(figsize=(1.6 * len(labels) + 2, 3.5))
    bars = ax.bar(list(labels), list(values), color="tab:blue")
    ax.bar_label(bars, fmt="%.0f")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def history_and_forecast(history: "pd.DataFrame", forecast: "pd.DataFrame", columns: Sequence[str],
                         path: Path, unit: str = "") -> Path:
    """The input rows and the forecast that follows them, one panel per column."""
    fig, axes = plt.subplots(len(columns), 1, figsize=(9, 2.6 * len(columns)), squeeze=False)
    for ax, col in zip(axes[:, 0], columns):
        past = history[col] if col in history.columns else None
        if past is not None:
            x_past = history.index if forecast.index.name == "time" else np.arange(-len(past) + 1, 1)
            ax.plot(x_past, past.to_numpy(), color="0.3", label="input")
        x_next = forecast.index if forecast.index.name == "time" else np.arange(1, len(forecast) + 1)
        ax.plot(x_next, forecast[col].to_numpy(), marker="o", ms=3, color="C1", label="forecast")
        ax.set_title(str(col))
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
    fig.autofmt_xdate()
    return _save(fig, path)


def gate_heatmaps(gates: dict[str, np.ndarray], path: Path, title: str = "",
                  tokens: Sequence[str] | None = None) -> Path:
    """One heatmap per gate or state of one sequence: hidden units (rows) over time steps
    (labelled with ``tokens`` when they fit); gates in (0, 1) on a fixed 0-1 scale, so
    saturation shows as the scale's ends; other values on a scale centred on 0."""
    names = list(gates)
    cols = min(3, len(names))
    rows = -(-len(names) // cols)
    steps = gates[names[0]].shape[0]
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.9 * rows), squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        values = gates[name].T  # (hidden, time)
        bounded = name in ("i", "f", "o", "r", "z")
        edge = float(np.abs(values).max()) or 1.0
        image = ax.imshow(values, aspect="auto", interpolation="nearest",
                          cmap="viridis" if bounded else "coolwarm",
                          vmin=0 if bounded else -edge, vmax=1 if bounded else edge)
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
        ax.set_title(name)
        if tokens is not None and len(tokens) == steps and steps <= 60:
            ax.set_xticks(np.arange(steps), [repr(t)[1:-1] or " " for t in tokens],
                          fontsize=7 if steps > 20 else 9, rotation=90 if steps > 20 else 0)
            ax.set_xlabel("input step")
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel(f"time step (0..{steps - 1})")
        ax.set_ylabel("hidden unit")
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def draw_steps_back(ax, curves: dict[str, np.ndarray], *, ylabel: str, title: str,
                    styles: dict[str, str] | None = None) -> None:
    """Values per time step counted back from the last (0 = the last step), log scale: one
    line per label (e.g. a run at its best and at its initial weights)."""
    for label, values in curves.items():
        values = np.asarray(values, dtype=float)
        back = np.arange(len(values))[::-1]
        keep = np.isfinite(values) & (values > 0)
        ax.plot(back[keep], values[keep], (styles or {}).get(label, "-"), label=label)
    ax.set_yscale("log")
    ax.invert_xaxis()  # time runs left to right: the first step on the left
    ax.set_xlabel("steps before the last one")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    if ax.lines:
        ax.legend(fontsize=8)


def steps_back_curves(curves: dict[str, np.ndarray], path: Path, *, ylabel: str,
                      title: str, styles: dict[str, str] | None = None) -> Path:
    """:func:`draw_steps_back` as a PNG."""
    fig, ax = plt.subplots(figsize=(7, 4))
    draw_steps_back(ax, curves, ylabel=ylabel, title=title, styles=styles)
    return _save(fig, path)
