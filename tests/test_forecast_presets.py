"""Each forecasting preset end to end with --quick through the real CLI.

Real files where ../shared/datasets has them (Los-loop, Beijing PM2.5); files
generated in the published format where it cannot (PEMS04.npz, Jena's zip).
To keep CI short, two runs shrink what dominates their cost without changing
the protocol: traffic_12 forecasts 12 of the 207 detectors, and jena runs the
torch.nn GRU (the same function as the scratch one, proved in
test_nn_equivalence) over its 720-step windows.
"""

import json

import pytest

from forecast_fixtures import write_jena_zip, write_pems_npz

pytestmark = pytest.mark.slow


def run_preset(cli, repo_root, preset, *args, env=None):
    proc = cli("run", repo_root / "configs" / f"{preset}.yaml", "--quick", "--no-progress",
               *args, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = [p for p in (cli.cwd / "runs").iterdir() if p.is_dir()]
    summary = json.loads((run_dir / "summary.json").read_text())
    for name in ("loss.png", "metrics.png", "predictions.png"):
        assert (run_dir / name).is_file(), name
    assert set(summary["baselines"]) == {"last_value", "train_mean"}
    return proc, run_dir, summary


@pytest.mark.realdata
def test_air_temp_quick(cli, repo_root, real_data):
    proc, run_dir, summary = run_preset(cli, repo_root, "air_temp",
                                        env={"RNNLAB_DATA": str(real_data)})
    assert summary["impl"] == "teaching" and summary["data"]["targets"] == ["TEMP"]
    assert summary["data"]["unit"] == "°C"
    assert summary["data"]["dropped_nan_windows"] == {"train": 0, "val": 0, "test": 0}
    assert (run_dir / "batch_metrics.png").is_file()
    lines = (run_dir / "batch_metrics.csv").read_text().splitlines()
    assert lines[0] == "batch,loss,rmse,mae,mape" and lines[1].startswith("100,")


@pytest.mark.realdata
def test_traffic_12_quick(cli, repo_root, real_data):
    detectors = "[773869,767541,767542,717447,717446,717445,773062,767620,737529,717816," \
                "765604,767471]"
    proc, run_dir, summary = run_preset(cli, repo_root, "traffic_12", "--set",
                                        f"data.nodes={detectors}",
                                        env={"RNNLAB_DATA": str(real_data)})
    assert summary["data"]["nodes"] == 12
    assert list(summary["horizons"]) == ["15min", "30min", "60min"]
    at60 = summary["horizons"]["60min"]
    assert at60["model"]["mae"] == summary["test"]["mae@12"]
    assert at60["last_value"]["rmse"] == summary["baselines"]["last_value"]["rmse@12"]
    assert (run_dir / "horizons.png").is_file()
    assert "at 15min" in proc.stdout and "at 60min" in proc.stdout


@pytest.mark.realdata
def test_pm25_week_quick_with_a_minimal_cell(cli, repo_root, real_data):
    proc, run_dir, summary = run_preset(cli, repo_root, "pm25_week", "--kind", "mingru",
                                        env={"RNNLAB_DATA": str(real_data)})
    assert summary["model"] == "mingru" and summary["data"]["targets"] == ["pm2.5"]
    assert list(summary["horizons"]) == ["60min", "6h", "24h"]
    assert summary["data"]["windows"]["train"] > 500  # a week of history, gaps dropped


def test_pems_next_quick_on_a_generated_npz(cli, repo_root):
    write_pems_npz(cli.cwd / "data", "pems04", steps=240)
    _, _, summary = run_preset(cli, repo_root, "pems_next", "--data-dir", cli.cwd / "data")
    assert summary["data"]["columns"] == 307 * 3
    assert summary["data"]["split_steps"] == {"train": [0, 180], "test": [180, 240]}
    assert summary["selection"].startswith("last epoch")


def test_jena_quick_on_a_generated_zip(cli, repo_root):
    write_jena_zip(cli.cwd / "data")
    _, run_dir, summary = run_preset(cli, repo_root, "jena", "--data-dir", cli.cwd / "data",
                                     "--impl", "torch")
    assert summary["data"]["inputs"][0] == "hour" and summary["data"]["targets"] == ["T (degC)"]
    assert summary["data"]["windows"] == {"train": 5, "test": 3}
    assert list(summary["horizons"]) == ["6h", "24h", "48h"]
    assert (run_dir / "horizons.png").is_file()


def test_unknown_target_is_one_clear_error_before_anything_is_written(cli, repo_root):
    write_jena_zip(cli.cwd / "data", days=8)
    proc = cli("run", repo_root / "configs" / "jena.yaml", "--data-dir", cli.cwd / "data",
               "--set", "data.targets=[temperature]")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: data.targets: ['temperature'] not in jena")
    assert not (cli.cwd / "runs").exists() or not any((cli.cwd / "runs").iterdir())
