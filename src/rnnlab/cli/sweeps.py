"""``rnnlab sweep`` and ``rnnlab compare``: grids of runs, and the lab's comparison questions."""

from __future__ import annotations

from .. import config
from ..errors import ConfigError
from .args import DOWNLOAD, LOCATIONS, NO_PROGRESS, arg, command

# the comparison presets; their grids are in rnnlab.sweep.grid (not imported here: torch)
COMPARISONS = ("scratch_vs_torch", "cell_types", "hyperparams", "long_range")

EXECUTION = [
    arg("--seeds", type=int, default=1, metavar="N",
        help="run every point with N seeds (the config's seed, +1, ...); tables then show "
        "mean ± std over seeds"),
    arg("--quick", action="store_true", help="apply the config's quick variant"),
    arg("--set", action="append", metavar="KEY=VALUE",
        help="override a config value for every point (repeatable)"),
    arg("--name", help="sweep name (default: from the config name and the swept keys); "
        "rerunning a name resumes it"),
    arg("--executor", choices=["local", "ray"], default="local",
        help="local: in this process, or --workers processes; ray: Ray Tune trials (needs "
        "pip install 'rnnlab[cluster]')"),
    arg("--workers", type=int, default=1, metavar="N",
        help="local executor: runs at once in N processes, torch threads split between them "
        "(default 1)"),
    arg("--ray-address", metavar="ADDR", help="ray executor: 'auto' or HOST:PORT of a running "
        "cluster (default: start Ray locally); every node must see --runs-dir and the data"),
    DOWNLOAD, NO_PROGRESS, LOCATIONS]


def _run_sweep(args, sweep_obj, labels: dict[str, str] | None = None) -> list[str]:
    """Run the sweep's points, a line per finished point, then return its table. Several
    sweeps (``labels``: a label for each sweep's name) share the workers; no table then."""
    from .. import sweep  # heavy (torch): loaded when the command runs
    from ..report.console import sweep_table
    from ..store import Store

    sweeps = sweep_obj if isinstance(sweep_obj, list) else [sweep_obj]
    total, done = sum(len(s.points) for s in sweeps), [0]

    def on_result(job, result):
        done[0] += 1
        what = {"ran": "done", "resumed": "resumed and done", "skipped": "already done",
                "failed": "FAILED"}[result["action"]]
        error = "  " + result["error"] if result.get("error") else ""
        label = f"{labels[job['sweep']]}, {job['label']}" if labels else job["label"]
        print(f"[{done[0]}/{total}] {label}: {what} {result.get('run_id') or ''}{error}",
              flush=True)

    workers = (f", {args.workers} worker{'s' if args.workers != 1 else ''}"
               if args.executor == "local" else "")
    what = f"sweep {sweeps[0].name}" if len(sweeps) == 1 else f"{len(sweeps)} sweeps"
    print(f"{what}: {total} runs ({args.executor}{workers})", flush=True)
    sweep.execute(sweeps, executor=args.executor, workers=args.workers,
                  ray_address=args.ray_address, runs_dir=args.runs_dir, data_dir=args.data_dir,
                  download=args.download, progress=False if args.no_progress else None,
                  on_result=on_result)
    return sweep_table(Store.of(args.runs_dir), sweeps[0]) if len(sweeps) == 1 else []


@command(
    "sweep", "run a grid of configs x seeds (resumable)",
    arg("config", nargs="?", help="config file or preset name"),
    arg("--grid", action="append", metavar="KEY=V1,V2,...",
        help="a config key and its values (repeatable; all combinations run); values are "
        "typed as the config key is, lists keep their brackets: "
        "--grid data.split=[0.6,0.2,0.2],[0.8,0.2]"),
    arg("--resume", metavar="NAME", help="rerun a stored sweep as it was"),
    EXECUTION,
    description="Run every combination of the --grid values (x --seeds), each a normal run "
    "recorded in the store under the sweep's name. Rerunning the same command (or --resume "
    "NAME) skips finished runs and continues interrupted ones from their last checkpoint. "
    "Example: rnnlab sweep configs/los_loop.yaml --quick --grid model.hidden_size=16,32,64 "
    "--grid train.lr=0.01,0.001 --seeds 3")
def sweep_command(args) -> int:
    from .. import sweep  # heavy (torch): loaded when the command runs
    from ..store import Store

    if args.resume:
        if args.config or args.grid or args.set or args.quick or args.seeds != 1:
            raise ConfigError("--resume NAME reruns a stored sweep as it was; give no config, "
                              "--grid, --set, --seeds or --quick with it")
        sweep_obj = sweep.from_store(Store.of(args.runs_dir), args.resume)
    else:
        if not args.config:
            raise ConfigError("give a config file or preset name, e.g. `rnnlab sweep "
                              "configs/los_loop.yaml --grid model.hidden_size=16,32`, or "
                              "--resume NAME")
        path = config.find(args.config)
        blocks = [sweep.parse_grid(args.grid)] if args.grid else []
        sweep_obj = sweep.plan(config.read_yaml(path), blocks, seeds=args.seeds,
                               quick=args.quick, overrides=args.set or [], name=args.name,
                               source=str(path))
    table = _run_sweep(args, sweep_obj)
    print(f"\nsweep {sweep_obj.name} finished")
    print("\n".join(table + [f"report: rnnlab report {sweep_obj.name} -o {sweep_obj.name}.html"]))
    return 0


@command(
    "compare", "answer one of the lab's comparison questions, then write a report",
    arg("preset", choices=COMPARISONS, metavar="PRESET", help=f"one of: {', '.join(COMPARISONS)}"),
    arg("config", help="config file or preset name"),
    arg("-o", "--output", help="report file (default: SWEEP_NAME.html)"),
    EXECUTION,
    description="Run a predefined sweep and write its HTML report. Presets: scratch_vs_torch "
    "(rnnlab.nn vs torch.nn, same seed and data: time, s/epoch, metrics, loss curves); "
    "cell_types (RNN vs LSTM vs GRU, and the minimal cells minGRU and minLSTM); hyperparams (hidden_size, batch_size, lr one at a time "
    "for each cell type; the language task adds num_steps, optimiser and init); long_range "
    "(the long-range memory problems: every cell x sequence length). Example: "
    "rnnlab compare scratch_vs_torch configs/los_loop.yaml --quick --seeds 2")
def compare(args) -> int:
    from .. import sweep  # heavy (torch): loaded when the command runs
    from ..report import html

    path = config.find(args.config)
    raw = config.read_yaml(path)
    base = config.from_dict(raw, quick=args.quick, overrides=args.set or [], source=str(path))
    name = args.name or "-".join([base.name, args.preset] + (["quick"] if args.quick else []))
    blocks = sweep.comparison_blocks(args.preset, base.task, base.model.impl)
    sweep_obj = sweep.plan(raw, blocks, seeds=args.seeds, quick=args.quick,
                           overrides=args.set or [], name=name, source=str(path))
    print("\n".join(_run_sweep(args, sweep_obj)))
    title = f"{base.name}: {args.preset.replace('_', ' ')}{' (quick)' if args.quick else ''}"
    out = html.write([sweep_obj.name], args.output or f"{sweep_obj.name}.html",
                     runs_dir=args.runs_dir, title=title)
    print(f"report: {out}")
    return 0


@command(
    "reproduce", "run every experiment of a lab report and put its figures beside ours",
    arg("report", metavar="REPORT", help="the report, as in ../shared/seeds: 000, 001, 003 "
        "or 004 (configs/reproduce/REPORT.yaml)"),
    arg("-o", "--output", help="HTML file to write (default: reproduce-REPORT.html)"),
    [a for a in EXECUTION[:2]], EXECUTION[5], DOWNLOAD, NO_PROGRESS, LOCATIONS,
    description="Run the report's experiments with its own cells and settings (each a "
    "resumable sweep over --seeds; all their runs share the --workers), then print and "
    "write one table: the report's figure, "
    "ours as mean ± std over seeds, the difference and a verdict; figures reached with "
    "another protocol are shown with the reason, not compared. Example: rnnlab reproduce "
    "004 --seeds 3")
def reproduce(args) -> int:
    from .. import reproduce as repro  # heavy (torch): loaded when the command runs
    from ..store import Store

    planned = repro.plan(args.report, quick=args.quick, seeds=args.seeds,
                         data_dir=args.data_dir, download=args.download)
    repro.check_seeds(Store.of(args.runs_dir), planned, args.runs_dir)
    args.executor, args.ray_address = "local", None
    # one pool for every experiment: --workers helps with a single seed too
    _run_sweep(args, [sw for _, sw in planned], labels={sw.name: e.label for e, sw in planned})
    store = Store.of(args.runs_dir)
    print(repro.table(store, planned).to_string(index=False))
    classes = repro.table(store, planned, per_class=True)
    if len(classes):
        met = classes["verdict"].str.startswith("met").sum()
        print(f"per class: {met} of {len(classes)} published precision/recall/F1 figures met "
              "(table in the report)")
    out = repro.write(args.report, planned, store, args.runs_dir,
                      args.output or f"reproduce-{args.report}.html", args.quick)
    print(f"report: {out}")
    return 0
