"""The command line's tables: a run's results, the stored runs, a sweep, eval and ensembles.

Each function returns the lines to print; what a task adds to its results (per
horizon, memorisation, ...) comes from the task itself.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..store import Store
from ..sweep.plan import Sweep, sweep_runs
from ..tasks import get_task
from ..util import fmt
from .tables import group_runs, record_from_row, results_table, timing_table


def run_summary(summary: dict, run_dir: Path) -> list[str]:
    """What a user wants after a run: test metrics beside the baselines, time, folder."""
    test = summary.get("test", {})
    keys = [k for k in test if "@" not in k]
    lines = ["", f"{summary['name']}  {summary['model']}/{summary['impl']}  "
             f"epochs {summary['epochs']} (best {summary['best_epoch']})  "
             f"{summary['seconds_per_epoch']:.2f} s/epoch  {summary['parameters']:,} parameters"]
    rows = [("model", test)] + list(summary.get("baselines", {}).items())
    widths = [max(10, len(k) + 2) for k in keys]  # long metric names keep a gap
    lines.append(f"  {'test':<14}" + "".join(f"{k:>{w}}" for k, w in zip(keys, widths)))
    for label, metrics in rows:
        lines.append(f"  {label:<14}" + "".join(f"{fmt(metrics.get(k, '')):>{w}}"
                                                for k, w in zip(keys, widths)))
    lines += get_task(summary["task"]).summary_lines(summary)
    lines += reference_lines(summary.get("references", []))
    lines.append(f"  run folder: {run_dir}")
    return lines


def runs_listing(rows: list[dict]) -> list[str]:
    """One line per stored run with its main test metric."""
    lines = [f"{'id':<56} {'status':<11} {'task':<9} {'dataset':<14} main test metric"]
    for r in rows:
        summary = json.loads(r["summary"]) if r["summary"] else {}
        main = next(((k, v) for k, v in summary.get("test", {}).items() if k != "loss"), None)
        metric = f"{main[0]}={fmt(main[1])}" if main else ""
        lines.append(f"{r['id']:<56} {r['status']:<11} {r['task']:<9} "
                     f"{r['dataset'] or '':<14} {metric}")
    return lines


def sweep_table(store: Store, sweep: Sweep) -> list[str]:
    """Mean ± std over seeds of the sweep's finished runs, with seconds per epoch."""
    rows = [r for r in sweep_runs(store, sweep) if r["status"] == "finished"]
    if not rows:
        return []
    groups = group_runs([record_from_row(r) for r in rows])
    table = results_table(groups).join(timing_table(groups)[["s/epoch"]])
    return [table.to_string(index=False)]


def eval_table(split: str, computed: dict, stored: dict) -> list[str]:
    """Recomputed metrics, and below them the stored ones when there are any."""
    keys = list(computed)
    lines = [f"{split:<10}" + "".join(f"{k:>10}" for k in keys),
             f"{'now':<10}" + "".join(f"{fmt(computed[k]):>10}" for k in keys)]
    if stored:
        lines.append(f"{'stored':<10}" + "".join(f"{fmt(stored.get(k, '')):>10}" for k in keys))
    return lines


def ensemble_table(result: dict) -> list[str]:
    """The members' metrics, the ensemble's and the baselines', one row each."""
    rows = (list(result["members"].items()) + [("ensemble", result["ensemble"])]
            + list(result.get("baselines", {}).items()))
    # per-step (rmse@3) and top-k columns stay in the JSON, as in a run's summary
    keys = [k for k in result["ensemble"] if k != "loss" and "@" not in k] + ["loss"]
    width = max(len(name) for name, _ in rows) + 2
    lines = [f"{result['split']:<{width}}" + "".join(f"{k:>12}" for k in keys)]
    for name, metrics in rows:
        lines.append(f"{name:<{width}}" + "".join(f"{fmt(metrics.get(k, '')):>12}"
                                                  for k in keys))
    return lines + get_task(result["task"]).summary_lines(result)


def reference_lines(rows: list[dict]) -> list[str]:
    """Published figures under the baselines: value, ours, the difference, the verdict."""
    classes = [r for r in rows if "class" in r and r["difference"] is not None]
    rows = [r for r in rows if "class" not in r]
    shown = [r for r in rows if not r["verdict"].startswith("other settings")]
    if not shown:
        return [f"  {len(rows)} published figures in the config were reached with other "
                "settings (summary.json: references)"] if rows else []
    lines = [f"  {'reference':<30}{'value':>10}{'ours':>10}{'better by':>11}  verdict"]
    for r in shown:
        ours = "" if r["ours"] is None else fmt(r["ours"])
        diff = "" if r["difference"] is None else f"{r['difference']:+.4g}"
        lines.append(f"  {(r['source'] + ' ' + r['model'])[:29]:<30}{fmt(float(r['value'])):>10}"
                     f"{ours:>10}{diff:>11}  {r['metric']}: {r['verdict']}")
    if len(shown) < len(rows):
        lines.append(f"  ({len(rows) - len(shown)} more were reached with other settings: "
                     "summary.json, references)")
    if classes:
        met = sum(r["verdict"].startswith("met") for r in classes)
        lines.append(f"  per class: {met} of {len(classes)} published precision/recall/F1 "
                     "figures met (summary.json: references)")
    return lines
