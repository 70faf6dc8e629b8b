"""Labelled sequences for classification: token-id sequences in train/val/test parts.

Each classification dataset (names, reviews, check-ins, a user's labelled table)
turns its raw data into a :class:`LabelledSequences`: ragged sequences of token ids
(plus an hour-of-day column for check-ins), one label per sequence, the class and
token names, and how to encode new texts the same way for prediction. The helpers
here are what those preparations share: seeded subsets, stratified splits, gathering
rows, vocabularies and word2vec-framed sequences.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from . import wordvec
from .padding import Ragged

SPLITS = ("train", "val", "test")


@dataclass
class Part:
    """One split: sequences (rows of token id columns) and their labels."""

    seqs: Ragged
    labels: Tensor


@dataclass
class LabelledSequences:
    """A classification dataset, split and encoded.

    ``encode`` turns new texts into token-id lists the way the training texts were
    encoded (None: the dataset's inputs are not texts). ``facts`` are stored with the run.
    """

    parts: dict[str, Part]
    classes: list[str]
    vocab: list[str]
    encode: Callable[[list[str]], list[list[int]]] | None = None
    display_classes: list[str] | None = None  # names to show, when the classes are codes
    pretrained: Tensor | None = None  # word2vec rows aligned with vocab
    hours: bool = False  # a second id column: the hour of day (0-23)
    top5: bool = False  # also report accuracy@5 (many classes, e.g. venue categories)
    facts: dict = field(default_factory=dict)


def subset(n: int, limit: int | None, seed: int) -> np.ndarray:
    """Sorted random subset of ``limit`` of ``n`` rows (all rows without a limit)."""
    if limit is None or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def stratified_split(labels: np.ndarray, ratios, seed: int) -> dict[str, np.ndarray]:
    """Indices of a stratified train/val/test split with a fixed seed (sorted within parts)."""
    from sklearn.model_selection import train_test_split  # 1.5 s: only when a split is made

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


def take(seqs: Ragged, labels: np.ndarray, index: np.ndarray) -> Part:
    """The sequences and labels at ``index``, as one part."""
    idx = torch.from_numpy(np.asarray(index, dtype=np.int64))
    rows = gather_ranges(seqs.offsets[idx].numpy(), seqs.offsets[idx + 1].numpy())
    sub = Ragged.from_lengths(seqs.values[torch.from_numpy(rows)], seqs.lengths[idx])
    return Part(sub, torch.from_numpy(np.asarray(labels)[index].astype(np.int64)))


def id_sequences(flat: np.ndarray, lengths: Sequence[int]) -> Ragged:
    """Flat token ids and the length of each sequence -> one-column ragged sequences."""
    return Ragged.from_lengths(torch.from_numpy(flat[:, None]), torch.tensor(list(lengths)))


def oov_rates(flat: np.ndarray, rows: np.ndarray) -> dict[str, float]:
    """Share of ``<unk>`` (id 1) tokens per split; ``rows`` gives each token's split."""
    return {k: float(np.mean(flat[rows == k] == 1)) for k in SPLITS}


def framed_word2vec(tokens: list[list[str]], which: np.ndarray, d, seed: int
                    ) -> tuple[Ragged, np.ndarray, list[str], Tensor]:
    """Token lists -> id sequences framed by <s> </s>, over word2vec vectors trained on the
    rows ``which`` marks "train" (settings: ``d.vector_size``, ``d.w2v_*``, ``d.max_length``).

    Returns the sequences, their flat ids (for OOV rates), the vocabulary
    (``<pad>``, ``<unk>``, then word2vec's words) and its vector matrix.
    """
    train_sentences = wordvec.with_bounds([t for t, w in zip(tokens, which) if w == "train"])
    vectors = wordvec.train_word2vec(
        train_sentences, vector_size=d.vector_size, window=d.w2v_window,
        min_count=d.w2v_min_count, negative=d.w2v_negative, epochs=d.w2v_epochs, seed=seed)
    vocab = ["<pad>", "<unk>", *vectors.words]
    matrix = np.zeros((len(vocab), vectors.vector_size), dtype=np.float32)
    matrix[2:] = vectors.vectors
    lookup = {w: i for i, w in enumerate(vocab)}
    cut = d.max_length - 2
    seqs = [[wordvec.BOS, *t[:cut], wordvec.EOS] for t in tokens]
    flat = np.fromiter((lookup.get(w, 1) for s in seqs for w in s), dtype=np.int64)
    return id_sequences(flat, [len(s) for s in seqs]), flat, vocab, torch.from_numpy(matrix)


def framed_encoder(vocab: list[str], max_length: int, tokenize: Callable[[list[str]], list]):
    """Encode new texts as :func:`framed_word2vec` encoded the training texts."""
    lookup = {w: i for i, w in enumerate(vocab)}

    def encode(texts: list[str]) -> list[list[int]]:
        return [[lookup.get(w, 1) for w in (wordvec.BOS, *t[:max_length - 2], wordvec.EOS)]
                for t in tokenize(texts)]
    return encode
