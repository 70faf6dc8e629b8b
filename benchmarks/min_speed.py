"""Training speed and memory of minGRU / minLSTM against GRU / LSTM over sequence length.

    python benchmarks/min_speed.py --quick              # T = 64, 1024; 3 rounds (< 1 minute)
    python benchmarks/min_speed.py --out min_speed.png  # T = 64 ... 4096, and a chart
    python benchmarks/min_speed.py --clock cpu --threads 1   # on a shared, busy machine

One layer, batch 32, input 64, hidden 128, float32 (the sizes of issue #24), for each
sequence length T and each implementation:

  torch    torch.nn.GRU / torch.nn.LSTM
  scratch  rnnlab.nn.GRU / rnnlab.nn.LSTM (fused step loop, hand-written backward)
  min      rnnlab.nn.minimal.MinGRU / MinLSTM (chunked parallel scan, hand-written backward)

``fwd+bwd`` is forward, ``sum()`` of the outputs, backward (the input needs no gradient);
``fwd`` is inference (no_grad). Timings are medians over rounds in which every
implementation runs once, in an order that rotates each round, so load from other
processes hits all of them alike; "x faster" is the median of the per-round ratios
torch.nn time / this time, torch.nn of the same family (GRU or LSTM).

Peak memory: bytes allocated by torch's CPU allocator during one fwd+bwd, beyond what was
live before it (torch.profiler memory events, cumulated in time order, as in
rnn_speed.py; on CUDA, torch.cuda.max_memory_allocated). It counts tensors (saved
activations, gradients, temporaries), not Python objects or allocator slack.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))
from rnn_speed import _clock, add_common_options, interleaved, peak_bytes, show  # noqa: E402

from rnnlab import nn as rnn  # noqa: E402
from rnnlab.nn.minimal import MinGRU, MinLSTM  # noqa: E402

B, INPUT, HIDDEN = 32, 64, 128
STEPS = (64, 256, 1024, 4096)
QUICK_STEPS = (64, 1024)
KINDS = ("gru", "lstm")
IMPLS = ("torch", "scratch", "min")
LABELS = {("gru", "torch"): "torch.nn.GRU", ("gru", "scratch"): "rnnlab.nn.GRU",
          ("gru", "min"): "MinGRU", ("lstm", "torch"): "torch.nn.LSTM",
          ("lstm", "scratch"): "rnnlab.nn.LSTM", ("lstm", "min"): "MinLSTM"}


def build(kind: str, impl: str, input_size: int, hidden: int, device) -> torch.nn.Module:
    cls = {"torch": {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM},
           "scratch": {"gru": rnn.GRU, "lstm": rnn.LSTM},
           "min": {"gru": MinGRU, "lstm": MinLSTM}}[impl][kind]
    return cls(input_size, hidden).to(device)


def run(steps, kinds, impls, rounds, device, clock, memory: bool, log,
        sizes=(B, INPUT, HIDDEN)) -> list[dict]:
    batch, input_size, hidden = sizes
    rows = []
    for T in steps:
        x = torch.randn(T, batch, input_size, device=device)
        for kind in kinds:
            torch.manual_seed(0)
            models = {impl: build(kind, impl, input_size, hidden, device) for impl in impls}
            times = interleaved(models, x, rounds, clock)
            for impl in impls:
                row = {"T": T, "kind": kind, "impl": impl, "label": LABELS[kind, impl],
                       "fwd_ms": 1e3 * statistics.median(times[impl]["fwd"]),
                       "train_ms": 1e3 * statistics.median(times[impl]["train"])}
                if "torch" in impls:
                    for key, label in (("fwd", "fwd_speedup"), ("train", "train_speedup")):
                        pairs = zip(times[impl][key], times["torch"][key], strict=True)
                        row[label] = statistics.median(t / s for s, t in pairs)
                row["peak_mb"] = peak_bytes(models[impl], x, device) / 2**20 if memory else None
                rows.append(row)
                log(row)
    return rows


def table(rows) -> str:
    head = ("| T | layer | fwd ms | fwd x faster | fwd+bwd ms | fwd+bwd x faster | "
            "peak MB | peak x torch |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    torch_peak = {(r["T"], r["kind"]): r["peak_mb"] for r in rows if r["impl"] == "torch"}
    for r in rows:
        peak = ratio = "-"
        if r["peak_mb"] is not None:
            peak = f"{r['peak_mb']:.1f}"
            base = torch_peak.get((r["T"], r["kind"]))
            ratio = f"{r['peak_mb'] / base:.2f}" if base else "-"
        lines.append(f"| {r['T']} | {r['label']} | {r['fwd_ms']:.2f} | "
                     f"{r.get('fwd_speedup', float('nan')):.2f} | {r['train_ms']:.2f} | "
                     f"{r.get('train_speedup', float('nan')):.2f} | {peak} | {ratio} |")
    return "\n".join(lines)


def chart(rows, path: Path, title: str) -> None:
    """fwd+bwd time over T (log-log), one panel per family, and the speed-up over torch.nn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = sorted({r["kind"] for r in rows}, key=KINDS.index)
    fig, axes = plt.subplots(1, len(kinds) + 1, figsize=(5 * (len(kinds) + 1), 4))
    for ax, kind in zip(axes, kinds, strict=False):  # the last axis: speed-ups
        for impl in IMPLS:
            pts = [(r["T"], r["train_ms"]) for r in rows if (r["kind"], r["impl"]) == (kind, impl)]
            if pts:
                ax.plot([t for t, _ in pts], [ms for _, ms in pts], marker="o",
                        label=LABELS[kind, impl])
        ax.set(xscale="log", yscale="log", xlabel="sequence length T", ylabel="fwd+bwd ms",
               title=f"{kind.upper()} family")
        ax.legend()
    ax = axes[-1]
    for kind in kinds:
        pts = [(r["T"], r["train_speedup"]) for r in rows
               if (r["kind"], r["impl"]) == (kind, "min") and "train_speedup" in r]
        if pts:
            ax.plot([t for t, _ in pts], [x for _, x in pts], marker="o",
                    label=f"{LABELS[kind, 'min']} vs torch.nn")
    ax.axhline(1, color="grey", lw=0.8)
    ax.set(xscale="log", xlabel="sequence length T", ylabel="x faster (fwd+bwd)",
           title="speed-up over torch.nn")
    ax.legend()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="T = 64 and 1024, 3 rounds (under a minute on a quiet 2-core machine)")
    ap.add_argument("--steps", nargs="+", type=int, help=f"sequence lengths (default {STEPS})")
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    ap.add_argument("--impls", nargs="+", choices=IMPLS, default=list(IMPLS))
    ap.add_argument("--rounds", type=int,
                    help="timed rounds per implementation (default 5, quick 3)")
    add_common_options(ap)
    ap.add_argument("--out", type=Path, help="also draw a chart here (PNG)")
    args = ap.parse_args(argv)

    device = torch.device("cuda" if args.device == "cuda" or (
        args.device == "auto" and torch.cuda.is_available()) else "cpu")
    torch.set_num_threads(args.threads)
    steps = args.steps or (QUICK_STEPS if args.quick else STEPS)
    impls = ["torch"] + [i for i in args.impls if i != "torch"] if "torch" in args.impls \
        else list(args.impls)
    rounds = args.rounds or (3 if args.quick else 5)
    clock = _clock(args.clock, device)
    info = (f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads, "
            f"{args.clock} clock, {cpu_model()}; B={B}, input {INPUT}, hidden {HIDDEN}, "
            f"float32, {rounds} rounds")
    print(info, flush=True)
    log = lambda r: print(f"  T={r['T']:<5d} {r['label']:15s} fwd {r['fwd_ms']:9.2f} ms  "  # noqa: E731
                          f"fwd+bwd {r['train_ms']:9.2f} ms  "
                          f"x faster {r.get('train_speedup', float('nan')):.2f}", flush=True)
    rows = run(steps, args.kinds, impls, rounds, device, clock, not args.no_memory, log)
    show(f"{info}\n\n{table(rows)}\n", args.output)
    if args.out:
        chart(rows, args.out, info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
