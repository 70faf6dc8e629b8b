"""Does torch.compile beat the eager fused LSTM? One layer, dense batch, forward+backward.

The issue behind rnnlab's fast path asked to measure a compiled loop beside the
hand-written autograd Function and keep what wins. This script compiles (Inductor,
C++ on CPU) the two loops of the same algorithm as ``rnnlab.nn.fused.LSTMScan``:

- forward: per step one addmm and one fused kernel for the gates and cell update;
- backward: the gate factors of all steps first, then per step one fused kernel and
  one matmul; the weight gradients of all steps are one matmul each, left eager.

It checks the result against torch.nn.LSTM, then times torch.nn, the compiled loops
and rnnlab's eager fused layer in interleaved rounds (medians), in one process.

    python benchmarks/lstm_compile.py                  # char-LM shape, 2 threads
    python benchmarks/lstm_compile.py --threads 1 --shape 12 64 921 256

It needs a C++ compiler at run time and compiles once per sequence length and batch
size, which is why rnnlab's layers do not use it (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.autograd import Function

from rnnlab import nn as rnn


def forward_loop(pre: torch.Tensor, w_t: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
    """Gates, cell states, tanh(c) and outputs of all steps; ``pre`` holds W_ih x + b."""
    acts, cs, tcs, hs = [], [], [], []
    for t in range(pre.shape[0]):
        i, f, g, o = torch.addmm(pre[t], h, w_t).chunk(4, 1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        tc = torch.tanh(c)
        h = o * tc
        acts.append(torch.cat([i, f, g, o], 1))
        cs.append(c)
        tcs.append(tc)
        hs.append(h)
    return torch.stack(acts), torch.stack(cs), torch.stack(tcs), torch.stack(hs)


def backward_loop(acts, cs, tcs, c0, d_out, dh, dc, w_hh):
    """dL/d(gate pre-activations) of all steps and the gradients of the initial state."""
    i, f, g, o = acts.chunk(4, 2)
    c_prev = torch.cat([c0.unsqueeze(0), cs[:-1]])
    fi, ff, fg, fo = i * (1 - i) * g, f * (1 - f) * c_prev, (1 - g * g) * i, o * (1 - o) * tcs
    dc_dh = o * (1 - tcs * tcs)
    dgs = []
    for t in range(acts.shape[0] - 1, -1, -1):
        dh = dh + d_out[t]
        dc = dc + dh * dc_dh[t]
        dg = torch.cat([dc * fi[t], dc * ff[t], dc * fg[t], dh * fo[t]], 1)
        dgs.append(dg)
        dc = dc * f[t]
        dh = dg @ w_hh
    return torch.stack(dgs[::-1]), dh, dc


class CompiledLSTM(Function):
    """One LSTM layer (T, B, I) -> (T, B, H) over the compiled loops."""

    fwd, bwd = forward_loop, backward_loop  # replaced by their compiled forms in main()

    @staticmethod
    def forward(ctx, x, w_ih, b, h0, c0, w_hh):
        pre = torch.addmm(b, x.flatten(0, 1), w_ih.t()).view(x.shape[0], x.shape[1], -1)
        acts, cs, tcs, hs = CompiledLSTM.fwd(pre, w_hh.t(), h0, c0)
        ctx.save_for_backward(x, w_ih, acts, cs, tcs, hs, h0, c0, w_hh)
        return hs

    @staticmethod
    def backward(ctx, d_out):
        x, w_ih, acts, cs, tcs, hs, h0, c0, w_hh = ctx.saved_tensors
        zero = torch.zeros_like(h0)
        dg, dh0, dc0 = CompiledLSTM.bwd(acts, cs, tcs, c0, d_out.contiguous(), zero, zero, w_hh)
        dg = dg.flatten(0, 1)
        h_prev = torch.cat([h0.unsqueeze(0), hs[:-1]]).flatten(0, 1)
        return ((dg @ w_ih).view_as(x), dg.t() @ x.flatten(0, 1), dg.sum(0), dh0, dc0,
                dg.t() @ h_prev)


def compiled_layer(lstm: torch.nn.LSTM):
    """A function x -> outputs over the compiled loops with ``lstm``'s parameters."""
    def run(x):
        b = lstm.bias_ih_l0 + lstm.bias_hh_l0
        h0 = x.new_zeros(x.shape[1], lstm.hidden_size)
        return CompiledLSTM.apply(x, lstm.weight_ih_l0, b, h0, h0, lstm.weight_hh_l0)
    return run


def check(lstm, run, x) -> float:
    """Largest difference from torch.nn.LSTM in the outputs and every gradient."""
    x = x.detach().requires_grad_()
    weights = [x, *lstm.parameters()]
    probe = torch.linspace(-1, 1, x.shape[0] * x.shape[1] * lstm.hidden_size,
                           dtype=x.dtype).view(x.shape[0], x.shape[1], -1)
    results = []
    for fn in (lambda v: lstm(v)[0], run):
        out = fn(x)
        grads = torch.autograd.grad((out * probe).sum(), weights)
        results.append([out, *grads])
    return max((a - b).abs().max().item() for a, b in zip(*results))


def time_ms(fn, x, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn(x).sum().backward()
        samples.append(time.perf_counter() - began)
    return 1e3 * statistics.median(samples)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shape", nargs=4, type=int, default=[35, 32, 28, 256],
                   metavar=("T", "B", "IN", "H"), help="default: the char-LM workload")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=8, help="interleaved rounds (medians)")
    p.add_argument("--repeats", type=int, default=7, help="timed batches per round")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    steps, batch, inputs, hidden = args.shape
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(inputs, hidden).to(dtype)
    fused = rnn.LSTM(inputs, hidden).to(dtype)
    fused.load_state_dict(lstm.state_dict())
    x = torch.randn(steps, batch, inputs, dtype=dtype)
    began = time.perf_counter()
    CompiledLSTM.fwd = torch.compile(forward_loop, dynamic=False)
    CompiledLSTM.bwd = torch.compile(backward_loop, dynamic=False)
    compiled = compiled_layer(lstm)
    compiled(x).sum().backward()
    compile_s = time.perf_counter() - began
    diff = check(lstm, compiled, x)
    impls = {"torch.nn": lambda v: lstm(v)[0], "compiled": compiled,
             "rnnlab fused": lambda v: fused(v)[0]}
    samples = {name: [] for name in impls}
    for _ in range(args.rounds):
        for name, fn in impls.items():
            time_ms(fn, x, 2)  # warm-up after the other implementations ran
            samples[name].append(time_ms(fn, x, args.repeats))
    ms = {name: statistics.median(v) for name, v in samples.items()}
    print(f"LSTM T={steps} B={batch} in={inputs} H={hidden}, {args.dtype}, "
          f"{args.threads} threads; compile {compile_s:.1f} s; largest difference from "
          f"torch.nn (outputs and gradients) {diff:.1e}")
    print("| impl | fwd+bwd ms | x torch.nn |\n|---|---|---|")
    for name, value in ms.items():
        print(f"| {name} | {value:.2f} | {value / ms['torch.nn']:.2f} |")
    return {"compile_s": compile_s, "max_diff": diff, "ms": ms}


if __name__ == "__main__":
    main()
