"""Training throughput (tokens/s) of the language model per implementation, in one process.

Trains the timemachine preset's network (LSTM 256, one-hot input, batch 32 x 35
steps, SGD with clipping, state carried across batches) for a few batches with
each implementation in turn, repeating the rounds so that a busy machine slows
all of them alike; reports the median tokens/s of each and its ratio to torch.nn,
and with --out draws them as a bar chart.

    python benchmarks/lm_speed.py --impls scratch torch --batches 20 --rounds 5 \
        --out lm_speed.png
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from rnnlab import config
from rnnlab import figures
from rnnlab.tasks.language import LanguageTask, make_model
from rnnlab.train import make_optimizer

PRESET = Path(__file__).resolve().parents[1] / "configs" / "timemachine.yaml"


def tokens_per_second(task: LanguageTask, cfg, impl: str, batches: int) -> float:
    """Tokens/s of ``batches`` training steps of a fresh ``impl`` model (forward, backward,
    clipping, SGD step), as the training loop runs them."""
    cfg.model.impl = impl
    torch.manual_seed(cfg.seed)
    model = make_model(cfg, len(task.vocab)).train()
    opt = make_optimizer(model.parameters(), cfg.train)
    gen = task.train_batches(1)
    task.train_step(model, next(gen))  # warm-up, not timed
    began, tokens = time.perf_counter(), 0
    for _ in range(batches):
        loss, n = task.train_step(model, next(gen))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.clip)
        opt.step()
        tokens += n
    return tokens / (time.perf_counter() - began)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(PRESET))
    p.add_argument("--impls", nargs="+", default=["scratch", "torch"])
    p.add_argument("--batches", type=int, default=20, help="timed batches per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", help="also draw a bar chart here (PNG) and write the JSON beside it")
    args = p.parse_args()
    cfg = config.load(args.config, overrides=args.set)
    task = LanguageTask(cfg)
    speeds: dict[str, list[float]] = {impl: [] for impl in args.impls}
    for _ in range(args.rounds):
        for impl in args.impls:
            speeds[impl].append(tokens_per_second(task, cfg, impl, args.batches))
    median = {impl: statistics.median(v) for impl, v in speeds.items()}
    ref = median.get("torch")
    result = {"threads": torch.get_num_threads(), "torch": torch.__version__,
              "model": f"{cfg.model.kind} hidden {cfg.model.hidden_size}",
              "batch": [cfg.train.batch_size, cfg.data.num_steps],
              "tokens_per_s": median, "rounds": speeds,
              "ratio_to_torch": {k: v / ref for k, v in median.items()} if ref else None}
    print(json.dumps(result, indent=2))
    if not args.out:
        return
    out = Path(args.out)
    figures.bar_chart(list(median), list(median.values()), out, ylabel="tokens / s",
                      title=f"LM training throughput ({result['model']}, "
                            f"{torch.get_num_threads()} threads)")
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
