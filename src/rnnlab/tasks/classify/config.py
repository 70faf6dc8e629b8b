"""The ``data:`` and ``model:`` sections of a classification config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...config import ModelConfig, RunConfig, option
from ...data.sources.files import PARQUET, TABLES, settle_source
from ...data.windows import check_ratios
from ...errors import ConfigError
from ...util import suggest

REGISTERED = ("names", "reviews", "checkins")


@dataclass
class ClassifyData:
    """The ``data:`` section of a classification config."""

    dataset: str = option(
        "names", "names (surnames -> language), reviews (Chinese reviews -> sentiment or "
        "category), checkins (FourSquare -> next venue category); with data.path (your own "
        "file) leave it out")
    source: Literal["auto", "registry", "labelled_csv"] = option(
        "auto", "registry = data.dataset; labelled_csv = a CSV or Parquet table at data.path "
        "with a text and a label column; auto = registry without data.path, else labelled_csv")
    path: str = option("", "labelled_csv: your table; a relative path is looked up next to "
                       "the config file first, then in the current folder")
    text_column: str = option("text", "labelled_csv: column holding the texts")
    label_column: str = option("label", "labelled_csv: column holding the labels (any "
                               "values; at least two classes)")
    language: Literal["char", "en", "zh"] = option(
        "char", "labelled_csv tokens: char = characters; en = lower-cased words and "
        "punctuation; zh = jieba words (model.embedding: word2vec trains vectors on them, "
        "as for reviews)")
    target: Literal["label", "cat"] = option(
        "label", "reviews only: label (positive/negative) or cat (10 product categories)")
    ascii: bool = option(
        True, "names: fold letters to the PyTorch tutorial's 57 ASCII symbols ('Ślusàrski' -> "
        "'Slusarski'; 'ß' and 'ł' dropped); false keeps the 27 accented letters of the files "
        "as symbols of their own")
    split: list[float] = option(
        [0.8, 0.1, 0.1], "train/val/test ratios: names and labelled_csv stratified by class "
        "(seeded); checkins chronological per user, before windowing (reviews use the "
        "report's i % 5 rule)")
    split_seed: int | None = option(
        None, "seed of the split and of data.limit's subset; empty = the run's seed. Set it "
        "to compare or ensemble runs with different seeds on the same test rows", ge=0)
    max_length: int = option(100, "longest sequence kept (reviews: words incl. <s> and </s>; "
                             "names: letters; checkins: check-ins; labelled_csv: tokens); "
                             "longer ones are cut", ge=2)
    limit: int | None = option(None, "use a random subset of this many rows (reviews, names, "
                               "labelled_csv) or users (checkins), e.g. for quick runs", ge=10)
    vector_size: int = option(100, "reviews: word2vec vector size", ge=1)
    w2v_window: int = option(5, "reviews: word2vec context window", ge=1)
    w2v_min_count: int = option(1, "reviews: word2vec minimum word count", ge=1)
    w2v_negative: int = option(5, "reviews: word2vec negative samples", ge=0)
    w2v_epochs: int = option(5, "reviews: word2vec training epochs", ge=1)
    city: Literal["NYC", "TKY"] = option("NYC", "checkins: New York or Tokyo")
    span_hours: float = option(24.0, "checkins: time span of a window, hours", gt=0)
    step_hours: float = option(1.0, "checkins: hours between window starts", gt=0)
    min_length: int = option(3, "checkins: fewest check-ins per window (input = all but the "
                             "last, target = the last)", ge=2)
    monitor: Literal["f1_macro", "accuracy"] = option(
        "f1_macro", "validation metric that selects the best epoch (higher is better)")
    class_weights: Literal["none", "balanced"] = option(
        "none", "cross-entropy class weights: balanced = n / (classes * count) on train")
    label_smoothing: float = option(
        0.0, "training loss only: mix this share of a uniform distribution into the "
        "one-hot target (torch's cross_entropy label_smoothing); validation and test loss "
        "stay plain", ge=0, lt=1)

    def check(self) -> None:
        if self.dataset not in ("", *REGISTERED):
            raise ConfigError(f"data.dataset: {self.dataset!r} is not a valid choice."
                              f"{suggest(self.dataset, REGISTERED)} Valid: "
                              f"{', '.join(REGISTERED)} (or your own file as data.path)")
        settle_source(self, {"labelled_csv": TABLES + PARQUET}, "names",
                      {k: ("labelled_csv",) for k in ("text_column", "label_column",
                                                      "language")})
        if len(self.split) != 3:
            raise ConfigError(f"data.split needs 3 ratios (train/val/test), got {self.split}")
        check_ratios(self.split, "data.split")
        if self.target != "label" and self.dataset != "reviews":
            raise ConfigError("data.target applies to dataset 'reviews' only; remove it")
        if not self.ascii and (self.dataset != "names" or self.source != "registry"):
            raise ConfigError("data.ascii applies to dataset 'names' only (other texts keep "
                              "their letters as written); remove it")


@dataclass
class ClassifyModel(ModelConfig):
    """The ``model:`` section of a classification config: input encoding, layer, pooling, head."""

    form: Literal["layer", "tutorial"] = option(
        "layer", "layer: the recurrent layer of model.kind/impl; tutorial: the PyTorch "
        "tutorial's RNN (i2h and i2o on [x, h], LogSoftmax), run over packed batches")
    embedding: Literal["onehot", "learned", "word2vec"] = option(
        "onehot", "token input: one-hot, a learned embedding, or word2vec vectors (reviews)")
    embedding_dim: int = option(64, "size of a learned embedding", ge=1)
    freeze_embedding: bool = option(True, "keep word2vec vectors fixed (false: fine-tune)")
    pooling: Literal["last", "mean", "max"] = option(
        "last", "sequence summary fed to the head: final state, or mean/max of the "
        "outputs over the valid steps")
    head_dropout: float = option(0.0, "dropout before the linear head", ge=0, lt=1)
    input_dropout: float = option(0.0, "dropout on the input vectors (one-hot or embedding) "
                                  "of every step, during training", ge=0, lt=1)

    def check(self) -> None:
        super().check()
        if self.form == "tutorial" and (self.kind != "rnn" or self.num_layers != 1
                                        or self.bidirectional or self.pooling != "last"):
            raise ConfigError("model.form 'tutorial' is one-layer, one-direction kind 'rnn' "
                              "with pooling 'last'; set model.form: layer for other models")



def check_config(cfg: RunConfig) -> None:
    """The data and model keys that must fit together."""
    d, m = cfg.data, cfg.model
    own = d.source == "labelled_csv"
    if m.embedding == "word2vec" and d.dataset != "reviews" and not (
            own and d.language in ("en", "zh")):
        raise ConfigError("model.embedding 'word2vec' is for dataset 'reviews' or your own "
                          "labelled_csv with data.language en or zh; use onehot or learned")
