"""Known answers for fixed-time-span windows over an irregular time index."""

import numpy as np
import pandas as pd
import pytest

from rnnlab.data.windows import time_span_windows

# Check-ins at 00:00, 00:30, 02:00, 05:00 and 05:10.
TIMES = pd.DatetimeIndex(["2012-04-03 00:00", "2012-04-03 00:30", "2012-04-03 02:00",
                          "2012-04-03 05:00", "2012-04-03 05:10"])


def test_two_hour_windows_sliding_by_one_hour():
    # Windows [0,2) [1,3) [2,4) [3,5) [4,6) [5,7) hold rows {0,1} {2} {2} {} {3,4} {3,4}.
    starts, lo, hi = time_span_windows(TIMES, "2h", "1h")
    assert lo.tolist() == [0, 2, 2, 3, 3] and hi.tolist() == [2, 3, 3, 5, 5]
    assert [str(pd.Timestamp(s).time()) for s in starts] == \
        ["00:00:00", "01:00:00", "02:00:00", "04:00:00", "05:00:00"]


def test_min_length_and_unique():
    _, lo, hi = time_span_windows(TIMES, "2h", "1h", min_length=2)
    assert lo.tolist() == [0, 3, 3] and hi.tolist() == [2, 5, 5]
    _, lo, hi = time_span_windows(TIMES, "2h", "1h", unique=True)
    assert lo.tolist() == [0, 2, 3] and hi.tolist() == [2, 3, 5]


def test_only_complete_windows_like_the_slides_loop():
    # partial=False: the last window must end by 05:10, so starts are 0, 1, 2, 3 h.
    _, lo, hi = time_span_windows(TIMES, pd.Timedelta(hours=2), pd.Timedelta(hours=1),
                                  partial=False)
    assert lo.tolist() == [0, 2, 2] and hi.tolist() == [2, 3, 3]


def test_numeric_times_and_time_zones():
    _, lo, hi = time_span_windows(np.array([0.0, 0.5, 2.0, 5.0, 5.1667]), 2, 1)
    assert lo.tolist() == [0, 2, 2, 3, 3] and hi.tolist() == [2, 3, 3, 5, 5]
    aware = TIMES.tz_localize("UTC")
    assert time_span_windows(aware, "2h", "1h")[1].tolist() == [0, 2, 2, 3, 3]


def test_window_lengths_vary_on_an_hourly_series_with_gaps():
    hours = pd.date_range("2017-01-01", periods=48, freq="h").delete([5, 6, 7, 20])
    _, lo, hi = time_span_windows(hours, "12h", "1h", partial=False)
    lengths = hi - lo
    assert lengths.max() == 12 and lengths.min() == 9  # the 3-hour gap costs up to 3 rows
    assert len(lo) == 36  # starts 0:00 .. 35:00; the last one ends at 47:00


def test_bad_input():
    with pytest.raises(ValueError, match="sorted"):
        time_span_windows(TIMES[::-1], "2h", "1h")
    with pytest.raises(ValueError, match="positive"):
        time_span_windows(TIMES, "0h", "1h")
    _, lo, hi = time_span_windows(TIMES[:0], "2h", "1h")
    assert len(lo) == 0
