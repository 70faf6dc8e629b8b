"""The HTML report: self-contained, with the tables, curves and each run's own figures."""

import base64
import re
import shutil

import pytest

from rnnlab import sweep
from rnnlab.report import html, plots
from rnnlab.report.tables import Group, RunRecord
from rnnlab.store import Store

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory):
    """A finished sweep: rnn vs gru x 2 seeds x 2 hidden sizes on the toy series."""
    from conftest import TOY_RAW

    tmp_path = tmp_path_factory.mktemp("sweep")
    plan = sweep.plan(TOY_RAW, [{"model.kind": ["rnn", "gru"], "model.hidden_size": [3, 5]}],
                      seeds=2, name="kinds")
    sweep.execute(plan, runs_dir=tmp_path, progress=False)
    return tmp_path


@pytest.fixture
def kinds_sweep(finished_sweep, tmp_path):
    """A copy of the finished sweep that a test may change."""
    shutil.copytree(finished_sweep, tmp_path / "runs")
    runs = tmp_path / "runs"
    store = Store(runs / "rnnlab.db")
    with store._tx() as con:  # the copied store points at the original folders
        con.execute("UPDATE runs SET run_dir = replace(run_dir, ?, ?)",
                    (str(finished_sweep), str(runs)))
    return runs


def test_report_is_self_contained_and_has_the_tables(kinds_sweep):
    runs_dir = kinds_sweep
    rows = Store(runs_dir / "rnnlab.db").list_runs(sweep="kinds")
    # task-specific extras the report must pick up when a run folder has them
    first = runs_dir / rows[0]["id"]
    (first / "samples.txt").write_text("time traveller <said> & went\n")
    shutil.copy(first / "loss.png", first / "confusion.png")
    out = html.write(["kinds"], runs_dir / "report.html", runs_dir=runs_dir)
    text = out.read_text()

    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "<link" not in text and "<script" not in text and "@import" not in text
    sources = re.findall(r"""<img[^>]*\ssrc=["']([^"']+)""", text)
    assert len(sources) >= 1 + 1 + 2 + 8 * 3  # curves, metrics, 2 effect plots, run figures
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == PNG_MAGIC

    for heading in ("Configs", "Results on the test split", "Training time", "Curves",
                    "Hyperparameter effects", "Each run's figures"):
        assert heading in text, heading
    assert "model.kind" in text and "model.hidden_size" in text and 'class="diff"' in text
    # mean ± std over the 2 seeds of each of the 4 configs, with n shown
    results = text.split("Results on the test split")[1].split("Baselines")[0]
    assert results.count("<tr>") == 1 + 4 and ">2</td>" in results
    assert len(re.findall(r"\d ± \d", results)) >= 4 * 3
    assert "last_value" in text  # the forecast baselines beside the results
    assert "s/epoch" in text and "× fastest s/epoch" in text
    assert "time traveller &lt;said&gt; &amp; went" in text
    assert f"{rows[0]['id']} confusion" in text


def test_report_of_single_runs_and_folders(kinds_sweep):
    rows = Store(kinds_sweep / "rnnlab.db").list_runs(sweep="kinds")
    refs = [rows[0]["id"][:-2], str(kinds_sweep / rows[1]["id"])]
    out = html.write(refs, kinds_sweep / "two.html", runs_dir=kinds_sweep)
    text = out.read_text()
    assert "Results on the test split" in text and rows[1]["id"] in text


def test_unfinished_runs_are_named_not_tabled(kinds_sweep):
    store = Store(kinds_sweep / "rnnlab.db")
    rows = store.list_runs(sweep="kinds")
    store.set_status(rows[0]["id"], "interrupted")
    text = html.write(["kinds"], kinds_sweep / "r.html", runs_dir=kinds_sweep).read_text()
    assert f"{rows[0]['id']} (interrupted)" in text


def _group(kind, hidden, batch):
    cfg = {"seed": 0, "model": {"kind": kind, "hidden_size": hidden}, "train": {"batch": batch}}
    run = RunRecord("x", None, "finished", cfg, {"test": {"rmse": hidden / batch}})
    return Group({"model.kind": kind, "model.hidden_size": hidden, "train.batch": batch}, [run])


def test_effect_plot_draws_one_line_per_cell_type_in_a_one_factor_sweep():
    groups = [_group(k, h, 64) for k in ("rnn", "gru") for h in (16, 32, 64)]
    groups += [_group(k, 32, b) for k in ("rnn", "gru") for b in (32, 128)]
    lines = plots.effect_lines(groups, "model.hidden_size")
    assert list(lines) == ["kind=rnn, batch=64", "kind=gru, batch=64"]
    assert [g.values["model.hidden_size"] for g in lines["kind=rnn, batch=64"]] == [16, 32, 64]
    assert plots.effect_plot(groups, "model.hidden_size")[:8] == PNG_MAGIC


def test_cli_report_and_sweep_errors_are_clear(cli, repo_root):
    def clean(proc, *fragments):
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
        for fragment in fragments:
            assert fragment in proc.stderr, proc.stderr

    preset = repo_root / "configs" / "los_loop.yaml"
    clean(cli("report", "nope", "-o", "r.html"), "no sweep, run or run folder 'nope'")
    clean(cli("sweep", "--resume", "nope"), "no sweep 'nope'")
    clean(cli("sweep", preset, "--grid", "hidden_size=8,16"), "Did you mean 'model.hidden_size'")
    clean(cli("sweep", preset, "--grid", "model.hidden_size="), "empty value")
    clean(cli("sweep", preset), "nothing to sweep")
    assert not (cli.cwd / "r.html").exists() and not (cli.cwd / "runs").exists()
    help_text = cli("--help").stdout
    assert all(c in help_text for c in ("sweep", "compare", "report"))


def test_ties_are_not_magnified_but_real_differences_fill_the_axis():
    import matplotlib.pyplot as plt
    fig, (tie, gap) = plt.subplots(1, 2)
    tie.plot([0, 1], [4.36846731, 4.36846733])  # scratch vs torch: equal to 1e-8
    gap.plot([0, 1], [3.91, 4.11])  # s/epoch: a 5 % difference
    for ax in (tie, gap):
        plots._no_magnified_ties(ax)
    lo, hi = tie.get_ylim()
    assert hi - lo > 0.08 and lo < 4.33 and hi > 4.41
    lo, hi = gap.get_ylim()
    assert hi - lo < 0.5
    plt.close(fig)
