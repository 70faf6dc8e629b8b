"""The long-range memory problems: generators with known answers, fixed evaluation draws,
the task end to end, and `compare long_range`."""

import math

import pytest
import torch

from rnnlab import config, experiment, sweep
from rnnlab.data.sources.synthetic import adding, copy_baseline, copy_memory
from rnnlab.tasks.long_range import LongRangeTask


def test_adding_marks_one_step_in_each_half_and_sums_them():
    x, y = adding(500, 20, torch.Generator().manual_seed(0))
    markers = x[:, :, 1]
    assert x.shape == (500, 20, 2) and y.shape == (500, 1)
    assert (markers.sum(1) == 2).all()
    assert (markers[:, :10].sum(1) == 1).all() and (markers[:, 10:].sum(1) == 1).all()
    torch.testing.assert_close(y[:, 0], (x[:, :, 0] * markers).sum(1))
    big, target = adding(20000, 50, torch.Generator().manual_seed(1))
    assert float(((target - 1) ** 2).mean()) == pytest.approx(1 / 6, abs=0.01)  # the baseline


def test_copy_layout_and_its_memoryless_baseline():
    x, y = copy_memory(4, 7, torch.Generator().manual_seed(0), symbols=8, remember=3)
    assert x.shape == y.shape == (4, 7 + 6)
    assert ((x[:, :3] >= 1) & (x[:, :3] <= 8)).all() and (x[:, 3:9] == 0).all()
    assert (x[:, 9] == 9).all() and (x[:, 10:] == 0).all()  # the delimiter after T-1 blanks
    assert (y[:, :10] == 0).all() and torch.equal(y[:, 10:], x[:, :3])
    assert copy_baseline(100) == pytest.approx(10 * math.log(8) / 120)


def task(dataset="adding", seed=0, **data):
    return LongRangeTask(config.from_dict({
        "task": "long_range", "name": "t", "seed": seed,
        "data": {"dataset": dataset, "length": 12, "train_size": 64, "val_size": 40,
                 "test_size": 40, **data},
        "model": {"kind": "gru", "hidden_size": 8}, "train": {"epochs": 1, "batch_size": 16}}))


def test_evaluation_draws_are_fixed_and_training_draws_follow_seed_and_epoch():
    a, b = task(seed=0), task(seed=5)
    assert torch.equal(a.parts["test"][0], b.parts["test"][0])  # every run, the same test
    first = torch.cat([x for x, _ in a.train_batches(1)])
    assert torch.equal(first, torch.cat([x for x, _ in task(seed=0).train_batches(1)]))
    assert not torch.equal(first, torch.cat([x for x, _ in a.train_batches(2)]))
    assert not torch.equal(first, torch.cat([x for x, _ in b.train_batches(1)]))


def test_an_oracle_solves_copy_and_a_mean_does_not_solve_adding():
    t = task("copy", remember=4)

    class Oracle(torch.nn.Module):
        def forward(self, x):  # scores that read the answer off the sequence itself
            target = torch.zeros_like(x)
            target[:, -4:] = x[:, :4]
            return torch.nn.functional.one_hot(target, 9).double() * 50

    scores = t.evaluate(Oracle(), "test")
    assert scores["accuracy"] == 1.0 and scores["solved"] == 1.0 and scores["loss"] < 1e-10
    mean = task()

    class One(torch.nn.Module):
        def forward(self, x):
            return torch.ones(len(x), 1)

    scores = mean.evaluate(One(), "test")
    assert scores["solved"] == 0.0
    assert scores["mse"] == pytest.approx(mean.baselines("test")["predict_one"]["mse"])


@pytest.mark.parametrize("dataset, kind", [("adding", "rnn"), ("copy", "mingru")])
def test_a_run_reports_its_gradient_flow(tmp_path, dataset, kind):
    cfg = config.load(f"configs/{dataset}.yaml", quick=True,
                      overrides=[f"model.kind={kind}", "model.hidden_size=8",
                                 "data.train_size=200", "train.epochs=2"])
    result = experiment.run(cfg, runs_dir=tmp_path, progress=False)
    flow = result.summary["gradient_flow"]
    assert flow["best"] > 0 and flow["initial"] > 0
    assert (result.run_dir / "inside_gradients.png").stat().st_size > 5000
    assert "solved" in result.metrics and set(result.summary["baselines"]) <= {
        "predict_one", "memoryless"}


def test_compare_long_range_crosses_cells_and_lengths():
    (block,) = sweep.comparison_blocks("long_range", "long_range")
    assert block["model.kind"] == ["rnn", "lstm", "gru", "mingru", "minlstm"]
    assert block["data.length"] == [25, 50, 100, 200, 400]
    (on_torch,) = sweep.comparison_blocks("long_range", "long_range", "torch")
    assert on_torch["model.kind"] == ["rnn", "lstm", "gru"]
    with pytest.raises(Exception, match="no grid for task 'forecast'"):
        sweep.comparison_blocks("long_range", "forecast")
