"""Regular time steps from a gappy record: resample, interpolate short gaps, drop the rest.

The lab's recipe (slides, section 1, "序列重采样"): put the readings on a full
regular index so that a missing reading becomes an explicit NaN, fill short gaps
by linear interpolation (``limit=2``, ``limit_direction='both'``), and drop the
windows that still hold a NaN after that. Long gaps are not invented: a window
across one is removed and counted, so a user sees how much data was lost.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from ..errors import ConfigError
from .series import TimeSeries

# user-facing names -> pandas offset aliases
FREQS = {"hourly": "h", "1h": "h", "h": "h", "10min": "10min", "5min": "5min",
         "15min": "15min", "30min": "30min", "daily": "D", "1d": "D"}


def pandas_freq(freq: str) -> str:
    """The pandas alias of a step name such as ``hourly``, ``10min`` or ``5min``.

    Any fixed pandas step (``2h``, ``3min``, ``30s``) is accepted too, so a user's
    own data can keep its step.
    """
    if freq in FREQS:
        return FREQS[freq]
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
        pd.Timedelta(offset)  # a fixed length (months and years vary)
    except (ValueError, TypeError):
        raise ConfigError(f"unknown resampling step {freq!r}; choose one of "
                          f"{', '.join(FREQS)}, or a fixed pandas step such as 2h, 30min, "
                          f"30s") from None
    return offset.freqstr


def to_regular(frame: pd.DataFrame | pd.Series, freq: str) -> pd.DataFrame | pd.Series:
    """Readings on a full regular index from the first to the last step of ``freq``.

    Steps without a reading become NaN; several readings inside one step are
    averaged (a step is labelled by its start, e.g. 10:00 covers 10:00-10:59).
    """
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise ValueError("resampling needs a DatetimeIndex; parse the time column first")
    return frame.sort_index().resample(pandas_freq(freq)).mean()


def interpolate_gaps(frame: pd.DataFrame | pd.Series, limit: int = 2,
                     limit_direction: str = "both") -> pd.DataFrame | pd.Series:
    """Linear interpolation over at most ``limit`` missing steps from each side of a gap.

    With ``limit_direction='both'`` a gap of up to ``2 * limit`` steps is filled
    completely; a longer gap keeps NaN in its middle. NaN before the first or
    after the last reading takes the nearest reading (within ``limit`` steps).
    ``limit=0`` leaves the data untouched.
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if limit == 0:
        return frame
    return frame.interpolate(method="linear", limit=limit, limit_direction=limit_direction)


def regularize(frame: pd.DataFrame | pd.Series, freq: str | None,
               limit: int = 2) -> pd.DataFrame | pd.Series:
    """:func:`to_regular` (when ``freq`` is given), then :func:`interpolate_gaps`."""
    if freq:
        frame = to_regular(frame, freq)
    return interpolate_gaps(frame, limit)


def regularize_series(series: TimeSeries, freq: str | None, limit: int = 2) -> TimeSeries:
    """:func:`regularize` applied to every column of a :class:`TimeSeries` (any shape)."""
    if not freq and (limit == 0 or not np.isnan(series.values).any()):
        return series
    if series.index is None:
        if freq:
            raise ConfigError(f"{series.name} has no time stamps, so it cannot be resampled; "
                              f"remove data.resample (or name the time column in "
                              f"data.time_column)")
        values = series.values  # no times: the row order is the time axis
        frame = interpolate_gaps(pd.DataFrame(values.reshape(len(values), -1)), limit)
        return replace(series, values=frame.to_numpy(np.float64).reshape(values.shape))
    values = series.values
    frame = pd.DataFrame(values.reshape(len(values), -1), index=series.index)
    frame = regularize(frame, freq, limit)
    shape = (len(frame),) + values.shape[1:]
    return replace(series, values=frame.to_numpy(np.float64).reshape(shape),
                   index=pd.DatetimeIndex(frame.index),
                   freq=pandas_freq(freq) if freq else series.freq)  # a pandas alias: 'h'


def complete_windows(*arrays) -> np.ndarray:
    """A boolean mask over windows: True where none of ``arrays`` holds a NaN.

    Each array has windows along axis 0 (as :func:`~rnnlab.data.windows.windows`
    returns them); numpy arrays and torch tensors are both accepted.
    """
    keep = None
    for a in arrays:
        bad = torch.isnan(a) if isinstance(a, torch.Tensor) else np.isnan(a)
        bad = bad.reshape(len(a), -1).any(1)
        bad = bad.numpy() if isinstance(bad, torch.Tensor) else bad
        keep = ~bad if keep is None else keep & ~bad
    return keep


def drop_nan_windows(x, y):
    """The windows ``(x, y)`` without those holding a NaN, and how many were dropped.

    Returns ``(x_kept, y_kept, dropped)``. When nothing is dropped the inputs
    are returned as they are (still zero-copy views).
    """
    keep = complete_windows(x, y)
    dropped = int((~keep).sum())
    if dropped == 0:
        return x, y, 0
    if isinstance(x, torch.Tensor):
        idx = torch.from_numpy(np.flatnonzero(keep))
        return x[idx], y[idx], dropped
    return x[keep], y[keep], dropped
