"""The benchmark scripts run end to end (tiny sizes; no timing is asserted)."""

import importlib.util
import shutil
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rnn_speed_runs_every_impl_and_reports_memory(monkeypatch, capsys):
    bench = _load("rnn_speed")
    monkeypatch.setitem(bench.WORKLOADS, "tiny", (3, 2, 4, 5))
    rows = bench.run(["tiny"], ["lstm", "gru", "rnn"], list(bench.IMPLS), 1, torch.device("cpu"),
                     bench._clock("cpu", torch.device("cpu")), True, lambda r: None)
    assert {(r["kind"], r["impl"]) for r in rows} == {
        (k, i) for k in ("lstm", "gru", "rnn") for i in bench.IMPLS}
    for r in rows:
        assert r["train_ms"] > 0 and r["peak_mb"] > 0 and r["train_x"] > 0
    text = bench.table(rows, rate=50.0)
    assert text.count("\n") == len(rows) + 1 and "tiny (3, 2, 4, 5)" in text


def test_matmul_limit_is_measured_for_each_gemm_library():
    bench = _load("rnn_speed")
    rates = bench.matmul_rates(torch.device("cpu"), bench._clock("wall", torch.device("cpu")),
                               n=64, reps=1)
    expected = {"blas", "onednn"} if torch.backends.mkldnn.is_available() else {"blas"}
    assert set(rates) == expected and all(r > 0 for r in rates.values())


def test_d2l_baseline_shapes():
    bench = _load("rnn_speed")
    for kind in ("rnn", "lstm", "gru"):
        out, h = bench.D2LStyle(kind, 4, 5)(torch.randn(3, 2, 4))
        assert out.shape == (3, 2, 5) and h.shape == (2, 5)


@pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None,
                    reason="torch.compile on CPU needs a C++ compiler")
def test_lstm_compile_probe_computes_torch_nn_lstm(capsys):
    bench = _load("lstm_compile")
    result = bench.main(["--shape", "4", "3", "5", "6", "--dtype", "float64", "--threads", "1",
                         "--rounds", "1", "--repeats", "1"])
    assert result["max_diff"] < 1e-10  # outputs and every gradient, float64
    assert set(result["ms"]) == {"torch.nn", "compiled", "rnnlab fused"}
    assert "| compiled |" in capsys.readouterr().out


def test_min_speed_runs_every_layer_and_draws_the_chart(tmp_path):
    bench = _load("min_speed")
    cpu = torch.device("cpu")
    rows = bench.run([3], bench.KINDS, list(bench.IMPLS), 1, cpu, bench._clock("cpu", cpu), True,
                     lambda r: None, sizes=(2, 4, 5))
    assert {(r["kind"], r["impl"]) for r in rows} == {
        (k, i) for k in bench.KINDS for i in bench.IMPLS}
    for r in rows:
        assert r["train_ms"] > 0 and r["peak_mb"] > 0 and r["train_speedup"] > 0
    text = bench.table(rows)
    assert text.count("\n") == len(rows) + 1 and "| 3 | MinGRU |" in text
    bench.chart(rows, tmp_path / "min.png", "tiny")
    assert (tmp_path / "min.png").stat().st_size > 0
