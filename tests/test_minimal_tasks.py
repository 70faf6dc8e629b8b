"""minGRU and minLSTM wherever a cell is chosen: build_rnn, configs, every task, export,
predict and generate, and `compare cell_types`."""

import numpy as np
import pytest
import torch

from rnnlab import config, experiment, export, nn, sweep
from rnnlab.errors import ConfigError
from rnnlab.rundir import RunFolder
from rnnlab.tasks import PredictOptions
from test_train import toy_config


@pytest.mark.parametrize("kind", ["mingru", "minlstm"])
def test_scratch_and_teaching_start_equal_and_compute_the_same(kind):
    args = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, batch_first=True)
    torch.manual_seed(0)
    scratch = nn.build_rnn(kind, "scratch", **args).double()
    after_scratch = torch.rand(1)
    torch.manual_seed(0)
    teaching = nn.build_rnn(kind, "teaching", **args).double()
    assert torch.equal(torch.rand(1), after_scratch)  # same draws: the heads match too
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    out_s, h_s = scratch(x)
    out_t, h_t = teaching(x)
    torch.testing.assert_close(out_s, out_t)
    torch.testing.assert_close(h_s, h_t)
    grad_s, = torch.autograd.grad(out_s.sum(), x)
    grad_t, = torch.autograd.grad(out_t.sum(), x)
    torch.testing.assert_close(grad_s, grad_t)


def test_the_minimal_cells_have_no_torch_implementation():
    with pytest.raises(ValueError, match="no torch.nn layer"):
        nn.build_rnn("mingru", "torch", input_size=3, hidden_size=4)
    raw = toy_config().to_dict()
    raw["model"].update(kind="minlstm", impl="torch")
    with pytest.raises(ConfigError, match="model.kind minlstm has no torch.nn layer"):
        config.from_dict(raw)


@pytest.mark.parametrize("init", ["xavier", "orthogonal"])
def test_init_schemes_reach_the_minimal_cells(init):
    torch.manual_seed(0)
    layer = nn.build_rnn("mingru", input_size=3, hidden_size=4, init=init)
    assert torch.count_nonzero(layer.bias_ih_l0) == 0  # the schemes zero the biases


def test_cell_types_compares_five_cells_except_on_torch_nn():
    assert sweep.comparison_blocks("cell_types", "forecast") == [
        {"model.kind": ["rnn", "lstm", "gru", "mingru", "minlstm"]}]
    assert sweep.comparison_blocks("cell_types", "forecast", "torch") == [
        {"model.kind": ["rnn", "lstm", "gru"]}]


@pytest.mark.parametrize("kind", ["mingru", "minlstm"])
def test_a_forecast_run_exports_and_predicts(tmp_path, kind):
    cfg = toy_config(epochs=2)
    cfg.model.kind = kind
    result = experiment.run(cfg, runs_dir=tmp_path, progress=False)
    assert result.summary["model"] == kind and np.isfinite(result.metrics["rmse"])
    run = RunFolder.find(str(result.run_dir)).load()
    x = run.task.windows["test"]["x"][:4]
    for fmt in ("torchscript", "onnx"):
        path = export.export_run(str(result.run_dir), fmt, tmp_path / f"m.{fmt}")
        assert path.stat().st_size > 0
    traced = torch.jit.load(str(tmp_path / "m.torchscript"))
    with torch.no_grad():
        torch.testing.assert_close(traced(x), run.model(x), rtol=1e-5, atol=1e-6)


def test_classify_and_language_runs_with_minimal_cells(tmp_path):
    names = experiment.run(config.from_dict({
        "name": "n", "task": "classify",
        "data": {"dataset": "names", "limit": 6000, "split_seed": 0},
        "model": {"kind": "mingru", "hidden_size": 16, "bidirectional": True, "pooling": "max"},
        "train": {"epochs": 1, "batch_size": 128, "lr": 0.01}}), runs_dir=tmp_path,
        progress=False)
    assert names.metrics["accuracy"] > 0.3
    (ranked,) = names.predict(["Nakamura"], top=2)
    assert len(ranked) == 2
    with pytest.raises(ConfigError, match="--format state_dict"):
        export.export_run(str(names.run_dir), "onnx")
    lm = experiment.run(config.from_dict({
        "name": "lm", "task": "language",
        "data": {"dataset": "timemachine", "max_train_tokens": 3000, "sample_length": 5,
                 "prefixes": ["time"]},
        "model": {"kind": "minlstm", "hidden_size": 16, "num_layers": 2},
        "train": {"epochs": 1, "batch_size": 8, "lr": 1.0, "optimizer": "sgd"}}),
        runs_dir=tmp_path, progress=False)
    run = RunFolder.find(str(lm.run_dir)).load(for_prediction=True)
    (text,) = run.task.predict_command(run.model, ["time"], PredictOptions(length=5))
    assert text == lm.summary["samples"]["time"]  # generation repeats the run's own samples
