"""The in-memory form of a time-series dataset, as every forecasting source returns it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class TimeSeries:
    """A long multivariate series: ``values[t, column]`` or ``values[t, node, feature]``.

    ``columns`` names axis 1 (sensors or variables); ``features`` names axis 2
    when there is one (e.g. PEMS: flow, occupancy, speed). ``index`` gives the
    time of every step when the source publishes it.
    """

    name: str
    values: np.ndarray
    columns: list[str]
    unit: str = ""
    index: pd.DatetimeIndex | None = None
    freq: str | None = None
    features: list[str] | None = None
    column_kind: str = "column"  # what a column is, for labels: "detector", "sensor", ...
    units: dict[str, str] | None = None  # unit of each feature where they differ (Jena, PM2.5)

    def __post_init__(self) -> None:
        if self.values.ndim not in (2, 3):
            raise ValueError(f"values must be (time, columns) or (time, nodes, features), "
                             f"got shape {self.values.shape}")
        if len(self.columns) != self.values.shape[1]:
            raise ValueError(f"{len(self.columns)} column names for {self.values.shape[1]} columns")
        if self.features is not None and (self.values.ndim != 3
                                          or len(self.features) != self.values.shape[2]):
            raise ValueError(f"{len(self.features)} feature names for values of shape "
                             f"{self.values.shape}")
        if self.index is not None and len(self.index) != len(self.values):
            raise ValueError(f"index has {len(self.index)} stamps for {len(self.values)} steps")

    def __len__(self) -> int:
        return len(self.values)

    def unit_of(self, feature: str | None = None) -> str:
        """The unit of one feature (or the series' single unit)."""
        if feature is not None and self.units and feature in self.units:
            return self.units[feature]
        return self.unit
