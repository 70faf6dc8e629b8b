"""``rnnlab reproduce REPORT``: every experiment of a lab report, its figures beside ours.

``configs/reproduce/REPORT.yaml`` lists the report's experiments as presets with the
report's settings (its own cells). Each runs as a sweep over seeds (resumable like any
sweep); the published figures come from the presets' ``reference:`` sections, compared
where the run has the settings they were reached with. The result is one table: the
report's figure, ours as mean ± std over seeds, the difference and a verdict.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import config as config_mod
from . import sweep
from .data import registry
from .errors import ConfigError
from .references import compare as compare_references
from .report import html
from .report.tables import published_figure, record_from_row
from .store import Store

SPECS = config_mod.PRESETS / "reproduce"


@dataclass
class Experiment:
    label: str
    preset: str
    overrides: list[str]


def reports() -> list[str]:
    return sorted(p.stem for p in SPECS.glob("*.yaml"))


def load_spec(report: str) -> tuple[str, list[Experiment]]:
    """The title and experiments of report ``report`` (000, 001, ...)."""
    path = SPECS / f"{report}.yaml"
    if not path.is_file():
        raise ConfigError(f"no reproduction of report {report!r}; reports: "
                          f"{', '.join(reports())} (configs/reproduce/)")
    raw = config_mod.read_yaml(path)
    experiments = [Experiment(e["label"], e["preset"], list(e.get("set", [])))
                   for e in raw.get("experiments", [])]
    return raw.get("title", f"Report {report}"), experiments


def plan(report: str, *, quick: bool = False, seeds: int = 1, data_dir=None,
         download: bool = False) -> list[tuple[Experiment, object]]:
    """Each experiment as a validated sweep over ``seeds`` seeds (named after the report);
    a registered dataset's files are found (or downloaded) before anything runs."""
    if seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    _, experiments = load_spec(report)
    planned = []
    for e in experiments:
        path = config_mod.find(e.preset)
        raw = config_mod.read_yaml(path)
        base = config_mod.from_dict(raw, quick=quick, overrides=e.overrides, source=str(path))
        if getattr(base.data, "source", "") == "registry" and registry.get(base.data.dataset).files:
            registry.locate(base.data.dataset, data_dir, download)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", e.label).strip("_")
        # the settings' fingerprint: a changed preset is a new sweep, the same one resumes
        settings = sweep.settings(base)
        digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()
        name = f"reproduce-{report}-{slug}-{digest[:6]}" + ("-quick" if quick else "")
        block = [{"seed": [base.seed + k for k in range(seeds)]}]
        planned.append((e, sweep.plan(raw, block, quick=quick, overrides=e.overrides,
                                      name=name, source=str(path))))
    return planned


def check_seeds(store: Store, planned, runs_dir) -> None:
    """Refuse, naming the fix, to mix a stored reproduction with another seed count."""
    for e, sw in planned:
        stored = store.get_sweep(sw.name)
        if stored is not None and stored.get("blocks") != sw.spec["blocks"]:
            n = len(stored["blocks"][0]["seed"]) if stored.get("blocks") else 1
            raise ConfigError(f"{e.label!r} was reproduced with --seeds {n} in {runs_dir}; "
                              f"rerun with --seeds {n} to continue it, or give another "
                              "--runs-dir for a new seed count")


def table(store: Store, planned, per_class: bool = False) -> pd.DataFrame:
    """Report figure, ours (mean ± std over the finished seeds), difference, verdict: the
    headline figures, or (``per_class``) the published precision, recall and F1 of each
    class."""
    rows = []
    for e, sw in planned:
        runs = [record_from_row(r) for r in sweep.sweep_runs(store, sw)
                if r["status"] == "finished"]
        published = sw.points[0].cfg.reference  # the preset's figures now, not at run time
        found: dict[tuple, list[dict]] = {}
        for run in runs:
            for r in compare_references(published, run.config, run.summary):
                if not r["verdict"].startswith("other settings") and ("class" in r) == per_class:
                    found.setdefault((r["source"], r["model"], r["metric"]), []).append(r)
        if per_class and not found:
            continue
        if not found:
            rows.append({"experiment": e.label, "reference": "–", "metric": "–",
                         "published": "–", "ours": "–", "better by": "–",
                         "verdict": "no published figure for these settings"
                         if runs else "not run"})
        for (source, model, metric), refs in found.items():
            figure = published_figure(refs)
            figure["ours"] += f" (n={figure.pop('n')})"
            rows.append({"experiment": e.label, "reference": f"{source} {model}",
                         "metric": metric, **figure})
    return pd.DataFrame(rows)


def write(report: str, planned, store: Store, runs_dir: str | Path, out: str | Path,
          quick: bool) -> Path:
    """The reproduction as one self-contained HTML file: the table, then the usual report of
    every run (configs, results, curves, figures)."""
    title, _ = load_spec(report)
    results = table(store, planned)
    preface = ["<h2>Reproduction</h2><p>Each experiment with the report's settings, mean ± "
               "std over seeds; 'better by' is positive where ours is better. A figure "
               "reached with another protocol is shown with the reason, not compared."
               + (" <b>Quick variants</b>: fewer epochs and data, not the report's settings."
                  if quick else "") + "</p>" + html.table(results)]
    classes = table(store, planned, per_class=True)
    if len(classes):
        preface.append("<h3>Per class</h3><p>The report's precision, recall and F1 of each "
                       "class beside ours, as above.</p>" + html.table(classes))
    return html.write([sw.name for _, sw in planned], out, runs_dir=runs_dir,
                      title=title + (" (quick)" if quick else ""), preface=preface)
