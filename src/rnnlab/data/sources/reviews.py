"""online_shopping_10_cats (ChineseNlpCorpus): 62,774 Chinese shopping reviews.

One zip holding ``online_shopping_10_cats.csv`` (UTF-8, header ``cat,label,review``):
``label`` 1 = positive, 0 = negative; ``cat`` one of 10 product categories. It is
read straight from the zip; rnnlab does not ship it (4 MB).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd

from ...errors import DataError
from ..registry import DataFile, DatasetInfo, find_file, register

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


INFO = register(DatasetInfo(
    name="reviews",
    task="classify",
    description="62,774 Chinese shopping reviews, positive/negative, 10 categories "
                "(online_shopping_10_cats)",
    files=(ZIP,),
    load=load,
))
