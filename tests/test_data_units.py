"""Windows, chronological splits, scalers and forecast metrics on tiny cases worked out by hand."""

import numpy as np
import pytest
import torch

from rnnlab.data import (MinMaxScaler, StandardScaler, count_windows, make_scaler,
                         sliding_windows, split_points, split_series, windows)
from rnnlab.data.scaling import Scaler
from rnnlab.errors import ConfigError
from rnnlab.tasks.forecast import horizon_metrics, mape, regression_metrics


def test_split_points_follow_the_slides_int_rule():
    assert split_points(10, [0.6, 0.2, 0.2]) == [0, 6, 8, 10]
    # Los-loop: int(2016 * 0.6) = 1209, int(2016 * 0.8) = 1612
    assert split_points(2016, [0.6, 0.2, 0.2]) == [0, 1209, 1612, 2016]
    assert split_points(8, [0.75, 0.25]) == [0, 6, 8]


@pytest.mark.parametrize("ratios", [[0.6, 0.2], [0.5, 0.6, -0.1], [0.0, 1.0]])
def test_bad_split_ratios_are_config_errors(ratios):
    with pytest.raises(ConfigError, match="sum to 1"):
        split_points(10, ratios)


def test_split_series_is_chronological_and_complete():
    series = np.arange(20)
    train, val, test = split_series(series, [0.6, 0.2, 0.2])
    assert train.tolist() == list(range(12))
    assert val.tolist() == [12, 13, 14, 15]
    assert test.tolist() == [16, 17, 18, 19]
    assert np.shares_memory(train, series)


def test_windows_by_hand():
    x, y = windows(np.arange(10), history=3, horizon=2, stride=2)
    assert x.tolist() == [[0, 1, 2], [2, 3, 4], [4, 5, 6]]
    assert y.tolist() == [[3, 4], [5, 6], [7, 8]]


def test_windows_multivariate_shapes_and_values():
    series = np.arange(24).reshape(8, 3)  # 8 steps x 3 columns
    x, y = windows(series, history=4, horizon=1)
    assert x.shape == (4, 4, 3) and y.shape == (4, 1, 3)
    assert x[1].tolist() == series[1:5].tolist()
    assert y[1, 0].tolist() == series[5].tolist()


def test_windows_are_zero_copy_views():
    series = np.random.rand(100, 5)
    x, y = windows(series, 12, 1)
    assert np.shares_memory(x, series) and np.shares_memory(y, series)
    t = torch.rand(100, 5)
    tx, ty = windows(t, 12, 1)
    assert tx.untyped_storage().data_ptr() == t.untyped_storage().data_ptr()
    assert torch.equal(tx[3], t[3:15]) and torch.equal(ty[3, 0], t[15])


def test_count_includes_the_last_complete_window():
    # The slides loop over range(len - window) and print (679, 12) for len 691:
    # that drops the final window. Every complete window is len - window + 1.
    assert count_windows(691, 12) == 680
    assert len(sliding_windows(np.zeros(691), 12)) == 680
    assert count_windows(5, 6) == 0


def test_windows_of_each_split_never_cross_its_boundary():
    series = np.arange(20)
    for part in split_series(series, [0.6, 0.2, 0.2]):
        x, y = windows(part, history=2, horizon=1)
        assert set(x.ravel()) | set(y.ravel()) <= set(part.tolist())


def test_window_longer_than_series_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        sliding_windows(np.zeros(5), 6)


def test_minmax_is_fitted_on_train_and_inverts_exactly():
    train = np.array([[0.0, 10.0], [5.0, 20.0], [10.0, 30.0]])
    scaler = MinMaxScaler().fit(train)
    assert scaler.transform(train).tolist() == [[0, 0], [0.5, 0.5], [1, 1]]
    test = np.array([[20.0, 0.0]])  # outside the training range: not clipped
    assert scaler.transform(test).tolist() == [[2.0, -0.5]]
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(test)), test)


def test_minmax_constant_column_does_not_divide_by_zero():
    scaler = MinMaxScaler().fit(np.array([[3.0], [3.0]]))
    assert scaler.transform(np.array([[3.0], [4.0]])).tolist() == [[0.0], [1.0]]


def test_standard_scaler_by_hand():
    scaler = StandardScaler().fit(np.array([[1.0], [3.0]]))  # mean 2, std 1
    assert scaler.transform(np.array([[2.0], [4.0]])).tolist() == [[0.0], [2.0]]
    assert scaler.inverse_transform(np.array([[-1.0]])).tolist() == [[1.0]]


def test_scaler_per_node_and_feature():
    series = np.zeros((4, 2, 3))
    series[:, 1, 2] = [0, 1, 2, 4]
    scaler = MinMaxScaler().fit(series)
    assert scaler.scale.shape == (2, 3)
    assert scaler.transform(series)[:, 1, 2].tolist() == [0, 0.25, 0.5, 1]


def test_scaler_state_round_trip():
    scaler = make_scaler("standard").fit(np.random.rand(50, 4))
    again = Scaler.from_state(scaler.state_dict())
    x = np.random.rand(3, 4)
    np.testing.assert_array_equal(again.transform(x), scaler.transform(x))
    assert type(again) is StandardScaler


def test_mape_ignores_targets_at_or_below_zero():
    y_true = np.array([0.0, 2.0, -1.0, 4.0])
    y_pred = np.array([1.0, 1.0, 0.0, 5.0])
    assert mape(y_true, y_pred) == pytest.approx((0.5 + 0.25) / 2 * 100)
    assert np.isnan(mape(np.array([0.0]), np.array([1.0])))


def test_regression_metrics_by_hand():
    m = regression_metrics(np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 2.0, 3.0, 2.0]))
    assert m["mae"] == pytest.approx(0.75)
    assert m["rmse"] == pytest.approx(np.sqrt(5 / 4))
    assert m["mape"] == pytest.approx((1 + 0.5) / 4 * 100)


def test_horizon_metrics_per_step():
    truth = np.zeros((2, 3, 1)) + 1
    pred = truth.copy()
    pred[:, 2] = 3  # only the third step is wrong, by 2
    m = horizon_metrics(truth, pred)
    assert m["mae@1"] == 0 and m["mae@2"] == 0 and m["mae@3"] == 2
    assert m["mae"] == pytest.approx(2 / 3)
