"""Runs -> comparison tables: group runs that differ only by seed, mean ± std over seeds.

Works from what every run stores, whatever its task: the config and summary in
the store (or ``config.yaml`` / ``summary.json`` in the folder) and the per-epoch
rows of ``metrics.csv``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..references import verdict
from ..rundir import RunFolder
from ..util import flatten

# Config keys that never make two runs different experiments.
IGNORED = ("name", "seed", "quick", "device", "reference")
# The metric an effect plot shows first, in order of preference; lower is better unless noted.
# ("solved": the long-range problems, 1 or 0 per run, so its mean is the share of seeds)
MAIN_METRICS = ("solved", "rmse", "accuracy", "macro_f1", "perplexity", "mae", "loss")
HIGHER_IS_BETTER = ("accuracy", "macro_f1", "f1", "precision", "recall", "solved")


@dataclass
class RunRecord:
    """One run as the report sees it."""

    id: str
    run_dir: Path
    status: str
    config: dict
    summary: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    sweep: str | None = None

    @property
    def flat_config(self) -> dict:
        return flatten(self.config)

    @property
    def test(self) -> dict[str, float]:
        """Scalar test metrics (per-horizon ``x@k`` entries left out)."""
        return {k: float(v) for k, v in self.summary.get("test", {}).items()
                if "@" not in k and isinstance(v, (int, float)) and not isinstance(v, bool)}


def record_from_row(row: dict) -> RunRecord:
    """A store row -> RunRecord (history read from the run folder)."""
    folder = RunFolder(row["id"], Path(row["run_dir"]))
    summary = json.loads(row["summary"]) if row.get("summary") else {}
    return RunRecord(row["id"], folder.path, row["status"], json.loads(row["config"]), summary,
                     folder.history(), row.get("sweep"))


def record_from_folder(run_dir: Path) -> RunRecord:
    """A run folder on its own (no store): config.yaml, summary.json, metrics.csv."""
    folder = RunFolder(Path(run_dir).name, Path(run_dir))
    summary = folder.summary()
    return RunRecord(folder.run_id, folder.path, "finished" if summary else "unfinished",
                     folder.raw_config(), summary, folder.history())


def varied_keys(runs: list[RunRecord]) -> list[str]:
    """Config keys (dotted) whose values differ between runs, seed and name excluded."""
    flats = [r.flat_config for r in runs]
    keys: list[str] = []
    for flat in flats:
        keys += [k for k in flat if k not in keys]
    out = []
    for key in keys:
        if key.split(".")[0] in IGNORED:
            continue
        values = {json.dumps(f.get(key), sort_keys=True) for f in flats}
        if len(values) > 1:
            out.append(key)
    return out


@dataclass
class Group:
    """Runs with the same config apart from the seed."""

    values: dict  # varied key -> value
    runs: list[RunRecord]

    @property
    def label(self) -> str:
        if not self.values:
            return "all runs"
        return ", ".join(f"{k.rsplit('.', 1)[-1]}={_short(v)}" for k, v in self.values.items())

    @property
    def seeds(self) -> list[int]:
        return [r.config.get("seed") for r in self.runs]


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _columns(keys, taken=()) -> dict[str, str]:
    """A table column for each varied config key: its last part ("lr"), or the whole key where
    the last part would clash with another key or a metric ("train.loss" beside "loss")."""
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: k if (n in taken or last.count(n) > 1) else n for k, n in zip(keys, last)}


def _varied(g: Group, taken=()) -> dict[str, str]:
    return {col: _short(g.values[k]) for k, col in _columns(list(g.values), taken).items()}


def group_runs(runs: list[RunRecord], keys: list[str] | None = None) -> list[Group]:
    """Groups of runs that differ only by seed, in order of first appearance."""
    keys = varied_keys(runs) if keys is None else keys
    groups: dict[str, Group] = {}
    for run in runs:
        flat = run.flat_config
        values = {k: flat.get(k) for k in keys}
        tag = json.dumps(values, sort_keys=True, default=str)
        groups.setdefault(tag, Group(values, [])).runs.append(run)
    return list(groups.values())


def mean_std(values) -> tuple[float, float, int]:
    """Mean, sample standard deviation (ddof=1; NaN for one value) and count, NaNs dropped."""
    arr = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if len(arr) == 0:
        return math.nan, math.nan, 0
    std = float(arr.std(ddof=1)) if len(arr) > 1 else math.nan
    return float(arr.mean()), std, len(arr)


def fmt_mean_std(mean: float, std: float, n: int, digits: int = 4) -> str:
    """"4.368 ± 0.012"; a single value has no spread to show; nothing measured -> "–"."""
    if n == 0 or math.isnan(mean):
        return "–"
    if n == 1 or math.isnan(std):
        return f"{mean:.{digits}g}"
    spread = f"{std:.2g}"
    return f"{mean:.{digits}g} ± {spread if 'e+' not in spread else f'{std:.0f}'}"


def metric_names(runs: list[RunRecord]) -> list[str]:
    names: list[str] = []
    for run in runs:
        names += [k for k in run.test if k not in names]
    return names


def main_metric(runs: list[RunRecord]) -> str | None:
    names = metric_names(runs)
    return next((m for m in MAIN_METRICS if m in names), names[0] if names else None)


def results_table(groups: list[Group]) -> pd.DataFrame:
    """One row per group: its varied values, seeds n, every test metric as mean ± std."""
    runs = [r for g in groups for r in g.runs]
    names = metric_names(runs)
    rows = []
    for g in groups:
        row = _varied(g, taken=["seeds (n)", *names])
        row["seeds (n)"] = len(g.runs)
        for name in names:
            row[name] = fmt_mean_std(*mean_std([r.test.get(name, math.nan) for r in g.runs]))
        rows.append(row)
    return pd.DataFrame(rows)


def baselines_table(groups: list[Group]) -> pd.DataFrame:
    """Baselines stored with the runs (e.g. repeat-last-value), one row per distinct one."""
    rows, seen = [], set()
    for g in groups:
        for run in g.runs:
            for name, metrics in run.summary.get("baselines", {}).items():
                row = {"baseline": name, **{k: f"{v:.4g}" for k, v in metrics.items()
                                            if "@" not in k and isinstance(v, (int, float))}}
                tag = json.dumps(row, sort_keys=True)
                if tag not in seen:
                    seen.add(tag)
                    rows.append(row)
    return pd.DataFrame(rows)


def timing_table(groups: list[Group]) -> pd.DataFrame:
    """Seconds per epoch and in total (mean ± std), epochs, parameters, speed vs fastest."""
    rows, speeds = [], []
    # the same column names as results_table's, so the two tables read side by side
    taken = ["seeds (n)", *metric_names([r for g in groups for r in g.runs])]
    for g in groups:
        spe = mean_std([r.summary.get("seconds_per_epoch", math.nan) for r in g.runs])
        total = mean_std([r.summary.get("train_seconds", math.nan) for r in g.runs])
        epochs = mean_std([r.summary.get("epochs", math.nan) for r in g.runs])
        params = {r.summary.get("parameters") for r in g.runs} - {None}
        speeds.append(spe[0])
        row = _varied(g, taken=taken)
        row.update({"seeds (n)": len(g.runs), "s/epoch": fmt_mean_std(*spe, digits=3),
                    "total s": fmt_mean_std(*total, digits=3),
                    "epochs": fmt_mean_std(*epochs, digits=3),
                    "parameters": ", ".join(f"{p:,}" for p in sorted(params)) or "–"})
        rows.append(row)
    finite = [s for s in speeds if not math.isnan(s)]
    fastest = min(finite) if finite else math.nan
    for row, s in zip(rows, speeds):
        row["× fastest s/epoch"] = "–" if math.isnan(s) else f"{s / fastest:.2f}"
    return pd.DataFrame(rows)


def references_table(groups: list[Group]) -> pd.DataFrame:
    """The published figures the groups' runs compared themselves with: the value, the runs'
    own (mean ± std over seeds), the difference of the mean (positive = better) and the
    verdict; references not compared say why."""
    rows = []
    for g in groups:
        refs: dict[tuple, list[dict]] = {}
        for run in g.runs:
            for r in run.summary.get("references", []):
                if "class" in r and r["difference"] is None:
                    continue  # per-class figures only where compared, or they crowd the rest
                refs.setdefault((r["source"], r["model"], r["metric"]), []).append(r)
        for (source, model, metric), found in refs.items():
            figure = published_figure(found)
            del figure["n"]  # the runs column says how many
            rows.append({"runs": g.label, "reference": f"{source} {model}", "metric": metric,
                         **figure})
    return pd.DataFrame(rows)


def published_figure(found: list[dict]) -> dict[str, str]:
    """One published figure over the runs compared with it (references.compare rows): the
    value, ours as mean ± std, the mean difference (positive = better) and the verdict of
    the mean; a figure not compared keeps the reason why."""
    ours = mean_std([r["ours"] for r in found if r["ours"] is not None])
    diffs = [r["difference"] for r in found if r["difference"] is not None]
    row = {"published": f"{found[0]['value']:.4g}", "ours": fmt_mean_std(*ours), "n": ours[2]}
    if not diffs:
        return {**row, "better by": "–", "verdict": found[0]["verdict"]}
    sign = 1 if found[0].get("higher_is_better", True) else -1
    return {**row, "better by": f"{float(np.mean(diffs)):+.4g}",
            "verdict": verdict(ours[0], found[0]["value"], sign, found[0].get("decimals"))}
