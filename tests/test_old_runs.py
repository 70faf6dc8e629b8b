"""Run folders written by earlier rnnlab versions keep working with eval, predict, generate,
export, report and --resume.

tests/fixtures/old_runs holds tiny runs written by main at adab289 (before the
Task-interface restructuring): a finished forecast (Los-loop), classify (names) and
language (The Time Machine) run, an interrupted forecast run, and their store.
"""

import shutil
import sqlite3
from pathlib import Path

import pytest
import torch

from rnnlab import config, experiment, export, inference
from rnnlab.report import html
from rnnlab.rundir import RunFolder
from rnnlab.tasks import PredictOptions

OLD = Path(__file__).parent / "fixtures" / "old_runs"


def old(prefix: str) -> Path:
    (path,) = OLD.glob(f"{prefix}-*")
    return path


@pytest.fixture
def runs(tmp_path) -> Path:
    """The old runs folder copied, its store pointing at the copies."""
    runs = shutil.copytree(OLD, tmp_path / "runs")
    with sqlite3.connect(runs / "rnnlab.db") as con:
        for (run_id,) in con.execute("SELECT id FROM runs").fetchall():
            con.execute("UPDATE runs SET run_dir = ? WHERE id = ?", (str(runs / run_id), run_id))
    return runs


@pytest.mark.parametrize("prefix", ["old_forecast", "old_classify", "old_language"])
def test_eval_of_an_old_folder_reproduces_its_metrics(prefix):
    computed, stored = inference.evaluate_run(str(old(prefix)), "test", runs_dir="nowhere")
    assert stored and inference.metrics_agree(computed, stored)


def test_predict_and_generate_on_old_folders(cli):
    names = cli("predict", old("old_classify"), "Dovesky", "Nakamura", "--top", "2")
    assert names.returncode == 0, names.stderr
    assert [line.split(":")[0] for line in names.stdout.splitlines()] == ["Dovesky", "Nakamura"]
    # greedy generation from the old folder's vocab.json and best.pt repeats its samples.txt
    samples = (old("old_language") / "samples.txt").read_text().splitlines()
    text = cli("generate", old("old_language"), "--prefix", "time", "--length", "10")
    assert text.returncode == 0, text.stderr
    assert text.stdout.strip() == samples[2].split("-> ")[1]
    ahead = cli("predict", old("old_forecast"), "--at", "2012-03-05 10:00")
    assert ahead.returncode == 0, ahead.stderr
    assert "2012-03-05 10:05:00" in ahead.stdout


def test_export_and_report_of_old_folders(tmp_path):
    run = RunFolder.find(str(old("old_forecast"))).load()
    path = export.export_run(str(old("old_forecast")), "state_dict", tmp_path / "m.pt")
    state = torch.load(path, weights_only=True)
    assert state.keys() == run.model.state_dict().keys()
    out = html.write([str(old(p)) for p in ("old_forecast", "old_classify", "old_language")],
                     tmp_path / "report.html")
    text = out.read_text()
    assert "run folder" in text and "rmse" in text and "perplexity" in text


def test_an_old_interrupted_run_resumes_to_the_uninterrupted_result(runs):
    folder = RunFolder.find("old_interrupted", runs)
    (first,) = folder.history()  # stopped after its first of three epochs
    resumed = experiment.resume("old_interrupted", runs_dir=runs, progress=False)
    cfg = config.from_dict(folder.raw_config())
    fresh = experiment.run(cfg, runs_dir=runs / "fresh", progress=False)
    assert resumed.summary["epochs"] == fresh.summary["epochs"] == 3
    assert resumed.metrics == fresh.metrics
    assert resumed.history.drop(columns="epoch_seconds").equals(
        fresh.history.drop(columns="epoch_seconds"))
    # epoch 1 came from the old last.pt, not from training it again
    assert resumed.history["epoch_seconds"][0] == first["epoch_seconds"]


def test_the_old_store_lists_and_resolves_its_runs(runs, cli):
    listed = cli("runs", "--runs-dir", runs)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count("finished") == 3 and "interrupted" in listed.stdout
    shown = cli("eval", "old_classify", "--runs-dir", runs)
    assert shown.returncode == 0 and "matches the stored metrics" in shown.stdout
    predicted = inference.predict_run("old_classify", ["Smith"], PredictOptions(top=1),
                                      runs_dir=runs)
    assert len(predicted) == 1 and predicted[0].startswith("Smith: ")
