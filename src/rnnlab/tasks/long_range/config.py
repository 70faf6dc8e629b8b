"""The ``data:`` section of a long-range memory config (the model section is the shared one)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...config import option


@dataclass
class LongRangeData:
    """The ``data:`` section of a long-range memory problem: which one, and how long."""

    dataset: Literal["adding", "copy"] = option(
        "adding", "adding: sum the two marked values among T; copy: recall 10 symbols after "
        "T blanks")
    length: int = option(100, "T, the number of steps the memory must bridge", ge=2)
    train_size: int = option(10000, "training sequences drawn afresh every epoch (seeded by "
                             "the run's seed and the epoch)", ge=1)
    val_size: int = option(1000, "validation sequences (one fixed draw, the same for every run)",
                           ge=10)
    test_size: int = option(1000, "test sequences (one fixed draw, the same for every run)",
                            ge=10)
    symbols: int = option(8, "copy: the alphabet of the remembered symbols", ge=2)
    remember: int = option(10, "copy: how many symbols to recall", ge=1)
