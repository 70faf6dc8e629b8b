"""The training loop and run records on a small synthetic series (no files needed)."""

import json

import numpy as np
import pytest
import torch

from rnnlab import config, experiment, train
from rnnlab.data import registry
from rnnlab.data.series import TimeSeries
from rnnlab.errors import TrainingError
from rnnlab.store import Store
from rnnlab.tasks.forecast import ForecastTask


def _toy_series(data_dir=None, download=False):
    t = np.arange(300)
    values = np.stack([np.sin(t / 8) + 2, np.cos(t / 5) + 2, np.sin(t / 3) + 3], axis=1)
    values += np.random.default_rng(0).normal(0, 0.05, values.shape)
    return TimeSeries("toy_sine", values, ["a", "b", "c"], unit="u")


registry.register(registry.DatasetInfo("toy_sine", "forecast", "synthetic test series", (),
                                       load=_toy_series))


def toy_config(**train):
    return config.from_dict({
        "name": "toy", "task": "forecast", "seed": 1,
        "data": {"dataset": "toy_sine", "history": 6, "horizon": 2, "plot_columns": [0, 2]},
        "model": {"kind": "lstm", "hidden_size": 8, "dropout": 0.0},
        "train": {"epochs": 4, "batch_size": 16, "lr": 0.01, **train}})


def test_run_writes_folder_store_and_summary(tmp_path):
    result = experiment.run(toy_config(), runs_dir=tmp_path, progress=False)
    files = {p.name for p in result.run_dir.iterdir()}
    assert {"config.yaml", "metrics.csv", "best.pt", "last.pt", "summary.json", "loss.png",
            "metrics.png", "predictions.png"} <= files
    summary = json.loads((result.run_dir / "summary.json").read_text())
    for key in ("task", "dataset", "model", "impl", "test", "epochs", "train_seconds",
                "seconds_per_epoch", "parameters", "baselines", "versions"):
        assert key in summary
    assert summary["test"]["rmse@2"] >= 0 and summary["epochs"] == 4
    row = Store(tmp_path / "rnnlab.db").get_run(result.run_id)
    assert row["status"] == "finished" and json.loads(row["summary"])["test"] == summary["test"]
    assert len(Store(tmp_path / "rnnlab.db").epochs(result.run_id)) == 4
    assert len((result.run_dir / "metrics.csv").read_text().splitlines()) == 5


def test_same_seed_same_numbers(tmp_path):
    a = experiment.run(toy_config(), runs_dir=tmp_path, progress=False)
    b = experiment.run(toy_config(), runs_dir=tmp_path, progress=False)
    assert a.summary["test"] == b.summary["test"]


@pytest.mark.parametrize("ema", [None, 0.9])  # with train.ema, last.pt carries the average
def test_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch, ema):
    cfg = toy_config(epochs=5, ema=ema)
    cfg.model.dropout = 0.3  # dropout draws random numbers: the RNG state must be restored
    cfg.model.num_layers = 2
    cfg.data.test_every = 5  # the per-batch test log is carried across the resume too
    straight = experiment.run(cfg, runs_dir=tmp_path / "a", progress=False)

    original = ForecastTask.train_batches

    def interrupt_at_epoch_3(self, epoch):
        if epoch == 3:
            raise KeyboardInterrupt
        return original(self, epoch)

    monkeypatch.setattr(ForecastTask, "train_batches", interrupt_at_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        experiment.run(cfg, runs_dir=tmp_path / "b", progress=False)
    store = Store(tmp_path / "b" / "rnnlab.db")
    (row,) = store.list_runs()
    assert row["status"] == "interrupted"
    assert not (tmp_path / "b" / row["id"] / "summary.json").exists()

    monkeypatch.setattr(ForecastTask, "train_batches", original)
    resumed = experiment.resume(row["id"], runs_dir=tmp_path / "b", progress=False)
    assert resumed.summary["test"] == straight.summary["test"]
    assert list(resumed.history["train_loss"]) == list(straight.history["train_loss"])
    assert list(resumed.history["val_loss"]) == list(straight.history["val_loss"])
    a = torch.load(straight.run_dir / "best.pt", weights_only=True)["model"]
    b = torch.load(resumed.run_dir / "best.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    log = (straight.run_dir / "batch_metrics.csv").read_text()
    assert len(log.splitlines()) > 5 and (resumed.run_dir / "batch_metrics.csv").read_text() == log
    assert store.get_run(row["id"])["status"] == "finished"


def test_nan_loss_stops_with_the_step_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    original = ForecastTask.train_step

    def nan_in_epoch_2(self, model, batch):
        loss, n = original(self, model, batch)
        epoch = getattr(self, "_epoch_seen", 0)
        return (loss * float("nan") if epoch >= 2 else loss), n

    original_batches = ForecastTask.train_batches

    def track(self, epoch):
        self._epoch_seen = epoch
        return original_batches(self, epoch)

    monkeypatch.setattr(ForecastTask, "train_step", nan_in_epoch_2)
    monkeypatch.setattr(ForecastTask, "train_batches", track)
    with pytest.raises(TrainingError, match=r"epoch 2, step 1.*train\.lr.*train\.clip"):
        experiment.run(toy_config(), runs_dir=tmp_path, progress=False)
    (row,) = Store(tmp_path / "rnnlab.db").list_runs()
    assert row["status"] == "failed" and "epoch 2" in row["error"]
    last = torch.load(tmp_path / row["id"] / "last.pt", weights_only=True)
    assert last["epoch"] == 1


def test_two_part_split_keeps_the_last_epoch(tmp_path):
    cfg = toy_config(epochs=3)
    cfg.data.split = [0.8, 0.2]
    result = experiment.run(cfg, runs_dir=tmp_path, progress=False)
    assert result.summary["best_epoch"] == 3
    assert "no validation" in result.summary["selection"]
    assert "test_loss" in result.history.columns and "val_loss" not in result.history.columns


@pytest.mark.parametrize("impl", ["torch", "teaching"])
def test_every_impl_starts_from_the_same_function(impl):
    """Same seed: the untrained model gives the same validation loss in every impl."""
    losses = []
    for name in ("scratch", impl):
        cfg = toy_config()
        cfg.model.impl = name
        task, model = experiment.prepare(cfg)
        losses.append(task.evaluate(model, "val")["loss"])
    assert losses[1] == pytest.approx(losses[0], rel=1e-5)


def test_scratch_and_torch_train_identically(tmp_path):
    """Same parameters and same gradients: the same first epoch, to float32 rounding.
    (The teaching forms keep one bias per gate where torch.nn has two, so their
    training path differs even from the same start.)"""
    runs = []
    for impl in ("scratch", "torch"):
        cfg = toy_config(epochs=1)
        cfg.model.impl = impl
        runs.append(experiment.run(cfg, runs_dir=tmp_path, progress=False))
    assert runs[1].history["train_loss"].iloc[0] == pytest.approx(runs[0].history["train_loss"].iloc[0],
                                                             rel=1e-4)


def test_ema_keeps_the_moving_average_of_the_weights(tmp_path, monkeypatch):
    """train.ema: best.pt holds e_1 = w_1, e_k = d e_(k-1) + (1 - d) w_k over the optimiser
    steps, taken at the best epoch, and validation is scored with those weights."""
    decay, snapshots, made = 0.8, [], train.make_optimizer

    def recording_optimizer(params, cfg):
        opt = made(params, cfg)
        step = opt.step

        def step_and_record(*args, **kwargs):
            out = step(*args, **kwargs)
            snapshots.append([p.detach().clone() for p in params])
            return out

        opt.step = step_and_record
        return opt

    monkeypatch.setattr(train, "make_optimizer", recording_optimizer)
    cfg = toy_config(epochs=3, ema=decay)
    result = experiment.run(cfg, runs_dir=tmp_path, progress=False)
    steps = len(snapshots) // 3
    assert steps * 3 == len(snapshots) and steps > 1
    expected, averages = None, []
    for k, weights in enumerate(snapshots, 1):
        expected = weights if expected is None else [
            decay * e + (1 - decay) * w for e, w in zip(expected, weights)]
        if k % steps == 0:
            averages.append(expected)
    best = torch.load(result.run_dir / "best.pt", weights_only=True)
    kept = [v for v in best["model"].values()]
    want = averages[result.summary["best_epoch"] - 1]
    assert len(kept) == len(want)
    for got, exp in zip(kept, want):
        torch.testing.assert_close(got, exp, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(kept[0], snapshots[steps * result.summary["best_epoch"] - 1][0])
    # the validation loss of the best epoch is that of the averaged weights
    task, model = experiment.prepare(cfg)
    model.load_state_dict(best["model"])
    row = result.history.iloc[result.summary["best_epoch"] - 1]
    assert task.evaluate(model, "val")["loss"] == pytest.approx(row["val_loss"], rel=1e-6)


def test_plateau_schedule_counts_a_tie_of_a_metric_to_maximise_as_no_gain(tmp_path,
                                                                          monkeypatch):
    """train.scheduler: plateau with a validation figure to maximise (classify accuracy):
    three epochs without a gain (ties included) halve the lr, and a gain resets the count."""
    scores = iter([0.5, 0.6, 0.6, 0.6, 0.6, 0.55, 0.7, 0.7])
    evaluate = ForecastTask.evaluate

    def scripted(self, model, split):
        out = evaluate(self, model, split)
        return {**out, "score": next(scores)} if split == "val" else out

    monkeypatch.setattr(ForecastTask, "evaluate", scripted)
    monkeypatch.setattr(ForecastTask, "monitor", "val_score")
    monkeypatch.setattr(ForecastTask, "monitor_mode", "max")
    cfg = toy_config(epochs=8, scheduler="plateau", gamma=0.5)
    result = experiment.run(cfg, runs_dir=tmp_path, progress=False)
    # epochs 3-5 tie the best (0.6): halved from epoch 6; the gain at 7 and a tie keep it
    assert result.history["lr"].tolist() == [0.01] * 5 + [0.005] * 3
    assert result.summary["best_epoch"] == 7


@pytest.mark.parametrize("ema", [None, 0.8])
def test_test_every_scores_the_weights_validation_scores(tmp_path, ema):
    """data.test_every logs test metrics every N optimiser steps, from the same weights the
    epochs are judged by: the moving average under train.ema, else the trained model."""
    from torch.optim.swa_utils import AveragedModel

    cfg = toy_config(epochs=2, ema=ema)
    task, model = experiment.prepare(cfg)
    steps = task.num_train_batches()
    cfg.data.test_every = steps
    result = experiment.run(cfg, runs_dir=tmp_path, progress=False)
    log = np.genfromtxt(result.run_dir / "batch_metrics.csv", delimiter=",", names=True)
    assert list(log["batch"]) == [steps, 2 * steps]
    last = torch.load(result.run_dir / "last.pt", weights_only=True)
    model.load_state_dict(last["model"])
    judged = model
    if ema is not None:
        averaged = AveragedModel(model, use_buffers=True)
        averaged.load_state_dict(last["ema"])
        judged = averaged.module
    want = task.evaluate(judged, "test")
    assert log["rmse"][-1] == pytest.approx(want["rmse"], rel=1e-6)
    if ema is not None:  # and not the raw weights
        assert log["rmse"][-1] != pytest.approx(task.evaluate(model, "test")["rmse"], rel=1e-6)


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop"])
def test_optimisers_use_the_fused_step_where_torch_has_one(name):
    """SGD/Adam/AdamW take torch's fused step (one kernel for all parameters); the weights
    after a few steps equal those of the per-tensor step to rounding."""
    cfg = config.TrainConfig(optimizer=name, lr=0.05, momentum=0.9, weight_decay=0.01)
    weights = []
    for fused in (True, False):
        torch.manual_seed(0)
        params = [torch.randn(7, 5, dtype=torch.float64, requires_grad=True),
                  torch.randn(5, dtype=torch.float64, requires_grad=True)]
        opt = train.make_optimizer(params, cfg)
        assert bool(opt.defaults.get("fused")) == (name != "rmsprop")
        if not fused:  # the same optimiser through torch's default (for-each) step
            for group in opt.param_groups:
                group["fused"] = None
        for k in range(5):
            for p in params:
                p.grad = torch.sin(p.detach() * (k + 1))
            opt.step()
        weights.append([p.detach().clone() for p in params])
    for a, b in zip(*weights):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
