"""Long-range memory problems, generated: what plain RNNs fail and gated cells solve.

* **adding** (Hochreiter & Schmidhuber 1997; Le, Jaitly & Hinton 2015): T steps of two
  inputs, a value drawn from U(0, 1) and a marker; exactly two steps are marked, one in
  each half of the sequence. The target is the sum of the two marked values. Always
  predicting 1 (the mean) gives an MSE of 1/6 = 0.167; solved is MSE < 0.01.
* **copy** (Arjovsky, Shah & Bengio 2016): ``remember`` symbols from 1..``symbols``, T-1
  blanks (0), a delimiter (``symbols`` + 1), ``remember`` blanks; the target is blank for
  the first T + ``remember`` steps, then the remembered symbols in order. A model that
  outputs blanks and then guesses has a cross-entropy of remember * log(symbols) /
  (T + 2 * remember); solved is > 99 % of the recalled symbols right.

Each draw takes a ``torch.Generator``, so a split drawn from a fixed seed is the same for
every run that asks for it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..registry import DatasetInfo, register


def adding(count: int, length: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """(inputs (count, length, 2): value and marker, targets (count, 1))."""
    if length < 2:
        raise ValueError(f"the adding problem needs length >= 2, got {length}")
    values = torch.rand(count, length, generator=generator)
    half = length // 2
    first = torch.randint(0, half, (count,), generator=generator)
    second = torch.randint(half, length, (count,), generator=generator)
    markers = torch.zeros(count, length)
    rows = torch.arange(count)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    target = values[rows, first] + values[rows, second]
    return torch.stack([values, markers], dim=2), target[:, None]


def copy_memory(count: int, length: int, generator: torch.Generator, symbols: int = 8,
                remember: int = 10) -> tuple[Tensor, Tensor]:
    """(input ids (count, length + 2 * remember), target ids of the same shape): ids 0 blank,
    1..symbols the symbols, symbols + 1 the delimiter (inputs only)."""
    if length < 1:
        raise ValueError(f"the copy task needs length >= 1, got {length}")
    steps = length + 2 * remember
    data = torch.randint(1, symbols + 1, (count, remember), generator=generator)
    x = torch.zeros(count, steps, dtype=torch.int64)
    y = torch.zeros(count, steps, dtype=torch.int64)
    x[:, :remember] = data
    x[:, remember + length - 1] = symbols + 1
    y[:, -remember:] = data
    return x, y


def copy_baseline(length: int, symbols: int = 8, remember: int = 10) -> float:
    """Cross-entropy of blanks then a uniform guess over the symbols (no memory)."""
    return remember * math.log(symbols) / (length + 2 * remember)


ADDING = register(DatasetInfo("adding", "long_range", "the adding problem: sum the two "
                              "marked values of T (generated)", ()))
COPY = register(DatasetInfo("copy", "long_range", "the copy-memory task: recall 10 symbols "
                            "after T blanks (generated)", ()))
