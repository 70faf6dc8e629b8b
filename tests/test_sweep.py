"""Sweeps: grid expansion, clear errors, resuming, seed statistics, executors, store migration."""

import json
import math
import sqlite3

import pytest

from rnnlab import experiment, sweep
from rnnlab.errors import ConfigError, DataError, RunNotFound, TrainingError
from rnnlab.report.tables import (RunRecord, fmt_mean_std, group_runs, mean_std,
                                  results_table, timing_table)
from rnnlab.store import Store
from rnnlab.tasks.forecast import ForecastTask

# ---------------------------------------------------------------- grids


def test_expand_is_the_cartesian_product_in_order():
    points = sweep.expand([{"a": [1, 2], "b": ["x", "y"]}])
    assert points == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"},
                      {"a": 2, "b": "y"}]


def test_expand_joins_blocks_without_duplicates_and_crosses_seeds():
    blocks = [{"k": ["g"], "h": [8, 16]}, {"k": ["g"], "h": [8], "lr": [0.1]}, {"k": ["g"], "h": [8]}]
    assert sweep.expand(blocks) == [{"k": "g", "h": 8}, {"k": "g", "h": 16},
                                    {"k": "g", "h": 8, "lr": 0.1}]
    assert sweep.expand([{"a": [1, 2]}], seeds=[5, 6]) == [
        {"a": 1, "seed": 5}, {"a": 1, "seed": 6}, {"a": 2, "seed": 5}, {"a": 2, "seed": 6}]


def test_parse_grid_types_values_and_keeps_lists_whole():
    block = sweep.parse_grid(["model.hidden_size=8,16", "data.split=[0.6,0.2,0.2],[0.8, 0.2]",
                              "model.kind=rnn,gru"])
    assert block == {"model.hidden_size": [8, 16], "data.split": [[0.6, 0.2, 0.2], [0.8, 0.2]],
                     "model.kind": ["rnn", "gru"]}


def test_plan_types_values_by_the_config_and_validates_every_point(toy_raw):
    plan = sweep.plan(toy_raw, [sweep.parse_grid(["train.lr=1e-3,0.1", "model.hidden_size=4"])],
                      seeds=2)
    assert [p.values for p in plan.points] == [
        {"train.lr": 0.001, "model.hidden_size": 4, "seed": 0},
        {"train.lr": 0.001, "model.hidden_size": 4, "seed": 1},
        {"train.lr": 0.1, "model.hidden_size": 4, "seed": 0},
        {"train.lr": 0.1, "model.hidden_size": 4, "seed": 1}]
    assert plan.points[2].cfg.train.lr == 0.1 and plan.points[3].cfg.seed == 1
    assert plan.name == "toy-lr-hidden_size"


def test_one_key_at_a_time_keeps_the_base_config_elsewhere(toy_raw):
    # blocks vary one key each (compare hyperparams): a point of one block must not take
    # another block's values, and planning must leave the caller's config as it was
    before = json.loads(json.dumps(toy_raw))
    base_lr, base_hidden = toy_raw["train"]["lr"], toy_raw["model"]["hidden_size"]
    plan = sweep.plan(toy_raw, [{"model.hidden_size": [3, 5]}, {"train.lr": [0.5]}],
                      quick=True, overrides=["train.epochs=2"])
    got = [(p.cfg.model.hidden_size, p.cfg.train.lr) for p in plan.points]
    assert got == [(3, base_lr), (5, base_lr), (base_hidden, 0.5)]
    assert toy_raw == before


def test_a_sweep_stored_in_another_spelling_is_the_same_sweep(tmp_path, toy_raw):
    # a spec stored with the overrides already written into its config plans the same points
    plan = sweep.plan(toy_raw, [{"model.hidden_size": [3, 4]}], overrides=["train.epochs=5"],
                      name="s")
    store = Store.of(tmp_path)
    spelled = {**plan.spec, "config": {**toy_raw, "train": {**toy_raw["train"], "epochs": 5}}}
    store.save_sweep("s", spelled)
    sweep.register(store, plan)  # accepted
    other = sweep.plan(toy_raw, [{"model.hidden_size": [3, 4]}], name="s")
    with pytest.raises(ConfigError, match="already exists with a different"):
        sweep.register(store, other)


@pytest.mark.parametrize("grid, message", [
    (["lr=0.1"], "Did you mean 'train.lr'"),
    (["model.hiden_size=4,8"], "Did you mean 'model.hidden_size'"),
    (["model.kind=lstn"], "Did you mean 'lstm'"),
    (["train.epochs=0"], "train.epochs must be >= 1"),
])
def test_bad_grid_keys_and_values_fail_before_anything_runs(toy_raw, grid, message):
    with pytest.raises(ConfigError, match=message):
        sweep.plan(toy_raw, [sweep.parse_grid(grid)])


@pytest.mark.parametrize("grid, message", [
    (["model.hidden_size="], "empty value"),
    (["model.hidden_size=4,,8"], "empty value"),
    (["model.hidden_size"], "expected KEY=V1,V2"),
    (["model.hidden_size=4,4"], "listed twice"),
    (["model.hidden_size=4", "model.hidden_size=8"], "given twice"),
])
def test_malformed_grids(grid, message):
    with pytest.raises(ConfigError, match=message):
        sweep.parse_grid(grid)


def test_nothing_to_sweep_and_seed_conflicts(toy_raw):
    with pytest.raises(ConfigError, match="nothing to sweep"):
        sweep.plan(toy_raw, [])
    with pytest.raises(ConfigError, match="not both"):
        sweep.plan(toy_raw, [{"seed": [1, 2]}], seeds=2)
    assert len(sweep.plan(toy_raw, [], seeds=3).points) == 3


def test_comparison_presets_have_grids_for_every_task(toy_raw):
    for preset in ("scratch_vs_torch", "cell_types", "hyperparams"):
        for task in ("forecast", "classify", "language", "long_range"):
            assert sweep.comparison_blocks(preset, task)
    names = [k for b in sweep.comparison_blocks("hyperparams", "language") for k in b]
    assert {"data.num_steps", "train.optimizer", "model.init"} <= set(names)
    plan = sweep.plan(toy_raw, sweep.comparison_blocks("hyperparams", "forecast"))
    # one factor at a time around the base config, for each of the three cell types
    assert len(plan.points) == 3 * (3 + 3 + 3)
    with pytest.raises(ConfigError, match="Did you mean 'cell_types'"):
        sweep.comparison_blocks("cell_type", "forecast")


# ---------------------------------------------------------------- running and resuming


def _run(toy_raw, tmp_path, grid, **kw):
    plan = sweep.plan(toy_raw, [sweep.parse_grid(grid)], name="s", **kw)
    return plan, sweep.execute(plan, runs_dir=tmp_path, progress=False)


def test_rerun_skips_finished_points(tmp_path, toy_raw):
    plan, first = _run(toy_raw, tmp_path, ["model.hidden_size=3,4"])
    assert [r["action"] for r in first] == ["ran", "ran"]
    _, again = _run(toy_raw, tmp_path, ["model.hidden_size=3,4"])
    assert [r["action"] for r in again] == ["skipped", "skipped"]
    assert [r["run_id"] for r in again] == [r["run_id"] for r in first]
    rows = Store(tmp_path / "rnnlab.db").list_runs(sweep="s")
    assert len(rows) == 2 and {r["status"] for r in rows} == {"finished"}
    # editing a published figure (reference) keeps the runs: they are notes, not settings
    noted = {**toy_raw, "reference": [{"source": "x", "metric": "test.rmse", "value": 1.0}]}
    _, noted_again = _run(noted, tmp_path, ["model.hidden_size=3,4"])
    assert [r["action"] for r in noted_again] == ["skipped", "skipped"]
    # runs made before an option existed (no key in their stored config) keep matching
    # while the option is at its default, and only then
    with sqlite3.connect(tmp_path / "rnnlab.db") as con:
        for run_id, text in con.execute("SELECT id, config FROM runs").fetchall():
            old = json.loads(text)
            assert old["train"].pop("loss") == "default"
            con.execute("UPDATE runs SET config = ? WHERE id = ?", (json.dumps(old), run_id))
    _, older = _run(toy_raw, tmp_path, ["model.hidden_size=3,4"])
    assert [r["action"] for r in older] == ["skipped", "skipped"]
    mae = sweep.plan(toy_raw, [sweep.parse_grid(["model.hidden_size=3"])], name="s2",
                     overrides=["train.loss=mae"])
    rows = Store(tmp_path / "rnnlab.db").list_runs(sweep="s")
    assert sweep.runs_of(rows, mae.points[0].cfg) == []
    assert len(sweep.runs_of(rows, plan.points[0].cfg)) == 1
    # a bigger grid under the same name is refused, not silently mixed in
    with pytest.raises(ConfigError, match="different config, grid"):
        _run(toy_raw, tmp_path, ["model.hidden_size=3,4,5"])


def test_interrupted_point_resumes_from_its_checkpoint(tmp_path, toy_raw, monkeypatch):
    original = ForecastTask.train_batches
    trained = []

    def interrupt_hidden_5_at_epoch_2(self, epoch):
        if self.cfg.model.hidden_size == 5 and epoch == 2:
            raise KeyboardInterrupt  # what Ctrl-C (or SIGTERM, via the CLI) does
        return original(self, epoch)

    monkeypatch.setattr(ForecastTask, "train_batches", interrupt_hidden_5_at_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        _run(toy_raw, tmp_path, ["model.hidden_size=3,5,4"])
    store = Store(tmp_path / "rnnlab.db")
    status = {json.loads(r["config"])["model"]["hidden_size"]: r["status"]
              for r in store.list_runs(sweep="s")}
    assert status == {3: "finished", 5: "interrupted"}  # 4 never started

    def record(self, epoch):
        trained.append((self.cfg.model.hidden_size, epoch))
        return original(self, epoch)

    monkeypatch.setattr(ForecastTask, "train_batches", record)
    plan, results = _run(toy_raw, tmp_path, ["model.hidden_size=3,5,4"])
    assert [r["action"] for r in results] == ["skipped", "resumed", "ran"]
    assert trained == [(5, 2), (4, 1), (4, 2)]  # epoch 1 of hidden 5 came from last.pt
    rows = store.list_runs(sweep="s")
    assert len(rows) == 3 and {r["status"] for r in rows} == {"finished"}
    resumed = store.get_run(results[1]["run_id"])
    assert json.loads(resumed["summary"])["epochs"] == 2
    assert len(sweep.sweep_runs(store, plan)) == 3


def test_a_killed_run_left_running_is_resumed(tmp_path, toy_raw):
    plan, first = _run(toy_raw, tmp_path, ["model.hidden_size=3"], seeds=2)
    store = Store(tmp_path / "rnnlab.db")
    store.set_status(first[1]["run_id"], "running")  # kill -9 leaves the row like this
    _, again = _run(toy_raw, tmp_path, ["model.hidden_size=3"], seeds=2)
    assert [r["action"] for r in again] == ["skipped", "resumed"]
    assert again[1]["run_id"] == first[1]["run_id"]


def test_resume_by_name_and_unknown_names(tmp_path, toy_raw):
    plan, _ = _run(toy_raw, tmp_path, ["model.hidden_size=3"])
    store = Store(tmp_path / "rnnlab.db")
    again = sweep.from_store(store, "s")
    assert [p.values for p in again.points] == [p.values for p in plan.points]
    with pytest.raises(RunNotFound, match="no sweep 'z'.*Sweeps: s"):
        sweep.from_store(store, "z")


# ---------------------------------------------------------------- statistics over seeds


def _record(kind, seed, rmse, seconds):
    cfg = {"name": "t", "task": "forecast", "seed": seed, "model": {"kind": kind, "hidden": 4}}
    summary = {"test": {"rmse": rmse, "rmse@2": 0.0}, "seconds_per_epoch": seconds,
               "train_seconds": 3 * seconds, "epochs": 3, "parameters": 100}
    return RunRecord(f"{kind}{seed}", None, "finished", cfg, summary)


def test_mean_std_known_answers():
    mean, std, n = mean_std([1.0, 2.0, 3.0, 4.0])
    assert (mean, n) == (2.5, 4) and std == pytest.approx(math.sqrt(5 / 3))  # ddof = 1
    assert mean_std([7.0])[2] == 1 and math.isnan(mean_std([7.0])[1])
    assert mean_std([float("nan"), 1.0, 3.0])[:2] == (2.0, pytest.approx(math.sqrt(2)))
    assert fmt_mean_std(2.5, 1.29099, 4) == "2.5 ± 1.3"
    assert fmt_mean_std(7.0, float("nan"), 1) == "7"
    assert fmt_mean_std(float("nan"), float("nan"), 0) == "–"


def test_tables_group_seeds_and_show_mean_std_with_n():
    runs = [_record("gru", 0, 1.0, 2.0), _record("lstm", 0, 4.0, 1.0),
            _record("gru", 1, 2.0, 2.0), _record("gru", 2, 3.0, 2.0), _record("lstm", 1, 6.0, 3.0)]
    groups = group_runs(runs)
    assert [g.values for g in groups] == [{"model.kind": "gru"}, {"model.kind": "lstm"}]
    assert [g.seeds for g in groups] == [[0, 1, 2], [0, 1]]
    table = results_table(groups)
    assert table.to_dict("records") == [
        {"kind": "gru", "seeds (n)": 3, "rmse": "2 ± 1"},
        {"kind": "lstm", "seeds (n)": 2, "rmse": "5 ± 1.4"}]
    timing = timing_table(groups).to_dict("records")
    assert timing[0]["s/epoch"] == "2 ± 0" and timing[1]["s/epoch"] == "2 ± 1.4"
    assert [t["× fastest s/epoch"] for t in timing] == ["1.00", "1.00"]


def test_a_varied_key_named_like_a_metric_keeps_its_whole_name():
    # train.loss=mse,mae beside the metric "loss": the column must hold mse/mae, not the metric
    runs = []
    for loss, value in (("mse", 0.01), ("mae", 0.05)):
        run = _record("gru", 0, 1.0, 2.0)
        run.config["train"] = {"loss": loss}
        run.summary["test"]["loss"] = value
        runs.append(run)
    rows = results_table(group_runs(runs)).to_dict("records")
    assert [(r["train.loss"], r["loss"]) for r in rows] == [("mse", "0.01"), ("mae", "0.05")]
    assert [r["train.loss"] for r in timing_table(group_runs(runs)).to_dict("records")] == [
        "mse", "mae"]


# ---------------------------------------------------------------- store migration


def test_an_old_database_is_migrated_in_place(tmp_path):
    db = tmp_path / "rnnlab.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, name TEXT NOT NULL, task TEXT NOT NULL,"
                " dataset TEXT, kind TEXT, impl TEXT, seed INTEGER, status TEXT NOT NULL,"
                " created TEXT NOT NULL, finished TEXT, run_dir TEXT NOT NULL,"
                " config TEXT NOT NULL, summary TEXT, error TEXT)")
    con.execute("INSERT INTO runs VALUES ('old', 'n', 'forecast', 'd', 'gru', 'scratch', 0,"
                " 'finished', 'then', NULL, 'x', '{}', NULL, NULL)")
    con.commit()
    con.close()
    store = Store(db)
    (row,) = store.list_runs()
    assert row["id"] == "old" and row["sweep"] is None
    assert store.list_runs(sweep="s") == []
    store.save_sweep("s", {"blocks": []})
    assert store.get_sweep("s") == {"blocks": []} and store.sweep_names() == ["s"]


# ---------------------------------------------------------------- other executors


@pytest.mark.slow
def test_local_workers_run_every_point(tmp_path, los_loop_tiny_raw):
    plan = sweep.plan(los_loop_tiny_raw, [{"model.kind": ["rnn", "gru"]}], name="w")
    results = sweep.execute(plan, runs_dir=tmp_path, workers=2)
    assert [r["action"] for r in results] == ["ran", "ran"]
    rows = Store(tmp_path / "rnnlab.db").list_runs(sweep="w")
    assert sorted(r["kind"] for r in rows) == ["gru", "rnn"]
    assert {r["status"] for r in rows} == {"finished"}


@pytest.mark.slow
def test_several_sweeps_share_one_pool_and_fail_together(tmp_path, los_loop_tiny_raw,
                                                         monkeypatch):
    a = sweep.plan(los_loop_tiny_raw, [{"model.kind": ["rnn"]}], name="a")
    b = sweep.plan(los_loop_tiny_raw, [{"model.kind": ["gru"]}], name="b")
    results = sweep.execute([a, b], runs_dir=tmp_path, workers=2)
    assert [r["action"] for r in results] == ["ran", "ran"]
    store = Store(tmp_path / "rnnlab.db")
    assert [r["kind"] for r in store.list_runs(sweep="a")] == ["rnn"]
    assert [r["kind"] for r in store.list_runs(sweep="b")] == ["gru"]
    again = sweep.execute([a, b], runs_dir=tmp_path)
    assert [r["action"] for r in again] == ["skipped", "skipped"]
    def lost(*args, **kwargs):
        raise DataError("the data disk is gone")

    monkeypatch.setattr(experiment, "run", lost)
    bad = [sweep.plan(los_loop_tiny_raw, [{"model.hidden_size": [3]}], name=n)
           for n in ("c", "d")]
    with pytest.raises(TrainingError) as err:
        sweep.execute(bad, runs_dir=tmp_path)
    assert "2 of 2 points" in str(err.value) and "rerun the same command" in str(err.value)
    assert str(err.value).count("disk is gone") == 1  # one cause, said once


@pytest.mark.slow
def test_ray_tune_runs_a_tiny_grid_and_resumes(tmp_path, los_loop_tiny_raw):
    pytest.importorskip("ray.tune", reason="the ray executor needs pip install '.[cluster]'")
    plan = sweep.plan(los_loop_tiny_raw, [{"model.kind": ["rnn", "gru"]}], name="r")
    results = sweep.execute(plan, runs_dir=tmp_path, executor="ray")
    assert [r["action"] for r in results] == ["ran", "ran"]
    rows = Store(tmp_path / "rnnlab.db").list_runs(sweep="r")
    assert len(rows) == 2 and {r["status"] for r in rows} == {"finished"}
    assert all((tmp_path / r["id"] / "summary.json").is_file() for r in rows)
    assert (tmp_path / "ray" / "r").is_dir()  # Ray Tune's own record of the trials
    again = sweep.execute(plan, runs_dir=tmp_path)  # any executor sees what Ray finished
    assert [r["action"] for r in again] == ["skipped", "skipped"]


def test_the_command_line_offers_every_comparison_preset():
    from rnnlab.cli.sweeps import COMPARISONS as offered

    assert list(offered) == list(sweep.COMPARISONS)
