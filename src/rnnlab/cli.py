"""``rnnlab`` command line: a thin layer over :mod:`rnnlab.experiment` and the store.

Errors a user can fix print one ``error:`` line block and exit with 2 (usage or
data) or 1 (training); they never print a traceback.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from . import __version__
from .errors import ConfigError, RnnlabError, RunInterrupted

REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def resolve_config(ref: str) -> Path:
    """A config path, or a preset name looked up in ./configs and the rnnlab checkout's configs/."""
    path = Path(ref)
    if path.is_file():
        return path
    for folder in (Path("configs"), REPO_CONFIGS):
        for candidate in (folder / ref, folder / f"{ref}.yaml"):
            if candidate.is_file():
                return candidate
    presets = sorted(p.stem for p in REPO_CONFIGS.glob("*.yaml")) if REPO_CONFIGS.is_dir() else []
    raise ConfigError(f"config {ref!r} not found (neither a file nor a preset name)."
                      + (f" Presets: {', '.join(presets)}" if presets else ""))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def print_summary(summary: dict, run_dir: Path) -> None:
    """The few lines a user wants after a run: test metrics beside the baselines, time, folder."""
    test = summary.get("test", {})
    keys = [k for k in test if "@" not in k]
    print(f"\n{summary['name']}  {summary['model']}/{summary['impl']}  "
          f"epochs {summary['epochs']} (best {summary['best_epoch']})  "
          f"{summary['seconds_per_epoch']:.2f} s/epoch  {summary['parameters']:,} parameters")
    rows = [("model", test)] + list(summary.get("baselines", {}).items())
    widths = [max(10, len(k) + 2) for k in keys]  # long metric names keep a gap
    print(f"  {'test':<14}" + "".join(f"{k:>{w}}" for k, w in zip(keys, widths)))
    for label, metrics in rows:
        print(f"  {label:<14}" + "".join(f"{_fmt(metrics.get(k, '')):>{w}}"
                                         for k, w in zip(keys, widths)))
    for step, rows in summary.get("horizons", {}).items():  # multi-step forecasts, per horizon
        print(f"  at {step:<11}" + "".join(f"{k:>10}" for k in ("rmse", "mae", "mape")))
        for label, metrics in rows.items():
            print(f"  {label:<14}" + "".join(f"{_fmt(metrics.get(k, '')):>10}"
                                             for k in ("rmse", "mae", "mape")))
    seen = summary.get("seen_in_train")
    if seen and seen["accuracy_seen"] is not None and seen["accuracy_unseen"] is not None:
        print(f"  {seen['share']:.1%} of test sequences also occur in training: accuracy "
              f"{seen['accuracy_seen']:.3f} on them, {seen['accuracy_unseen']:.3f} on the rest")
    print(f"  run folder: {run_dir}")


def cmd_run(args) -> int:
    from . import config, experiment

    if args.resume:
        result = experiment.resume(args.resume, data_dir=args.data_dir, runs_dir=args.runs_dir,
                                   download=args.download, progress=not args.no_progress,
                                   tensorboard=args.tensorboard)
    else:
        if not args.config:
            raise ConfigError("give a config file or preset name, e.g. `rnnlab run "
                              "configs/los_loop.yaml`, or --resume RUN")
        overrides = list(args.set or [])
        for key in ("impl", "kind"):
            if getattr(args, key):
                overrides.append(f"model.{key}={getattr(args, key)}")
        for key in ("seed", "device"):
            if getattr(args, key) is not None:
                overrides.append(f"{key}={getattr(args, key)}")
        cfg = config.load(resolve_config(args.config), quick=args.quick, overrides=overrides)
        result = experiment.run(cfg, data_dir=args.data_dir, runs_dir=args.runs_dir,
                                download=args.download, progress=not args.no_progress,
                                tensorboard=args.tensorboard)
    print_summary(result.summary, result.run_dir)
    return 0


def cmd_runs(args) -> int:
    from .experiment import DB_NAME
    from .store import Store

    rows = Store(Path(args.runs_dir) / DB_NAME).list_runs(
        task=args.task, dataset=args.dataset, kind=args.kind, impl=args.impl, status=args.status,
        sweep=args.sweep)
    if not rows:
        print(f"no runs in {args.runs_dir}")
        return 0
    print(f"{'id':<56} {'status':<11} {'task':<9} {'dataset':<14} main test metric")
    for r in rows:
        summary = json.loads(r["summary"]) if r["summary"] else {}
        test = summary.get("test", {})
        main = next(((k, v) for k, v in test.items() if k != "loss"), None)
        metric = f"{main[0]}={_fmt(main[1])}" if main else ""
        print(f"{r['id']:<56} {r['status']:<11} {r['task']:<9} {r['dataset'] or '':<14} {metric}")
    return 0


def cmd_show(args) -> int:
    from .experiment import DB_NAME
    from .store import Store

    store = Store(Path(args.runs_dir) / DB_NAME)
    row = store.get_run(args.run)
    out = {k: row[k] for k in ("id", "status", "task", "dataset", "kind", "impl", "seed",
                               "created", "finished", "run_dir", "error", "sweep")}
    out["summary"] = json.loads(row["summary"]) if row["summary"] else None
    out["epochs"] = len(store.epochs(row["id"]))
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def cmd_generate(args) -> int:
    import torch

    from .experiment import find_run_dir
    from .tasks.language import generate_text, load_run

    if args.length < 0:
        raise ConfigError(f"--length must be >= 0, got {args.length}")
    _, run_dir = find_run_dir(args.run, args.runs_dir)
    model, vocab, cfg = load_run(run_dir)
    generator = torch.Generator().manual_seed(args.seed) if args.seed is not None else None
    print(generate_text(model, vocab, cfg, args.prefix, args.length, args.temperature,
                        generator))
    return 0


def _print_sweep_table(runs_dir, sweep_obj) -> None:
    """Mean ± std over seeds of the sweep's finished runs, as text."""
    from .experiment import DB_NAME
    from .report.tables import group_runs, record_from_row, results_table, timing_table
    from .store import Store
    from .sweep import sweep_runs

    rows = [r for r in sweep_runs(Store(Path(runs_dir) / DB_NAME), sweep_obj)
            if r["status"] == "finished"]
    if not rows:
        return
    groups = group_runs([record_from_row(r) for r in rows])
    results = results_table(groups)
    timing = timing_table(groups)
    table = results.join(timing[["s/epoch"]])
    print(table.to_string(index=False))


def _sweep_args(args) -> tuple[dict, str]:
    from .config import read_yaml

    path = resolve_config(args.config)
    return read_yaml(path), str(path)


def _run_sweep(args, sweep_obj) -> None:
    from . import sweep

    total = len(sweep_obj.points)
    count = {"n": 0}

    def on_result(job, result):
        count["n"] += 1
        what = {"ran": "done", "resumed": "resumed and done", "skipped": "already done",
                "failed": "FAILED"}[result["action"]]
        print(f"[{count['n']}/{total}] {job['label']}: {what} "
              f"{result.get('run_id') or ''}{'  ' + result['error'] if result.get('error') else ''}",
              flush=True)

    print(f"sweep {sweep_obj.name}: {total} runs ({args.executor}"
          f"{', ' + str(args.workers) + ' workers' if args.executor == 'local' else ''})",
          flush=True)
    sweep.execute(sweep_obj, executor=args.executor, workers=args.workers,
                  ray_address=args.ray_address, runs_dir=args.runs_dir, data_dir=args.data_dir,
                  download=args.download, progress=False if args.no_progress else None,
                  on_result=on_result)


def cmd_sweep(args) -> int:
    from . import sweep
    from .experiment import DB_NAME
    from .store import Store

    if args.resume:
        if args.config or args.grid or args.set or args.quick or args.seeds != 1:
            raise ConfigError("--resume NAME reruns a stored sweep as it was; give no config, "
                              "--grid, --set, --seeds or --quick with it")
        sweep_obj = sweep.from_store(Store(Path(args.runs_dir) / DB_NAME), args.resume)
    else:
        if not args.config:
            raise ConfigError("give a config file or preset name, e.g. `rnnlab sweep "
                              "configs/los_loop.yaml --grid model.hidden_size=16,32`, or "
                              "--resume NAME")
        raw, source = _sweep_args(args)
        blocks = [sweep.parse_grid(args.grid)] if args.grid else []
        sweep_obj = sweep.plan(raw, blocks, seeds=args.seeds, quick=args.quick,
                               overrides=args.set or [], name=args.name, source=source)
    _run_sweep(args, sweep_obj)
    print(f"\nsweep {sweep_obj.name} finished")
    _print_sweep_table(args.runs_dir, sweep_obj)
    print(f"report: rnnlab report {sweep_obj.name} -o {sweep_obj.name}.html")
    return 0


def cmd_compare(args) -> int:
    from . import config, sweep
    from .report import html

    raw, source = _sweep_args(args)
    base = config.from_dict(raw, quick=args.quick, overrides=args.set or [], source=source)
    blocks = sweep.comparison_blocks(args.preset, base.task)
    name = args.name or "-".join([base.name, args.preset] + (["quick"] if args.quick else []))
    sweep_obj = sweep.plan(raw, blocks, seeds=args.seeds, quick=args.quick,
                           overrides=args.set or [], name=name, source=source)
    _run_sweep(args, sweep_obj)
    _print_sweep_table(args.runs_dir, sweep_obj)
    out = html.write([sweep_obj.name], args.output or f"{sweep_obj.name}.html",
                     runs_dir=args.runs_dir,
                     title=f"{base.name}: {args.preset.replace('_', ' ')}"
                           f"{' (quick)' if args.quick else ''}")
    print(f"report: {out}")
    return 0


def cmd_report(args) -> int:
    from .report import html

    out = html.write(args.refs, args.output, runs_dir=args.runs_dir, title=args.title)
    print(f"report: {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def cmd_datasets(args) -> int:
    from .data import registry

    for name in registry.names():
        info = registry.get(name)
        where = "missing"
        for label, root in registry.search_roots(args.data_dir):
            if root is not None and all((root / f.path).is_file() for f in info.files):
                where = f"{label}: {root}"
                break
        print(f"{name:<22} {info.task:<9} {info.description}\n{'':<22} found in {where}")
    print("\nYour own files: data.path with data.source csv | npz (forecast), labelled_csv "
          "(classify), text (language); see configs/examples/my_csv.yaml")
    return 0


def cmd_download(args) -> int:
    from .data import registry

    for name in args.names:
        for path in registry.locate(name, args.data_dir, download=True).values():
            print(f"{name}: {path}")
    return 0


def cmd_config_docs(args) -> int:
    from .docs import main as docs_main

    return docs_main(["-o", args.output] if args.output else [])


def cmd_eval(args) -> int:
    from .inference import evaluate_run, metrics_agree

    computed, stored = evaluate_run(args.run, args.split, runs_dir=args.runs_dir,
                                    data_dir=args.data_dir, download=args.download)
    keys = list(computed)
    print(f"{args.split:<10}" + "".join(f"{k:>10}" for k in keys))
    print(f"{'now':<10}" + "".join(f"{_fmt(computed[k]):>10}" for k in keys))
    if stored:
        print(f"{'stored':<10}" + "".join(f"{_fmt(stored.get(k, '')):>10}" for k in keys))
        if not metrics_agree(computed, stored):
            print("error: the recomputed metrics differ from the stored ones: the data files "
                  "or the rnnlab version changed since the run", file=sys.stderr)
            return 1
        print("matches the stored metrics")
    return 0


def _sweep_run_ids(runs_dir, name: str) -> list[str]:
    """The finished runs of the stored sweep ``name``, in point order."""
    from .experiment import DB_NAME
    from .store import Store
    from .sweep import from_store, sweep_runs

    store = Store(Path(runs_dir) / DB_NAME)
    return [r["id"] for r in sweep_runs(store, from_store(store, name))
            if r["status"] == "finished"]


def cmd_ensemble(args) -> int:
    from .experiment import write_json
    from .inference import ensemble_runs

    refs = list(args.runs)
    if args.sweep:
        refs += _sweep_run_ids(args.runs_dir, args.sweep)
    if not refs:
        raise ConfigError("name the runs to average (RUN RUN ...) or a sweep (--sweep NAME)")
    result = ensemble_runs(refs, args.split, args.figures, runs_dir=args.runs_dir,
                           data_dir=args.data_dir, download=args.download)
    rows = (list(result["members"].items()) + [("ensemble", result["ensemble"])]
            + list(result.get("baselines", {}).items()))
    # per-step (rmse@3) and top-k columns stay in the JSON, as in a run's summary
    keys = [k for k in result["ensemble"] if k != "loss" and "@" not in k] + ["loss"]
    width = max(len(name) for name, _ in rows) + 2
    print(f"{args.split:<{width}}" + "".join(f"{k:>12}" for k in keys))
    for name, metrics in rows:
        print(f"{name:<{width}}" + "".join(f"{_fmt(metrics.get(k, '')):>12}" for k in keys))
    seen = result.get("seen_in_train")
    if seen and seen["accuracy_seen"] is not None and seen["accuracy_unseen"] is not None:
        print(f"ensemble: accuracy {seen['accuracy_seen']:.3f} on the {seen['share']:.1%} of "
              f"test sequences that also occur in training, {seen['accuracy_unseen']:.3f} "
              "on the rest")
    if args.output:
        write_json(result, Path(args.output))
        print(f"written to {args.output}")
    if args.figures:
        print(f"figures: {', '.join(result['figures'])}")
    return 0


def cmd_export(args) -> int:
    from .inference import export_run

    path = export_run(args.run, args.format, args.output, runs_dir=args.runs_dir,
                      data_dir=args.data_dir, download=args.download)
    print(path)
    return 0


def _read_lines(path: str) -> list[str]:
    try:
        return [line for line in Path(path).read_text(encoding="utf-8").splitlines()
                if line.strip()]
    except FileNotFoundError:
        raise ConfigError(f"--file {path} does not exist") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--file {path} is not UTF-8 text") from None


def cmd_predict(args) -> int:
    from . import config as config_mod
    from .experiment import find_run_dir
    from .inference import classify_texts, forecast_table, load_run, read_history_csv

    _, run_dir = find_run_dir(args.run, args.runs_dir)
    task = config_mod.read_yaml(run_dir / "config.yaml").get("task")
    inputs = list(args.inputs) + (_read_lines(args.file) if args.file else [])
    if task == "language":
        from .tasks.language import generate_text, load_run as load_lm

        import torch
        model, vocab, cfg = load_lm(run_dir)
        generator = torch.Generator().manual_seed(args.seed) if args.seed is not None else None
        for prefix in inputs or ["time traveller"]:
            print(generate_text(model, vocab, cfg, prefix, args.length, args.temperature,
                                generator))
        return 0
    if task == "forecast" and not args.at and len(inputs) != 1:
        raise ConfigError("give one CSV of the latest rows (one column per input, a first "
                          "column of time stamps optional), or --at TIMESTAMP to forecast "
                          "from the dataset")
    if task == "classify" and not inputs:
        raise ConfigError("give texts to classify, e.g. rnnlab predict RUN Dovesky Satoshi, "
                          "or --file FILE with one per line")
    run = load_run(str(run_dir), runs_dir=args.runs_dir, data_dir=args.data_dir,
                   download=args.download)
    if task == "classify":
        for text, ranked in zip(inputs, classify_texts(run, inputs, args.top)):
            print(f"{text}: " + ", ".join(f"{label} {p:.1%}" for label, p in ranked))
        return 0
    history = run.task.history_at(args.at) if args.at else read_history_csv(inputs[0])
    table = forecast_table(run, history)
    if args.output:
        table.to_csv(args.output)
        print(f"forecast: {args.output}")
    else:
        print(table.round(4).to_string(max_cols=12))
    if args.plot:
        from .report.figures import history_and_forecast

        cols = [c for c in run.task.columns[:3]]
        print(f"plot: {history_and_forecast(history, table, cols, Path(args.plot), run.task.unit)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnlab", description="Learn, run and compare recurrent networks on real data.")
    parser.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p, runs=True, data=True):
        if runs:
            p.add_argument("--runs-dir", default="runs", help="folder of run folders and the "
                           "store rnnlab.db (default: ./runs)")
        if data:
            p.add_argument("--data-dir", help="folder to look for data files in first "
                           "(then $RNNLAB_DATA, the user cache, the bundled copies)")

    p = sub.add_parser("run", help="train and test one experiment",
                       description="Train and test one experiment from a YAML config. "
                       "Example: rnnlab run configs/los_loop.yaml --quick --impl torch")
    p.add_argument("config", nargs="?", help="config file or preset name (configs/NAME.yaml)")
    p.add_argument("--quick", action="store_true", help="apply the config's quick variant "
                   "(about a minute on a CPU)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config value, e.g. --set model.hidden_size=128 (repeatable)")
    p.add_argument("--impl", choices=["scratch", "torch", "teaching"],
                   help="shorthand for --set model.impl=...")
    p.add_argument("--kind", choices=["rnn", "lstm", "gru"], help="shorthand for --set model.kind=...")
    p.add_argument("--seed", type=int, help="shorthand for --set seed=...")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="shorthand for --set device=...")
    p.add_argument("--resume", metavar="RUN", help="continue an interrupted run (id, prefix or folder)")
    p.add_argument("--download", action="store_true", help="download missing data files")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--tensorboard", action="store_true", help="also log scalars, figures and "
                   "hyperparameters for TensorBoard under RUN/tensorboard "
                   "(pip install 'rnnlab[tensorboard]')")
    common(p)
    p.set_defaults(func=cmd_run)

    def executors(p):
        p.add_argument("--seeds", type=int, default=1, metavar="N",
                       help="run every point with N seeds (the config's seed, +1, ...); tables "
                       "then show mean ± std over seeds")
        p.add_argument("--quick", action="store_true", help="apply the config's quick variant")
        p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override a config value for every point (repeatable)")
        p.add_argument("--name", help="sweep name (default: from the config name and the "
                       "swept keys); rerunning a name resumes it")
        p.add_argument("--executor", choices=["local", "ray"], default="local",
                       help="local: in this process, or --workers processes; ray: Ray Tune "
                       "trials (needs pip install 'rnnlab[cluster]')")
        p.add_argument("--workers", type=int, default=1, metavar="N",
                       help="local executor: runs at once in N processes, torch threads split "
                       "between them (default 1)")
        p.add_argument("--ray-address", metavar="ADDR", help="ray executor: 'auto' or "
                       "HOST:PORT of a running cluster (default: start Ray locally); every "
                       "node must see --runs-dir and the data")
        p.add_argument("--download", action="store_true", help="download missing data files")
        p.add_argument("--no-progress", action="store_true", help="no progress bars")
        common(p)

    p = sub.add_parser(
        "sweep", help="run a grid of configs x seeds (resumable)",
        description="Run every combination of the --grid values (x --seeds), each a normal "
        "run recorded in the store under the sweep's name. Rerunning the same command (or "
        "--resume NAME) skips finished runs and continues interrupted ones from their last "
        "checkpoint. Example: rnnlab sweep configs/los_loop.yaml --quick "
        "--grid model.hidden_size=16,32,64 --grid train.lr=0.01,0.001 --seeds 3")
    p.add_argument("config", nargs="?", help="config file or preset name")
    p.add_argument("--grid", action="append", metavar="KEY=V1,V2,...",
                   help="a config key and its values (repeatable; all combinations run); "
                   "values are typed as the config key is, lists keep their brackets: "
                   "--grid data.split=[0.6,0.2,0.2],[0.8,0.2]")
    p.add_argument("--resume", metavar="NAME", help="rerun a stored sweep as it was")
    executors(p)
    p.set_defaults(func=cmd_sweep)

    from .sweep import COMPARISONS

    p = sub.add_parser(
        "compare", help="answer one of the lab's comparison questions, then write a report",
        description="Run a predefined sweep and write its HTML report. Presets: "
        "scratch_vs_torch (rnnlab.nn vs torch.nn, same seed and data: time, s/epoch, "
        "metrics, loss curves); cell_types (RNN vs LSTM vs GRU); hyperparams (hidden_size, "
        "batch_size, lr one at a time for each cell type; the language task adds num_steps, "
        "optimiser and init). Example: rnnlab compare scratch_vs_torch configs/los_loop.yaml "
        "--quick --seeds 2")
    p.add_argument("preset", choices=list(COMPARISONS), metavar="PRESET",
                   help=f"one of: {', '.join(COMPARISONS)}")
    p.add_argument("config", help="config file or preset name")
    p.add_argument("-o", "--output", help="report file (default: SWEEP_NAME.html)")
    executors(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "report", help="write one self-contained HTML report of sweeps and runs",
        description="Write one HTML file (images embedded, no network needed) with the "
        "configs and their differences, results and training time as mean ± std over "
        "seeds, overlaid loss and metric curves, hyperparameter-effect plots and each "
        "run's figures. Example: rnnlab report los_loop-scratch_vs_torch-quick -o report.html")
    p.add_argument("refs", nargs="+", metavar="SWEEP_OR_RUN",
                   help="sweep names, run ids (or unique prefixes) or run folders")
    p.add_argument("-o", "--output", default="report.html", help="HTML file to write "
                   "(default: report.html)")
    p.add_argument("--title", help="report title")
    common(p, data=False)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("runs", help="list stored runs")
    p.add_argument("--sweep", help="only runs of this sweep")
    for key in ("task", "dataset", "kind", "impl", "status"):
        p.add_argument(f"--{key}", help=f"only runs with this {key}")
    common(p, data=False)
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("show", help="print one stored run (summary and status)")
    p.add_argument("run", help="run id or unique prefix")
    common(p, data=False)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("eval", help="re-evaluate a run's best checkpoint on a split",
                       description="Rebuild the run's data pipeline from its config, load "
                       "best.pt, recompute the metrics and compare them with the stored ones.")
    p.add_argument("run", help="run id, unique prefix or run folder")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--download", action="store_true", help="download missing data files")
    common(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "ensemble", help="average several classify runs' probabilities or forecast runs' "
        "predictions",
        description="Load the best checkpoint of each run, average their predicted class "
        "probabilities (classify) or forecasts (forecast, in original units) on a split and "
        "report the members' metrics beside the ensemble's (forecast: and the baselines). "
        "The runs must share their test rows: one data config, and for classify one "
        "data.split_seed, e.g. "
        "rnnlab run names_bilstm --seed 1 (the names presets fix data.split_seed: 0), or "
        "one sweep: rnnlab sweep names_bilstm --seeds 5 --name names5, then rnnlab ensemble "
        "--sweep names5.")
    p.add_argument("runs", nargs="*", metavar="RUN", help="run ids, unique prefixes or folders")
    p.add_argument("--sweep", metavar="NAME", help="also every finished run of this sweep")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("-o", "--output", help="also write the metrics, per-class table and "
                   "confusion matrix to this JSON file")
    p.add_argument("--figures", metavar="DIR", help="write the ensemble's confusion.png, "
                   "per_class_f1.png and confusion.csv into this folder")
    p.add_argument("--download", action="store_true", help="download missing data files")
    common(p)
    p.set_defaults(func=cmd_ensemble)

    p = sub.add_parser("export", help="write a run's model as state_dict, TorchScript or ONNX",
                       description="Export the model of a run (best checkpoint). Scratch "
                       "layers are swapped for torch.nn layers holding the same weights, so "
                       "the files load without rnnlab; ONNX output is checked against the model.")
    p.add_argument("run", help="run id, unique prefix or run folder")
    p.add_argument("--format", default="state_dict", choices=["state_dict", "torchscript", "onnx"])
    p.add_argument("-o", "--output", help="file to write (default: model.* in the run folder)")
    p.add_argument("--download", action="store_true", help="download missing data files")
    common(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "predict", help="use a trained run on new input",
        description="classify: names or review sentences -> the most likely classes "
        "(rnnlab predict RUN Dovesky Jackson --top 3). forecast: a CSV of the latest "
        "data.history rows (one column per input as in training; a first column of time "
        "stamps optional) or --at TIMESTAMP from the dataset -> the next data.horizon steps "
        "in original units. language: prefixes to continue, as `rnnlab generate`.")
    p.add_argument("run", help="run id, unique prefix or run folder")
    p.add_argument("inputs", nargs="*", help="texts (classify), a CSV (forecast), prefixes "
                   "(language)")
    p.add_argument("--file", help="read the texts from this file, one per line")
    p.add_argument("--top", type=int, default=3, help="classes to show per text (default 3)")
    p.add_argument("--at", metavar="TIMESTAMP", help="forecast: use the dataset's rows up to "
                   "this time stamp as input")
    p.add_argument("-o", "--output", help="forecast: write the table as CSV here")
    p.add_argument("--plot", metavar="PNG", help="forecast: draw the input and the forecast")
    p.add_argument("--length", type=int, default=100, help="language: characters to generate")
    p.add_argument("--temperature", type=float, default=0.0, help="language: 0 = greedy")
    p.add_argument("--seed", type=int, help="language: seed of the sampling")
    p.add_argument("--download", action="store_true", help="download missing data files")
    common(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("generate", help="continue a text with a trained language model",
                       description="Continue --prefix with a language-model run's best weights: "
                       "the most likely character at each step at --temperature 0, else draws "
                       "from softmax(logits / T), reproducible with --seed. Example: rnnlab "
                       "generate RUN --prefix 'time traveller' --length 100 --temperature 0.8")
    p.add_argument("run", help="run id, unique id prefix, or run folder")
    p.add_argument("--prefix", default="time traveller",
                   help="text to continue, in the model's vocabulary (lowercase letters and "
                   "spaces for timemachine; default: 'time traveller')")
    p.add_argument("--length", type=int, default=100, help="characters to generate (default 100)")
    p.add_argument("--temperature", type=float, default=0.0,
                   help="0 = greedy (default); higher = more varied")
    p.add_argument("--seed", type=int, help="seed of the sampling (temperature > 0)")
    common(p, data=False)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("datasets", help="list known datasets and where their files are")
    common(p, runs=False)
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("download", help="fetch dataset files into the user cache")
    p.add_argument("names", nargs="+", help="dataset names (see `rnnlab datasets`)")
    common(p, runs=False)
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("config-docs", help="print the config reference (docs/config.md), "
                                           "generated from the config classes")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.set_defaults(func=cmd_config_docs)
    return parser


def _terminate(signum, frame):
    raise KeyboardInterrupt  # SIGTERM is handled like Ctrl-C: mark the run, keep checkpoints


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.func(args)
    except RnnlabError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except RunInterrupted as stop:
        print(f"\ninterrupted: run {stop.run_id} is marked 'interrupted' and its last "
              f"checkpoint is kept; continue it with `rnnlab run --resume {stop.run_id}`",
              file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\ninterrupted (no run was stored)", file=sys.stderr)


        again = ("rerun the same `rnnlab sweep` command (or `rnnlab sweep --resume NAME`)"
                 if args.command in ("sweep", "compare") else "`rnnlab run --resume RUN`")
        print("\ninterrupted: the run is marked 'interrupted' and its last checkpoint is kept; "
              f"continue with {again}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
