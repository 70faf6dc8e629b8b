"""Fixed-length sliding windows over a long series, and splitting it before windowing.

The lab's rule: split the long series chronologically *first*, then cut each
part into windows. Windowing first and splitting the windows afterwards lets the
same time steps appear in training and test windows, which leaks the test set.

Windows here are views (numpy ``sliding_window_view`` / torch ``unfold``): a
window array costs no memory beyond the series it looks into.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from ..errors import ConfigError

Array = np.ndarray | torch.Tensor


def check_ratios(ratios: Sequence[float], key: str = "") -> list[float]:
    """``ratios`` as a list; a ConfigError (naming the config ``key`` when given) unless they
    are positive and sum to 1."""
    ratios = list(ratios)
    if any(r <= 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
        where = f"{key}: " if key else ""
        raise ConfigError(f"{where}split ratios must be positive and sum to 1, got {ratios} "
                          f"(sum {sum(ratios):g}); e.g. [0.6, 0.2, 0.2] or [0.8, 0.2]")
    return ratios


def split_points(length: int, ratios: Sequence[float] | None = None, *,
                 index: pd.DatetimeIndex | None = None,
                 dates: Sequence[str | pd.Timestamp] | None = None) -> list[int]:
    """Boundaries of a chronological split, by ratios or by dates.

    By ratios: ``int(length * cumulative ratio)`` as on the slides. By dates
    (``index`` = the time of every step): each date starts a new part, so
    ``dates=["2015-01-01"]`` puts every step before 2015 in the first part and the
    rest in the second (Jena: 2009-2014 train, 2015-2016 test).

    >>> split_points(10, [0.6, 0.2, 0.2])
    [0, 6, 8, 10]
    """
    if dates is not None:  # each date starts a part: first step at or after it
        if index is None:
            raise ConfigError("a split by dates needs the time of every step, but this series has "
                              "no time index; split it by ratios instead (data.split)")
        if len(index) != length:
            raise ValueError(f"index has {len(index)} stamps for a series of {length} steps")
        try:
            stamps = [pd.Timestamp(d) for d in dates]
        except (ValueError, TypeError) as err:
            raise ConfigError(f"split dates {list(dates)}: {err}; write them as e.g. "
                              f"'2015-01-01' or '2015-01-01 00:00'") from None
        if not stamps or any(a >= b for a, b in zip(stamps, stamps[1:])):
            raise ConfigError(f"split dates must be one or more dates in increasing order, "
                              f"got {list(dates)}")
        index = pd.DatetimeIndex(index)
        points = [0] + [int(index.searchsorted(t)) for t in stamps] + [length]
        for a, b, where in zip(points[:-1], points[1:], range(len(points) - 1)):
            if b <= a:
                first, last = index[0], index[-1]
                raise ConfigError(f"split dates {list(dates)} leave part {where + 1} empty: the "
                                  f"series runs from {first} to {last}. Choose dates inside it.")
        return points
    if ratios is None:
        raise ConfigError("give split ratios (e.g. [0.6, 0.2, 0.2]) or split dates")
    ratios = check_ratios(ratios)
    points, total = [0], 0.0
    for r in ratios[:-1]:
        total += r
        points.append(int(length * total))
    points.append(length)
    return points


def split_series(series: Array, ratios: Sequence[float] | None = (0.6, 0.2, 0.2), *,
                 index: pd.DatetimeIndex | None = None,
                 dates: Sequence[str | pd.Timestamp] | None = None) -> list[Array]:
    """Split along time (axis 0) into consecutive parts, e.g. train/val/test = 6:2:2.

    With ``index`` and ``dates`` the parts start at those dates instead (see
    :func:`split_points`). The parts are views of ``series``, in time order,
    covering it exactly once.
    """
    points = split_points(len(series), ratios, index=index, dates=dates)
    return [series[a:b] for a, b in zip(points[:-1], points[1:])]


def count_windows(length: int, size: int, stride: int = 1) -> int:
    """How many windows of ``size`` steps start every ``stride`` steps in ``length`` steps."""
    return 0 if length < size else (length - size) // stride + 1


def sliding_windows(series: Array, size: int, stride: int = 1) -> Array:
    """All windows of ``size`` consecutive steps, as a view of shape (N, size, *features).

    Window i covers steps ``i*stride ... i*stride + size - 1``. Unlike the slides'
    ``range(len(seq) - window_size)``, the last complete window is included.
    """
    if size < 1 or stride < 1:
        raise ValueError(f"window size and stride must be >= 1, got {size} and {stride}")
    if len(series) < size:
        raise ValueError(f"a window of {size} steps does not fit in a series of {len(series)}")
    if isinstance(series, torch.Tensor):
        return series.unfold(0, size, stride).movedim(-1, 1)
    view = np.lib.stride_tricks.sliding_window_view(series, size, axis=0)[::stride]
    return np.moveaxis(view, -1, 1)


def windows(series: Array, history: int, horizon: int = 1, stride: int = 1):
    """Inputs and targets for forecasting: ``history`` steps in, the next ``horizon`` out.

    Returns two views ``(x, y)`` of shapes (N, history, ...) and (N, horizon, ...)
    where window i reads steps ``s .. s+history-1`` and predicts
    ``s+history .. s+history+horizon-1`` with ``s = i * stride``.
    """
    if history < 1 or horizon < 1:
        raise ValueError(f"history and horizon must be >= 1, got {history} and {horizon}")
    both = sliding_windows(series, history + horizon, stride)
    return both[:, :history], both[:, history:]


def time_span_windows(times, span, step, *, min_length: int = 1, partial: bool = True,
                      unique: bool = False):
    """Windows covering a fixed span of time over an irregular, sorted time index.

    Window k covers ``[t0 + k*step, t0 + k*step + span)`` with ``t0 = times[0]``; it
    holds the rows ``lo[k]:hi[k]``, so windows have varying numbers of rows (the
    slides' "fixed time window" sampling). With ``partial=False`` only windows that
    end by the last time stamp are made (the slides' loop); otherwise windows run
    while they start at or before it. Windows with fewer than ``min_length`` rows
    are dropped; ``unique`` also drops a window whose rows equal the previous kept one.

    ``times``: datetimes (DatetimeIndex, datetime64 array, Series) or numbers;
    ``span``/``step``: a Timedelta or a string like ``"24h"`` (numbers for numeric times).
    Returns ``(starts, lo, hi)`` arrays. Computed with two ``searchsorted`` calls.
    """
    numeric = np.issubdtype(np.asarray(times).dtype, np.number)
    if numeric:
        t = np.asarray(times, dtype=np.float64)
        span_v, step_v = float(span), float(step)
    else:
        t = pd.DatetimeIndex(times).as_unit("ns").asi8  # ns since the epoch (aware: UTC)
        span_v, step_v = pd.Timedelta(span).value, pd.Timedelta(step).value
    if span_v <= 0 or step_v <= 0:
        raise ValueError(f"span and step must be positive, got {span!r} and {step!r}")
    if min_length < 1:
        raise ValueError(f"min_length must be >= 1, got {min_length}")
    empty = np.zeros(0, dtype=np.int64)
    if len(t) == 0:
        return (t[:0] if numeric else np.array([], dtype="datetime64[ns]")), empty, empty
    if np.any(np.diff(t) < 0):
        raise ValueError("the time index must be sorted in increasing order")
    last_start = t[-1] if partial else t[-1] - span_v
    if last_start < t[0]:
        starts = t[:0]
    else:
        count = int((last_start - t[0]) // step_v) + 1
        starts = t[0] + np.arange(count) * step_v
    lo = np.searchsorted(t, starts, side="left")
    hi = np.searchsorted(t, starts + span_v, side="left")
    keep = hi - lo >= min_length
    starts, lo, hi = starts[keep], lo[keep], hi[keep]
    if unique and len(lo):
        new = np.ones(len(lo), dtype=bool)
        new[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
        starts, lo, hi = starts[new], lo[new], hi[new]
    if not numeric:
        starts = starts.astype("datetime64[ns]")
    return starts, lo.astype(np.int64), hi.astype(np.int64)
