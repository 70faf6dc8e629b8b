"""``rnnlab runs``, ``show`` and ``report``: what is stored, one run, and the HTML report."""

from __future__ import annotations

import json

from ..store import Store
from .args import RUNS_DIR, arg, command


@command(
    "report", "write one self-contained HTML report of sweeps and runs",
    arg("refs", nargs="+", metavar="SWEEP_OR_RUN",
        help="sweep names, run ids (or unique prefixes) or run folders"),
    arg("-o", "--output", default="report.html", help="HTML file to write (default: "
        "report.html)"),
    arg("--title", help="report title"),
    RUNS_DIR,
    description="Write one HTML file (images embedded, no network needed) with the configs "
    "and their differences, results and training time as mean ± std over seeds, overlaid "
    "loss and metric curves, hyperparameter-effect plots and each run's figures. Example: "
    "rnnlab report los_loop-scratch_vs_torch-quick -o report.html")
def report(args) -> int:
    from ..report import html  # heavy (matplotlib, torch): loaded when the command runs

    out = html.write(args.refs, args.output, runs_dir=args.runs_dir, title=args.title)
    print(f"report: {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


FILTERS = ("task", "dataset", "kind", "impl", "status")


@command("runs", "list stored runs",
         arg("--sweep", help="only runs of this sweep"),
         [arg(f"--{key}", help=f"only runs with this {key}") for key in FILTERS],
         RUNS_DIR)
def runs(args) -> int:
    from ..report.console import runs_listing  # heavy (matplotlib): only when there are runs

    rows = Store.of(args.runs_dir).list_runs(sweep=args.sweep,
                                             **{k: getattr(args, k) for k in FILTERS})
    print("\n".join(runs_listing(rows)) if rows else f"no runs in {args.runs_dir}")
    return 0


@command("show", "print one stored run (summary and status)",
         arg("run", help="run id or unique prefix"), RUNS_DIR)
def show(args) -> int:
    store = Store.of(args.runs_dir)
    row = store.get_run(args.run)
    out = {k: row[k] for k in ("id", "status", "task", "dataset", "kind", "impl", "seed",
                               "created", "finished", "run_dir", "error", "sweep")}
    out["summary"] = json.loads(row["summary"]) if row["summary"] else None
    out["epochs"] = len(store.epochs(row["id"]))
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0
