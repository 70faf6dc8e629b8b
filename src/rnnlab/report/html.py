"""The lab report: sweeps and runs -> one self-contained HTML file.

Images are embedded as base64 ``data:`` URIs and the CSS is inline, so the file
opens anywhere without a network or the run folders. Sections: configs (what
differs, highlighted), test results and training time as mean ± std over seeds,
overlaid loss and metric curves, hyperparameter effects, and each run's own
figures (predictions, confusion matrices, ...) and text samples when it has them.
"""

from __future__ import annotations

import base64
import html
import json
import math
from datetime import datetime
from pathlib import Path

import pandas as pd

from ..version import __version__
from ..errors import RunNotFound
from ..rundir import CONFIG
from ..store import Store
from ..sweep.plan import from_store, sweep_runs
from ..util import write_text
from . import plots
from .tables import (HIGHER_IS_BETTER, IGNORED, Group, RunRecord, baselines_table, group_runs,
                     mean_std, metric_names, record_from_folder, record_from_row,
                     references_table, results_table, timing_table, varied_keys)

# Run-folder figures shown first when present (task-specific ones); other PNGs follow.
FIGURE_ORDER = ("predictions.png", "confusion.png", "confusion_matrix.png", "perplexity.png",
                "metrics.png", "loss.png")
TEXT_FILES = ("samples.txt", "generated.txt")
MAX_TEXT = 20_000

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:1200px;padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;
margin-top:2.2rem}h3{margin-bottom:.4rem}.meta{color:#666;font-size:.9rem}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:right;white-space:nowrap}
th{background:#f3f4f6}td:first-child,th:first-child{text-align:left}
tr.diff td{background:#fff4c2}td.best{font-weight:700;color:#0a5}
img{max-width:100%;border:1px solid #eee;margin:.3rem 0}
pre{background:#f7f7f7;padding:.6rem;overflow-x:auto;font-size:.85rem;white-space:pre-wrap}
details{margin:.4rem 0}summary{cursor:pointer;font-weight:600}.note{color:#555;font-size:.9rem}
.fig-row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-start}
"""


# ---------------------------------------------------------------- which runs

def collect(refs: list[str], runs_dir: str | Path = "runs") -> tuple[list[RunRecord], list[str]]:
    """Sweep names, run ids (or prefixes) and run folders -> run records, and what each was."""
    store = Store.of(runs_dir)
    records: list[RunRecord] = []
    described = []
    for ref in refs:
        if store.get_sweep(ref) is not None:
            rows = sweep_runs(store, from_store(store, ref))
            records += [record_from_row(r) for r in rows]
            described.append(f"sweep {ref} ({len(rows)} runs)")
        elif (Path(ref) / CONFIG).is_file():
            records.append(record_from_folder(Path(ref)))
            described.append(f"run folder {ref}")
        else:
            try:
                row = store.get_run(ref)
            except RunNotFound as err:
                if "matches" in str(err):  # an ambiguous id prefix: say which runs
                    raise
                sweeps = store.sweep_names()
                raise RunNotFound(
                    f"no sweep, run or run folder {ref!r} (store: {store.path}). "
                    + (f"Sweeps: {', '.join(sweeps)}. " if sweeps else "No sweeps stored. ")
                    + "List runs with `rnnlab runs`.") from None
            records.append(record_from_row(row))
            described.append(f"run {row['id']}")
    unique = {r.id: r for r in records}
    return list(unique.values()), described


# ---------------------------------------------------------------- HTML pieces

def esc(value) -> str:
    return html.escape(str(value))


def img(data: bytes, alt: str) -> str:
    return (f'<img alt="{esc(alt)}" src="data:image/png;base64,'
            f'{base64.b64encode(data).decode("ascii")}">')


def table(frame: pd.DataFrame, best: dict[str, int] | None = None,
          diff_rows: set[int] | None = None) -> str:
    if frame.empty:
        return '<p class="note">nothing to show</p>'
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    body = []
    for i, row in enumerate(frame.itertuples(index=False)):
        cells = []
        for col, value in zip(frame.columns, row):
            cls = ' class="best"' if best and best.get(col) == i else ""
            cells.append(f"<td{cls}>{esc(value)}</td>")
        cls = ' class="diff"' if diff_rows and i in diff_rows else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def best_rows(groups: list[Group]) -> dict[str, int]:
    """Row index of the best mean per metric (highest accuracy/F1, lowest otherwise)."""
    out = {}
    for name in metric_names([r for g in groups for r in g.runs]):
        means = [mean_std([r.test.get(name, math.nan) for r in g.runs])[0] for g in groups]
        finite = [(m, i) for i, m in enumerate(means) if not math.isnan(m)]
        if len(finite) > 1:
            pick = max if any(h in name for h in HIGHER_IS_BETTER) else min
            best = pick(finite)
            tied = sum(abs(m - best[0]) <= 1e-6 * abs(best[0]) for m, _ in finite)
            if tied == 1:  # equal to 6 digits (e.g. scratch vs torch.nn) is a tie
                out[name] = best[1]
    return out


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return json.dumps(v) if isinstance(v, (list, dict, bool)) or v is None else str(v)


def configs_section(groups: list[Group], runs: list[RunRecord]) -> str:
    """What differs between the compared configs (highlighted), then what they share."""
    varied = varied_keys(runs)
    flats = [r.flat_config for r in runs]
    labels = [g.label for g in groups]
    rows = []
    for key in varied:
        rows.append({"key": key, **{lab: _value(g.runs[0].flat_config.get(key))
                                    for lab, g in zip(labels, groups)}})
    rows.append({"key": "seed", **{lab: ", ".join(str(s) for s in g.seeds)
                                   for lab, g in zip(labels, groups)}})
    diff = table(pd.DataFrame(rows), diff_rows=set(range(len(varied))))
    shared = {k: v for k, v in flats[0].items()
              if k not in varied and k.split(".")[0] not in IGNORED}
    shared_rows = pd.DataFrame([{"key": k, "value": _value(v)} for k, v in shared.items()])
    task = {r.config.get("task") for r in runs}
    return (f"<h2>Configs</h2><p>{len(runs)} runs in {len(groups)} groups; runs in a group "
            f"differ only by seed. Task: {esc(', '.join(sorted(map(str, task))))}. "
            f"Highlighted rows are the settings being compared.</p>{diff}"
            f"<details><summary>Settings shared by all runs ({len(shared)})</summary>"
            f"{table(shared_rows)}</details>")


def run_figures(run: RunRecord) -> str:
    """A run folder's own figures and text samples, if the folder is still there."""
    folder = run.run_dir
    if not folder.is_dir():
        return f'<p class="note">run folder {esc(folder)} is gone; no figures.</p>'
    pngs = sorted(folder.glob("*.png"), key=lambda p: (
        FIGURE_ORDER.index(p.name) if p.name in FIGURE_ORDER else len(FIGURE_ORDER), p.name))
    parts = [img(p.read_bytes(), f"{run.id} {p.stem}") for p in pngs]
    for name in TEXT_FILES:
        path = folder / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")[:MAX_TEXT]
            parts.append(f"<h4>{esc(name)}</h4><pre>{esc(text)}</pre>")
    return "".join(parts) or '<p class="note">no figures in the run folder</p>'


def build(runs: list[RunRecord], title: str, sources: list[str],
          preface: list[str] = ()) -> str:
    """The whole report as one HTML string (``preface``: HTML pieces put first)."""
    done = [r for r in runs if r.status == "finished" and r.summary]
    pending = [r for r in runs if r not in done]
    groups = group_runs(done)
    parts = [f"<h1>{esc(title)}</h1><p class='meta'>rnnlab {esc(__version__)} · generated "
             f"{datetime.now():%Y-%m-%d %H:%M} · {esc('; '.join(sources))}</p>", *preface]
    if pending:
        parts.append("<p class='note'>Not finished, left out of the tables: "
                     + ", ".join(f"{esc(r.id)} ({esc(r.status)})" for r in pending) + "</p>")
    if not done:
        parts.append("<p>No finished runs yet.</p>")
        return page(title, parts)
    parts.append(configs_section(groups, done))

    parts.append("<h2>Results on the test split</h2><p>Mean ± standard deviation over seeds "
                 "(n = number of seeds; one seed shows no spread). Best mean in bold green "
                 "(none when tied).</p>")
    parts.append(table(results_table(groups), best=best_rows(groups)))
    base = baselines_table(groups)
    if not base.empty:
        parts.append("<h3>Baselines</h3>" + table(base))
    published = references_table(groups)
    if not published.empty:
        parts.append("<h3>Published figures</h3><p>From the configs' <code>reference:</code> "
                     "sections; a figure reached with other settings or another protocol is "
                     "shown with the reason, not compared.</p>" + table(published))

    parts.append("<h2>Training time</h2><p>Seconds of training per epoch and in total "
                 "(evaluation excluded), mean ± std over seeds.</p>")
    parts.append(table(timing_table(groups)))

    parts.append("<h2>Curves</h2>")
    for figure, alt in ((plots.loss_overlay(groups), "loss curves"),
                        (plots.metric_overlay(groups), "metric curves")):
        if figure:
            parts.append(img(figure, alt))

    effects = [k for k in varied_keys(done) if k != "model.kind"]
    figures = [(k, plots.effect_plot(groups, k)) for k in effects]
    figures = [(k, f) for k, f in figures if f]
    if figures:
        parts.append("<h2>Hyperparameter effects</h2><p>Test metric and seconds per epoch "
                     "against each varied setting, one line per cell type (or per "
                     "combination of the other varied settings); bars = ± std over seeds.</p>")
        parts += [img(f, f"effect of {k}") for k, f in figures]

    parts.append("<h2>Each run's figures</h2>")
    for gi, group in enumerate(groups):
        parts.append(f"<h3>{esc(group.label)}</h3>")
        for ri, run in enumerate(group.runs):
            opened = " open" if ri == 0 else ""
            parts.append(f"<details{opened}><summary>{esc(run.id)} · seed "
                         f"{esc(run.config.get('seed'))}</summary>"
                         f"<div class='fig-row'>{run_figures(run)}</div></details>")
    return page(title, parts)


def page(title: str, parts: list[str]) -> str:
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")


def write(refs: list[str], out: str | Path, *, runs_dir: str | Path = "runs",
          title: str | None = None, preface: list[str] = ()) -> Path:
    """Write the report of ``refs`` (sweeps, runs, run folders) to ``out``, atomically."""
    runs, sources = collect(refs, runs_dir)
    text = build(runs, title or f"rnnlab report: {', '.join(refs)}", sources, preface)
    return write_text(out, text)
