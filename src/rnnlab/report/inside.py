"""``rnnlab inspect``: inside a run's recurrent layer, on a few samples or on your own input.

For each run: heatmaps of every gate and state over time x hidden units, the share of
saturated gate values, the gradient flow through time (||dL/dh_t|| per step, log scale)
at the chosen checkpoint beside the initial weights, and which input steps the loss is
most sensitive to (||dL/dx_t||). The PNGs go into the run folder; one self-contained
HTML page holds everything, with several runs' gradient flows overlaid on one plot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import figures
from ..errors import ConfigError
from ..rundir import LAST, RunFolder
from ..tasks.inside import Inside, initial_model, look_inside
from ..util import write_text
from .html import esc, img, page, table
from .plots import png

CHECKPOINTS = ("best", "last", "init")


@dataclass
class Inspection:
    """One run looked at: at the chosen checkpoint and at its initial weights."""

    run_id: str
    label: str  # kind/impl, for legends
    checkpoint: str
    chosen: Inside
    initial: Inside
    figures: list[Path] = field(default_factory=list)


def inspect_run(ref: str, *, runs_dir: str | Path = "runs", data_dir=None,
                download: bool = False, samples: int = 4, texts: list[str] | None = None,
                checkpoint: str = "best") -> Inspection:
    """Look inside run ``ref`` on ``samples`` test inputs (or the user's ``texts``) and write
    its figures into the run folder."""
    if checkpoint not in CHECKPOINTS:
        raise ConfigError(f"--checkpoint {checkpoint!r}: choose one of {', '.join(CHECKPOINTS)}")
    if samples < 1:
        raise ConfigError(f"--samples must be at least 1, got {samples}")
    folder = RunFolder.find(ref, runs_dir)
    run = folder.load(data_dir, download)
    task, model = run.task, run.model
    start = initial_model(task).eval()
    if checkpoint == "last":
        if not folder.has(LAST):
            raise ConfigError(f"run {run.run_id} has no {LAST}; use --checkpoint best")
        model.load_state_dict(folder.checkpoint(LAST)["model"])
    chosen_samples = task.inspect_samples(samples, texts)
    initial = look_inside(task, start, chosen_samples)
    chosen = initial if checkpoint == "init" else look_inside(task, model, chosen_samples)
    label = f"{run.cfg.model.kind}/{run.cfg.model.impl}"
    result = Inspection(run.run_id, label, checkpoint, chosen, initial)
    what = f"{run.run_id}, {checkpoint} weights"
    result.figures = [
        figures.gate_heatmaps(chosen.gates[0], folder.path / "inside_gates.png",
                              f"{what}: {chosen.names[0]}", chosen.tokens[0]),
        figures.steps_back_curves(
            {checkpoint: chosen.mean_from_end(chosen.grad_h),
             "initial weights": initial.mean_from_end(initial.grad_h)},
            folder.path / "inside_gradients.png", ylabel="||dL/dh_t||",
            title=f"gradient flow through time, mean of {len(chosen.names)} samples",
            styles={"initial weights": "--"}),
        figures.steps_back_curves(
            {checkpoint: chosen.mean_from_end(chosen.grad_x),
             "initial weights": initial.mean_from_end(initial.grad_x)},
            folder.path / "inside_inputs.png", ylabel="||dL/dx_t||",
            title=f"sensitivity to each input step, mean of {len(chosen.names)} samples",
            styles={"initial weights": "--"})]
    return result


def _png(path: Path) -> bytes:
    return Path(path).read_bytes()


def overlay(inspections: list[Inspection]) -> bytes:
    """The gradient flows of several runs on one plot: chosen weights solid, initial dashed."""
    curves, styles = {}, {}
    for k, item in enumerate(inspections):
        color = f"C{k % 10}"
        curves[f"{item.label} {item.checkpoint}"] = item.chosen.mean_from_end(item.chosen.grad_h)
        curves[f"{item.label} initial"] = item.initial.mean_from_end(item.initial.grad_h)
        styles[f"{item.label} {item.checkpoint}"] = f"{color}-"
        styles[f"{item.label} initial"] = f"{color}--"
    fig, ax = plt.subplots(figsize=(8, 4.5))
    figures.draw_steps_back(ax, curves, ylabel="||dL/dh_t||", styles=styles,
                            title="Gradient flow through time, runs overlaid")
    return png(fig)


def _summary_table(item: Inspection) -> str:
    rows = []
    for name, inside in ((item.checkpoint, item.chosen), ("initial weights", item.initial)):
        row = {"weights": name, "mean loss": f"{np.mean(inside.losses):.4g}",
               "||dL/dh_1|| / ||dL/dh_T||": _ratio(inside.flow_ratio())}
        for gate, (low, high) in inside.saturation().items():
            row[f"{gate} < {0.05:g}"] = f"{low:.1%}"
            row[f"{gate} > {0.95:g}"] = f"{high:.1%}"
        rows.append(row)
    return table(pd.DataFrame(rows))


def _ratio(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3g}"


def write_page(inspections: list[Inspection], out: str | Path) -> Path:
    """One self-contained HTML page of the inspections (images embedded)."""
    parts = ["<h1>Inside the cells</h1><p class='meta'>rnnlab inspect · "
             + esc(", ".join(i.run_id for i in inspections)) + "</p>"]
    if len(inspections) > 1:
        parts.append("<h2>Gradient flow, runs overlaid</h2><p>||dL/dh_t|| of the top layer "
                     "per step before the last (log scale): how much of the loss's gradient "
                     "reaches each earlier step. Solid: the inspected weights; dashed: the "
                     "initial weights.</p>" + img(overlay(inspections), "overlay"))
    for item in inspections:
        parts.append(f"<h2>{esc(item.run_id)}</h2><p>{esc(item.label)}, {esc(item.checkpoint)}"
                     f" weights; samples: {esc('; '.join(item.chosen.names))}</p>")
        parts.append(_summary_table(item))
        parts.append("<p class='note'>Saturation: share of the (0, 1) gates' values below "
                     "0.05 or above 0.95, over every sample, step and unit. The ratio "
                     "||dL/dh_1|| / ||dL/dh_T|| says how much of the gradient at the last step "
                     "reaches the first: tiny values are vanishing gradients.</p>")
        parts += [img(_png(p), p.stem) for p in item.figures]
    return write_text(out, page("rnnlab inspect", parts))
