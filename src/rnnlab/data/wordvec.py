"""Chinese word segmentation (jieba) and word2vec vectors (gensim), both cached on disk.

Segmenting 62k reviews with jieba takes about a minute and training word2vec
some more, so both results are kept in the rnnlab cache (``$RNNLAB_CACHE``, else
``~/.cache/rnnlab``), keyed by a hash of their input and every setting: a
changed setting or text computes anew, an unchanged one is read back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..util import atomic_write, write_text
from .registry import cache_dir

BOS, EOS = "<s>", "</s>"


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, ensure_ascii=False, sort_keys=True).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:20]


def texts_digest(texts: Sequence[str]) -> str:
    """A short hash of a list of texts (what the caches are keyed by)."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()[:20]


def segment(texts: Sequence[str], cache: bool = True) -> list[list[str]]:
    """jieba's default (precise) segmentation of each text; whitespace tokens dropped."""
    import jieba  # only Chinese texts need it: importing jieba costs about a second

    path = cache_dir() / "tokens" / f"jieba-{jieba.__version__}-{texts_digest(texts)}.txt"
    if cache and path.is_file():
        lines = path.read_text(encoding="utf-8").split("\n")
        if len(lines) == len(texts):
            return [line.split(" ") if line else [] for line in lines]
    jieba.setLogLevel(60)  # silence "Building prefix dict ..." on stderr
    tokens = [[w for w in jieba.lcut(t) if w.strip()] for t in texts]
    if cache:  # one line per text, tokens separated by a space (no token holds whitespace)
        write_text(path, "\n".join(" ".join(t) for t in tokens))
    return tokens


def with_bounds(sentences: Sequence[list[str]]) -> list[list[str]]:
    """Each sentence framed by ``<s>`` and ``</s>``, as the report trains word2vec."""
    return [[BOS, *s, EOS] for s in sentences]


@dataclass
class WordVectors:
    """Trained word vectors: ``vectors[i]`` belongs to ``words[i]``."""

    words: list[str]
    vectors: np.ndarray

    @property
    def vector_size(self) -> int:
        return self.vectors.shape[1]

    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}


def train_word2vec(sentences: Sequence[list[str]], *, vector_size: int = 100, window: int = 5,
                   min_count: int = 1, negative: int = 5, epochs: int = 5, seed: int = 0,
                   workers: int = 1, cache: bool = True) -> WordVectors:
    """gensim Word2Vec CBOW (sg=0) on ``sentences``, cached by its settings and input."""
    settings = {"vector_size": vector_size, "window": window, "min_count": min_count,
                "negative": negative, "epochs": epochs, "seed": seed, "sg": 0}
    key = _digest(settings, texts_digest([" ".join(s) for s in sentences]))
    path = cache_dir() / "word2vec" / f"cbow-{key}.npz"
    if cache and path.is_file():
        with np.load(path, allow_pickle=False) as saved:
            return WordVectors(saved["words"].tolist(), saved["vectors"])
    from gensim.models import Word2Vec  # only word2vec runs need gensim, which loads slowly

    model = Word2Vec(sentences=list(sentences), sg=0, seed=seed, workers=workers,
                     **{k: v for k, v in settings.items() if k not in ("seed", "sg")})
    result = WordVectors(list(model.wv.index_to_key), model.wv.vectors.astype(np.float32))
    if cache:
        atomic_write(path, lambda tmp: np.savez(tmp, words=np.array(result.words),
                                                vectors=result.vectors))
    return result
