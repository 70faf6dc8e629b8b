"""Next-token language modelling (d2l's character LM on The Time Machine): perplexity, generation.

Protocol: clean the text as d2l does, hold out its last ``val_fraction``
(d2l trains on all of it and reports training perplexity only), build the
vocabulary from the training part, and train on (batch, num_steps) chunks cut
by random sampling (a fresh state per batch) or sequential partitioning (the
state carried across batches and detached: truncated backpropagation through
time). Perplexity is exp of the mean per-token cross-entropy. Baselines: a
unigram model of the training counts, and the uniform model (perplexity =
vocabulary size).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ... import figures
from ...config import data_label
from ...data.sources import corpus_for
from ...data.text import Vocab, clean_text, random_batches, sequential_batches, to_tokens
from ...errors import ConfigError, DataError, RunNotFound
from ...util import write_text
from ..base import LAB_KINDS, PredictOptions, Sample, Task, spread
from .config import PREFIXES, LanguageData, LanguageModelConfig
from .model import (detach, generate, generate_text, make_model, mean_nll, perplexity_figures,
                    unigram_nll)

VOCAB_FILE = "vocab.json"
SAMPLES_FILE = "samples.txt"


class LanguageTask(Task):
    name = "language"
    DataConfig = LanguageData
    ModelConfig = LanguageModelConfig
    monitor = "val_perplexity"
    monitor_mode = "min"
    hyperparams = [{**LAB_KINDS, "model.hidden_size": [128, 256, 512]},
                   {**LAB_KINDS, "train.batch_size": [16, 32, 64]},
                   {**LAB_KINDS, "train.lr": [0.1, 1.0, 5.0]},
                   {**LAB_KINDS, "data.num_steps": [20, 35, 60]},
                   # an optimiser comes with its own learning rate: one block each
                   {**LAB_KINDS, "train.optimizer": ["sgd"], "train.lr": [1.0]},
                   {**LAB_KINDS, "train.optimizer": ["adam"], "train.lr": [1e-3]},
                   {**LAB_KINDS, "model.init": ["default", "xavier", "kaiming", "orthogonal"]}]
    can_generate = True

    def __init__(self, cfg, data_dir=None, download=False, device="cpu"):
        super().__init__(cfg, data_dir, download, device)
        d = cfg.data
        raw = corpus_for(d, data_dir, download)
        text = clean_text(raw, d.clean, d.line_breaks)
        tokens = to_tokens(text, d.level)
        cut = int(round(len(tokens) * (1 - d.val_fraction)))
        if cut < 2 or len(tokens) - cut < 2:
            hint = (" (data.clean: letters keeps only the letters a-z; try lower or none)"
                    if d.clean == "letters" else "")
            raise DataError(f"{data_label(d)}: {len(tokens)} {d.level}s after cleaning are too "
                            f"few to hold out data.val_fraction={d.val_fraction}{hint}")
        self.vocab = Vocab(tokens[:cut], min_freq=d.min_freq)
        train = tokens[:cut][:d.max_train_tokens]  # None keeps it all
        self.tokens = {"train": self.vocab.encode(train),
                       "val": self.vocab.encode(tokens[cut:])}
        self.held_out_start = tokens[cut:cut + (3 if d.level == "word" else 12)]
        self.chars = len(text)
        self._state = None  # carried across sequential batches within an epoch
        self._samples: dict[str, str] | None = None
        self._batches(0)  # a text too short for one batch fails here, before any write

    def describe(self):
        d = self.cfg.data
        return {"dataset": data_label(d), "level": d.level, "characters": self.chars,
                "vocab_size": len(self.vocab),
                "tokens": {"train": len(self.tokens["train"]),
                           "held_out": len(self.tokens["val"])},
                "held_out": f"last {d.val_fraction:g} of the text; selects the best epoch and "
                            f"is the reported test text"}


    def build_model(self) -> nn.Module:
        return make_model(self.cfg, len(self.vocab))

    def artifacts(self):
        """vocab.json: the vocabulary, which generation needs without the training text."""
        return {VOCAB_FILE: self.vocab.to_dict()}

    # -- training
    def _batches(self, epoch: int) -> tuple[Tensor, Tensor]:
        d, b = self.cfg.data, self.cfg.train.batch_size
        g = self.batch_generator(self.cfg.seed, epoch)
        sample = random_batches if d.sampler == "random" else sequential_batches
        return sample(self.tokens["train"], b, d.num_steps, g)

    def num_train_batches(self) -> int:
        n, b, s = len(self.tokens["train"]), self.cfg.train.batch_size, self.cfg.data.num_steps
        if self.cfg.data.sampler == "random":
            return (n - 1) // s // b
        return (n - 1) // b // s

    def train_batches(self, epoch):
        x, y = self._batches(epoch)
        self._state = None  # every epoch starts from a zero state (d2l's train_epoch_ch8)
        for k in range(len(x)):
            yield x[k].to(self.device), y[k].to(self.device)

    def train_step(self, model, batch):
        x, y = batch
        carry = self.cfg.data.sampler == "sequential"
        logits, state = model(x, self._state if carry else None)
        self._state = detach(state) if carry else None
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        return loss, y.numel()

    def train_metrics(self, mean_loss, items, seconds):
        return {"train_loss": mean_loss, "train_perplexity": math.exp(mean_loss),
                "tokens_per_s": items / seconds if seconds > 0 else float("nan")}

    # -- evaluation
    def evaluate(self, model, split):
        tokens = self.tokens["train" if split == "train" else "val"]
        loss, _ = mean_nll(model, tokens, self.cfg.train.batch_size, self.cfg.data.num_steps,
                           self.device)
        return perplexity_figures(loss)

    def baselines(self) -> dict[str, dict[str, float]]:
        """What the network must beat on the held-out text: unigram and uniform models."""
        unigram = unigram_nll(self.tokens["train"], self.tokens["val"], len(self.vocab))
        return {"unigram": perplexity_figures(unigram),
                "uniform": perplexity_figures(math.log(len(self.vocab)))}

    def samples(self, model: nn.Module) -> dict[str, str]:
        """Greedy continuations of the configured prefixes (those the vocabulary can read)."""
        if self._samples is None:
            d = self.cfg.data
            word = d.level == "word"
            own_text = d.source == "text" and d.prefixes == PREFIXES  # not about time travel
            prefixes = [] if own_text else [p for p in d.prefixes if p and not
                                            self.vocab.unknown(to_tokens(p, d.level))]
            if not prefixes and self.held_out_start:  # then: the start of the held-out text
                prefixes = [(" " if word else "").join(self.held_out_start)]
            self._samples = {p: generate(model, self.vocab, to_tokens(p, d.level),
                                         d.sample_length, device=self.device,
                                         sep=" " if word else "")
                             for p in prefixes}
        return self._samples

    def test_report(self, model):
        return {"test": self.evaluate(model, "test"), "train": self.evaluate(model, "train"),
                "baselines": self.baselines(), "samples": self.samples(model)}

    def figures(self, model, run_dir: Path, history):
        paths = [figures.loss_curve(history, run_dir / "loss.png"),
                 figures.curves(history, ["train_perplexity", "val_perplexity"],
                                run_dir / "perplexity.png", ylabel="perplexity",
                                title="Perplexity (train, held-out)", log=True)]
        lines = [f"{prefix}\n  -> {text}\n" for prefix, text in self.samples(model).items()]
        path = run_dir / SAMPLES_FILE
        d = self.cfg.data
        write_text(path, f"# greedy continuations ({d.sample_length} {d.level}s), "
                         f"weights of the best epoch\n" + "".join(lines))
        return paths + [path]

    # -- look inside
    def inspect_samples(self, count, texts=None):
        d, sep = self.cfg.data, (" " if self.cfg.data.level == "word" else "")
        if texts:
            samples = []
            for text in texts:
                tokens = to_tokens(text, d.level)
                if not tokens or self.vocab.unknown(tokens):
                    raise ConfigError(f"{text!r}: give text in the model's vocabulary "
                                      f"({len(self.vocab)} tokens)")
                samples.append(Sample((self.vocab.encode(tokens)[None].to(self.device),),
                                      None, text, list(tokens)))
            return samples
        held, steps = self.tokens["val"], d.num_steps
        samples = []
        for start in spread(count, len(held) - steps - 1):
            x, y = held[start:start + steps], held[start + 1:start + steps + 1]
            tokens = self.vocab.decode(x.tolist())
            samples.append(Sample((x[None].to(self.device),), y[None].to(self.device),
                                  sep.join(tokens)[-60:], tokens))
        return samples

    def sample_loss(self, model, sample):
        """Cross-entropy of the last token's prediction (of the greedy one on your text), so
        the gradient shows how far back the model reaches."""
        logits, _ = model(*sample.inputs)
        last = logits[:, -1]
        target = last.argmax(1).detach() if sample.target is None else sample.target[:, -1]
        return F.cross_entropy(last, target)

    # -- use a trained model
    @classmethod
    def for_prediction(cls, cfg, artifacts, data_dir=None, download=False, device="cpu"):
        """The vocabulary from the run's vocab.json is all generation needs: no text is read."""
        if VOCAB_FILE not in artifacts:
            raise RunNotFound(f"{VOCAB_FILE} is missing from the run folder: the run has not "
                              "finished an epoch yet, or its folder was altered")
        task = cls.__new__(cls)
        Task.__init__(task, cfg, data_dir, download, device)
        task.vocab = Vocab.from_dict(artifacts[VOCAB_FILE])
        return task

    def predict(self, model, inputs, length: int = 100, temperature: float = 0.0,
                seed: int | None = None, **options) -> list[str]:
        """Each prefix (a string or a list) continued by ``length`` tokens: greedy at
        temperature 0, else sampled (reproducibly with ``seed``)."""
        prefixes = [inputs] if isinstance(inputs, str) else list(inputs)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        return [generate_text(model, self.vocab, self.cfg, p, length, temperature, generator)
                for p in prefixes]

    @classmethod
    def check_predict_inputs(cls, inputs, options):
        if options.length < 0:
            raise ConfigError(f"--length must be >= 0, got {options.length}")

    def predict_command(self, model, inputs, options: PredictOptions):
        return self.predict(model, inputs or ["time traveller"], options.length,
                            options.temperature, options.seed)
