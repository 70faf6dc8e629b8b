"""online_shopping_10_cats (ChineseNlpCorpus): 62,774 Chinese shopping reviews.

One zip holding ``online_shopping_10_cats.csv`` (UTF-8, header ``cat,label,review``):
``label`` 1 = positive, 0 = negative; ``cat`` one of 10 product categories. It is
read straight from the zip; rnnlab does not ship it (4 MB).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError
from .. import wordvec
from ..registry import DataFile, DatasetInfo, find_file, register
from ..sequences import (SPLITS, LabelledSequences, framed_encoder, framed_word2vec, oov_rates,
                         subset, take)

ZIP = DataFile(
    path="online_shopping_10_cats/online_shopping_10_cats.zip",
    url="https://github.com/SophonPlus/ChineseNlpCorpus/raw/master/datasets/"
        "online_shopping_10_cats/online_shopping_10_cats.zip",
    sha256="6816ded66fde9d0927ecbd370b5e12d0174d1abac35192ec014ac2a0a8d25858",
    size=4084428,
)
MEMBER = "online_shopping_10_cats.csv"
ROWS = 62774
# English names of the 10 categories, for figures (matplotlib's default fonts lack CJK).
CATEGORY_ENGLISH = {"书籍": "books", "平板": "tablets", "手机": "phones", "水果": "fruit",
                    "洗发水": "shampoo", "热水器": "water heaters", "蒙牛": "Mengniu milk",
                    "衣服": "clothes", "计算机": "computers", "酒店": "hotels"}


def load(data_dir: str | Path | None = None, download: bool = False) -> pd.DataFrame:
    """All reviews in file order as a frame with columns cat, label (0/1), review (text)."""
    path = find_file(INFO.name, ZIP, data_dir, download)
    try:
        with zipfile.ZipFile(path) as z, z.open(MEMBER) as f:
            frame = pd.read_csv(f, encoding="utf-8", dtype={"cat": str, "review": str})
    except (zipfile.BadZipFile, KeyError) as err:
        raise DataError(f"{path}: not the published zip holding {MEMBER} ({err})") from None
    if list(frame.columns) != ["cat", "label", "review"] or len(frame) != ROWS:
        raise DataError(f"{path}: expected {ROWS} rows with columns cat,label,review, got "
                        f"{len(frame)} rows with {list(frame.columns)}")
    # One review is empty; the first one starts with a stray byte-order mark.
    frame["review"] = frame["review"].fillna("").str.replace("\ufeff", "", regex=False)
    frame["label"] = frame["label"].astype("int64")
    return frame


def review_split(rows: np.ndarray) -> np.ndarray:
    """The report's split of rows numbered from 1: i % 5 == 4 val, i % 5 == 0 test, else train."""
    rows = np.asarray(rows)
    out = np.full(len(rows), "train", dtype=object)
    out[rows % 5 == 4] = "val"
    out[rows % 5 == 0] = "test"
    return out


def sequences(d, seed: int, split_seed: int, data_dir=None, download: bool = False
              ) -> LabelledSequences:
    """jieba words framed by <s> </s> over word2vec vectors trained on the training rows
    (seeded by ``seed``), split by the report's rule; ``d.target`` label (0/1) or cat."""
    frame = load(data_dir, download)
    keep = subset(len(frame), d.limit, split_seed)
    frame = frame.iloc[keep]
    which = review_split(keep + 1)  # the report numbers rows from 1
    tokens = wordvec.segment(frame["review"].tolist())
    seqs, flat, vocab, vectors = framed_word2vec(tokens, which, d, seed)
    display = None
    if d.target == "label":
        classes = ["negative", "positive"]
        labels = frame["label"].to_numpy(dtype=np.int64)
    else:
        classes = sorted(frame["cat"].unique())
        labels = frame["cat"].map({c: i for i, c in enumerate(classes)}).to_numpy(
            dtype=np.int64)
        display = [CATEGORY_ENGLISH.get(c, c) for c in classes]
    rates = oov_rates(flat, np.repeat(which, seqs.lengths.tolist()))
    parts = {k: take(seqs, labels, np.flatnonzero(which == k)) for k in SPLITS}
    encode = framed_encoder(vocab, d.max_length, lambda texts: wordvec.segment(texts, cache=False))
    return LabelledSequences(parts, classes, vocab, encode, display, vectors,
                             facts={"target": d.target, "oov_rate": rates})


INFO = register(DatasetInfo(
    name="reviews",
    task="classify",
    description="62,774 Chinese shopping reviews, positive/negative, 10 categories "
                "(online_shopping_10_cats)",
    files=(ZIP,),
    load=load,
    sequences=sequences,
))
