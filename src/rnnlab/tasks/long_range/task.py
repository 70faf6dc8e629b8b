"""Long-range memory problems (adding, copy): can a cell carry information across T steps?

Training sequences are drawn afresh every epoch (seeded by the run's seed and the epoch,
so a resumed run draws the same ones); validation and test sequences are one fixed draw
each, the same for every run, so runs of different cells and lengths are scored on the
same sequences. Besides the loss, each run reports whether it solved the problem and how
much of the gradient at the last step reaches the first (at its best and its initial
weights), and draws that gradient flow through time.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ... import figures
from ...config import ModelConfig
from ...data.sources.synthetic import adding, copy_baseline, copy_memory
from ...errors import ConfigError
from ..base import ALL_KINDS, LAB_KINDS, Sample, Task, recurrent_layer, spread
from ..inside import initial_model, look_inside
from .config import LongRangeData
from .model import MemoryNet

VAL_SEED, TEST_SEED = 1_000_001, 1_000_002  # fixed: every run is scored on the same draws
SOLVED_MSE, SOLVED_ACCURACY = 0.01, 0.99
FLOW_SAMPLES = 8


class LongRangeTask(Task):
    name = "long_range"
    DataConfig = LongRangeData
    ModelConfig = ModelConfig
    hyperparams = [{**LAB_KINDS, "model.hidden_size": [32, 64, 128]},
                   {**LAB_KINDS, "train.lr": [1e-2, 3e-3, 1e-3]}]
    memory_grid = [{**ALL_KINDS, "data.length": [25, 50, 100, 200, 400]}]

    def __init__(self, cfg, data_dir=None, download=False, device="cpu"):
        super().__init__(cfg, data_dir, download, device)
        self.copy = cfg.data.dataset == "copy"
        self.parts = {"val": self._draw(cfg.data.val_size, torch.Generator().manual_seed(VAL_SEED)),
                      "test": self._draw(cfg.data.test_size,
                                         torch.Generator().manual_seed(TEST_SEED))}

    def _draw(self, count: int, generator: torch.Generator):
        d = self.cfg.data
        if self.copy:
            return copy_memory(count, d.length, generator, d.symbols, d.remember)
        return adding(count, d.length, generator)

    def describe(self):
        d = self.cfg.data
        return {"dataset": d.dataset, "length": d.length, "steps": d.length + (
            2 * d.remember if self.copy else 0), "train_per_epoch": d.train_size,
            "val": d.val_size, "test": d.test_size}

    def build_model(self) -> nn.Module:
        d = self.cfg.data
        vocab = d.symbols + 2 if self.copy else None  # blank, symbols, delimiter
        layer = recurrent_layer(self.cfg.model, vocab or 2)
        return MemoryNet(layer, d.symbols + 1 if self.copy else 1, self.copy, vocab)

    # -- training
    def num_train_batches(self) -> int:
        return math.ceil(self.cfg.data.train_size / self.cfg.train.batch_size)

    def train_batches(self, epoch):
        x, y = self._draw(self.cfg.data.train_size, self.batch_generator(self.cfg.seed, epoch))
        size = self.cfg.train.batch_size
        for a in range(0, len(x), size):
            yield x[a:a + size].to(self.device), y[a:a + size].to(self.device)

    def _loss(self, out, y):
        if self.copy:
            return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        return F.mse_loss(out, y)

    def train_step(self, model, batch):
        x, y = batch
        return self._loss(model(x), y), len(x)

    # -- evaluation
    @torch.no_grad()
    def evaluate(self, model, split):
        if split not in self.parts:
            raise ConfigError(f"the long-range problems have val and test splits; the training "
                              f"sequences are drawn afresh every epoch (asked for {split!r})")
        was_training = model.training
        model.eval()
        x, y = self.parts[split]
        out = torch.cat([model(x[a:a + 500].to(self.device)).cpu() for a in range(0, len(x), 500)])
        model.train(was_training)
        loss = float(self._loss(out, y))
        if not self.copy:
            return {"loss": loss, "mse": loss, "solved": float(loss < SOLVED_MSE)}
        recalled = self.cfg.data.remember
        right = (out[:, -recalled:].argmax(-1) == y[:, -recalled:]).double().mean().item()
        return {"loss": loss, "accuracy": right, "solved": float(right > SOLVED_ACCURACY)}

    def splits(self):
        return ("val", "test")

    def baselines(self, split: str = "test") -> dict[str, dict[str, float]]:
        """Without memory: the mean (1) for adding; blanks then a guess for copy."""
        d = self.cfg.data
        if self.copy:
            return {"memoryless": {"loss": copy_baseline(d.length, d.symbols, d.remember),
                                   "accuracy": 1 / d.symbols}}
        mse = float(((self.parts[split][1] - 1) ** 2).mean())
        return {"predict_one": {"loss": mse, "mse": mse}}

    def test_report(self, model):
        samples = self.inspect_samples(FLOW_SAMPLES)
        flow = {"best": look_inside(self, model, samples).flow_ratio(),
                "initial": look_inside(self, initial_model(self), samples).flow_ratio()}
        return {"test": self.evaluate(model, "test"), "baselines": self.baselines("test"),
                "gradient_flow": flow}

    def figures(self, model, run_dir: Path, history):
        metric = "val_accuracy" if self.copy else "val_mse"
        samples = self.inspect_samples(FLOW_SAMPLES)
        best, start = look_inside(self, model, samples), look_inside(
            self, initial_model(self), samples)
        return [figures.loss_curve(history, run_dir / "loss.png"),
                figures.metric_curves(history, [metric], run_dir / "metrics.png"),
                figures.steps_back_curves(
                    {"best": best.mean_from_end(best.grad_h),
                     "initial weights": start.mean_from_end(start.grad_h)},
                    run_dir / "inside_gradients.png", ylabel="||dL/dh_t||",
                    title=f"{self.cfg.model.kind}, T = {self.cfg.data.length}: gradient flow "
                          f"through time ({FLOW_SAMPLES} validation sequences)",
                    styles={"initial weights": "--"})]

    @classmethod
    def summary_lines(cls, summary):
        test, flow = summary.get("test", {}), summary.get("gradient_flow", {})
        lines = []
        if "solved" in test:
            what = "MSE < 0.01" if "mse" in test else "> 99 % of the recalled symbols"
            lines.append(f"  solved ({what}): {'yes' if test['solved'] else 'no'}")
        if flow:
            lines.append(f"  ||dL/dh_1|| / ||dL/dh_T||: {flow['best']:.3g} (best), "
                         f"{flow['initial']:.3g} (initial weights)")
        return lines

    # -- look inside
    def inspect_samples(self, count, texts=None):
        if texts:
            raise ConfigError("the long-range problems are generated: inspect their "
                              "validation sequences (--samples N), not your own input")
        x, y = self.parts["val"]
        return [Sample((x[k:k + 1].to(self.device),), y[k:k + 1].to(self.device),
                       f"validation sequence {k}") for k in spread(count, len(x))]

    def sample_loss(self, model, sample):
        return self._loss(model(*sample.inputs), sample.target)
