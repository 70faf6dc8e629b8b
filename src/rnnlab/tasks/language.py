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

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .. import nn as rnn
from ..config import ModelConfig, RunConfig, data_label, option
from ..data.sources import loader
from ..data.text import (Vocab, preprocess, random_batches, sequential_batches, streams)
from ..errors import ConfigError, DataError, RunNotFound
from ..report import figures
from . import Task

# The ten prefixes of report 003 (d2l's predict_ch8 over the lab's phrases).
PREFIXES = [
    "time traveller",
    "traveller",
    "the time traveller says that",
    "when the time traveller returns to the garden",
    "the time traveller begins learning the language",
    "the time traveller determines that",
    "the time traveller knows he will have to stop",
    "when he wakes up",
    "the time traveller finds himself",
    "the time traveller tells the narrator to wait for him",
]
VOCAB_FILE = "vocab.json"
SAMPLES_FILE = "samples.txt"


@dataclass
class LanguageData:
    """The ``data:`` section of a language-modelling config (batch size is train.batch_size)."""

    dataset: str = option("timemachine", "registered text dataset (see `rnnlab datasets`); "
                          "with data.path (your own file) leave it out")
    source: Literal["auto", "registry", "text"] = option(
        "auto", "registry = data.dataset; text = a plain-text file at data.path; auto = "
        "registry without data.path, else text")
    path: str = option("", "text: your corpus; a relative path is looked up next to the "
                       "config file first, then in the current folder")
    encoding: str = option("utf-8", "text: the file's encoding (utf-8, latin-1, gbk, ...)")
    level: Literal["char", "word"] = option(
        "char", "tokens: characters, or words (the cleaned text split at white space)")
    clean: Literal["letters", "lower", "none"] = option(
        "letters", "letters: d2l's cleaning (lower-case, every run of non-letters -> one "
        "space; English only); lower: lower-case, nothing removed; none: the text as it is. "
        "For text in other scripts use lower or none")
    min_freq: int = option(1, "tokens seen fewer times in the training text become <unk> "
                           "(useful with level: word)", ge=1)
    line_breaks: Literal["drop", "space"] = option(
        "drop", "clean: letters only. drop: lines are cleaned and joined with nothing between "
        "them (d2l exactly); space: a line break separates words like a space")
    sampler: Literal["sequential", "random"] = option(
        "sequential", "sequential: batch rows continue one another and the hidden state is "
        "carried across batches (truncated BPTT; d2l's default); random: shuffled chunks, "
        "a fresh state per batch")
    num_steps: int = option(35, "time steps per training chunk (truncation length)", ge=1)
    val_fraction: float = option(0.1, "the last part of the text held out for perplexity",
                                 gt=0, lt=1)
    input: Literal["one_hot", "embedding"] = option(
        "one_hot", "how a token enters the network: one-hot vector (d2l) or learned embedding")
    embed_dim: int = option(32, "embedding size (input: embedding)", ge=1)
    sample_length: int = option(100, "tokens (characters, or words with level: word) generated "
                                "after each prefix for samples.txt", ge=1)
    prefixes: list[str] = option(PREFIXES, "prefixes whose continuations go into samples.txt")
    max_train_tokens: int | None = option(
        None, "train on only the first N tokens of the training text (d2l's "
        "load_data_time_machine keeps 10,000); the vocabulary and held-out text are unchanged",
        ge=1)

    def check(self) -> None:
        from ..data.sources.files import settle_source

        settle_source(self, {"text": (".txt", ".text", ".md", "")}, "timemachine",
                      {"encoding": ("text",)})


def clean_text(raw: str, clean: str, line_breaks: str = "drop") -> str:
    """The text as data.clean says: d2l's letters-only cleaning, lower-case, or untouched."""
    if clean == "letters":
        return preprocess(raw, line_breaks)
    return raw.lower() if clean == "lower" else raw


def to_tokens(text: str, level: str) -> list[str]:
    """Characters, or the words between white space."""
    return text.split() if level == "word" else list(text)


@dataclass
class LanguageModelConfig(ModelConfig):
    """The ``model:`` section: a recurrent layer read left to right, then a linear decoder."""

    def check(self) -> None:
        super().check()
        if self.bidirectional:
            raise ConfigError("model.bidirectional: a language model predicts the next token "
                              "from the past only, so it cannot read backwards. Set it to false.")


class LanguageNet(nn.Module):
    """Tokens (batch, steps) -> logits over the vocabulary (batch, steps, vocab) and the state."""

    def __init__(self, rnn_layer: nn.Module, vocab_size: int, embedding: int | None = None):
        super().__init__()
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, embedding) if embedding else None
        self.rnn = rnn_layer
        self.decoder = nn.Linear(rnn_layer.hidden_size, vocab_size)

    def forward(self, tokens: Tensor, state=None):
        if self.embed is not None:
            x = self.embed(tokens)
        else:
            x = F.one_hot(tokens, self.vocab_size).to(self.decoder.weight.dtype)
        out, state = self.rnn(x, state)
        return self.decoder(out), state


def make_model(cfg: RunConfig, vocab_size: int) -> LanguageNet:
    """The network a language config describes, for a vocabulary of ``vocab_size`` tokens."""
    m, d = cfg.model, cfg.data
    embedding = d.embed_dim if d.input == "embedding" else None
    layer = rnn.build_rnn(m.kind, m.impl, input_size=embedding or vocab_size,
                          hidden_size=m.hidden_size, num_layers=m.num_layers,
                          nonlinearity=m.nonlinearity, batch_first=True, dropout=m.dropout,
                          init=m.init)
    return LanguageNet(layer, vocab_size, embedding)


def detach(state):
    """The state cut from the graph of the batch that produced it (truncated BPTT)."""
    if state is None:
        return None
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


@torch.no_grad()
def mean_nll(model: nn.Module, tokens: Tensor, rows: int, num_steps: int,
             device: torch.device | str = "cpu") -> tuple[float, int]:
    """Mean per-token cross-entropy (nats) of ``model`` on ``tokens`` and how many it scored.

    The text is read as ``rows`` contiguous streams, ``num_steps`` at a time,
    carrying the state, so each token is predicted from everything before it in
    its stream.
    """
    model.eval()
    x, y = streams(tokens, rows)
    x, y = x.to(device), y.to(device)
    state, total = None, 0.0
    for a in range(0, x.shape[1], num_steps):
        logits, state = model(x[:, a:a + num_steps], state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                 y[:, a:a + num_steps].reshape(-1), reduction="sum").item()
    return total / y.numel(), y.numel()


def perplexity_figures(mean_loss: float) -> dict[str, float]:
    return {"loss": mean_loss, "perplexity": math.exp(mean_loss)}


def unigram_nll(train: Tensor, held_out: Tensor, vocab_size: int) -> float:
    """Mean cross-entropy on ``held_out`` of token frequencies counted on ``train`` (add-one)."""
    counts = torch.bincount(train, minlength=vocab_size).double() + 1
    log_p = torch.log(counts / counts.sum())
    return float(-log_p[held_out].mean())


@torch.no_grad()
def generate(model: LanguageNet, vocab: Vocab, prefix: str, length: int,
             temperature: float = 0.0, generator: torch.Generator | None = None,
             device: torch.device | str = "cpu", sep: str = "") -> str:
    """``prefix`` and ``length`` tokens continuing it: the most likely token at each step
    when ``temperature`` is 0, else a draw from softmax(logits / temperature).

    ``prefix`` is a sequence of tokens (a string = characters); ``<unk>`` is never produced.
    """
    if len(prefix) == 0:
        raise ConfigError("the prefix is empty: give at least one token, e.g. --prefix "
                          "'time traveller'")
    if temperature < 0:
        raise ConfigError(f"--temperature must be >= 0 (0 = greedy), got {temperature}")
    missing = vocab.unknown(prefix)
    if missing:
        known = "".join(t for t in vocab.idx_to_token[1:] if len(t) == 1)
        raise ConfigError(
            f"the prefix holds {', '.join(repr(t) for t in missing)}, not in the model's "
            f"vocabulary ({len(vocab)} tokens: {known!r} and <unk>). The training text was "
            f"lowercased with every non-letter turned into a space; write the prefix that way.")
    model.eval()
    logits, state = model(vocab.encode(prefix).view(1, -1).to(device))
    out: list[int] = []
    for _ in range(length):
        last = logits[0, -1].double().cpu()
        if len(vocab) > 1:
            last[vocab.unk] = -math.inf
        if temperature == 0:
            token = int(last.argmax())
        else:
            probs = torch.softmax(last / temperature, dim=0)
            token = int(torch.multinomial(probs, 1, generator=generator))
        out.append(token)
        logits, state = model(torch.tensor([[token]], device=device), state)
    return sep.join([*prefix, *vocab.decode(out)])


def generate_text(model: LanguageNet, vocab: Vocab, cfg: RunConfig, prefix: str, length: int,
                  temperature: float = 0.0, generator: torch.Generator | None = None) -> str:
    """:func:`generate` from a prefix written as text: split into words for a word-level run."""
    word = getattr(cfg.data, "level", "char") == "word"
    return generate(model, vocab, to_tokens(prefix, "word") if word else prefix, length,
                    temperature, generator, sep=" " if word else "")


def load_run(run_dir: Path, checkpoint: str = "best.pt") -> tuple[LanguageNet, Vocab, RunConfig]:
    """The trained network, vocabulary and config of a language-model run folder."""
    import yaml

    from .. import config as config_mod
    from ..train import load_checkpoint

    cfg = config_mod.from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()),
                               source=str(run_dir / "config.yaml"))
    if cfg.task != "language":
        raise ConfigError(f"run {run_dir.name} is a {cfg.task!r} run; generation needs a "
                          f"language-model run (task: language)")
    vocab_path, weights = run_dir / VOCAB_FILE, run_dir / checkpoint
    for path in (vocab_path, weights):
        if not path.is_file():
            raise RunNotFound(f"{path} is missing: the run has not finished an epoch yet, "
                              f"or its folder was altered")
    vocab = Vocab.from_dict(json.loads(vocab_path.read_text()))
    model = make_model(cfg, len(vocab))
    model.load_state_dict(load_checkpoint(weights)["model"])
    return model.eval(), vocab, cfg


class LanguageTask(Task):
    name = "language"
    DataConfig = LanguageData
    ModelConfig = LanguageModelConfig
    monitor = "val_perplexity"
    monitor_mode = "min"

    def __init__(self, cfg, data_dir=None, download=False, device="cpu"):
        super().__init__(cfg, data_dir, download, device)
        d = cfg.data
        if d.source == "text":
            from ..data.sources.files import read_text

            raw = read_text(Path(d.path), d.encoding)
        else:
            raw = loader(d.dataset)(data_dir, download)
        if not isinstance(raw, str):
            raise ConfigError(f"dataset {d.dataset!r} is not a text; the language task needs "
                              f"one, e.g. data.dataset=timemachine")
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

    def save_artifacts(self, run_dir: Path) -> None:
        (run_dir / VOCAB_FILE).write_text(json.dumps(self.vocab.to_dict(), indent=1))

    def build_model(self) -> nn.Module:
        return make_model(self.cfg, len(self.vocab))

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
        path.write_text(f"# greedy continuations ({d.sample_length} {d.level}s), "
                        f"weights of the best epoch\n" + "".join(lines))
        return paths + [path]
