"""Use a trained run: ``rnnlab eval``, ``ensemble``, ``export``, ``predict`` and ``generate``."""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import ConfigError
from .args import DOWNLOAD, LOCATIONS, RUN, RUNS_DIR, arg, command

SPLIT = arg("--split", default="test", choices=["train", "val", "test"])


@command("eval", "re-evaluate a run's best checkpoint on a split", RUN, SPLIT, DOWNLOAD,
         LOCATIONS, description="Rebuild the run's data pipeline from its config, load "
         "best.pt, recompute the metrics and compare them with the stored ones.")
def evaluate(args) -> int:
    from ..inference import evaluate_run, metrics_agree  # heavy (torch): loaded when it runs
    from ..report.console import eval_table

    computed, stored = evaluate_run(args.run, args.split, runs_dir=args.runs_dir,
                                    data_dir=args.data_dir, download=args.download)
    print("\n".join(eval_table(args.split, computed, stored)))
    if stored:
        if not metrics_agree(computed, stored):
            print("error: the recomputed metrics differ from the stored ones: the data files "
                  "or the rnnlab version changed since the run", file=sys.stderr)
            return 1
        print("matches the stored metrics")
    return 0


@command(
    "ensemble", "average several classify runs' probabilities or forecast runs' predictions",
    arg("runs", nargs="*", metavar="RUN", help="run ids, unique prefixes or folders"),
    arg("--sweep", metavar="NAME", help="also every finished run of this sweep"),
    SPLIT,
    arg("-o", "--output", help="also write the metrics, per-class table and confusion matrix "
        "to this JSON file"),
    arg("--figures", metavar="DIR", help="write the ensemble's confusion.png, per_class_f1.png "
        "and confusion.csv into this folder"),
    DOWNLOAD, LOCATIONS,
    description="Load the best checkpoint of each run, average their predicted class "
    "probabilities (classify) or forecasts (forecast, in original units) on a split and "
    "report the members' metrics beside the ensemble's (forecast: and the baselines). The "
    "runs must share their test rows: one data config, and for classify one "
    "data.split_seed, e.g. rnnlab run names_bilstm --seed 1 (the names presets fix "
    "data.split_seed: 0), or one sweep: rnnlab sweep names_bilstm --seeds 5 --name names5, "
    "then rnnlab ensemble --sweep names5.")
def ensemble(args) -> int:
    from .. import sweep  # heavy (torch): loaded when the command runs
    from ..ensemble import ensemble_runs
    from ..report.console import ensemble_table
    from ..store import Store
    from ..util import write_json

    refs = list(args.runs)
    if args.sweep:
        store = Store.of(args.runs_dir)
        refs += [r["id"] for r in sweep.sweep_runs(store, sweep.from_store(store, args.sweep))
                 if r["status"] == "finished"]
    if not refs:
        raise ConfigError("name the runs to average (RUN RUN ...) or a sweep (--sweep NAME)")
    result = ensemble_runs(refs, args.split, args.figures, runs_dir=args.runs_dir,
                           data_dir=args.data_dir, download=args.download)
    print("\n".join(ensemble_table(result)))
    if args.output:
        write_json(Path(args.output), result)
        print(f"written to {args.output}")
    if args.figures:
        print(f"figures: {', '.join(result['figures'])}")
    return 0


@command(
    "export", "write a run's model as state_dict, TorchScript or ONNX", RUN,
    arg("--format", default="state_dict", choices=["state_dict", "torchscript", "onnx"]),
    arg("-o", "--output", help="file to write (default: model.* in the run folder)"),
    DOWNLOAD, LOCATIONS,
    description="Export the model of a run (best checkpoint). Scratch layers are swapped for "
    "torch.nn layers holding the same weights, so the files load without rnnlab; ONNX output "
    "is checked against the model.")
def export(args) -> int:
    from ..export import export_run  # heavy (torch): loaded when the command runs

    print(export_run(args.run, args.format, args.output, runs_dir=args.runs_dir,
                     data_dir=args.data_dir, download=args.download))
    return 0


def _read_lines(path: str) -> list[str]:
    try:
        return [line for line in Path(path).read_text(encoding="utf-8").splitlines()
                if line.strip()]
    except FileNotFoundError:
        raise ConfigError(f"--file {path} does not exist") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--file {path} is not UTF-8 text") from None


@command(
    "predict", "use a trained run on new input", RUN,
    arg("inputs", nargs="*", help="texts (classify), a CSV (forecast), prefixes (language)"),
    arg("--file", help="read the texts from this file, one per line"),
    arg("--top", type=int, default=3, help="classes to show per text (default 3)"),
    arg("--at", metavar="TIMESTAMP", help="forecast: use the dataset's rows up to this time "
        "stamp as input"),
    arg("-o", "--output", help="forecast: write the table as CSV here"),
    arg("--plot", metavar="PNG", help="forecast: draw the input and the forecast"),
    arg("--length", type=int, default=100, help="language: characters to generate"),
    arg("--temperature", type=float, default=0.0, help="language: 0 = greedy"),
    arg("--seed", type=int, help="language: seed of the sampling"),
    DOWNLOAD, LOCATIONS,
    description="classify: names or review sentences -> the most likely classes (rnnlab "
    "predict RUN Dovesky Jackson --top 3). forecast: a CSV of the latest data.history rows "
    "(one column per input as in training; a first column of time stamps optional) or --at "
    "TIMESTAMP from the dataset -> the next data.horizon steps in original units. language: "
    "prefixes to continue, as `rnnlab generate`.")
def predict(args) -> int:
    from ..inference import predict_run  # heavy (torch): loaded when the command runs
    from ..tasks import PredictOptions

    inputs = list(args.inputs) + (_read_lines(args.file) if args.file else [])
    options = PredictOptions(top=args.top, at=args.at, output=args.output, plot=args.plot,
                             length=args.length, temperature=args.temperature, seed=args.seed)
    print("\n".join(predict_run(args.run, inputs, options, runs_dir=args.runs_dir,
                                data_dir=args.data_dir, download=args.download)))
    return 0


@command(
    "generate", "continue a text with a trained language model",
    arg("run", help="run id, unique id prefix, or run folder"),
    arg("--prefix", default="time traveller", help="text to continue, in the model's "
        "vocabulary (lowercase letters and spaces for timemachine; default: 'time traveller')"),
    arg("--length", type=int, default=100, help="characters to generate (default 100)"),
    arg("--temperature", type=float, default=0.0,
        help="0 = greedy (default); higher = more varied"),
    arg("--seed", type=int, help="seed of the sampling (temperature > 0)"),
    RUNS_DIR,
    description="Continue --prefix with a language-model run's best weights: the most likely "
    "character at each step at --temperature 0, else draws from softmax(logits / T), "
    "reproducible with --seed. Example: rnnlab generate RUN --prefix 'time traveller' "
    "--length 100 --temperature 0.8")
def generate(args) -> int:
    from ..rundir import RunFolder  # heavy (torch): loaded when the command runs
    from ..tasks import TASKS, PredictOptions, get_task

    folder = RunFolder.find(args.run, args.runs_dir)
    task = get_task(folder.task_name)
    if not task.can_generate:
        able = [name for name, cls in TASKS.items() if cls.can_generate]
        raise ConfigError(f"run {folder.run_id} is a {task.name!r} run; generation needs a run "
                          f"of task {' or '.join(able)}")
    options = PredictOptions(length=args.length, temperature=args.temperature, seed=args.seed)
    task.check_predict_inputs([args.prefix], options)
    run = folder.load(for_prediction=True)
    print("\n".join(run.task.predict_command(run.model, [args.prefix], options)))
    return 0


@command(
    "inspect", "look inside a run's cells: gates, states and gradient flow through time",
    arg("runs", nargs="+", metavar="RUN", help="run ids, unique prefixes or folders (several: "
        "their gradient flows overlaid)"),
    arg("--input", nargs="+", metavar="TEXT", help="your own input instead of test samples: "
        "a CSV of the latest rows (forecast), texts (classify), prefixes (language)"),
    arg("--samples", type=int, default=4, help="test samples to look at (default 4)"),
    arg("--checkpoint", default="best", choices=["best", "last", "init"],
        help="weights to look at (default best); the initial weights are always shown beside"),
    arg("-o", "--output", help="HTML page to write (default: inspect.html in the run folder, "
        "or here for several runs)"),
    DOWNLOAD, LOCATIONS,
    description="Run a few test samples (or --input) through the run's own layers with every "
    "step recorded: heatmaps of each gate and state over time x hidden units, the share of "
    "saturated gate values, the norm of dL/dh_t for every step on a log scale (gradient "
    "flow through time) at the checkpoint and at the initial weights, and which input steps "
    "the loss is most sensitive to. PNGs go into the run folder, everything into one "
    "self-contained HTML page. Example: rnnlab inspect RUN --samples 8")
def inspect(args) -> int:
    from ..report.inside import inspect_run, write_page  # heavy (torch): loaded when it runs

    found = [inspect_run(ref, runs_dir=args.runs_dir, data_dir=args.data_dir,
                         download=args.download, samples=args.samples, texts=args.input,
                         checkpoint=args.checkpoint) for ref in args.runs]
    out = args.output or (found[0].figures[0].parent / "inspect.html" if len(found) == 1
                          else "inspect.html")
    for item in found:
        ratio = item.chosen.flow_ratio()
        print(f"{item.run_id}: ||dL/dh_1|| / ||dL/dh_T|| = {ratio:.3g} ({item.checkpoint}), "
              f"{item.initial.flow_ratio():.3g} (initial); figures in "
              f"{item.figures[0].parent}")
    print(f"page: {write_page(found, out)}")
    return 0
