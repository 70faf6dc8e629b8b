"""Resampling, gap-limited interpolation and NaN-window dropping on series worked out by hand."""

import numpy as np
import pandas as pd
import pytest
import torch

from rnnlab.data import TimeSeries, windows
from rnnlab.data.resample import (complete_windows, drop_nan_windows, interpolate_gaps,
                                  pandas_freq, regularize, regularize_series, to_regular)
from rnnlab.errors import ConfigError

nan = np.nan


def test_to_regular_marks_missing_steps_and_averages_within_a_step():
    stamps = pd.to_datetime(["2017-01-01 00:00", "2017-01-01 01:00", "2017-01-01 03:00",
                             "2017-01-01 03:20", "2017-01-01 04:00"])
    s = pd.Series([1.0, 2.0, 4.0, 5.0, 6.0], index=stamps)
    out = to_regular(s, "hourly")
    assert list(out.index.hour) == [0, 1, 2, 3, 4]
    assert out.tolist()[:2] == [1.0, 2.0] and np.isnan(out.iloc[2])
    assert out.tolist()[3:] == [4.5, 6.0]  # 03:00 and 03:20 share the 03:00 step


@pytest.mark.parametrize("freq,step", [("10min", "10min"), ("5min", "5min"), ("1h", "1h")])
def test_to_regular_fills_the_whole_range(freq, step):
    full = pd.date_range("2020-01-01", periods=10, freq=step)
    s = pd.Series(np.arange(10.0), index=full).drop(full[[2, 5, 6]])
    out = to_regular(s, freq)
    assert out.index.equals(pd.DatetimeIndex(full, freq=out.index.freq))
    assert np.isnan(out.to_numpy()[[2, 5, 6]]).all() and out.notna().sum() == 7


def test_interpolation_with_gaps_of_1_2_3_and_5_steps():
    # gap of 1 | gap of 2 | gap of 3 | gap of 5 (limit 2 from each side leaves the middle)
    s = pd.Series([0, nan, 2, nan, nan, 5, nan, nan, nan, 9, nan, nan, nan, nan, nan, 15.0])
    out = interpolate_gaps(s, limit=2).tolist()
    assert out[:10] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert out[10:12] == [10, 11] and np.isnan(out[12]) and out[13:] == [13, 14, 15]


def test_interpolation_limit_1_and_0():
    s = pd.Series([0, nan, nan, nan, 4.0])
    one = interpolate_gaps(s, limit=1).tolist()
    assert one[0:2] == [0, 1] and np.isnan(one[2]) and one[3:] == [3, 4]
    assert interpolate_gaps(s, limit=0) is s


def test_interpolation_at_the_edges_takes_the_nearest_reading_within_the_limit():
    s = pd.Series([nan, nan, nan, 3.0, 4.0, nan])
    out = interpolate_gaps(s, limit=2).tolist()
    assert np.isnan(out[0]) and out[1:] == [3, 3, 3, 4, 4]


def test_regularize_is_the_slides_recipe():
    stamps = pd.date_range("2017-01-01", periods=8, freq="h")
    s = pd.Series([0.0, 1, 2, 3, 4, 5, 6, 7], index=stamps).drop(stamps[[2, 3, 4]])
    out = regularize(s, "hourly", limit=2)
    assert out.tolist() == [0, 1, 2, 3, 4, 5, 6, 7]  # 3 missing hours: 2 + 2 from the sides


def test_unknown_step_is_a_config_error():
    with pytest.raises(ConfigError, match="hourly"):
        pandas_freq("weekly")
    assert pandas_freq("hourly") == "h"


def test_complete_windows_and_drop_count():
    series = np.array([0, 1, 2, nan, 4, 5, 6, 7, 8.0])
    x, y = windows(series, history=2, horizon=1)  # 7 windows; those touching step 3 go
    keep = complete_windows(x, y)
    assert keep.tolist() == [True, False, False, False, True, True, True]
    xk, yk, dropped = drop_nan_windows(x, y)
    assert dropped == 3
    assert xk.tolist() == [[0, 1], [4, 5], [5, 6], [6, 7]] and yk.ravel().tolist() == [2, 6, 7, 8]


def test_drop_nan_windows_on_tensors_and_without_nan():
    t = torch.tensor([[0.0, 1], [nan, 3], [4, 5], [6, 7], [8, 9]])
    x, y = windows(t, history=1, horizon=1)
    xk, yk, dropped = drop_nan_windows(x, y)
    assert dropped == 2 and xk[:, 0].tolist() == [[4, 5], [6, 7]]
    clean = torch.arange(10.0)
    cx, cy = windows(clean, 3, 1)
    kx, ky, none = drop_nan_windows(cx, cy)
    assert none == 0 and kx is cx and ky is cy  # still the zero-copy views


def test_regularize_series_keeps_nodes_and_features():
    stamps = pd.date_range("2020-01-01", periods=6, freq="10min").delete([2])
    values = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    s = TimeSeries("t", values, ["a", "b"], index=stamps, freq="10min", features=["p", "q", "r"])
    out = regularize_series(s, "10min", limit=2)
    assert out.values.shape == (6, 2, 3) and len(out.index) == 6
    np.testing.assert_allclose(out.values[2], (values[1] + values[2]) / 2)
    assert out.features == ["p", "q", "r"] and out.columns == ["a", "b"]
