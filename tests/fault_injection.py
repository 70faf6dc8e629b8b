"""Fault injection: kill rnnlab runs and sweeps with SIGKILL at seeded random moments, resume
them, and check that nothing was half-recorded and every result equals the uninterrupted one.

After each kill: the store passes SQLite's integrity check and no run reads as running.
After each resume: the run (every point of the sweep) finished, its test metrics, per-epoch
rows and best weights equal the uninterrupted run's bit for bit, and no temporary file is
left in its folder. ``tests/test_crash_safety.py`` runs a short version; the long one:

    python tests/fault_injection.py --kills 50 --seed 0
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

EPOCHS = 60
SWEEP_GRID = ["--grid", "model.hidden_size=4,8"]


def write_setup(work: Path) -> Path:
    """A small series and a forecast config that trains on it in a few seconds."""
    work.mkdir(parents=True, exist_ok=True)
    t = np.arange(400)
    rng = np.random.default_rng(0)
    with open(work / "wave.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b"])
        writer.writerows(zip(np.sin(t / 7) + 2 + rng.normal(0, .05, 400),
                             np.cos(t / 5) + 3 + rng.normal(0, .05, 400)))
    cfg = {"name": "fi", "task": "forecast", "seed": 0,
           "data": {"path": "wave.csv", "history": 8, "horizon": 2},
           "model": {"kind": "gru", "hidden_size": 8},
           "train": {"epochs": EPOCHS, "batch_size": 16, "lr": 0.01, "patience": EPOCHS}}
    path = work / "fi.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def rnnlab(*args, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "rnnlab", *map(str, args), "--no-progress"],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(proc: subprocess.Popen) -> None:
    out, err = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise AssertionError(f"rnnlab exited with {proc.returncode}: {err[-2000:]}")


def result_of(run_dir: Path) -> dict:
    """What must be equal bit for bit: test figures, per-epoch rows (not their seconds) and
    the best weights."""
    summary = json.loads((run_dir / "summary.json").read_text())
    with open(run_dir / "metrics.csv", newline="") as f:
        rows = [{k: v for k, v in row.items() if k != "epoch_seconds"} for row in csv.DictReader(f)]
    weights = torch.load(run_dir / "best.pt", weights_only=True)["model"]
    return {"test": summary["test"], "baselines": summary["baselines"],
            "best_epoch": summary["best_epoch"], "epochs": summary["epochs"], "rows": rows,
            "weights": {k: v.numpy().tobytes() for k, v in weights.items()}}


def store_rows(runs: Path) -> list[dict]:
    """The runs as a user sees them (a killed run reads as interrupted), after checking the
    database's integrity."""
    from rnnlab.store import Store

    db = runs / "rnnlab.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as con:
        (check,) = con.execute("PRAGMA integrity_check").fetchone()
    assert check == "ok", f"store damaged: {check}"
    return Store(db).list_runs()


def check_after_kill(runs: Path) -> None:
    running = [r["id"] for r in store_rows(runs) if r["status"] == "running"]
    assert not running, f"runs still read as running after the kill: {running}"


def check_after_resume(runs: Path, reference: dict[str, dict]) -> None:
    rows = store_rows(runs)
    finished = {r["id"]: r for r in rows if r["status"] == "finished"}
    assert len(finished) == len(reference), \
        f"{len(finished)} finished runs, expected {len(reference)}: {[r['status'] for r in rows]}"
    for row in finished.values():
        run_dir = Path(row["run_dir"])
        stray = [p.name for p in run_dir.glob(".*.tmp*")]
        assert not stray, f"temporary files left in {run_dir.name}: {stray}"
        key = json.dumps(json.loads(row["config"])["model"], sort_keys=True)
        got, want = result_of(run_dir), reference[key]
        for part in want:
            assert got[part] == want[part], f"{run_dir.name}: {part} differs from the " \
                                            f"uninterrupted run"


def by_model(runs: Path) -> dict[str, dict]:
    return {json.dumps(json.loads(r["config"])["model"], sort_keys=True): result_of(
        Path(r["run_dir"])) for r in store_rows(runs) if r["status"] == "finished"}


def reference(work: Path, sweep: bool) -> tuple[dict[str, dict], float]:
    """The uninterrupted results and how long the command took."""
    cfg = write_setup(work)
    runs = work / ("ref_sweep" if sweep else "ref_run")
    began = time.perf_counter()
    finish(rnnlab(*(["sweep", cfg, *SWEEP_GRID] if sweep else ["run", cfg]),
                  "--runs-dir", runs, cwd=work))
    return by_model(runs), time.perf_counter() - began


def kill_and_resume(work: Path, delay: float, index: int, sweep: bool,
                    expected: dict[str, dict]) -> str:
    """Kill the command after ``delay`` seconds, check, resume, check; say what happened."""
    cfg = work / "fi.yaml"
    runs = work / f"{'sweep' if sweep else 'run'}_{index}"
    command = ["sweep", cfg, *SWEEP_GRID] if sweep else ["run", cfg]
    proc = rnnlab(*command, "--runs-dir", runs, cwd=work)
    time.sleep(delay)
    proc.kill()
    proc.communicate()
    check_after_kill(runs)
    stored = store_rows(runs)
    if proc.returncode == 0 or (len(stored) == len(expected)
                                and all(r["status"] == "finished" for r in stored)):
        what = "finished before the kill"
    elif sweep or not stored:  # a sweep resumes by rerunning it; an unrecorded run by rerunning
        what = f"killed with {len(stored)} run(s) recorded"
        finish(rnnlab(*command, "--runs-dir", runs, cwd=work))
    else:
        from rnnlab.rundir import RunFolder

        what = f"killed after epoch {len(RunFolder('', Path(stored[0]['run_dir'])).history())}"
        finish(rnnlab("run", "--resume", stored[0]["id"], "--runs-dir", runs, cwd=work))
    check_after_resume(runs, expected)
    return what


def harness(work: Path, kills: int, seed: int, sweep: bool, log=print) -> int:
    """Run ``kills`` kill-and-resume rounds; returns how many survived (all, or it raises)."""
    expected, seconds = reference(work, sweep)
    rng = random.Random(seed)
    for i in range(kills):
        delay = rng.uniform(0.2, seconds)
        what = kill_and_resume(work, delay, i, sweep, expected)
        log(f"{'sweep' if sweep else 'run'} kill {i + 1}/{kills} at {delay:.2f} s: {what}; "
            "resumed to the same result")
    return kills


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50, help="kills of a run, and of a sweep")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", default=None, help="folder for the runs (default: a temp dir)")
    args = parser.parse_args()
    import tempfile

    work = Path(args.work or tempfile.mkdtemp(prefix="rnnlab-faults-"))
    runs = harness(work, args.kills, args.seed, sweep=False)
    sweeps = harness(work, args.kills, args.seed + 1, sweep=True)
    print(f"kills survived: {runs}/{args.kills} runs, {sweeps}/{args.kills} sweeps ({work})")


if __name__ == "__main__":
    main()
