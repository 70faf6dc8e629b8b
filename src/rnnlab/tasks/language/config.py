"""The ``data:`` and ``model:`` sections of a language-modelling config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...config import ModelConfig, option
from ...data.sources.files import settle_source
from ...errors import ConfigError

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
        settle_source(self, {"text": (".txt", ".text", ".md", "")}, "timemachine",
                      {"encoding": ("text",)})



@dataclass
class LanguageModelConfig(ModelConfig):
    """The ``model:`` section: a recurrent layer read left to right, then a linear decoder."""

    def check(self) -> None:
        super().check()
        if self.bidirectional:
            raise ConfigError("model.bidirectional: a language model predicts the next token "
                              "from the past only, so it cannot read backwards. Set it to false.")

