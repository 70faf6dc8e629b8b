"""Matplotlib figures of a run. ``draw_*`` draw into a given Axes; the others save a PNG.

The ``draw_*`` functions let a notebook compose its own figures; the saving
functions are what a run writes into its folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, path: Path) -> Path:
    path = Path(path)
    fig.tight_layout()
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)  # a reader never sees half a PNG
    return path


def draw_curves(ax, history: Sequence[dict], keys: Sequence[str], *, ylabel: str = "",
                title: str = "", log: bool = False) -> None:
    """One line per history key against the epoch number; missing keys are skipped."""
    epochs = [row["epoch"] for row in history]
    for key in keys:
        values = [row.get(key, np.nan) for row in history]
        if not all(v is None or np.isnan(v) for v in values):
            ax.plot(epochs, values, marker="o" if len(epochs) < 30 else None, ms=3, label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend()


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
