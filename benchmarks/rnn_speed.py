"""Speed and memory of recurrent layers: torch.nn vs rnnlab's scratch layers vs textbook loops.

    python benchmarks/rnn_speed.py --quick            # 3 workloads, LSTM/GRU/RNN, torch vs scratch
    python benchmarks/rnn_speed.py                    # every workload and implementation
    python benchmarks/rnn_speed.py --clock cpu --threads 1   # on a shared, busy machine

Implementations (one layer, same weights where the formulas agree):
  torch      torch.nn.RNN/LSTM/GRU
  scratch    rnnlab.nn, fast path (fused autograd Function per layer-direction)
  reference  rnnlab.nn with fast=False (autograd through the step functions)
  teaching   rnnlab.nn.teaching (per-gate weights, one Python loop)
  d2l        the lab reports' loop: per-gate matmuls of x and h at every step (below)

Timings are medians over rounds in which every implementation runs once, in an
order that rotates each round, so load from other processes hits all of them
alike; "x torch" is the median of the per-round ratios. ``fwd`` is inference
(no_grad); ``fwd+bwd`` is forward, ``sum()`` of the outputs, backward.

Peak memory: bytes allocated by torch's CPU allocator during one fwd+bwd, beyond
what was live before it (profiler memory events, cumulated in time order; on
CUDA, torch.cuda.max_memory_allocated). It counts tensors (saved activations,
gradients, temporaries), not Python objects or allocator slack.

GFLOP/s counts matmul work only (input projection, recurrent product, LSTM
projection; backward = 2x forward), set against the rate of one large square
matmul measured in the same run: the faster of torch's BLAS (MKL) and oneDNN,
both printed (on an AMD CPU with AVX-512 oneDNN's is about 1.3x MKL's).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from rnnlab import nn as rnn  # noqa: E402

# name: (T, B, input, hidden)
WORKLOADS = {
    "traffic": (12, 64, 921, 256),  # report 000: PEMS04, 307 sensors x 3 features
    "char-lm": (35, 32, 28, 256),  # report 003: The Time Machine, d2l batch/steps
    "names": (15, 64, 57, 128),  # report 004: surnames, one-hot letters
    "traffic-h512": (12, 64, 921, 512),  # report 000's hidden-size sweep
    "traffic-h1024": (12, 64, 921, 1024),
    "char-lm-T96": (96, 32, 28, 256),  # long sequences
    "los-per-node": (12, 13248, 1, 32),  # configs/los_loop.yaml: 64 windows x 207 sensors
}
QUICK_WORKLOADS = ("traffic", "char-lm", "names")
KINDS = ("lstm", "gru", "rnn")
IMPLS = ("torch", "scratch", "reference", "teaching", "d2l")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


class D2LStyle(nn.Module):
    """The loop of the lab reports (d2l chapter 9): one weight per gate, x and h
    multiplied separately at every step. Timing baseline only; its GRU resets h
    before the product, the textbook form."""

    def __init__(self, kind: str, input_size: int, hidden: int) -> None:
        super().__init__()
        self.kind = kind
        names = {"rnn": ["h"], "lstm": ["i", "f", "o", "c"], "gru": ["z", "r", "h"]}[kind]
        s = hidden ** -0.5
        for g in names:
            setattr(self, f"W_x{g}", nn.Parameter(torch.empty(input_size, hidden).uniform_(-s, s)))
            setattr(self, f"W_h{g}", nn.Parameter(torch.empty(hidden, hidden).uniform_(-s, s)))
            setattr(self, f"b_{g}", nn.Parameter(torch.zeros(hidden)))
        self.hidden = hidden

    def forward(self, inputs: torch.Tensor):
        H = inputs.new_zeros(inputs.shape[1], self.hidden)
        C = torch.zeros_like(H)
        outputs = []
        for X in inputs:
            if self.kind == "rnn":
                H = torch.tanh(X @ self.W_xh + H @ self.W_hh + self.b_h)
            elif self.kind == "lstm":
                I = torch.sigmoid(X @ self.W_xi + H @ self.W_hi + self.b_i)  # noqa: E741
                F_ = torch.sigmoid(X @ self.W_xf + H @ self.W_hf + self.b_f)
                O = torch.sigmoid(X @ self.W_xo + H @ self.W_ho + self.b_o)  # noqa: E741
                C_tilda = torch.tanh(X @ self.W_xc + H @ self.W_hc + self.b_c)
                C = F_ * C + I * C_tilda
                H = O * torch.tanh(C)
            else:
                Z = torch.sigmoid(X @ self.W_xz + H @ self.W_hz + self.b_z)
                R = torch.sigmoid(X @ self.W_xr + H @ self.W_hr + self.b_r)
                H_tilda = torch.tanh(X @ self.W_xh + (R * H) @ self.W_hh + self.b_h)
                H = Z * H + (1 - Z) * H_tilda
            outputs.append(H)
        return torch.stack(outputs), H


def build(impl: str, kind: str, input_size: int, hidden: int, device) -> nn.Module:
    if impl == "d2l":
        return D2LStyle(kind, input_size, hidden).to(device)
    if impl == "reference":
        layer = rnn.build_rnn(kind, "scratch", input_size=input_size, hidden_size=hidden)
        layer.fast = False
        return layer.to(device)
    return rnn.build_rnn(kind, impl, input_size=input_size, hidden_size=hidden).to(device)


def _clock(kind: str, device) -> Callable[[], float]:
    if kind == "cpu":  # CPU seconds of this process: robust to other processes' load
        return time.process_time
    if device.type == "cuda":
        def wall():
            torch.cuda.synchronize()
            return time.perf_counter()
        return wall
    return time.perf_counter


def fwd_once(model, x, clock) -> float:
    with torch.no_grad():
        t = clock()
        model(x)
        return clock() - t


def train_once(model, x, clock) -> float:
    for p in model.parameters():
        p.grad = None
    t = clock()
    model(x)[0].sum().backward()
    return clock() - t


def peak_bytes(model, x, device) -> int:
    """Peak bytes torch allocates during one fwd+bwd, over what was live before."""
    for p in model.parameters():
        p.grad = None
    if device.type == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        model(x)[0].sum().backward()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        model(x)[0].sum().backward()
    # One "[memory]" event per allocation (+bytes) and free (-bytes), in time order.
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]")
    live = peak = 0
    for _, delta in events:
        live += delta
        peak = max(peak, live)
    return peak


def matmul_flops(kind: str, T: int, B: int, input_size: int, hidden: int) -> float:
    """Matmul FLOPs of one forward (input projection + recurrent product)."""
    return 2.0 * T * B * GATES[kind] * hidden * (input_size + hidden)


def matmul_rates(device, clock, n: int = 1024, reps: int = 10) -> dict[str, float]:
    """GFLOP/s of one n x n x n float32 matmul, best of ``reps``, per GEMM library torch can
    reach: its BLAS (``a @ b``; MKL on x86 CPUs) and, on CPU, oneDNN, the library torch.nn's
    CPU LSTM runs on (the op behind ``torch.utils.mkldnn``'s Linear, on oneDNN tensors). They
    differ by host: MKL keeps to a slower path on AMD CPUs with AVX-512, oneDNN does not. The
    larger rate is the machine's practical limit; the two are timed in alternation."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    calls = {"blas": lambda: a @ b}
    if device.type == "cpu" and torch.backends.mkldnn.is_available():
        a_dnn, b_dnn = a.to_mkldnn(), b.t().contiguous().to_mkldnn()
        calls["onednn"] = lambda: torch._C._nn.mkldnn_linear(a_dnn, b_dnn, None)
    with torch.no_grad():
        for name, call in list(calls.items()):
            try:  # warm-up; a torch build without this (internal) oneDNN op times BLAS only
                call()
            except (AttributeError, RuntimeError):
                if name == "blas":
                    raise
                del calls[name]
        best = dict.fromkeys(calls, float("inf"))
        for _ in range(reps):
            for name, call in calls.items():
                t = clock()
                call()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                best[name] = min(best[name], clock() - t)
    return {name: 2 * n ** 3 / seconds / 1e9 for name, seconds in best.items()}


def show(text: str, output) -> None:
    """The result table on the terminal, and in ``output`` when given (--output)."""
    print("\n" + text)
    if output:
        output.write_text(text)


def interleaved(models: dict, x, rounds: int, clock) -> dict[str, dict[str, list[float]]]:
    """Forward and fwd+bwd times of every model, after a warm-up, in rotating order each
    round (so a drift of the machine's speed hits every model alike)."""
    for m in models.values():  # warm-up: allocator, lazy init, BLAS threads
        fwd_once(m, x, clock), train_once(m, x, clock)
    times = {name: {"fwd": [], "train": []} for name in models}
    order = list(models)
    for r in range(rounds):
        for name in order[r % len(order):] + order[:r % len(order)]:
            times[name]["fwd"].append(fwd_once(models[name], x, clock))
            times[name]["train"].append(train_once(models[name], x, clock))
    return times


def run(workloads, kinds, impls, rounds, device, clock, memory: bool, log) -> list[dict]:
    rows = []
    for wname in workloads:
        T, B, I, H = WORKLOADS[wname]
        x = torch.randn(T, B, I, device=device)
        for kind in kinds:
            torch.manual_seed(0)
            models = {impl: build(impl, kind, I, H, device) for impl in impls}
            times = interleaved(models, x, rounds, clock)
            flops = matmul_flops(kind, T, B, I, H)
            for impl in impls:
                row = {"workload": wname, "kind": kind, "impl": impl, "T": T, "B": B, "in": I,
                       "H": H, "fwd_ms": 1e3 * statistics.median(times[impl]["fwd"]),
                       "train_ms": 1e3 * statistics.median(times[impl]["train"])}
                if "torch" in impls:
                    for key, label in (("fwd", "fwd_x"), ("train", "train_x")):
                        row[label] = statistics.median(
                            a / b for a, b in zip(times[impl][key], times["torch"][key]))
                row["tokens_s"] = T * B / (row["train_ms"] / 1e3)
                row["gflops"] = 3 * flops / (row["train_ms"] / 1e3) / 1e9
                row["peak_mb"] = peak_bytes(models[impl], x, device) / 2**20 if memory else None
                rows.append(row)
                log(row)
    return rows


def table(rows, rate: float) -> str:
    head = ("| workload (T, B, in, H) | kind | impl | fwd ms | fwd x torch | fwd+bwd ms | "
            "fwd+bwd x torch | tokens/s | GFLOP/s (% of matmul limit) | peak MB | peak x torch |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    torch_peak = {(r["workload"], r["kind"]): r["peak_mb"] for r in rows if r["impl"] == "torch"}
    for r in rows:
        shape = f"{r['workload']} ({r['T']}, {r['B']}, {r['in']}, {r['H']})"
        peak = tp = "-"
        if r["peak_mb"] is not None:
            peak = f"{r['peak_mb']:.1f}"
            base = torch_peak.get((r["workload"], r["kind"]))
            tp = f"{r['peak_mb'] / base:.2f}" if base else "-"
        lines.append(
            f"| {shape} | {r['kind']} | {r['impl']} | {r['fwd_ms']:.2f} | "
            f"{r.get('fwd_x', float('nan')):.2f} | {r['train_ms']:.2f} | "
            f"{r.get('train_x', float('nan')):.2f} | {r['tokens_s']:,.0f} | "
            f"{r['gflops']:.1f} ({100 * r['gflops'] / rate:.0f} %) | {peak} | {tp} |")
    return "\n".join(lines)


def add_common_options(ap: argparse.ArgumentParser) -> None:
    """The options every timing benchmark here takes: threads, clock, device, memory, output."""
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="wall: elapsed time; cpu: this process's CPU time (use with --threads 1 "
                         "on a machine shared with other jobs)")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory pass")
    ap.add_argument("-o", "--output", type=Path, help="also write the table (markdown) here")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="3 workloads, torch vs scratch, few rounds (under a minute on a quiet machine)")
    ap.add_argument("--workloads", nargs="+", choices=list(WORKLOADS))
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    ap.add_argument("--impls", nargs="+", choices=IMPLS)
    ap.add_argument("--rounds", type=int, help="timed rounds per implementation (default 15, quick 7)")
    add_common_options(ap)
    args = ap.parse_args(argv)

    device = torch.device("cuda" if args.device == "cuda" or (
        args.device == "auto" and torch.cuda.is_available()) else "cpu")
    torch.set_num_threads(args.threads)
    workloads = args.workloads or (QUICK_WORKLOADS if args.quick else list(WORKLOADS))
    impls = args.impls or (["torch", "scratch"] if args.quick else list(IMPLS))
    if "torch" in impls:
        impls = ["torch"] + [i for i in impls if i != "torch"]
    rounds = args.rounds or (7 if args.quick else 15)
    clock = _clock(args.clock, device)

    rates = matmul_rates(device, clock)
    rate = max(rates.values())
    info = (f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads, "
            f"{args.clock} clock, {platform.processor() or platform.machine()}; 1024^3 matmul "
            + ", ".join(f"{name} {r:.1f}" for name, r in rates.items()) + " GFLOP/s")
    print(info, flush=True)
    log = lambda r: print(f"  {r['workload']:14s} {r['kind']:4s} {r['impl']:9s} "  # noqa: E731
                          f"fwd {r['fwd_ms']:8.2f} ms  fwd+bwd {r['train_ms']:8.2f} ms  "
                          f"x torch {r.get('train_x', float('nan')):.2f}", flush=True)
    rows = run(workloads, args.kinds, impls, rounds, device, clock, not args.no_memory, log)
    show(f"{info}\n\n{table(rows, rate)}\n", args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
