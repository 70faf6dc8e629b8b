"""The failure catalogue: each bad input or fault gets one clear message and loses nothing.

Most cases drive the real CLI in a subprocess; faults that cannot be provoked
from outside (out of memory, a crash while writing results) are injected
in-process into the same code path.
"""

import json
import multiprocessing
import os
import signal
import time

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from rnnlab import experiment
from rnnlab.errors import ConfigError, DataError, TrainingError
from rnnlab.rundir import load_checkpoint
from rnnlab.store import Store
from test_cli import assert_clean_error, nothing_stored
from test_train import toy_config

PRESET = "configs/los_loop.yaml"
# A few seconds per epoch: the 207 detectors as one input, a small GRU.
SMALL = ["--set", "model.layout=joint", "--set", "model.hidden_size=8",
         "--set", "train.batch_size=256", "--no-progress"]


@pytest.fixture
def preset(repo_root):
    return repo_root / PRESET


def write_config(cli, text: str):
    path = cli.cwd / "bad.yaml"
    path.write_text(text)
    return path


# ------------------------------------------------------------------ config

@pytest.mark.parametrize("override, fragments", [
    ("train.lr=-0.1", ["train.lr must be > 0", "got -0.1"]),
    ("model.hidden_size=0", ["model.hidden_size must be >= 1"]),
    ("data.split=[0.5,0.2,0.2]", ["data.split: split ratios", "sum to 1", "[0.6, 0.2, 0.2]"]),
    ("model.kind=transformer", ["'transformer' is not a valid choice", "rnn, lstm, gru"]),
    ("data.dataset=los_lop", ["los_lop", "los_loop"]),
    ("task=regression", ["unknown task 'regression'", "forecast"]),
])
def test_bad_values_name_the_key_and_valid_values(cli, preset, override, fragments):
    proc = cli("run", preset, "--set", override)
    assert_clean_error(proc, *fragments)
    assert nothing_stored(cli)


def test_yaml_syntax_error_gives_the_line(cli):
    path = write_config(cli, "name: x\ntask: forecast\ndata:\n  dataset: [los_loop\n")
    assert_clean_error(cli("run", path), "line 5", "YAML syntax error")


def test_yaml_cannot_build_python_objects(cli):
    path = write_config(cli, "name: !!python/object/apply:os.system ['echo pwned']\n"
                             "task: forecast\n")
    proc = cli("run", path)
    assert_clean_error(proc, "line 1")
    assert "pwned" not in proc.stdout


@pytest.mark.parametrize("name", ["../../escaped", "a/b", ".hidden", ""])
def test_run_name_cannot_leave_the_runs_folder(cli, preset, name):
    proc = cli("run", preset, "--set", f"name={name}")
    assert_clean_error(proc, "name")
    assert nothing_stored(cli)
    assert not any(p.name.startswith("escaped") for p in cli.cwd.parent.rglob("escaped*"))


def test_unknown_command_line_option_is_a_usage_error(cli, preset):
    proc = cli("run", preset, "--epochs", "3")
    assert proc.returncode == 2 and "unrecognized arguments: --epochs" in proc.stderr


# ------------------------------------------------------------------ training faults

def test_nan_loss_stops_with_exit_1_and_marks_the_run_failed(cli, preset):
    # on MSE the squared error overflows; los_loop's MAE (gradients of size 1) only grows
    proc = cli("run", preset, *SMALL, "--set", "train.optimizer=sgd", "--set", "train.lr=1e12",
               "--set", "train.clip=null", "--set", "train.epochs=2", "--set", "train.loss=mse")
    assert_clean_error(proc, "epoch 1, step", "Lower train.lr", "train.clip", code=1)
    (row,) = Store(cli.cwd / "runs" / "rnnlab.db").list_runs()
    assert row["status"] == "failed" and "train.lr" in row["error"]
    assert not (cli.cwd / "runs" / row["id"] / "summary.json").exists()


def test_exploding_gradients_are_reported(tmp_path, capsys):
    result = experiment.run(toy_config(epochs=1, grad_warn=1e-6), runs_dir=tmp_path,
                            progress=False)
    (warning,) = result.summary["warnings"]
    assert "gradient norm" in warning and "train.clip" in warning
    assert "gradient norm" in capsys.readouterr().err
    assert result.history["grad_norm"].iloc[0] > 1e-6
    quiet = experiment.run(toy_config(epochs=1), runs_dir=tmp_path, progress=False)
    assert quiet.summary["warnings"] == []


def test_clipping_bounds_the_step_but_not_the_reported_norm(tmp_path):
    free = experiment.run(toy_config(epochs=1), runs_dir=tmp_path, progress=False)
    clipped = experiment.run(toy_config(epochs=1, clip=1e-4), runs_dir=tmp_path, progress=False)
    # Same first batch, same pre-clipping norm; clipping changes what is learnt.
    assert clipped.history["grad_norm"].iloc[0] > 1e-4
    assert clipped.summary["test"] != free.summary["test"]


def test_out_of_memory_names_the_setting_to_lower(tmp_path, monkeypatch):
    from rnnlab.tasks.forecast import ForecastTask

    def no_memory(self, model, batch):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] . DefaultCPUAllocator: "
                           "can't allocate memory: you tried to allocate 68719476736 bytes.")

    monkeypatch.setattr(ForecastTask, "train_step", no_memory)
    with pytest.raises(TrainingError, match=r"out of memory at epoch 1.*train\.batch_size=8"):
        experiment.run(toy_config(), runs_dir=tmp_path, progress=False)
    (row,) = Store(tmp_path / "rnnlab.db").list_runs()
    assert row["status"] == "failed"


def test_other_runtime_errors_are_not_disguised_as_memory(tmp_path, monkeypatch):
    from rnnlab.tasks.forecast import ForecastTask

    def bug(self, model, batch):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    monkeypatch.setattr(ForecastTask, "train_step", bug)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        experiment.run(toy_config(), runs_dir=tmp_path, progress=False)


def test_sigterm_marks_the_run_and_resume_gives_the_uninterrupted_result(cli, preset):
    # 30 epochs of ~0.07 s: the stop must land mid-training even when this process is slow to
    # notice the second epoch (with 4 epochs, a loaded machine let the run finish first).
    args = ["run", preset, *SMALL, "--set", "train.epochs=30", "--set", "model.dropout=0.2",
            "--set", "model.num_layers=2", "--set", "train.patience=30"]
    reference = cli(*args, "--runs-dir", "reference")
    assert reference.returncode == 0, reference.stderr

    import subprocess
    import sys
    env = {**os.environ, "RNNLAB_CACHE": str(cli.cwd / "cache"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "rnnlab", *map(str, args)], cwd=cli.cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db = cli.cwd / "runs" / "rnnlab.db"
    deadline = time.time() + 300
    while time.time() < deadline:  # wait until two epochs are stored, then stop it
        if db.exists() and any(len(Store(db).epochs(r["id"])) >= 2 for r in Store(db).list_runs()):
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    (row,) = Store(db).list_runs()
    assert row["status"] == "interrupted" and 2 <= len(Store(db).epochs(row["id"])) < 30
    assert f"rnnlab run --resume {row['id']}" in err and "Traceback" not in err
    run_dir = cli.cwd / "runs" / row["id"]
    assert not (run_dir / "summary.json").exists() and (run_dir / "last.pt").exists()

    resumed = cli("run", "--resume", row["id"][:-3], "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    mine = json.loads((run_dir / "summary.json").read_text())
    (ref_dir,) = [p for p in (cli.cwd / "reference").iterdir() if p.is_dir()]
    theirs = json.loads((ref_dir / "summary.json").read_text())
    assert mine["test"] == theirs["test"] and mine["epochs"] == theirs["epochs"] == 30
    assert Store(db).get_run(row["id"])["status"] == "finished"
    assert_clean_error(cli("run", "--resume", row["id"]), "already finished")


def test_crash_while_writing_results_is_never_reported_finished(tmp_path, monkeypatch):
    from rnnlab import rundir

    real = rundir.write_json

    def disk_full(path, obj):
        if path.name == "summary.json":
            raise OSError(28, "No space left on device")
        real(path, obj)

    monkeypatch.setattr(rundir, "write_json", disk_full)
    with pytest.raises(TrainingError, match="the disk is full .* --resume"):
        experiment.run(toy_config(epochs=1), runs_dir=tmp_path, progress=False)
    (row,) = Store(tmp_path / "rnnlab.db").list_runs()
    assert row["status"] == "failed" and "No space left" in row["error"]
    run_dir = tmp_path / row["id"]
    assert not (run_dir / "summary.json").exists()
    assert not list(run_dir.glob(".*.tmp*"))


def _hammer(db: str, worker: int) -> None:
    store = Store(db)
    run_id = f"w{worker}"
    cfg = {"name": "hammer", "task": "forecast", "seed": worker,
           "data": {"dataset": "toy_sine"}, "model": {"kind": "gru", "impl": "scratch"}}
    store.start_run(run_id, cfg, db, None)
    for epoch in range(1, 41):
        store.log_epoch(run_id, epoch, {"epoch": epoch, "train_loss": worker + epoch / 100})
    store.finish_run(run_id, {"worker": worker})


def test_concurrent_writers_lose_nothing(tmp_path):
    db = str(tmp_path / "rnnlab.db")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(db, w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = Store(db)
    assert sorted(r["id"] for r in store.list_runs()) == ["w0", "w1", "w2"]
    for r in store.list_runs():
        assert r["status"] == "finished" and len(store.epochs(r["id"])) == 40


# ------------------------------------------------------------------ checkpoints

class NotATensor:
    pass


def test_checkpoints_are_loaded_without_running_code(tmp_path, capsys):
    result = experiment.run(toy_config(epochs=2), runs_dir=tmp_path, progress=False)
    Store(tmp_path / "rnnlab.db").set_status(result.run_id, "interrupted")
    torch.save({"model": NotATensor()}, result.run_dir / "last.pt")
    with pytest.raises(DataError, match="refuses to load it"):
        load_checkpoint(result.run_dir / "last.pt")
    # resume passes it over (never unpickling it) and continues from the checkpoint before
    resumed = experiment.resume(result.run_id, runs_dir=tmp_path, progress=False)
    assert "refuses to load it" in capsys.readouterr().err
    assert resumed.summary["test"] == result.summary["test"]


def test_damaged_checkpoint_is_named(tmp_path, capsys):
    result = experiment.run(toy_config(epochs=1), runs_dir=tmp_path, progress=False)
    Store(tmp_path / "rnnlab.db").set_status(result.run_id, "interrupted")
    (result.run_dir / "last.pt").write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="last.pt cannot be read"):
        load_checkpoint(result.run_dir / "last.pt")
    # no checkpoint before it: the run starts over, to the same result, and says so
    resumed = experiment.resume(result.run_id, runs_dir=tmp_path, progress=False)
    err = capsys.readouterr().err
    assert "last.pt cannot be read" in err and "starts again from its first epoch" in err
    assert resumed.summary["test"] == result.summary["test"]


def test_data_errors_are_raised_before_anything_is_written(tmp_path):
    cfg = toy_config()
    cfg.data.history = 250  # longer than the toy series' training split
    with pytest.raises(ConfigError, match="data.history"):
        experiment.run(cfg, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------- faulty files of your own

def _hourly_csv(path, values, times=None):
    times = pd.date_range("2024-01-01", periods=len(values), freq="h") if times is None else times
    pd.DataFrame({"timestamp": times, "load": values}).to_csv(path, index=False)


def _own_config(cli, name, data):
    (cli.cwd / f"{name}.yaml").write_text(yaml.safe_dump(
        {"task": "forecast" if "time_column" in data else "language", "data": data,
         "train": {"epochs": 1}}))
    return cli("run", f"{name}.yaml", "--no-progress")


def test_series_without_values_is_named_and_nothing_is_written(cli):
    _hourly_csv(cli.cwd / "blank.csv", np.full(300, np.nan))
    result = _own_config(cli, "blank", {"path": "blank.csv", "time_column": "timestamp"})
    assert_clean_error(result, "input column(s) hold no values in the train split: blank",
                       "data.nodes")
    assert not (cli.cwd / "runs").exists()


def test_repeated_time_stamps_are_refused_and_unordered_rows_sorted(cli):
    values = np.sin(np.arange(300) / 5)
    times = pd.date_range("2024-01-01", periods=300, freq="h").to_series(index=None).tolist()
    times[5] = times[4]
    _hourly_csv(cli.cwd / "dup.csv", values, times)
    result = _own_config(cli, "dup", {"path": "dup.csv", "time_column": "timestamp"})
    assert_clean_error(result, "the time stamp 2024-01-01 04:00:00 appears more than once",
                       "data.resample")
    assert not (cli.cwd / "runs").exists()
    # rows in reverse order read as the same series as in order
    from rnnlab.data.sources.tables import table_series
    _hourly_csv(cli.cwd / "fwd.csv", values)
    pd.read_csv(cli.cwd / "fwd.csv").iloc[::-1].to_csv(cli.cwd / "rev.csv", index=False)
    fwd = table_series(cli.cwd / "fwd.csv", time_column="timestamp")
    rev = table_series(cli.cwd / "rev.csv", time_column="timestamp")
    assert np.array_equal(fwd.values, rev.values) and fwd.index.equals(rev.index)


def test_text_in_another_encoding_names_data_encoding(cli):
    (cli.cwd / "latin.txt").write_bytes(("caf\xe9 au lait " * 200).encode("latin-1"))
    result = _own_config(cli, "latin", {"path": "latin.txt"})
    assert_clean_error(result, "latin.txt is not utf-8 text", "data.encoding")
    assert not (cli.cwd / "runs").exists()
