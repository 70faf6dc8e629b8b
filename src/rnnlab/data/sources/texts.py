"""Texts from a user's files: a plain-text corpus, or a table of labelled texts.

:func:`labelled_sequences` prepares a labelled table for classification as the
registered datasets are prepared: tokens by ``data.language``, a seeded
stratified split, and a vocabulary of the training texts (or word2vec vectors).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import ConfigError, DataError
from .. import wordvec
from ..sequences import (LabelledSequences, framed_encoder, framed_word2vec,
                         id_sequences, oov_rates, stratified_split, subset, take)
from .files import require_file
from .tables import check_columns, read_table


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """The whole file as a string; an empty or undecodable file is a DataError."""
    path = require_file(path)
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError as err:
        raise DataError(f"data.path {path} is not {encoding} text ({err}); set data.encoding "
                        f"(e.g. latin-1, gbk)") from None
    except LookupError:
        raise ConfigError(f"data.encoding: unknown text encoding {encoding!r}") from None
    if not text.strip():
        raise DataError(f"data.path {path} is empty")
    return text


def labelled_texts(path: Path, text_column: str, label_column: str
                   ) -> tuple[list[str], np.ndarray, list[str], int]:
    """(texts, integer labels, class names, rows dropped) of a table with a text and a label column.

    Rows with an empty text or label are dropped (and counted). Classes are the
    distinct labels, in numeric order when they are all numbers, else sorted as text.
    """
    path = Path(path)
    frame = read_table(path)
    check_columns(frame, [text_column], "data.text_column", path)
    check_columns(frame, [label_column], "data.label_column", path)
    if text_column == label_column:
        raise ConfigError("data.text_column and data.label_column name the same column")
    texts = frame[text_column]
    labels = frame[label_column]
    keep = texts.notna() & labels.notna() & (texts.astype(str).str.strip() != "")
    dropped = int((~keep).sum())
    texts, labels = texts[keep].astype(str).tolist(), labels[keep]
    if not texts:
        raise DataError(f"{path.name}: no row has both a text ({text_column!r}) and a label "
                        f"({label_column!r})")
    if pd.api.types.is_numeric_dtype(labels) and (labels == labels.round()).all():
        labels = labels.astype("int64")
    values = labels.to_numpy()
    if pd.api.types.is_numeric_dtype(labels):
        classes_raw = sorted(set(values.tolist()))
    else:
        values = labels.astype(str).str.strip().to_numpy()
        classes_raw = sorted(set(values.tolist()))
    if len(classes_raw) < 2:
        raise DataError(f"data.label_column {label_column!r} of {path.name} holds a single "
                        f"class ({classes_raw[0]!r}) in all {len(texts)} rows; a classifier "
                        f"needs at least two classes")
    lookup = {c: i for i, c in enumerate(classes_raw)}
    codes = np.array([lookup[v] for v in values.tolist()], dtype=np.int64)
    return texts, codes, [str(c) for c in classes_raw], dropped


_EN_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[^\w\s]", re.UNICODE)


def tokenize(texts: Sequence[str], language: str) -> list[list[str]]:
    """Tokens of each text: ``char`` characters, ``en`` lower-cased words and punctuation,
    ``zh`` jieba words (cached, see :func:`rnnlab.data.wordvec.segment`)."""
    if language == "char":
        return [list(t.strip()) for t in texts]
    if language == "en":
        return [_EN_TOKEN.findall(t.lower()) for t in texts]
    if language == "zh":
        return wordvec.segment(list(texts))
    raise ValueError(f"unknown language {language!r}")


ONEHOT_LIMIT = 3000  # one-hot inputs wider than this: ask for an embedding instead


def labelled_sequences(d, seed: int, split_seed: int, embedding: str) -> LabelledSequences:
    """The table at ``d.path``: tokens by ``d.language``, ``d.limit`` rows (seeded by
    ``split_seed``), a stratified ``d.split``; ids over the training texts' vocabulary, or
    framed by <s> </s> over word2vec vectors (seeded by ``seed``) for ``embedding: word2vec``."""
    texts, labels, classes, dropped = labelled_texts(Path(d.path), d.text_column,
                                                     d.label_column)
    keep = subset(len(texts), d.limit, split_seed)
    texts, labels = [texts[i] for i in keep], labels[keep]
    parts = stratified_split(labels, d.split, split_seed)
    which = np.full(len(labels), "train", dtype=object)
    for name, idx in parts.items():
        which[idx] = name
    tokens = tokenize(texts, d.language)
    vectors = None
    if embedding == "word2vec":
        seqs, flat, vocab, vectors = framed_word2vec(tokens, which, d, seed)
        encode = framed_encoder(vocab, d.max_length, lambda new: (
            wordvec.segment(new, cache=False) if d.language == "zh" else tokenize(new, d.language)))
    else:
        tokens = [t[:d.max_length] or ["<unk>"] for t in tokens]
        counts = Counter(w for t, w in zip(tokens, which) if w == "train" for w in t)
        vocab = ["<pad>", "<unk>", *sorted(counts, key=lambda w: (-counts[w], w))]
        if embedding == "onehot" and len(vocab) > ONEHOT_LIMIT:
            raise ConfigError(
                f"model.embedding 'onehot' would make every input {len(vocab):,} wide "
                f"(distinct {d.language} tokens of the training texts); set "
                f"model.embedding: learned" + (" (or word2vec)" if d.language != "char" else ""))
        lookup = {w: i for i, w in enumerate(vocab)}
        flat = np.fromiter((lookup.get(w, 1) for t in tokens for w in t), dtype=np.int64)
        seqs = id_sequences(flat, [len(t) for t in tokens])

        def encode(new: list[str]) -> list[list[int]]:
            return [[lookup.get(w, 1) for w in (t[:d.max_length] or ["<unk>"])]
                    for t in tokenize([x.strip() for x in new], d.language)]
    rates = oov_rates(flat, np.repeat(which, seqs.lengths.numpy()))
    facts = {"source": d.source, "language": d.language, "class_names": classes,
             "dropped_rows": dropped, "oov_rate": rates}
    return LabelledSequences({k: take(seqs, labels, idx) for k, idx in parts.items()},
                             classes, vocab, encode, pretrained=vectors, facts=facts)
