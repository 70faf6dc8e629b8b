"""Seconds per training epoch of a preset, scratch vs torch.nn, and the share spent on data.

    python benchmarks/epoch_time.py configs/los_loop.yaml --epochs 3

Runs the training loop of ``rnnlab.train.fit`` (same task, model, optimizer,
clipping, batches) for a few epochs per implementation, alternating the
implementations epoch by epoch, without evaluation or checkpoints. "data" is
the time spent inside the task's batch iterator (shuffling, indexing windows,
moving to the device); the rest is forward, backward and the optimizer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from rnnlab import config  # noqa: E402
from rnnlab.tasks import prepare, seed_everything  # noqa: E402
from rnnlab.train import make_optimizer  # noqa: E402


def epoch(task, model, optimizer, clip: float, number: int) -> tuple[float, float]:
    """One epoch as fit() runs it; returns (total seconds, seconds in the batch iterator)."""
    model.train()
    data = 0.0
    began = time.perf_counter()
    batches = iter(task.train_batches(number))
    while True:
        t = time.perf_counter()
        batch = next(batches, None)
        data += time.perf_counter() - t
        if batch is None:
            break
        loss, _ = task.train_step(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        loss.item()
    return time.perf_counter() - began, data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("config")
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per implementation")
    ap.add_argument("--impls", nargs="+", default=["scratch", "torch"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    runs = {}
    for impl in args.impls:
        cfg = config.load(args.config, overrides=[*args.set, f"model.impl={impl}"])
        seed_everything(cfg.seed)
        task, model = prepare(cfg)
        runs[impl] = (task, model, make_optimizer(model.parameters(), cfg.train), cfg.train.clip)
        epoch(*runs[impl], 0)  # warm-up
    times = {impl: [] for impl in args.impls}
    for number in range(1, args.epochs + 1):
        for impl in args.impls:
            times[impl].append(epoch(*runs[impl], number))
    print(f"{args.config}: {args.threads} threads, median of {args.epochs} epochs")
    print("| impl | s/epoch | x torch | data s/epoch | data share |")
    print("|---|---|---|---|---|")
    base = statistics.median(t for t, _ in times["torch"]) if "torch" in times else None
    for impl, rows in times.items():
        total = statistics.median(t for t, _ in rows)
        data = statistics.median(d for _, d in rows)
        ratio = f"{total / base:.2f}" if base else "-"
        print(f"| {impl} | {total:.2f} | {ratio} | {data:.3f} | {100 * data / total:.1f} % |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
