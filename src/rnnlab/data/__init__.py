"""Everything between a file on disk and a batch: windows, splits, scaling, datasets."""

from . import sources  # noqa: F401  (registers every dataset)
from .registry import DataFile, DatasetInfo, locate
from .scaling import MinMaxScaler, StandardScaler, make_scaler
from .series import TimeSeries
from .windows import count_windows, sliding_windows, split_points, split_series, windows

__all__ = ["DataFile", "DatasetInfo", "locate", "MinMaxScaler", "StandardScaler", "make_scaler",
           "TimeSeries", "count_windows", "sliding_windows", "split_points", "split_series",
           "windows"]
