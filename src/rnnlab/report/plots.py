"""Comparison figures over groups of runs (mean over seeds), returned as PNG bytes.

Curves come from each run's ``metrics.csv`` rows, so they work for any task:
loss, then whatever per-epoch metrics the task logs (val_rmse, val_accuracy,
train_perplexity, ...).
"""

from __future__ import annotations

import io
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from .tables import Group, main_metric, mean_std

MAX_PANELS = 4


def png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def mean_curve(group: Group, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Epochs, mean and std over the group's seeds of one history key (runs may stop early)."""
    frames = [pd.DataFrame(r.history)[["epoch", key]] for r in group.runs
              if r.history and key in r.history[0]]
    if not frames:
        return np.array([]), np.array([]), np.array([])
    stats = pd.concat(frames).groupby("epoch")[key].agg(["mean", "std"])
    return stats.index.to_numpy(), stats["mean"].to_numpy(), stats["std"].fillna(0).to_numpy()


def _colors(n: int):
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    return [cmap(i % cmap.N) for i in range(n)]


def _line(ax, group, key, color, style="-", label=None) -> bool:
    epochs, mean, std = mean_curve(group, key)
    if len(epochs) == 0 or np.all(np.isnan(mean)):
        return False
    ax.plot(epochs, mean, style, color=color, label=label, marker="o" if len(epochs) < 30 else None,
            ms=3)
    if len(group.runs) > 1:
        ax.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.15, lw=0)
    return True


def loss_overlay(groups: list[Group]) -> bytes | None:
    """Training loss (solid) and validation/test loss (dashed) per group, one colour each."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    drawn = False
    for group, color in zip(groups, _colors(len(groups))):
        drawn |= _line(ax, group, "train_loss", color, "-", f"{group.label} train")
        for key in ("val_loss", "test_loss"):
            if _line(ax, group, key, color, "--", f"{group.label} {key.split('_')[0]}"):
                drawn = True
                break
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.set_title("Loss per epoch (mean over seeds; band = ± std)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, ncol=2 if len(groups) > 3 else 1)
    return png(fig)


def curve_keys(groups: list[Group]) -> list[str]:
    """Per-epoch metrics worth overlaying: evaluation metrics and derived training ones."""
    keys: list[str] = []
    for g in groups:
        for r in g.runs:
            for k in (r.history[0] if r.history else {}):
                if k not in keys and "@" not in k and not k.endswith("_loss") and (
                        k.startswith(("val_", "test_")) or (k.startswith("train_"))):
                    keys.append(k)
    return keys[:MAX_PANELS]


def metric_overlay(groups: list[Group]) -> bytes | None:
    """One panel per per-epoch metric (val_rmse, val_accuracy, train_perplexity, ...)."""
    keys = curve_keys(groups)
    if not keys:
        return None
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.8), squeeze=False)
    colors = _colors(len(groups))
    for ax, key in zip(axes[0], keys):
        for group, color in zip(groups, colors):
            _line(ax, group, key, color, "-", group.label)
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if "perplexity" in key:
            ax.set_yscale("log")
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8,
                   bbox_to_anchor=(0.5, -0.02))
        fig.subplots_adjust(bottom=0.25)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _sortable(values: list):
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    return numeric, (sorted(values) if numeric else list(dict.fromkeys(values)))


def effect_lines(groups: list[Group], key: str) -> dict[str, list[Group]]:
    """Lines of an effect plot for ``key``: groups that agree on every other varied key
    (one line per cell type in a one-factor sweep); lines with one point are dropped."""
    lines: dict[str, list[Group]] = {}
    for g in groups:
        others = {k: v for k, v in g.values.items() if k != key}
        label = ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in others.items()) or key
        lines.setdefault(label, []).append(g)
    return {label: gs for label, gs in lines.items()
            if len({str(g.values[key]) for g in gs}) > 1}


def _no_magnified_ties(ax) -> None:
    """Values that differ by less than 0.01 % are drawn as the tie they are, not blown up
    to fill the axis under an offset label (scratch vs torch agree to ~1e-8)."""
    lo, hi = ax.dataLim.y0, ax.dataLim.y1
    size = max(abs(lo), abs(hi))
    if math.isfinite(size) and size > 0 and hi - lo < 1e-4 * size:
        ax.set_ylim(lo - 0.01 * size, hi + 0.01 * size)
    ax.ticklabel_format(axis="y", useOffset=False)


def effect_plot(groups: list[Group], key: str) -> bytes | None:
    """Test metric and seconds/epoch against the values of ``key`` (mean ± std over seeds)."""
    runs = [r for g in groups for r in g.runs]
    metric = main_metric(runs)
    lines = effect_lines(groups, key)
    if metric is None or not lines:
        return None
    values = [g.values[key] for gs in lines.values() for g in gs]
    numeric, order = _sortable(values)
    position = {str(v): i for i, v in enumerate(order)}
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    panels = ((axes[0], lambda r: r.test.get(metric, math.nan), f"test {metric}"),
              (axes[1], lambda r: r.summary.get("seconds_per_epoch", math.nan), "s/epoch"))
    for (label, gs), color in zip(lines.items(), _colors(len(lines))):
        gs = sorted(gs, key=lambda g: order.index(g.values[key]) if g.values[key] in order else 0)
        xs = [g.values[key] if numeric else position[str(g.values[key])] for g in gs]
        for ax, get, _ in panels:
            stats = [mean_std([get(r) for r in g.runs]) for g in gs]
            means = [s[0] for s in stats]
            errs = [0 if math.isnan(s[1]) else s[1] for s in stats]
            ax.errorbar(xs, means, yerr=errs, marker="o", capsize=3, color=color, label=label)
    for ax, _, ylabel in panels:
        _no_magnified_ties(ax)
        ax.set_xlabel(key)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if numeric and min(order) > 0 and max(order) / min(order) >= 8:
            ax.set_xscale("log")
            ax.set_xticks(order)
            ax.set_xticklabels([f"{v:g}" for v in order])
            ax.minorticks_off()
        elif not numeric:
            ax.set_xticks(range(len(order)))
            ax.set_xticklabels([str(v) for v in order])
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Effect of {key}")
    return png(fig)
