"""The real ``rnnlab`` CLI in a subprocess: clear errors on bad input, and a real run."""

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from rnnlab.data import registry

PRESET = "configs/los_loop.yaml"


def assert_clean_error(proc, *fragments, code=2):
    """Exit code, one readable message naming the problem, no traceback."""
    assert proc.returncode == code, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ")
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 4


def nothing_stored(cli):
    runs = cli.cwd / "runs"
    return not (runs / "rnnlab.db").exists() and not any(runs.glob("*")) if runs.exists() else True


@pytest.fixture
def preset(cli, repo_root):
    return repo_root / PRESET


def test_unknown_key(cli, preset):
    proc = cli("run", preset, "--set", "model.hiden_size=8")
    assert_clean_error(proc, "model.hiden_size", "Did you mean 'hidden_size'")
    assert nothing_stored(cli)


def test_wrong_type(cli, preset):
    proc = cli("run", preset, "--set", "train.epochs=many")
    assert_clean_error(proc, "train.epochs", "whole number")
    assert nothing_stored(cli)


def test_unknown_impl_lists_valid_ones(cli, preset):
    proc = cli("run", preset, "--set", "model.impl=fast")
    assert_clean_error(proc, "'fast' is not a valid choice", "scratch, torch, teaching")


def test_missing_data_file(cli, preset):
    proc = cli("run", preset, "--data-dir", cli.cwd / "empty",
               env={"RNNLAB_NO_BUNDLED": "1", "RNNLAB_DATA": ""})
    assert_clean_error(proc, "los_loop/los_speed.csv not found", "--data-dir",
                       "rnnlab download los_loop", "github.com/lehaifeng/T-GCN")
    assert nothing_stored(cli)


def test_corrupt_data_file(cli, preset):
    folder = cli.cwd / "data" / "los_loop"
    folder.mkdir(parents=True)
    good = (registry.BUNDLED_ROOT / "los_loop" / "los_speed.csv").read_bytes()
    (folder / "los_speed.csv").write_bytes(good[: len(good) // 2])
    proc = cli("run", preset, "--data-dir", cli.cwd / "data")
    assert_clean_error(proc, "truncated or altered", "rnnlab download los_loop")
    assert nothing_stored(cli)


def test_window_longer_than_the_series(cli, preset):
    proc = cli("run", preset, "--set", "data.history=5000")
    assert_clean_error(proc, "does not fit in the train split", "data.history")
    assert nothing_stored(cli)


def test_missing_config_file(cli):
    assert_clean_error(cli("run", "no_such_config.yaml"), "not found")


def test_unknown_run_for_show(cli):
    assert_clean_error(cli("show", "nope"), "no run 'nope'")


def test_help_lists_the_commands(cli):
    proc = cli("--help")
    assert proc.returncode == 0
    for command in ("run", "runs", "show", "datasets", "download"):
        assert command in proc.stdout


def _last_value_rmse(csv_path, history=12):
    """The repeat-the-last-value baseline on the 6:2:2 test split, computed independently."""
    values = pd.read_csv(csv_path).to_numpy(dtype=float)
    test = values[int(len(values) * 0.8):]
    truth, last = test[history:], test[history - 1:-1]
    return math.sqrt(np.mean((truth - last) ** 2))


@pytest.mark.realdata
@pytest.mark.slow
def test_los_loop_quick_run_on_the_real_file(cli, preset, real_data):
    """--quick on $RNNLAB_DATA (bundled copy disabled): it must beat the last-value baseline."""
    proc = cli("run", preset, "--quick", "--no-progress",
               env={"RNNLAB_DATA": str(real_data), "RNNLAB_NO_BUNDLED": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = [p for p in (cli.cwd / "runs").iterdir() if p.is_dir()]
    for name in ("config.yaml", "metrics.csv", "best.pt", "summary.json", "loss.png",
                 "predictions.png"):
        assert (run_dir / name).is_file(), name
    summary = json.loads((run_dir / "summary.json").read_text())
    assert {"task", "dataset", "model", "impl", "test", "epochs", "train_seconds",
            "seconds_per_epoch", "parameters"} <= set(summary)
    baseline = _last_value_rmse(real_data / "los_loop" / "los_speed.csv")
    assert summary["baselines"]["last_value"]["rmse"] == pytest.approx(baseline)
    assert summary["test"]["rmse"] < baseline
    listed = cli("runs")
    assert summary["run_id"] in listed.stdout and "finished" in listed.stdout
    shown = json.loads(cli("show", summary["run_id"][:20]).stdout)
    assert shown["status"] == "finished" and shown["epochs"] == summary["epochs"]
    shutil.rmtree(run_dir)
