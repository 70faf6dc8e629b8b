"""A killed run or sweep is never left half-recorded, resumes exactly, and two processes
cannot corrupt each other (runs folder ownership, sweep lock, atomic files, damaged state)."""

import errno
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import torch

from fault_injection import harness, store_rows, write_setup
from rnnlab import experiment, train
from rnnlab.errors import RunInUse, TrainingError
from rnnlab.process import Owner, me, start_time
from rnnlab.rundir import LAST, PREVIOUS, RunFolder
from rnnlab.store import Store
from rnnlab.sweep import execute, plan, sweep_lock
from rnnlab.tasks.forecast import ForecastTask
from test_train import toy_config

pytestmark = pytest.mark.slow


# ---------------------------------------------------------------- the fault-injection harness

def test_ten_kills_of_a_run_each_resume_to_the_same_result(tmp_path):
    assert harness(tmp_path, kills=10, seed=0, sweep=False, log=lambda _: None) == 10


def test_ten_kills_of_a_sweep_each_resume_to_the_same_result(tmp_path):
    assert harness(tmp_path, kills=10, seed=1, sweep=True, log=lambda _: None) == 10


# ---------------------------------------------------------------- ownership

def killed_run(tmp_path):
    """A run as SIGKILL leaves it: 'running' in the store, its process gone."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    owner = Owner(me().host, sleeper.pid, start_time(sleeper.pid))
    store = Store.of(tmp_path)
    cfg = toy_config().to_dict()
    store.start_run("r1", cfg, tmp_path / "r1", owner=owner)
    return store, sleeper, owner


def test_a_run_whose_process_is_gone_reads_as_interrupted(tmp_path):
    store, sleeper, owner = killed_run(tmp_path)
    assert store.get_run("r1")["status"] == "running"  # its owner is alive
    sleeper.kill()
    sleeper.wait()
    row = store.get_run("r1")
    assert row["status"] == "interrupted" and f"pid {owner.pid}" in row["error"]
    assert [r["id"] for r in store.list_runs(status="interrupted")] == ["r1"]
    assert store.list_runs(status="running") == []


def test_a_reused_pid_is_not_the_owner(tmp_path):
    """Same pid, another start time: another process, so the run's owner is gone."""
    store = Store.of(tmp_path)
    owner = Owner(me().host, os.getpid(), (me().started or 0) + 1)
    store.start_run("r1", toy_config().to_dict(), tmp_path / "r1", owner=owner)
    if me().started is None:
        pytest.skip("process start times need /proc")
    assert store.get_run("r1")["status"] == "interrupted"


def test_a_run_on_another_host_lives_by_its_heartbeat(tmp_path):
    store = Store.of(tmp_path)
    store.start_run("r1", toy_config().to_dict(), tmp_path / "r1",
                    owner=Owner("elsewhere", 1234, None))
    assert store.get_run("r1")["status"] == "running"  # a fresh heartbeat
    with sqlite3.connect(tmp_path / "rnnlab.db") as con:
        con.execute("UPDATE runs SET heartbeat = '2020-01-01T00:00:00+00:00'")
    assert store.get_run("r1")["status"] == "interrupted"


def test_resume_refuses_a_run_that_is_alive_elsewhere(tmp_path):
    store, sleeper, owner = killed_run(tmp_path)
    try:
        with pytest.raises(RunInUse, match=f"host {owner.host}, pid {sleeper.pid}"):
            store.claim("r1", me())
    finally:
        sleeper.kill()
        sleeper.wait()
    store.claim("r1", me())  # its owner is gone: this process takes it over
    assert store.get_run("r1")["owner_pid"] == os.getpid()


def test_runs_and_show_say_interrupted(tmp_path, cli):
    store, sleeper, _ = killed_run(cli.cwd / "runs")
    sleeper.kill()
    sleeper.wait()
    listed = cli("runs")
    assert listed.returncode == 0 and "interrupted" in listed.stdout, listed.stderr
    shown = cli("show", "r1")
    assert '"status": "interrupted"' in shown.stdout and "stopped without a word" in shown.stdout


# ---------------------------------------------------------------- locking and readers

def test_a_second_process_on_the_same_sweep_is_refused(tmp_path, toy_raw):
    sweep = plan(toy_raw, [{"model.hidden_size": [4, 8]}], name="s")
    with sweep_lock(tmp_path, "s"):
        with pytest.raises(RunInUse, match=f"sweep 's' is being run by host .*pid {os.getpid()}"):
            execute(sweep, runs_dir=tmp_path)
    results = execute(sweep, runs_dir=tmp_path)  # the lock went with its holder
    assert [r["action"] for r in results] == ["ran", "ran"]


def test_sigterm_stops_a_sweep_with_workers_at_once(tmp_path):
    # before: the parent took SIGTERM but waited for its workers to run the whole grid
    cfg = write_setup(tmp_path)
    sweep = subprocess.Popen(
        [sys.executable, "-m", "rnnlab", "sweep", cfg, "--grid", "model.hidden_size=4,5,6,7",
         "--workers", "2", "--set", "train.epochs=100000", "--set", "train.patience=100000",
         "--runs-dir", "runs", "--no-progress"], cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while sum(r["status"] == "running" for r in store_rows(tmp_path / "runs")) < 2:
            assert sweep.poll() is None and time.monotonic() < deadline, sweep.communicate()
            time.sleep(0.2)
        time.sleep(2)  # both workers are inside their epochs
        sweep.terminate()
        _, err = sweep.communicate(timeout=60)
    finally:  # never leave workers training for 100,000 epochs behind a failed test
        try:
            os.killpg(sweep.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert sweep.returncode == 130, err
    assert "interrupted" in err
    rows = store_rows(tmp_path / "runs")
    assert sorted(r["status"] for r in rows) == ["interrupted", "interrupted"], rows  # no more


def test_readers_do_not_wait_for_a_writer(tmp_path):
    store = Store.of(tmp_path)
    store.start_run("r1", toy_config().to_dict(), tmp_path / "r1")
    writer = sqlite3.connect(tmp_path / "rnnlab.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a sweep in the middle of a write
    writer.execute("UPDATE runs SET seed = 7")
    began = time.perf_counter()
    assert [r["id"] for r in store.list_runs()] == ["r1"]  # the committed state
    assert time.perf_counter() - began < 5
    writer.execute("COMMIT")
    writer.close()
    assert store.get_run("r1")["seed"] == 7


# ---------------------------------------------------------------- damaged state

def interrupted_at(monkeypatch, epoch, runs):
    """A run stopped (Ctrl-C) as epoch ``epoch`` begins."""
    original = ForecastTask.train_batches

    def stop(self, e):
        if e == epoch:
            raise KeyboardInterrupt
        return original(self, e)

    monkeypatch.setattr(ForecastTask, "train_batches", stop)
    with pytest.raises(KeyboardInterrupt):
        experiment.run(toy_config(epochs=5), runs_dir=runs, progress=False)
    monkeypatch.setattr(ForecastTask, "train_batches", original)
    (row,) = Store.of(runs).list_runs()
    return RunFolder(row["id"], runs / row["id"])


def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    straight = experiment.run(toy_config(epochs=5), runs_dir=tmp_path / "a", progress=False)
    real = torch.save

    def full_at_epoch_3(obj, path, *args, **kwargs):
        if isinstance(obj, dict) and obj.get("epoch") == 3 and "optimizer" in obj:
            with open(path, "wb") as f:
                f.write(b"half a checkpoint")  # the disk filled up part-way
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(obj, path, *args, **kwargs)

    monkeypatch.setattr(train.torch, "save", full_at_epoch_3)
    with pytest.raises(TrainingError, match="the disk is full: last.pt of epoch 3"):
        experiment.run(toy_config(epochs=5), runs_dir=tmp_path / "b", progress=False)
    monkeypatch.setattr(train.torch, "save", real)
    (row,) = Store.of(tmp_path / "b").list_runs()
    folder = RunFolder(row["id"], tmp_path / "b" / row["id"])
    assert row["status"] == "failed" and "--resume" in row["error"]
    assert folder.checkpoint(LAST)["epoch"] == 2  # whole, and the one before the full disk
    assert not list(folder.path.glob(".*.tmp*"))
    resumed = experiment.resume(row["id"], runs_dir=tmp_path / "b", progress=False)
    assert resumed.summary["test"] == straight.summary["test"]


def test_a_damaged_last_checkpoint_falls_back_to_the_one_before(tmp_path, monkeypatch, capsys):
    straight = experiment.run(toy_config(epochs=5), runs_dir=tmp_path / "a", progress=False)
    folder = interrupted_at(monkeypatch, 4, tmp_path / "b")
    assert folder.checkpoint(PREVIOUS)["epoch"] == 2 and folder.checkpoint(LAST)["epoch"] == 3
    data = (folder.path / LAST).read_bytes()
    (folder.path / LAST).write_bytes(data[:len(data) // 2])  # a damaged disk block
    resumed = experiment.resume(folder.run_id, runs_dir=tmp_path / "b", progress=False)
    err = capsys.readouterr().err
    assert f"checkpoint {folder.path / LAST} cannot be read" in err
    assert "resumes from last.prev.pt (epoch 2)" in err
    assert resumed.summary["test"] == straight.summary["test"]
    assert list(resumed.history["val_loss"]) == list(straight.history["val_loss"])
    assert [e["epoch"] for e in Store.of(tmp_path / "b").epochs(folder.run_id)] == [1, 2, 3, 4, 5]


def test_resume_removes_what_a_killed_process_left(tmp_path, monkeypatch):
    folder = interrupted_at(monkeypatch, 3, tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = folder.path / f".last.{dead.pid}.tmp.pt"  # a write the kill cut short
    stale.write_bytes(b"partial")
    mine = folder.path / f".keep.{os.getpid()}.tmp.txt"  # this process's own: kept
    mine.write_text("in progress")
    experiment.resume(folder.run_id, runs_dir=tmp_path, progress=False)
    assert not stale.exists() and mine.exists()


def test_a_run_killed_before_its_folder_was_written_resumes(tmp_path):
    """The store records a run first; its folder is rebuilt from the stored config."""
    straight = experiment.run(toy_config(epochs=2), runs_dir=tmp_path / "a", progress=False)
    store = Store.of(tmp_path / "b")
    store.start_run("early", toy_config(epochs=2).to_dict(), tmp_path / "b" / "early",
                    owner=Owner(me().host, 2 ** 22 + 17, None))  # a pid no process has
    assert store.get_run("early")["status"] == "interrupted"
    resumed = experiment.resume("early", runs_dir=tmp_path / "b", progress=False)
    assert resumed.summary["test"] == straight.summary["test"]
    assert (tmp_path / "b" / "early" / "config.yaml").is_file()
