"""Using a finished run: eval reproduces the stored metrics; exports compute the same function."""

import shutil

import numpy as np
import pytest
import torch

from rnnlab import ensemble, experiment, export, inference
from rnnlab.errors import ConfigError, DataError
from rnnlab.rundir import RunFolder
from rnnlab.tasks import PredictOptions
from test_train import toy_config


def load(ref, runs="runs", for_prediction=False):
    return RunFolder.find(str(ref), runs).load(for_prediction=for_prediction)


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
        export.export_run(result.run_id, "keras", runs_dir=runs)


def test_a_run_without_weights_is_named(finished, tmp_path):
    result, _ = finished
    copy = shutil.copytree(result.run_dir, tmp_path / "noweights")
    (copy / "best.pt").unlink()
    with pytest.raises(DataError, match="no best.pt"):
        load(copy)


def test_state_dict_export_loads_into_torch_nn(finished, tmp_path):
    result, runs = finished
    run = load(result.run_id, runs)
    path = export.export_run(result.run_id, "state_dict", tmp_path / "m.pt", runs_dir=runs)
    state = torch.load(path, weights_only=True)
    layer = torch.nn.LSTM(3, 8, num_layers=2, bidirectional=True, batch_first=True)
    layer.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("rnn.")})
    x = run.task.windows["test"]["x"][:5]
    with torch.no_grad():  # torch.nn's LSTM with the exported weights computes the same function
        torch.testing.assert_close(layer(x)[0], run.model.rnn(x)[0], rtol=1e-5, atol=1e-6)
        whole = export.to_torch_layers(run.task.build_model()).eval()  # fresh random weights
        whole.load_state_dict(state)
        torch.testing.assert_close(whole(x), run.model(x), rtol=1e-5, atol=1e-6)


def test_torchscript_export_computes_the_same_function(finished, tmp_path):
    result, runs = finished
    run = load(result.run_id, runs)
    path = export.export_run(result.run_id, "torchscript", tmp_path / "m.ts", runs_dir=runs)
    scripted = torch.jit.load(str(path))
    x = run.task.windows["test"]["x"][:5]  # another batch size than the traced one
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), run.model(x), rtol=1e-5, atol=1e-6)


def test_onnx_export_is_checked_and_computes_the_same_function(finished, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    result, runs = finished
    run = load(result.run_id, runs)
    path = export.export_run(result.run_id, "onnx", tmp_path / "m.onnx", runs_dir=runs)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = run.task.windows["test"]["x"][:7]
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(got, run.model(x).numpy(), rtol=1e-4, atol=1e-5)


def test_to_torch_layers_swaps_only_recurrent_layers(finished):
    result, runs = finished
    run = load(result.run_id, runs)
    swapped = export.to_torch_layers(run.model)
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
        list(result.history["val_loss"]))
    assert "figures/loss" in tags["images"]
    hparams = list((result.run_dir / "tensorboard").rglob("events.out.tfevents.*"))
    assert len(hparams) >= 2  # the scalars file and the hparams summary


# ---------------------------------------------------------------- predict

def test_forecast_from_rows_equals_the_model_on_that_window(finished, tmp_path):
    import pandas as pd

    result, runs = finished
    run = load(result.run_id, runs)
    a, _ = run.task.parts["test"]
    h = run.cfg.data.history
    rows = run.task.series.values[a:a + h]
    frame = pd.DataFrame(rows, columns=run.task.series.columns)
    table = run.task.predict(run.model, pd.concat([frame.iloc[:2], frame]))  # extra rows first
    expected = run.task.forecasts(run.model, "test")[0]
    np.testing.assert_allclose(table.to_numpy(), expected, rtol=1e-6)
    assert list(table.index) == ["+1", "+2"] and list(table.columns) == ["a", "b", "c"]


def test_forecast_input_errors_are_clear(finished):
    import pandas as pd

    result, runs = finished
    run = load(result.run_id, runs)
    ok = pd.DataFrame(np.ones((6, 3)), columns=["a", "b", "c"])
    with pytest.raises(ConfigError, match="lacks 1 of the model's 3 input columns"):
        run.task.predict(run.model, ok.drop(columns="b"))
    with pytest.raises(ConfigError, match="data.history = 6 steps; the input has 4 rows"):
        run.task.predict(run.model, ok.iloc[:4])
    bad = ok.copy()
    bad.iloc[-1, 0] = np.nan
    with pytest.raises(ConfigError, match="empty or non-numeric"):
        run.task.predict(run.model, bad)
    with pytest.raises(ConfigError, match="no time stamps"):
        run.task.predict_command(run.model, [], PredictOptions(at="2020-01-01"))


def test_predict_cli_on_a_real_time_index(cli, repo_root):
    proc = cli("run", repo_root / "configs/los_loop.yaml", "--set", "model.layout=joint",
               "--set", "model.hidden_size=4", "--set", "train.epochs=1", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    run_dir = next(p for p in (cli.cwd / "runs").iterdir() if p.is_dir())
    out = cli("predict", run_dir.name, "--at", "2012-03-05 10:00", "-o", "next.csv",
              "--plot", "next.png")
    assert out.returncode == 0, out.stderr
    import pandas as pd
    table = pd.read_csv(cli.cwd / "next.csv", index_col=0)
    assert list(table.index) == ["2012-03-05 10:05:00"] and table.shape[1] == 207
    assert (cli.cwd / "next.png").stat().st_size > 1000
    late = cli("predict", run_dir.name, "--at", "2012-03-01 00:30")
    assert late.returncode == 2 and "fewer than data.history = 12 steps" in late.stderr


def names_config(seed=0, split_seed=None):
    from rnnlab import config

    return config.from_dict({
        "name": "names", "task": "classify", "seed": seed,
        "data": {"dataset": "names", "split": [0.8, 0.1, 0.1], "limit": 8000,
                 "split_seed": split_seed},
        "model": {"kind": "gru", "hidden_size": 32, "embedding": "onehot"},
        "train": {"epochs": 1, "batch_size": 64, "lr": 0.01}})


@pytest.fixture(scope="module")
def names_run(tmp_path_factory):
    runs = tmp_path_factory.mktemp("names")
    return experiment.run(names_config(), runs_dir=runs, progress=False), runs


def test_classify_predict_ranks_classes(names_run):
    result, runs = names_run
    run = load(result.run_id, runs)
    ranked = run.task.predict(run.model, ["Dovesky", "Nakamura", "Ślusàrski"], top=3)
    assert len(ranked) == 3 and all(len(r) == 3 for r in ranked)
    for r in ranked:
        probs = [p for _, p in r]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
        assert all(label in run.task.classes for label, _ in r)
    # Folding to ASCII happens before encoding, as in training.
    (alone,) = run.task.predict(run.model, "Slusarski", 3)
    assert [label for label, _ in alone] == [label for label, _ in ranked[2]]
    assert [p for _, p in alone] == pytest.approx([p for _, p in ranked[2]], rel=1e-5)


def test_classify_predict_errors(names_run):
    result, runs = names_run
    run = load(result.run_id, runs)
    with pytest.raises(ConfigError, match="non-empty"):
        run.task.predict(run.model, ["  "])
    with pytest.raises(ConfigError, match="no letters of the names alphabet"):
        run.task.predict(run.model, ["张伟"])
    with pytest.raises(ConfigError, match="--top"):
        run.task.predict(run.model, ["Smith"], top=0)


def test_eval_of_a_classify_run(names_run):
    result, runs = names_run
    computed, stored = inference.evaluate_run(result.run_id, "test", runs_dir=runs)
    assert inference.metrics_agree(computed, stored) and "f1_macro" in stored


@pytest.fixture(scope="module")
def second_names_run(names_run):
    """Seed 1 on seed 0's split: same test rows, other weights."""
    _, runs = names_run
    return experiment.run(names_config(seed=1, split_seed=0), runs_dir=runs, progress=False)


def test_split_seed_fixes_the_rows_while_the_seed_changes(names_run, second_names_run):
    from rnnlab.tasks.classify import ClassifyTask

    first = load(names_run[0].run_id, names_run[1]).task
    second = load(second_names_run.run_id, names_run[1]).task
    own = ClassifyTask(names_config(seed=1))  # split from the run's seed
    assert first.fingerprint("test") == second.fingerprint("test")
    assert torch.equal(first.parts["test"].labels, second.parts["test"].labels)
    assert own.fingerprint("test") != first.fingerprint("test")
    assert len(own.parts["test"].labels) == len(first.parts["test"].labels)


def test_ensemble_averages_the_members_probabilities(names_run, second_names_run):
    _, runs = names_run
    ids = [names_run[0].run_id, second_names_run.run_id]
    result = ensemble.ensemble_runs(ids, "test", runs_dir=runs)
    loaded = [load(i, runs) for i in ids]
    for run in loaded:  # each member's row is its own stored test figures
        assert inference.metrics_agree(result["members"][run.run_id], run.summary["test"])
    probs = [torch.softmax(r.task.logits(r.model, "test").double(), 1) for r in loaded]
    mean = (probs[0] + probs[1]) / 2
    truth = loaded[0].task.parts["test"].labels
    expected = (mean.argmax(1) == truth).double().mean().item()
    assert result["ensemble"]["accuracy"] == pytest.approx(expected, abs=1e-12)
    nll = -mean[torch.arange(len(truth)), truth].log().mean().item()
    assert result["ensemble"]["loss"] == pytest.approx(nll, rel=1e-5)
    seen = result["seen_in_train"]
    assert 0 < seen["share"] < 1 and seen["count"] > 0
    cm = np.array(result["confusion_matrix"])  # rows: truth, columns: the ensemble's argmax
    assert cm.sum() == len(truth) and np.trace(cm) / len(truth) == pytest.approx(expected)
    assert [cm[i].sum() for i in range(len(cm))] == [
        result["per_class"][name]["support"] for name in result["classes"]]


def test_ensemble_refuses_what_it_cannot_average(names_run, finished):
    _, runs = names_run
    own = experiment.run(names_config(seed=1), runs_dir=runs, progress=False)
    with pytest.raises(ConfigError, match="not evaluated on the same test rows"):
        ensemble.ensemble_runs([names_run[0].run_id, own.run_id], runs_dir=runs)
    with pytest.raises(ConfigError, match="listed twice"):
        ensemble.ensemble_runs([names_run[0].run_id] * 2, runs_dir=runs)
    with pytest.raises(ConfigError, match="at least two runs"):
        ensemble.ensemble_runs([names_run[0].run_id], runs_dir=runs)
    with pytest.raises(ConfigError, match="averages runs of one task"):
        ensemble.ensemble_runs([str(finished[0].run_dir), names_run[0].run_id], runs_dir=runs)


def test_ensemble_of_forecast_runs_averages_their_predictions(finished):
    result, runs = finished
    cfg = toy_config(epochs=1)
    cfg.model.kind = "gru"  # another model on the same windows
    other = experiment.run(cfg, runs_dir=runs, progress=False)
    ids = [result.run_id, other.run_id]
    ens = ensemble.ensemble_runs(ids, "test", runs_dir=runs)
    loaded = [load(i, runs) for i in ids]
    for run in loaded:
        assert inference.metrics_agree(ens["members"][run.run_id], run.summary["test"])
    with torch.no_grad():
        mean = sum(r.task.forecasts(r.model, "test") for r in loaded) / 2
    truth = loaded[0].task.windows["test"]["y_raw"].numpy()
    assert ens["ensemble"]["rmse"] == pytest.approx(np.sqrt(np.mean((mean - truth) ** 2)))
    assert ens["ensemble"]["mae"] == pytest.approx(np.mean(np.abs(mean - truth)))
    assert "rmse@2" in ens["ensemble"]  # per horizon, as in a run's summary
    assert ens["baselines"] == loaded[0].summary["baselines"]
    with pytest.raises(ConfigError, match="forecast runs have none, leave it out"):
        ensemble.ensemble_runs(ids, "test", figures_dir="figs", runs_dir=runs)


def test_ensemble_cli_prints_and_writes(names_run, second_names_run, cli):
    import json

    _, runs = names_run
    out = cli("ensemble", names_run[0].run_id, second_names_run.run_id, "--runs-dir", str(runs),
              "-o", "ens.json", "--figures", "figs")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["test", "accuracy", "f1_macro"]
    assert lines[3].startswith("ensemble")
    written = json.loads((cli.cwd / "ens.json").read_text())
    assert float(lines[3].split()[1]) == pytest.approx(written["ensemble"]["accuracy"], abs=1e-3)
    for name in ("confusion.png", "per_class_f1.png"):
        assert (cli.cwd / "figs" / name).stat().st_size > 1000
    saved = np.loadtxt(cli.cwd / "figs" / "confusion.csv", delimiter=",")
    assert saved.tolist() == written["confusion_matrix"]


def test_ensemble_of_a_sweep_over_seeds(cli):
    (cli.cwd / "tiny.yaml").write_text(
        "name: tiny\ntask: classify\n"
        "data: {dataset: names, limit: 6000, split_seed: 0}\n"
        "model: {kind: gru, hidden_size: 8, embedding: onehot}\n"
        "train: {epochs: 1, batch_size: 128, lr: 0.01}\n")
    swept = cli("sweep", "tiny.yaml", "--seeds", "2", "--name", "two", "--no-progress")
    assert swept.returncode == 0, swept.stderr
    out = cli("ensemble", "--sweep", "two")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) >= 4 and lines[3].startswith("ensemble")
    assert lines[1].split()[0] != lines[2].split()[0]  # two different runs
    nothing = cli("ensemble")
    assert nothing.returncode == 2 and "--sweep NAME" in nothing.stderr
    unknown = cli("ensemble", "--sweep", "tow")
    assert unknown.returncode == 2 and "no sweep 'tow'" in unknown.stderr
