"""Splits by date, feature/target selection and the forecasting task on hand-checked cases."""

import numpy as np
import pandas as pd
import pytest
import torch

from forecast_fixtures import write_jena_zip, write_krakow
from rnnlab import config
from rnnlab.data import TimeSeries, split_points, split_series, windows
from rnnlab.data.features import assemble, select_features, select_nodes
from rnnlab.errors import ConfigError
from rnnlab.tasks.forecast import ForecastNet, ForecastTask


def hours(n, start="2014-12-31 20:00"):
    return pd.date_range(start, periods=n, freq="h")


def test_split_by_one_date():
    index = hours(10)  # 20:00 .. 05:00 next day
    assert split_points(10, index=index, dates=["2015-01-01"]) == [0, 4, 10]
    train, test = split_series(np.arange(10), index=index, dates=["2015-01-01"])
    assert train.tolist() == [0, 1, 2, 3] and test.tolist() == [4, 5, 6, 7, 8, 9]


def test_split_by_two_dates_and_a_date_between_steps():
    index = pd.date_range("2009-01-01 00:10", periods=6, freq="10min")
    assert split_points(6, index=index, dates=["2009-01-01 00:25", "2009-01-01 00:40"]) == \
        [0, 2, 3, 6]


def test_windows_never_cross_a_date_boundary():
    index = hours(48)
    steps = np.arange(48)
    for part, (a, b) in zip(split_series(steps, index=index, dates=["2015-01-01 12:00"]),
                            [(0, 16), (16, 48)]):
        x, y = windows(part, history=5, horizon=2)
        seen = set(x.ravel()) | set(y.ravel())
        assert seen == set(range(a, b))  # every step of the part, none of the other


@pytest.mark.parametrize("dates,message", [
    (["2016-01-01"], "leave part 2 empty"), (["2015-01-02", "2015-01-01"], "increasing"),
    (["not a date"], "split dates")])
def test_bad_split_dates(dates, message):
    with pytest.raises(ConfigError, match=message):
        split_points(10, index=hours(10), dates=dates)


def test_split_by_dates_needs_an_index():
    with pytest.raises(ConfigError, match="no time index"):
        split_points(10, dates=["2015-01-01"])


def station(n=6):
    values = np.arange(n * 3, dtype=float).reshape(n, 1, 3)
    return TimeSeries("w", values, ["Jena"], index=hours(n, "2020-01-01 22:00"), freq="h",
                      features=["p", "T", "rh"], units={"p": "mbar", "T": "degC"})


def test_features_in_targets_out_and_a_time_feature():
    s, ins, outs = select_features(station(), ["hour", "T", "rh"], ["T"])
    assert s.features == ["T", "rh"] and ins == ["hour", "T", "rh"] and outs == ["T"]
    x = assemble(s, ins)
    assert x.shape == (6, 1, 3)
    assert x[:, 0, 0].tolist() == [22, 23, 0, 1, 2, 3]  # hour of day from the index
    assert x[:, 0, 1].tolist() == [1, 4, 7, 10, 13, 16]  # T is column 1 of the source
    assert assemble(s, outs)[:, 0, 0].tolist() == [1, 4, 7, 10, 13, 16]


def test_default_targets_are_the_inputs_without_time_features():
    _, ins, outs = select_features(station(), ["hour", "p"], [])
    assert outs == ["p"]
    _, ins, outs = select_features(station(), [], [])
    assert ins == outs == ["p", "T", "rh"]


@pytest.mark.parametrize("features,targets,message", [
    (["Temp"], [], "not in w"), (["T"], ["hour"], "data.targets"), (["T", "T"], [], "repeat")])
def test_bad_feature_names(features, targets, message):
    with pytest.raises(ConfigError, match=message):
        select_features(station(), features, targets)


def test_series_without_named_features_refuses_them():
    s = TimeSeries("los", np.zeros((4, 3)), ["a", "b", "c"], column_kind="detector")
    with pytest.raises(ConfigError, match="data.nodes"):
        select_features(s, ["speed"], [])
    assert select_nodes(s, ["c", "a"]).columns == ["c", "a"]
    with pytest.raises(ConfigError, match="not in los"):
        select_nodes(s, ["z"])


def test_forecast_net_residual_adds_the_last_observed_target():
    layer = torch.nn.GRU(3, 4, batch_first=True)
    net = ForecastNet(layer, 4, horizon=2, nodes=2, features=3, per_node=True, residual=True,
                      out_features=1, residual_index=[1])
    torch.nn.init.zeros_(net.head.weight)
    torch.nn.init.zeros_(net.head.bias)  # the network adds nothing: output = last target
    x = torch.arange(2 * 5 * 6, dtype=torch.float32).view(2, 5, 6)  # 2 nodes x 3 features
    out = net(x)
    assert out.shape == (2, 2, 2)
    expected = x[:, -1].view(2, 2, 3)[:, :, 1]  # feature 1 of each node at the last step
    assert torch.equal(out[:, 0], expected) and torch.equal(out[:, 1], expected)


def make_task(raw, data_dir):
    return ForecastTask(config.from_dict(raw), data_dir=data_dir)


def test_jena_task_on_the_fixture(tmp_path, repo_root):
    write_jena_zip(tmp_path)
    task = make_task(config.read_yaml(repo_root / "configs" / "jena.yaml"), tmp_path)
    w = task.windows
    assert w["train"]["x"].shape == (5, 720, 7) and w["train"]["y"].shape == (5, 288, 1)
    assert task.describe()["split_times"]["test"][0] == "2015-01-01 00:00:00"
    assert task.dropped == {"train": 0, "test": 0}  # the one missing stamp was interpolated
    # every test target lies in 2015: no window reaches back across the boundary
    index = task.series.index
    first = w["test"]["start"].min().item()
    assert index[first] >= pd.Timestamp("2015-01-01")
    # the last-value baseline repeats the temperature at the window's last input step
    temp = task.series.values[:, 0, task.series.features.index("T (degC)")]
    starts = w["test"]["start"].numpy()
    np.testing.assert_allclose(w["test"]["last_raw"].numpy()[:, 0], temp[starts + 719])
    assert task.unit == "degC"


def test_gaps_left_after_interpolation_drop_exactly_the_windows_over_them(tmp_path):
    write_krakow(tmp_path, gaps={171: [5, 6, 7, 8, 9, 100]})
    raw = {"name": "k", "task": "forecast",
           "data": {"dataset": "krakow", "nodes": ["171"], "features": ["temperature"],
                    "targets": ["temperature"], "resample": "hourly", "history": 12},
           "model": {"hidden_size": 4}}
    task = make_task(raw, tmp_path)
    # hours 5..9 missing: 5, 6, 8, 9 interpolated, hour 7 stays NaN. The 13-step windows
    # starting at hours 0..7 hold it; the one-hour gap at 100 is filled.
    assert task.dropped == {"train": 8, "val": 0, "test": 0}
    assert len(task.windows["train"]["x"]) == int(8760 * 0.6) - 12 - 8
    assert task.unit == "°C"
