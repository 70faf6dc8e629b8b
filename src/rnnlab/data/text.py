"""Text -> token indices -> language-model batches.

``preprocess`` is d2l's cleaning of The Time Machine (non-letters -> one space,
lowercase), :class:`Vocab` maps tokens (characters here, words later) to
indices and back and round-trips through a plain dict, and
``random_batches`` / ``sequential_batches`` cut a token sequence into the
(batch, num_steps) input/target pairs of d2l's two samplers, by index
arithmetic (no Python loop over samples), drawing their randomness from a
``torch.Generator`` so that an epoch is reproducible.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from ..errors import ConfigError, DataError

UNK = "<unk>"
_NON_LETTERS = re.compile(r"[^A-Za-z]+")


def preprocess(text: str, line_breaks: str = "drop") -> str:
    """Lowercase ``text`` and turn every run of non-letters into one space (d2l's cleaning).

    ``line_breaks="drop"`` is d2l exactly: each line is cleaned and stripped on its
    own and the lines are concatenated with nothing between them (so the last word
    of a line runs into the first of the next, d2l's ``himwas``); ``"space"``
    cleans the text as a whole, so a line break separates words like a space.
    """
    if line_breaks == "drop":
        return "".join(_NON_LETTERS.sub(" ", line).strip().lower() for line in text.splitlines())
    if line_breaks == "space":
        return _NON_LETTERS.sub(" ", text).lower()
    raise ValueError(f"line_breaks must be 'drop' or 'space', got {line_breaks!r}")


def clean_text(raw: str, clean: str, line_breaks: str = "drop") -> str:
    """The text as data.clean says: d2l's letters-only cleaning, lower-case, or untouched."""
    if clean == "letters":
        return preprocess(raw, line_breaks)
    return raw.lower() if clean == "lower" else raw


def to_tokens(text: str, level: str) -> list[str]:
    """Characters, or the words between white space."""
    return text.split() if level == "word" else list(text)


class Vocab:
    """Tokens <-> indices. Index 0 is ``<unk>``, then ``reserved`` tokens, then the others
    by descending frequency (ties in token order), keeping those seen ``min_freq`` times.

    Tokens can be characters or words: anything hashable that is a string.
    """

    def __init__(self, tokens: Iterable[str] = (), min_freq: int = 1,
                 reserved: Sequence[str] = ()) -> None:
        counts = Counter(tokens)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        fixed = [UNK, *[t for t in reserved if t != UNK]]
        kept = [t for t, c in ranked if c >= min_freq and t not in fixed]
        self.idx_to_token: list[str] = fixed + kept
        self.token_to_idx: dict[str, int] = {t: i for i, t in enumerate(self.idx_to_token)}
        self.counts: dict[str, int] = dict(counts)

    unk = 0

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __contains__(self, token: str) -> bool:
        return token in self.token_to_idx

    def __getitem__(self, token: str) -> int:
        return self.token_to_idx.get(token, self.unk)

    def encode(self, tokens: Iterable[str]) -> Tensor:
        """Indices of ``tokens`` as a 1-D int64 tensor; unknown tokens map to ``<unk>``."""
        lookup = self.token_to_idx.get
        return torch.tensor([lookup(t, 0) for t in tokens], dtype=torch.long)

    def decode(self, indices: Iterable[int] | Tensor) -> list[str]:
        """The tokens of ``indices``."""
        if isinstance(indices, Tensor):
            indices = indices.tolist()
        return [self.idx_to_token[i] for i in indices]

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """The distinct tokens of ``tokens`` that the vocabulary lacks, in first-seen order."""
        return list(dict.fromkeys(t for t in tokens if t not in self.token_to_idx))

    def to_dict(self) -> dict:
        """A JSON-ready description from which :meth:`from_dict` rebuilds this vocabulary."""
        return {"format": 1, "unk": UNK, "tokens": list(self.idx_to_token),
                "counts": dict(self.counts)}

    @classmethod
    def from_dict(cls, data: dict) -> Vocab:
        """The vocabulary written by :meth:`to_dict`; the token order is kept exactly."""
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if (not isinstance(tokens, list) or not tokens or tokens[0] != UNK
                or len(set(tokens)) != len(tokens)):
            raise DataError("not a saved rnnlab vocabulary: expected a mapping with 'tokens', "
                            "a list of distinct tokens starting with '<unk>'")
        vocab = cls()
        vocab.idx_to_token = list(tokens)
        vocab.token_to_idx = {t: i for i, t in enumerate(tokens)}
        vocab.counts = dict(data.get("counts") or {})
        return vocab


def _check_fits(n_tokens: int, batch_size: int, num_steps: int, needed: int) -> None:
    if n_tokens < needed:
        raise ConfigError(
            f"the training text has {n_tokens:,} tokens, too few for one batch of "
            f"train.batch_size={batch_size} x data.num_steps={num_steps} (needs {needed:,}). "
            f"Lower train.batch_size or data.num_steps.")


def random_batches(corpus: Tensor, batch_size: int, num_steps: int,
                   generator: torch.Generator | None = None,
                   offset: int | None = None) -> tuple[Tensor, Tensor]:
    """d2l's random sampling: inputs and targets of shape (batches, batch_size, num_steps).

    The text is cut at a random offset in [0, num_steps) (or the given ``offset``)
    into non-overlapping subsequences of ``num_steps`` tokens; they are shuffled and
    grouped into batches, so neighbouring batches are unrelated (each starts from a
    fresh state).
    The target of every token is the token after it.
    """
    n = len(corpus)
    _check_fits(n, batch_size, num_steps, batch_size * num_steps + num_steps)
    if offset is None:
        offset = int(torch.randint(num_steps, (1,), generator=generator))
    count = (n - offset - 1) // num_steps  # subsequences whose targets fit too
    batches = count // batch_size
    starts = offset + num_steps * torch.randperm(count, generator=generator)[:batches * batch_size]
    index = starts.view(batches, batch_size, 1) + torch.arange(num_steps)
    return corpus[index], corpus[index + 1]


def sequential_batches(corpus: Tensor, batch_size: int, num_steps: int,
                       generator: torch.Generator | None = None,
                       offset: int | None = None) -> tuple[Tensor, Tensor]:
    """d2l's sequential partitioning: inputs and targets of shape (batches, batch_size, num_steps).

    From a random offset in [0, num_steps] (or the given ``offset``), the text is
    split into ``batch_size`` equal contiguous streams, one per batch row; batch
    ``k`` holds steps ``k*num_steps ... (k+1)*num_steps - 1`` of every stream, so
    row ``i`` of batch ``k + 1`` continues row ``i`` of batch ``k``: the hidden
    state can be carried from one batch to the next.
    """
    n = len(corpus)
    _check_fits(n, batch_size, num_steps, batch_size * num_steps + num_steps + 1)
    if offset is None:
        offset = int(torch.randint(num_steps + 1, (1,), generator=generator))
    per_row = (n - offset - 1) // batch_size
    batches = per_row // num_steps
    used = batches * num_steps
    rows = offset + per_row * torch.arange(batch_size).view(batch_size, 1) + torch.arange(used)
    # (batch_size, batches * num_steps) -> (batches, batch_size, num_steps)
    index = rows.view(batch_size, batches, num_steps).transpose(0, 1)
    return corpus[index], corpus[index + 1]


def streams(corpus: Tensor, count: int) -> tuple[Tensor, Tensor]:
    """The text as ``count`` contiguous rows of inputs and next-token targets, (count, length).

    Evaluation reads each row from start to end carrying the state, so every
    token but the few (< count) left over at the end is scored exactly once.
    """
    count = max(1, min(count, (len(corpus) - 1) // 2))
    length = (len(corpus) - 1) // count
    index = length * torch.arange(count).view(count, 1) + torch.arange(length)
    return corpus[index], corpus[index + 1]
