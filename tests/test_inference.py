"""Using a finished run: eval reproduces the stored metrics; exports compute the same function."""

import shutil

import numpy as np
import pytest
import torch

from rnnlab import experiment, inference
from rnnlab.errors import ConfigError, DataError
from test_train import toy_config


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    cfg = toy_config(epochs=2)
    cfg.model.kind, cfg.model.num_layers, cfg.model.bidirectional = "lstm", 2, True
    return experiment.run(cfg, runs_dir=runs, progress=False), runs


@pytest.mark.parametrize("split", ["test", "val"])
def test_eval_reproduces_the_stored_metrics(finished, split):
    result, runs = finished
    computed, stored = inference.evaluate_run(result.run_id, split, runs_dir=runs)
    assert stored and inference.metrics_agree(computed, stored)
    assert computed["rmse@2"] == pytest.approx(stored["rmse@2"], rel=1e-9)


def test_a_copied_run_folder_evaluates_on_its_own(finished, tmp_path):
    result, _ = finished
    copy = shutil.copytree(result.run_dir, tmp_path / "elsewhere")
    computed, stored = inference.evaluate_run(str(copy), "test", runs_dir=tmp_path / "none")
    assert inference.metrics_agree(computed, stored)


def test_metrics_agree_notices_a_difference():
    assert not inference.metrics_agree({"rmse": 1.0}, {"rmse": 1.001})
    assert not inference.metrics_agree({}, {"rmse": 1.0})


def test_missing_split_and_unknown_format_are_clear(finished):
    result, runs = finished
    with pytest.raises(ConfigError, match="does not exist"):
        inference.evaluate_run(result.run_id, "dev", runs_dir=runs)
    with pytest.raises(ConfigError, match="state_dict, torchscript, onnx"):
        inference.export_run(result.run_id, "keras", runs_dir=runs)


def test_a_run_without_weights_is_named(finished, tmp_path):
    result, _ = finished
    copy = shutil.copytree(result.run_dir, tmp_path / "noweights")
    (copy / "best.pt").unlink()
    with pytest.raises(DataError, match="no best.pt"):
        inference.load_run(str(copy))


def test_state_dict_export_loads_into_torch_nn(finished, tmp_path):
    result, runs = finished
    path = inference.export_run(result.run_id, "state_dict", tmp_path / "m.pt", runs_dir=runs)
    state = torch.load(path, weights_only=True)
    layer = torch.nn.LSTM(3, 8, num_layers=2, bidirectional=True, batch_first=True)
    layer.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("rnn.")})


def test_torchscript_export_computes_the_same_function(finished, tmp_path):
    result, runs = finished
    run = inference.load_run(result.run_id, runs_dir=runs)
    path = inference.export_run(result.run_id, "torchscript", tmp_path / "m.ts", runs_dir=runs)
    scripted = torch.jit.load(str(path))
    x = run.task.windows["test"]["x"][:5]  # another batch size than the traced one
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), run.model(x), rtol=1e-5, atol=1e-6)


def test_onnx_export_is_checked_and_computes_the_same_function(finished, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    result, runs = finished
    run = inference.load_run(result.run_id, runs_dir=runs)
    path = inference.export_run(result.run_id, "onnx", tmp_path / "m.onnx", runs_dir=runs)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = run.task.windows["test"]["x"][:7]
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(got, run.model(x).numpy(), rtol=1e-4, atol=1e-5)


def test_to_torch_layers_swaps_only_recurrent_layers(finished):
    result, runs = finished
    run = inference.load_run(result.run_id, runs_dir=runs)
    swapped = inference.to_torch_layers(run.model)
    assert type(swapped.rnn) is torch.nn.LSTM and type(run.model.rnn) is not torch.nn.LSTM
    assert type(swapped.head) is torch.nn.Linear
    x = run.task.windows["test"]["x"][:4]
    with torch.no_grad():
        torch.testing.assert_close(swapped(x), run.model(x))


def test_tensorboard_log_holds_scalars_and_hparams(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = experiment.run(toy_config(epochs=2), runs_dir=tmp_path, progress=False,
                            tensorboard=True)
    events = EventAccumulator(str(result.run_dir / "tensorboard")).Reload()
    tags = events.Tags()
    assert {"train/loss", "val/loss", "val/rmse@2", "run/lr"} <= set(tags["scalars"])
    assert [e.value for e in events.Scalars("val/loss")] == pytest.approx(
        [row["val_loss"] for row in result.history])
    assert "figures/loss" in tags["images"]
    hparams = list((result.run_dir / "tensorboard").rglob("events.out.tfevents.*"))
    assert len(hparams) >= 2  # the scalars file and the hparams summary
