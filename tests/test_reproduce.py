"""Published figures beside ours: references in configs, train.loss, `rnnlab reproduce`."""

import numpy as np
import pytest
import torch

from rnnlab import config, experiment
from rnnlab.config import Reference
from rnnlab.errors import ConfigError
from rnnlab.references import compare, lookup
from rnnlab.rundir import RunFolder
from test_train import toy_config

CFG = {"model": {"kind": "lstm", "hidden_size": 64}, "train": {"lr": 1.0}}
SUMMARY = {"test": {"accuracy": 0.8, "loss": 0.5}, "train_seconds": 12.0}


def test_a_reference_is_compared_only_where_the_run_has_its_settings():
    refs = [Reference("r", "LSTM", "test.accuracy", 0.75, when={"model.kind": "lstm"}),
            Reference("r", "GRU", "test.accuracy", 0.70, when={"model.kind": "gru"}),
            Reference("r", "LSTM", "test.loss", 0.4, higher_is_better=False),
            Reference("r", "GPU", "train_seconds", 3.0, higher_is_better=False,
                      comparable=False, protocol="seconds on a GPU"),
            Reference("r", "x", "test.perplexity", 1.0),
            Reference("r", "lr", "test.accuracy", 0.9, when={"train.lr": 1})]  # 1 == 1.0
    rows = compare(refs, CFG, SUMMARY)
    assert [r["verdict"] for r in rows] == [
        "met", "other settings: model.kind=gru", "missed",
        "not comparable: seconds on a GPU", "not measured by this run", "missed"]
    assert rows[0]["difference"] == pytest.approx(0.05)
    assert rows[2]["difference"] == pytest.approx(-0.1)  # lower is better: 0.5 vs 0.4
    assert lookup(SUMMARY, "test.accuracy") == 0.8 and lookup(SUMMARY, "test") is None


def test_per_class_figures_are_compared_class_by_class():
    summary = {"test": {"f1_macro": 0.8},
               "per_class": {"a": {"precision": 0.9, "recall": 0.5, "f1": 0.64},
                             "St. b": {"precision": 0.2, "recall": 0.4, "f1": 0.27}}}
    ref = Reference("r", "LSTM", "test.f1_macro", 0.7, when={"model.kind": "lstm"},
                    per_class={"a": [0.8, 0.6, 0.7], "St. b": [0.2, 0.3, 0.1],
                               "c": [0.5, 0.5, 0.5]})
    rows = compare([ref], CFG, summary)
    assert [r["metric"] for r in rows[:4]] == [
        "test.f1_macro", "per_class.a.precision", "per_class.a.recall", "per_class.a.f1"]
    got = {(r.get("class"), r["metric"].rsplit(".", 1)[-1]): r for r in rows[1:]}
    assert got["a", "precision"]["difference"] == pytest.approx(0.1)
    assert got["a", "recall"]["verdict"] == "missed"
    assert got["St. b", "f1"]["ours"] == pytest.approx(0.27)  # a dot in a class name
    assert got["c", "f1"]["verdict"] == "not measured by this run"
    other = compare([ref], {**CFG, "model": {"kind": "gru"}}, summary)
    assert all(r["verdict"].startswith("other settings") for r in other if r["ours"] is not None)
    with pytest.raises(ConfigError, match=r"per_class.a must be \[precision, recall, f1\]"):
        Reference("r", "LSTM", per_class={"a": [0.8, 0.6]})


def test_per_class_figures_are_summed_up_under_the_headline_in_the_terminal():
    from rnnlab.report.console import reference_lines

    summary = {"test": {"f1_macro": 0.8},
               "per_class": {"a": {"precision": 0.9, "recall": 0.5, "f1": 0.64}}}
    ref = Reference("r", "LSTM", "test.f1_macro", 0.7, per_class={"a": [0.8, 0.6, 0.7]})
    lines = reference_lines(compare([ref], CFG, summary))
    assert len(lines) == 3 and "test.f1_macro: met" in lines[1]
    assert lines[2].strip().startswith("per class: 1 of 3 published")


def test_a_figure_published_with_few_decimals_is_met_at_its_precision():
    refs = [Reference("r", "ppl", "test.perplexity", 1.0, higher_is_better=False, decimals=1),
            Reference("r", "ppl", "test.perplexity", 1.0, higher_is_better=False),
            Reference("r", "ppl", "test.loss", 1.1, higher_is_better=False, decimals=1)]
    rows = compare(refs, CFG, {"test": {"perplexity": 1.04, "loss": 1.237}})
    assert rows[0]["verdict"] == "met at the published precision (1 decimal)"
    assert rows[0]["difference"] == pytest.approx(-0.04)  # the difference stays exact
    assert rows[1]["verdict"] == "missed" and rows[2]["verdict"] == "missed"  # 1.2 > 1.1


def test_reference_settings_must_be_config_keys():
    raw = toy_config().to_dict()
    raw["reference"] = [{"source": "x", "metric": "test.rmse", "value": 1.0,
                         "when": {"model.kinds": "lstm"}}]
    with pytest.raises(ConfigError, match="Did you mean 'model.kind'"):
        config.from_dict(raw)


def test_every_preset_reference_parses():
    for preset in ("reviews_cat", "names_rnn", "names_lstm", "pems_next", "traffic_12",
                   "timemachine"):
        assert config.load(f"configs/{preset}.yaml").reference


def test_train_loss_mae_trains_and_scores_on_mae(tmp_path):
    result = experiment.run(toy_config(epochs=2, loss="mae"), runs_dir=tmp_path,
                            progress=False)
    run = RunFolder.find(str(result.run_dir)).load()
    pred = run.task.forecasts(run.model, "test")
    truth = run.task.windows["test"]["y_raw"].numpy()
    scaled = np.abs(run.task.scaler.transform(pred) - run.task.scaler.transform(truth)).mean()
    assert result.metrics["loss"] == pytest.approx(scaled, rel=1e-6)
    with torch.no_grad():
        out = run.model(run.task.windows["train"]["x"][:3])
    assert float(run.task._loss(out, run.task.windows["train"]["y"][:3])) == pytest.approx(
        float(torch.nn.functional.l1_loss(out, run.task.windows["train"]["y"][:3])))


def test_a_reference_can_name_the_last_epoch_whichever_epoch_validation_chose(tmp_path):
    # d2l reports the final epoch's training perplexity; the best epoch's would be another
    # protocol
    cfg = toy_config(epochs=4)
    ref = Reference(source="s", model="m", metric="last_epoch.train_loss", value=1e9,
                    higher_is_better=False)
    cfg.reference = [ref]
    result = experiment.run(cfg, runs_dir=tmp_path, progress=False)
    summary = RunFolder.find(str(result.run_dir)).summary()
    last = {k: v for k, v in result.history.iloc[-1].items() if k != "epoch_seconds"}
    assert summary["last_epoch"] == pytest.approx(last) and last["epoch"] == 4
    (row,) = summary["references"]
    assert row["ours"] == pytest.approx(last["train_loss"]) and row["verdict"] == "met"


def test_train_loss_belongs_to_forecasts():
    raw = toy_config().to_dict()
    raw["task"] = "language"
    raw["data"] = {"dataset": "timemachine"}
    raw["model"] = {"kind": "lstm"}
    raw["train"]["loss"] = "mae"
    with pytest.raises(ConfigError, match="train.loss 'mae': a language task trains on its own"):
        config.from_dict(raw)


@pytest.mark.slow
def test_reproduce_quick_writes_the_table(cli):
    out = cli("reproduce", "004", "--quick", "--no-progress", "-o", "r.html")
    assert out.returncode == 0, out.stderr
    assert "report 004 RNN (i2h/i2o)" in out.stdout and "report 004 LSTM" in out.stdout
    page = (cli.cwd / "r.html").read_text()
    assert "Reproduction" in page and "test.accuracy" in page
    again = cli("reproduce", "004", "--quick", "--no-progress", "-o", "r.html")
    assert again.stdout.count("already done") == 2  # a reproduction resumes like a sweep


def test_a_changed_preset_is_a_new_reproduction_and_seed_counts_do_not_mix(tmp_path,
                                                                           monkeypatch):
    from rnnlab import reproduce
    from rnnlab.store import Store

    planned = reproduce.plan("004", quick=True)
    again = reproduce.plan("004", quick=True)
    assert [sw.name for _, sw in planned] == [sw.name for _, sw in again]
    assert all(sw.name.startswith("reproduce-004-") for _, sw in planned)
    changed = reproduce.plan("004", quick=True, seeds=2)
    assert [sw.name for _, sw in changed] == [sw.name for _, sw in planned]  # seeds: same name
    store = Store.of(tmp_path)
    reproduce.check_seeds(store, planned, tmp_path)  # nothing stored: fine
    e, sw = planned[1]
    store.save_sweep(sw.name, changed[1][1].spec)
    with pytest.raises(ConfigError, match="reproduced with --seeds 2 .* rerun with --seeds 2"):
        reproduce.check_seeds(store, planned, tmp_path)
    reproduce.check_seeds(store, changed, tmp_path)
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "004.yaml").write_text("experiments:\n  - {label: LSTM 64, preset: names_lstm, "
                                    "set: [model.hidden_size=32]}\n")
    monkeypatch.setattr(reproduce, "SPECS", specs)
    (_, other), = reproduce.plan("004", quick=True)
    assert other.name.startswith("reproduce-004-LSTM_64-") and other.name != sw.name


def test_reproduce_names_what_is_missing(cli):
    unknown = cli("reproduce", "002")
    assert unknown.returncode == 2 and "reports: 000, 001, 003, 004" in unknown.stderr
    missing = cli("reproduce", "000", "--quick", "--data-dir", cli.cwd / "empty",
                  env={"RNNLAB_DATA": ""})
    assert missing.returncode == 2 and "PEMS04" in missing.stderr
