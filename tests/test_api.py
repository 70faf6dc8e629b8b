"""The Python API a notebook uses: rnnlab.run, the result's history, plots and predict."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import rnnlab  # noqa: E402
from rnnlab.errors import ConfigError  # noqa: E402
from test_train import toy_config  # noqa: E402


def test_lazy_subpackages_and_run_from_a_dict(tmp_path):
    from rnnlab import data, nn, run  # noqa: F401  (the import line the docs promise)

    raw = toy_config(epochs=2).to_dict()
    result = run(raw, overrides=["model.hidden_size=4"], runs_dir=tmp_path, progress=False)
    assert isinstance(result.history, pd.DataFrame) and len(result.history) == 2
    assert {"epoch", "train_loss", "val_loss", "val_rmse@2"} <= set(result.history.columns)
    assert result.summary["hidden_size"] == 4
    assert result.metrics["rmse@2"] > 0 and "last_value" in result.baselines
    assert hasattr(nn, "LSTM") and hasattr(data, "windows")


def test_run_from_a_preset_name_with_quick(tmp_path):
    result = rnnlab.run("los_loop", quick=True, runs_dir=tmp_path, progress=False,
                        overrides=["model.layout=joint", "model.hidden_size=4",
                                   "train.epochs=1"])
    assert result.summary["epochs"] == 1 and result.summary["dataset"] == "los_loop"


def test_plots_draw_into_a_given_axes(tmp_path):
    result = rnnlab.run(toy_config(epochs=2).to_dict(), runs_dir=tmp_path, progress=False)
    fig, axes = plt.subplots(1, 2)
    assert result.plot_loss(axes[0]) is axes[0]
    assert {line.get_label() for line in axes[0].lines} == {"train_loss", "val_loss"}
    result.plot_metric("rmse@2", axes[1])
    assert [line.get_label() for line in axes[1].lines] == ["val_rmse@2"]
    with pytest.raises(ConfigError, match="no 'accuracy'"):
        result.plot_metric("accuracy")
    plt.close(fig)


def test_predict_from_the_result(tmp_path):
    result = rnnlab.run(toy_config(epochs=1).to_dict(), runs_dir=tmp_path, progress=False)
    run = result.load()
    a, _ = run.task.parts["test"]
    rows = pd.DataFrame(run.task.series.values[a:a + 6], columns=["a", "b", "c"])
    table = result.predict(rows)
    assert table.shape == (2, 3)
    assert table.to_numpy() == pytest.approx(run.task.forecasts(run.model, "test")[0], rel=1e-6)
