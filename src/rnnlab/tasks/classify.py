"""Sequence classification: a variable-length sequence in, one label out.

Three datasets of the lab:

* ``names``: surnames -> language (report 004, the PyTorch char-RNN tutorial);
  ASCII letters one-hot (57) or embedded; stratified train/val/test split.
* ``reviews``: Chinese shopping reviews -> positive/negative (``target: label``)
  or product category (``target: cat``) (report 001): jieba words, word2vec CBOW
  vectors trained on the training split, rows i % 5 == 4 validation and
  i % 5 == 0 test (rows numbered from 1), the rest training.
* ``checkins``: FourSquare check-ins (slides 002): per user, in time order,
  windows of a fixed time span (variable length) of venue categories plus the
  hour of day -> the category of the window's last check-in.

Sequences are batched with padding + ``PackedSequence`` (never one at a time), in
buckets of similar length. Metrics: accuracy, macro and weighted F1 each epoch on
validation; on test also per-class precision/recall/F1/support and the confusion
matrix (scikit-learn), and for check-ins accuracy@5. The majority class of the
training split is the baseline beside every result.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score,
                             precision_recall_fscore_support)
from sklearn.model_selection import train_test_split
from torch import Tensor, nn

from .. import nn as rnn
from ..config import ModelConfig, _suggest, data_label, option
from ..data.padding import (Ragged, bucket_batches, last_rows, map_packed, masked_max,
                             masked_mean, pack, unpack)
from ..data.sources import loader
from ..data.windows import check_ratios, split_points, time_span_windows
from ..errors import ConfigError, DataError
from ..report import figures
from . import Task

SPLITS = ("train", "val", "test")
HOURS = 24
REGISTERED = ("names", "reviews", "checkins")
ONEHOT_LIMIT = 3000  # one-hot inputs wider than this: ask for an embedding instead


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
        from ..data.sources.files import PARQUET, TABLES, settle_source

        if self.dataset not in ("", *REGISTERED):
            raise ConfigError(f"data.dataset: {self.dataset!r} is not a valid choice."
                              f"{_suggest(self.dataset, REGISTERED)} Valid: "
                              f"{', '.join(REGISTERED)} (or your own file as data.path)")
        settle_source(self, {"labelled_csv": TABLES + PARQUET}, "names",
                      {k: ("labelled_csv",) for k in ("text_column", "label_column",
                                                      "language")})
        if len(self.split) != 3:
            raise ConfigError(f"data.split needs 3 ratios (train/val/test), got {self.split}")
        check_ratios(self.split, "data.split")


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


# ---------------------------------------------------------------- model

class TokenEncoder(nn.Module):
    """Token ids (plus an optional hour-of-day column) -> input vectors, on packed rows only."""

    def __init__(self, vocab_size: int, mode: str, dim: int = 64, hours: bool = False,
                 pretrained: Tensor | None = None, freeze: bool = True) -> None:
        super().__init__()
        self.vocab_size, self.mode, self.hours = vocab_size, mode, hours
        if mode == "word2vec":
            self.embedding = nn.Embedding.from_pretrained(pretrained, freeze=freeze, padding_idx=0)
        elif mode == "learned":
            self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.size = (vocab_size if mode == "onehot" else self.embedding.embedding_dim) \
            + (HOURS if hours else 0)

    def forward(self, data: Tensor) -> Tensor:
        ids = data[:, 0]
        x = F.one_hot(ids, self.vocab_size).float() if self.mode == "onehot" else self.embedding(ids)
        if self.hours:
            x = torch.cat([x, F.one_hot(data[:, 1], HOURS).float()], dim=1)
        return x


class TutorialRNN(nn.Module):
    """The PyTorch char-RNN tutorial's classifier, batched over packed sequences.

    ``combined = [x_t, h]``; ``h = i2h(combined)`` (no nonlinearity, as in the
    tutorial) and ``out = i2o(combined)``; the output at each sequence's own last
    step goes through LogSoftmax. The parameters are the tutorial's; the batched
    forward computes the same function faster, over packed rows (longest first, the
    active batch shrinking per step, no masking), and applies i2o only where it is
    read: at each sequence's last step.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, packed: PackedSequence) -> Tensor:
        x, sizes = packed.data, packed.batch_sizes.tolist()
        n_in = x.shape[1]
        # h = i2h([x, h]): the x-part for all steps in one matmul, then one addmm per step
        # over the sequences still running; only the h entering each step is kept.
        xh = F.linear(x, self.i2h.weight[:, :n_in], self.i2h.bias)
        w_h = self.i2h.weight[:, n_in:].t()
        h = x.new_zeros(sizes[0], self.hidden_size)
        entering = []
        for xt, bs in zip(xh.split(sizes), sizes):
            entering.append(h[:bs])
            h = torch.addmm(xt, h[:bs], w_h)
        # out = i2o([x, h]) is read at each sequence's own last step only
        last = last_rows(packed.batch_sizes).to(x.device)
        out = self.i2o(torch.cat([x[last], torch.cat(entering)[last]], dim=1))
        if packed.unsorted_indices is not None:
            out = out[packed.unsorted_indices]
        return self.softmax(out)


class SequenceClassifier(nn.Module):
    """Encoder -> recurrent layer over a PackedSequence -> pooled summary -> linear head."""

    def __init__(self, encoder: TokenEncoder, layer: nn.Module, classes: int,
                 pooling: str = "last", head_dropout: float = 0.0,
                 input_dropout: float = 0.0) -> None:
        super().__init__()
        self.encoder, self.rnn, self.pooling = encoder, layer, pooling
        self.tutorial = isinstance(layer, TutorialRNN)
        self.input_dropout = nn.Dropout(input_dropout)
        if not self.tutorial:
            self.directions = 2 if layer.bidirectional else 1
            self.dropout = nn.Dropout(head_dropout)
            self.head = nn.Linear(layer.hidden_size * self.directions, classes)

    def forward(self, packed_ids) -> Tensor:
        x = map_packed(lambda ids: self.input_dropout(self.encoder(ids)), packed_ids)
        if self.tutorial:
            return self.rnn(x)
        out, state = self.rnn(x)
        if self.pooling == "last":  # final state of each sequence, both directions
            h_n = state[0] if isinstance(state, tuple) else state
            summary = torch.cat(list(h_n[-self.directions:]), dim=1)
        else:
            padded, lengths = unpack(out)
            pool = masked_mean if self.pooling == "mean" else masked_max
            summary = pool(padded, lengths)
        return self.head(self.dropout(summary))


# ---------------------------------------------------------------- data preparation

def review_split(rows: np.ndarray) -> np.ndarray:
    """The report's split of rows numbered from 1: i % 5 == 4 val, i % 5 == 0 test, else train."""
    rows = np.asarray(rows)
    out = np.full(len(rows), "train", dtype=object)
    out[rows % 5 == 4] = "val"
    out[rows % 5 == 0] = "test"
    return out


def stratified_split(labels: np.ndarray, ratios, seed: int) -> dict[str, np.ndarray]:
    """Indices of a stratified train/val/test split with a fixed seed (sorted within parts)."""
    index = np.arange(len(labels))
    train_r, val_r, test_r = ratios
    try:
        train, rest = train_test_split(index, train_size=train_r, stratify=labels,
                                       random_state=seed)
        val, test = train_test_split(rest, train_size=val_r / (val_r + test_r),
                                     stratify=labels[rest], random_state=seed)
    except ValueError as err:  # a class too rare to appear in every split
        raise DataError(f"cannot split {len(labels)} sequences into stratified "
                        f"train/val/test parts ({err}). Raise data.limit (or remove it) "
                        "or give the smaller splits a larger share in data.split.") from None
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def gather_ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(lo[k], hi[k])`` for all k, without a Python loop."""
    lengths = hi - lo
    total = int(lengths.sum())
    starts = np.repeat(lo - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return starts + np.arange(total)


@dataclass
class Part:
    """One split: sequences (rows of token id columns) and their labels."""

    seqs: Ragged
    labels: Tensor


class ClassifyTask(Task):
    name = "classify"
    DataConfig = ClassifyData
    ModelConfig = ClassifyModel
    monitor_mode = "max"

    def __init__(self, cfg, data_dir=None, download=False, device="cpu"):
        super().__init__(cfg, data_dir, download, device)
        d, m = cfg.data, cfg.model
        self.monitor = f"val_{d.monitor}"
        self.split_seed = cfg.seed if d.split_seed is None else d.split_seed
        self.pretrained: Tensor | None = None
        self.hours = False
        self.display_classes: list[str] | None = None
        own = d.source == "labelled_csv"
        if m.embedding == "word2vec" and d.dataset != "reviews" and not (
                own and d.language in ("en", "zh")):
            raise ConfigError("model.embedding 'word2vec' is for dataset 'reviews' or your own "
                              "labelled_csv with data.language en or zh; use onehot or learned")
        if d.target != "label" and d.dataset != "reviews":
            raise ConfigError("data.target applies to dataset 'reviews' only; remove it")
        prepare = {"names": self._prepare_names, "reviews": self._prepare_reviews,
                   "checkins": self._prepare_checkins,
                   "": self._prepare_labelled}[d.dataset]
        self.parts: dict[str, Part] = prepare()
        for name, part in self.parts.items():
            if len(part.labels) == 0:
                raise DataError(f"the {name} split of {d.dataset} is empty; raise data.limit "
                                f"or change data.split")
        counts = torch.bincount(self.parts["train"].labels, minlength=len(self.classes))
        self.majority = int(counts.argmax())
        self.class_weight = None
        if d.class_weights == "balanced":
            n, k = counts.sum().item(), len(self.classes)
            self.class_weight = (n / (k * counts.clamp(min=1).double())).float().to(self.device)
        self._epoch_preds: list[Tensor] = []
        self._epoch_truth: list[Tensor] = []
        self._test: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    # -- datasets
    def _rng_subset(self, n: int) -> np.ndarray:
        """Sorted random subset of ``data.limit`` of ``n`` rows (all rows without a limit)."""
        limit = self.cfg.data.limit
        if limit is None or limit >= n:
            return np.arange(n)
        return np.sort(np.random.default_rng(self.split_seed).choice(n, limit, replace=False))

    def _prepare_names(self) -> dict[str, Part]:
        from ..data.sources.names import ALPHABET

        data = loader("names")(self.data_dir, self.download)
        keep = self._rng_subset(len(data.texts))
        texts = [data.texts[i][:self.cfg.data.max_length] for i in keep]
        labels = data.labels[keep]
        self.classes, self.vocab = list(data.classes), list(ALPHABET)
        lookup = {c: i for i, c in enumerate(ALPHABET)}
        flat = np.array([lookup[c] for c in "".join(texts)], dtype=np.int64)[:, None]
        seqs = Ragged.from_lengths(torch.from_numpy(flat),
                                   torch.tensor([len(t) for t in texts]))
        parts = stratified_split(labels, self.cfg.data.split, self.split_seed)
        return {k: self._part(seqs, labels, idx) for k, idx in parts.items()}

    def _word2vec_sequences(self, tokens: list[list[str]], which: np.ndarray
                            ) -> tuple[Ragged, np.ndarray]:
        """Token lists -> id sequences framed by <s> </s>, over word2vec vectors trained on the
        training rows (sets vocab and pretrained); also the flat ids, for OOV rates."""
        from ..data import wordvec

        d = self.cfg.data
        train_sentences = wordvec.with_bounds([t for t, w in zip(tokens, which) if w == "train"])
        vectors = wordvec.train_word2vec(
            train_sentences, vector_size=d.vector_size, window=d.w2v_window,
            min_count=d.w2v_min_count, negative=d.w2v_negative, epochs=d.w2v_epochs,
            seed=self.cfg.seed)
        self.vocab = ["<pad>", "<unk>", *vectors.words]
        matrix = np.zeros((len(self.vocab), vectors.vector_size), dtype=np.float32)
        matrix[2:] = vectors.vectors
        self.pretrained = torch.from_numpy(matrix)
        lookup = {w: i for i, w in enumerate(self.vocab)}
        cut = d.max_length - 2
        seqs = [[wordvec.BOS, *t[:cut], wordvec.EOS] for t in tokens]
        flat = np.fromiter((lookup.get(w, 1) for s in seqs for w in s), dtype=np.int64)
        ragged = Ragged.from_lengths(torch.from_numpy(flat[:, None]),
                                     torch.tensor([len(s) for s in seqs]))
        return ragged, flat

    def _prepare_labelled(self) -> dict[str, Part]:
        """The user's labelled table: tokens by data.language, a seeded stratified split."""
        from collections import Counter

        from ..data.sources.files import labelled_texts, tokenize

        d, m = self.cfg.data, self.cfg.model
        texts, labels, self.classes, self.dropped_rows = labelled_texts(
            Path(d.path), d.text_column, d.label_column)
        keep = self._rng_subset(len(texts))
        texts, labels = [texts[i] for i in keep], labels[keep]
        parts = stratified_split(labels, d.split, self.split_seed)
        which = np.full(len(labels), "train", dtype=object)
        for name, idx in parts.items():
            which[idx] = name
        tokens = tokenize(texts, d.language)
        if m.embedding == "word2vec":
            seqs, flat = self._word2vec_sequences(tokens, which)
        else:
            tokens = [t[:d.max_length] or ["<unk>"] for t in tokens]
            counts = Counter(w for t, w in zip(tokens, which) if w == "train" for w in t)
            self.vocab = ["<pad>", "<unk>", *sorted(counts, key=lambda w: (-counts[w], w))]
            if m.embedding == "onehot" and len(self.vocab) > ONEHOT_LIMIT:
                raise ConfigError(
                    f"model.embedding 'onehot' would make every input {len(self.vocab):,} wide "
                    f"(distinct {d.language} tokens of the training texts); set "
                    f"model.embedding: learned" + (" (or word2vec)" if d.language != "char"
                                                   else ""))
            lookup = {w: i for i, w in enumerate(self.vocab)}
            flat = np.fromiter((lookup.get(w, 1) for t in tokens for w in t), dtype=np.int64)
            seqs = Ragged.from_lengths(torch.from_numpy(flat[:, None]),
                                       torch.tensor([len(t) for t in tokens]))
        rows = np.repeat(which, seqs.lengths.numpy())
        self.oov_rate = {k: float(np.mean(flat[rows == k] == 1)) for k in SPLITS}
        return {k: self._part(seqs, labels, idx) for k, idx in parts.items()}

    def _prepare_reviews(self) -> dict[str, Part]:
        from ..data import wordvec
        from ..data.sources.reviews import CATEGORY_ENGLISH

        d = self.cfg.data
        frame = loader("reviews")(self.data_dir, self.download)
        keep = self._rng_subset(len(frame))
        frame = frame.iloc[keep]
        which = review_split(keep + 1)  # the report numbers rows from 1
        tokens = wordvec.segment(frame["review"].tolist())
        ragged, flat = self._word2vec_sequences(tokens, which)
        seqs = ragged.lengths.tolist()
        if d.target == "label":
            self.classes = ["negative", "positive"]
            labels = frame["label"].to_numpy(dtype=np.int64)
        else:
            self.classes = sorted(frame["cat"].unique())
            labels = frame["cat"].map({c: i for i, c in enumerate(self.classes)}).to_numpy(
                dtype=np.int64)
            self.display_classes = [CATEGORY_ENGLISH.get(c, c) for c in self.classes]
        self.oov_rate = {k: float(np.mean(flat[np.repeat(which, seqs) == k] == 1))
                         for k in SPLITS}
        return {k: self._part(ragged, labels, np.flatnonzero(which == k)) for k in SPLITS}

    def _prepare_checkins(self) -> dict[str, Part]:
        d = self.cfg.data
        frame = loader("checkins")(self.data_dir, self.download, city=d.city)
        users = np.sort(frame["userId"].unique())
        if d.limit is not None and d.limit < len(users):
            users = np.sort(np.random.default_rng(self.split_seed).choice(users, d.limit, False))
            frame = frame[frame["userId"].isin(users)]
        frame = frame.sort_values(["userId", "time"], kind="stable").reset_index(drop=True)
        counts = frame["venueCategory"].value_counts()
        self.classes = list(counts.index)  # most frequent first
        self.vocab = self.classes
        cat = frame["venueCategory"].map({c: i for i, c in enumerate(self.classes)}).to_numpy()
        values = np.stack([cat, frame["local_hour"].to_numpy()], axis=1).astype(np.int64)
        self.hours = True
        times = frame["time"].dt.tz_convert(None).to_numpy()  # naive UTC datetime64
        span, step = np.timedelta64(int(d.span_hours * 3600e9), "ns"), \
            np.timedelta64(int(d.step_hours * 3600e9), "ns")
        bounds = {k: ([], []) for k in SPLITS}
        starts = np.flatnonzero(np.r_[True, frame["userId"].to_numpy()[1:]
                                      != frame["userId"].to_numpy()[:-1]])
        ends = np.r_[starts[1:], len(frame)]
        for a, b in zip(starts, ends):  # one user at a time (a loop over users, not rows)
            cuts = split_points(b - a, d.split)
            for name, p, q in zip(SPLITS, cuts[:-1], cuts[1:]):
                _, lo, hi = time_span_windows(times[a + p:a + q], span, step,
                                              min_length=d.min_length, unique=True)
                bounds[name][0].append(lo + a + p)
                bounds[name][1].append(hi + a + p)
        parts = {}
        for name, (los, his) in bounds.items():
            lo = np.concatenate(los) if los else np.zeros(0, np.int64)
            hi = np.concatenate(his) if his else np.zeros(0, np.int64)
            lo = np.maximum(lo, hi - 1 - d.max_length)  # keep the latest max_length inputs
            rows = gather_ranges(lo, hi - 1)  # inputs: all but the window's last check-in
            seqs = Ragged.from_lengths(torch.from_numpy(values[rows]),
                                       torch.from_numpy(hi - 1 - lo))
            parts[name] = Part(seqs, torch.from_numpy(cat[hi - 1].astype(np.int64)))
        self.checkin_rows = len(frame)
        return parts

    @staticmethod
    def _part(seqs: Ragged, labels: np.ndarray, index: np.ndarray) -> Part:
        idx = torch.from_numpy(np.asarray(index, dtype=np.int64))
        rows = gather_ranges(seqs.offsets[idx].numpy(), seqs.offsets[idx + 1].numpy())
        sub = Ragged.from_lengths(seqs.values[torch.from_numpy(rows)], seqs.lengths[idx])
        return Part(sub, torch.from_numpy(np.asarray(labels)[index].astype(np.int64)))

    def describe(self):
        d = self.cfg.data
        out = {"dataset": data_label(d), "classes": len(self.classes), "vocab": len(self.vocab),
               "sequences": {k: len(p.labels) for k, p in self.parts.items()},
               "mean_length": {k: round(float(p.seqs.lengths.float().mean()), 2)
                               for k, p in self.parts.items()},
               "max_length": {k: int(p.seqs.lengths.max()) for k, p in self.parts.items()}}
        if d.dataset == "reviews":
            out["target"] = d.target
            out["oov_rate"] = self.oov_rate
        if d.source == "labelled_csv":
            out.update(source=d.source, language=d.language, class_names=self.classes,
                       dropped_rows=self.dropped_rows, oov_rate=self.oov_rate)
        if d.dataset == "checkins":
            out.update(city=d.city, checkins=self.checkin_rows, span_hours=d.span_hours,
                       step_hours=d.step_hours)
        return out

    def save_artifacts(self, run_dir: Path) -> None:
        """labels.json: class names and the vocabulary (alphabet / words / categories)."""
        d = self.cfg.data
        info = {"dataset": data_label(d), "target": d.target, "classes": self.classes,
                "vocab": self.vocab, "max_length": d.max_length,
                "input": ("token id" + (" + hour of day" if self.hours else ""))}
        tmp = Path(run_dir) / ".labels.json.tmp"
        tmp.write_text(json.dumps(info, ensure_ascii=False))
        tmp.replace(Path(run_dir) / "labels.json")

    # -- model
    def build_model(self) -> nn.Module:
        m = self.cfg.model
        encoder = TokenEncoder(len(self.vocab), m.embedding, m.embedding_dim, self.hours,
                               self.pretrained, m.freeze_embedding)
        if m.form == "tutorial":
            layer = TutorialRNN(encoder.size, m.hidden_size, len(self.classes))
        else:
            layer = rnn.build_rnn(m.kind, m.impl, input_size=encoder.size,
                                  hidden_size=m.hidden_size, num_layers=m.num_layers,
                                  nonlinearity=m.nonlinearity, batch_first=True,
                                  dropout=m.dropout, bidirectional=m.bidirectional, init=m.init)
        return SequenceClassifier(encoder, layer, len(self.classes), m.pooling, m.head_dropout,
                                  m.input_dropout)

    # -- training
    def num_train_batches(self) -> int:
        return math.ceil(len(self.parts["train"].labels) / self.cfg.train.batch_size)

    def train_batches(self, epoch):
        part = self.parts["train"]
        self._epoch_preds, self._epoch_truth = [], []
        gen = self.batch_generator(self.cfg.seed, epoch)
        for idx in bucket_batches(part.seqs.lengths, self.cfg.train.batch_size, gen):
            packed, _ = part.seqs.packed(idx)
            yield packed.to(self.device), part.labels[idx].to(self.device)

    def train_step(self, model, batch):
        packed, y = batch
        logits = model(packed)
        self._epoch_preds.append(logits.detach().argmax(1).cpu())
        self._epoch_truth.append(y.cpu())
        return F.cross_entropy(logits, y, weight=self.class_weight,
                               label_smoothing=self.cfg.data.label_smoothing), len(y)

    def train_metrics(self, mean_loss, items, seconds):
        out = {"train_loss": mean_loss}
        if self._epoch_preds:
            truth, pred = torch.cat(self._epoch_truth).numpy(), torch.cat(self._epoch_preds).numpy()
            out["train_accuracy"] = accuracy_score(truth, pred)
            out["train_f1_macro"] = f1_score(truth, pred, average="macro", zero_division=0)
        return out

    # -- evaluation
    @torch.no_grad()
    def logits(self, model: nn.Module, split: str, batch: int = 1024) -> Tensor:
        """Logits for every sequence of ``split``, in split order (batched by length)."""
        was_training = model.training
        model.eval()
        part = self.parts[split]
        order = torch.argsort(part.seqs.lengths, stable=True)
        out = torch.empty(len(order), len(self.classes))
        for idx in order.split(batch):
            packed, _ = part.seqs.packed(idx)
            out[idx] = model(packed.to(self.device)).float().cpu()
        model.train(was_training)
        return out

    def _metrics(self, truth: np.ndarray, logits: Tensor) -> dict[str, float]:
        pred = logits.argmax(1).numpy()
        out = {"loss": float(F.cross_entropy(logits, torch.from_numpy(truth),
                                             weight=None if self.class_weight is None
                                             else self.class_weight.cpu())),
               "accuracy": accuracy_score(truth, pred),
               "f1_macro": f1_score(truth, pred, average="macro", zero_division=0),
               "f1_weighted": f1_score(truth, pred, average="weighted", zero_division=0)}
        if self.cfg.data.dataset == "checkins":
            k = min(5, logits.shape[1])
            top = logits.topk(k, dim=1).indices.numpy()
            out["accuracy@5"] = float(np.mean((top == truth[:, None]).any(1)))
        return out

    def evaluate(self, model, split):
        return self._metrics(self.parts[split].labels.numpy(), self.logits(model, split))

    def baselines(self, split: str = "test") -> dict[str, dict[str, float]]:
        """Always predicting the training split's most frequent class."""
        truth = self.parts[split].labels.numpy()
        pred = np.full_like(truth, self.majority)
        out = {"accuracy": accuracy_score(truth, pred),
               "f1_macro": f1_score(truth, pred, average="macro", zero_division=0),
               "f1_weighted": f1_score(truth, pred, average="weighted", zero_division=0)}
        return {"majority_class": out}

    def test_report(self, model):
        truth = self.parts["test"].labels.numpy()
        logits = self.logits(model, "test")
        pred = logits.argmax(1).numpy()
        tables, cm = self.class_tables(truth, pred)
        self._test = (truth, pred, cm)
        return {"test": self._metrics(truth, logits), "baselines": self.baselines("test"),
                **tables, "seen_in_train": self.seen_in_train(truth, pred)}

    def class_tables(self, truth: np.ndarray, pred: np.ndarray) -> tuple[dict, np.ndarray]:
        """Per-class precision / recall / F1 / support (and, up to 30 classes, the confusion
        matrix) for summary.json, and the confusion matrix itself."""
        labels = np.arange(len(self.classes))
        p, r, f, s = precision_recall_fscore_support(truth, pred, labels=labels, zero_division=0)
        cm = confusion_matrix(truth, pred, labels=labels)
        per_class = {name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                            "support": int(s[i])} for i, name in enumerate(self.classes)}
        tables = {"classes": self.classes, "per_class": per_class}
        if len(self.classes) <= 30:
            tables["confusion_matrix"] = cm.tolist()
        return tables, cm

    def seen_in_train(self, truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
        """Accuracy on the test sequences whose exact tokens also occur in training, and on
        the rest: memorisation vs generalisation (names repeat across languages, reviews
        repeat verbatim)."""
        def keys(seqs: Ragged) -> list[bytes]:
            v, o = seqs.values.numpy(), seqs.offsets.tolist()
            return [v[o[i]:o[i + 1]].tobytes() for i in range(len(seqs))]

        train = set(keys(self.parts["train"].seqs))
        seen = np.array([k in train for k in keys(self.parts["test"].seqs)], dtype=bool)
        right = truth == pred
        return {"share": float(seen.mean()) if len(seen) else 0.0, "count": int(seen.sum()),
                "accuracy_seen": float(right[seen].mean()) if seen.any() else None,
                "accuracy_unseen": float(right[~seen].mean()) if (~seen).any() else None}

    def fingerprint(self, split: str) -> str:
        """A digest of the split's sequences (as tokens, not ids) and labels: two runs with the
        same fingerprint were evaluated on the same rows, whatever their vocabularies' order."""
        import hashlib

        part = self.parts[split]
        values = part.seqs.values
        digest = hashlib.sha256(json.dumps(self.classes, ensure_ascii=False).encode())
        digest.update("\x1f".join(self.vocab[i] for i in values[:, 0].tolist()).encode())
        for array in (values[:, 1:], part.seqs.lengths, part.labels):
            digest.update(array.contiguous().numpy().tobytes())
        return digest.hexdigest()

    def figures(self, model, run_dir: Path, history):
        run_dir = Path(run_dir)
        paths = [figures.loss_curve(history, run_dir / "loss.png")]
        paths.append(figures.classification_curves(history, run_dir / "metrics.png"))
        if self._test is None:
            self.test_report(model)
        return paths + self.confusion_figures(*self._test, run_dir)

    def confusion_figures(self, truth: np.ndarray, pred: np.ndarray, cm: np.ndarray,
                          out_dir: Path) -> list[Path]:
        """confusion.csv, confusion.png (row-normalised) and per_class_f1.png in ``out_dir``."""
        out_dir = Path(out_dir)
        names = self.display_classes or self.classes
        np.savetxt(out_dir / "confusion.csv", cm, fmt="%d", delimiter=",")
        paths = []
        shown = np.arange(len(names))
        if len(names) > 30:  # the 30 most frequent test classes keep the heatmap readable
            shown = np.sort(np.argsort(-cm.sum(1), kind="stable")[:30])
        paths.append(figures.confusion_heatmap(cm[np.ix_(shown, shown)],
                                               [names[i] for i in shown],
                                               out_dir / "confusion.png"))
        f1 = f1_score(truth, pred, labels=shown, average=None, zero_division=0)
        paths.append(figures.per_class_bars([names[i] for i in shown], f1,
                                            out_dir / "per_class_f1.png"))
        return paths

    # -- use a trained model
    def encode_texts(self, texts: list[str]) -> Ragged:
        """New names or reviews as token-id sequences, the way the training data was encoded."""
        d = self.cfg.data
        if d.dataset == "checkins":
            raise ConfigError("predicting from text works for names, reviews and your own "
                              "labelled_csv; check-in "
                              "windows come from the dataset (use `rnnlab eval`)")
        if not texts or any(not t.strip() for t in texts):
            raise ConfigError("give at least one non-empty text to classify")
        lookup = {w: i for i, w in enumerate(self.vocab)}
        if d.dataset == "names":
            from ..data.sources.names import unicode_to_ascii

            seqs = []
            for text in texts:
                folded = unicode_to_ascii(text.strip())[:d.max_length]
                if not folded:
                    raise ConfigError(f"{text!r} has no letters of the names alphabet "
                                      "(a-z, A-Z, space and .,;')")
                seqs.append([lookup[c] for c in folded])
        elif d.dataset == "" and self.pretrained is None:  # own table, own vocabulary
            from ..data.sources.files import tokenize

            seqs = [[lookup.get(w, 1) for w in (t[:d.max_length] or ["<unk>"])]
                    for t in tokenize([t.strip() for t in texts], d.language)]
        else:
            from ..data import wordvec
            from ..data.sources.files import tokenize

            cut = d.max_length - 2
            tokens = (wordvec.segment(texts, cache=False) if d.dataset == "reviews"
                      or d.language == "zh" else tokenize(texts, d.language))
            seqs = [[lookup.get(w, 1) for w in (wordvec.BOS, *t[:cut], wordvec.EOS)]
                    for t in tokens]
        flat = torch.tensor([i for s in seqs for i in s], dtype=torch.int64)[:, None]
        return Ragged.from_lengths(flat, torch.tensor([len(s) for s in seqs]))

    @torch.no_grad()
    def predict_texts(self, model: nn.Module, texts: list[str], top: int = 3
                      ) -> list[list[tuple[str, float]]]:
        """The ``top`` most likely classes of each text, with their probabilities."""
        seqs = self.encode_texts(texts)
        model.eval()
        packed, _ = seqs.packed(torch.arange(len(texts)))
        probs = torch.softmax(model(packed.to(self.device)).float().cpu(), dim=1)
        names = self.display_classes or self.classes
        values, index = probs.topk(min(top, len(names)), dim=1)
        return [[(names[i], float(p)) for p, i in zip(vs, ix)]
                for vs, ix in zip(values.tolist(), index.tolist())]
