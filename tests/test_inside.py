"""Inside the cells: the probe records what the layers compute, gradient norms through time
equal those of an independent step loop, and `rnnlab inspect` works on every task."""

import json

import numpy as np
import pytest
import torch

from rnnlab import nn
from rnnlab.nn.probe import probing, stacked
from rnnlab.tasks.inside import Inside

KINDS_IMPLS = [(k, i) for k in ("rnn", "lstm", "gru") for i in ("scratch", "teaching", "torch")] \
    + [(k, i) for k in ("mingru", "minlstm") for i in ("scratch", "teaching")]


def probe_of(kind, impl, x):
    torch.manual_seed(0)
    layer = nn.build_rnn(kind, impl, input_size=3, hidden_size=5, batch_first=True).double()
    if impl == "torch":  # looked at through the rnnlab.nn layer holding its weights
        from rnnlab.tasks.inside import scratch_copy
        layer = scratch_copy(torch.nn.Sequential(layer))[0]
    with probing() as probe:
        out, _ = layer(x)
        out[:, -1].pow(2).sum().backward()
    probe.finish_reverse()
    return probe


@pytest.mark.parametrize("kind, impl", KINDS_IMPLS)
def test_every_implementation_records_the_same_steps(kind, impl):
    x = torch.randn(1, 7, 3, dtype=torch.float64)
    mine, ref = probe_of(kind, impl, x), probe_of(kind, "scratch", x)
    assert sorted(mine.records["l0"]) == sorted(ref.records["l0"])
    # the teaching forms add the two biases when built in float32: equal to its rounding
    tol = dict(rtol=1e-6, atol=1e-8)
    for name, values in ref.records["l0"].items():
        torch.testing.assert_close(stacked(mine.records["l0"][name]), stacked(values), **tol)
    assert mine.state_grad_norms() == pytest.approx(ref.state_grad_norms(), rel=1e-6)
    assert mine.input_grad_norms() == pytest.approx(ref.input_grad_norms(), rel=1e-6)


def test_lstm_gates_and_gradients_equal_an_independent_step_loop():
    torch.manual_seed(1)
    cell = torch.nn.LSTMCell(3, 5).double()
    layer = nn.LSTM(3, 5, batch_first=True).double()
    layer.load_state_dict({"weight_ih_l0": cell.weight_ih, "weight_hh_l0": cell.weight_hh,
                           "bias_ih_l0": cell.bias_ih, "bias_hh_l0": cell.bias_hh})
    x = torch.randn(1, 9, 3, dtype=torch.float64)
    with probing() as probe:
        out, _ = layer(x)
        out[:, -1].sum().backward()
    # the same network step by step with torch.nn.LSTMCell, each state's gradient kept
    xs = x.clone().requires_grad_(True)
    h = c = torch.zeros(1, 5, dtype=torch.float64)
    states, forget = [], []
    for t in range(9):
        gates = xs[:, t] @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
        forget.append(torch.sigmoid(gates[:, 5:10]))
        h, c = cell(xs[:, t], (h, c))
        h.retain_grad()
        states.append(h)
    h.sum().backward()
    torch.testing.assert_close(stacked(probe.records["l0"]["f"]), torch.cat(forget).detach())
    assert probe.state_grad_norms() == pytest.approx([float(s.grad.norm()) for s in states])
    assert probe.input_grad_norms() == pytest.approx(
        [float(xs.grad[0, t].norm()) for t in range(9)])


def test_nothing_is_recorded_outside_a_probe():
    layer = nn.LSTM(3, 4)
    with probing() as probe:
        pass
    layer(torch.randn(5, 2, 3))
    assert probe.records == {} and probe.input is None


def test_saturation_and_flow_ratio_known_answers():
    inside = Inside(["a"])
    inside.gates.append({"f": np.array([[0.01, 0.5], [0.99, 0.97]]), "h": np.zeros((2, 2))})
    inside.grad_h.append([0.001, 0.1, 1.0, float("nan")])  # the last state is not read
    assert inside.saturation() == {"f": (0.25, 0.5)}
    assert inside.flow_ratio() == pytest.approx(0.001)
    assert list(inside.mean_from_end([[1.0, 2.0], [3.0]])) == [1.0, 2.5]


@pytest.mark.slow
@pytest.mark.parametrize("preset, sets", [
    ("los_loop", ["model.layout=joint", "model.hidden_size=8"]),
    ("names_lstm", ["data.limit=5000"]),
    ("timemachine", ["model.hidden_size=16", "data.max_train_tokens=5000"])])
def test_inspect_writes_figures_and_a_page(cli, repo_root, preset, sets):
    overrides = [a for s in sets for a in ("--set", s)]
    trained = cli("run", repo_root / f"configs/{preset}.yaml", "--set", "train.epochs=1",
                  *overrides, "--no-progress")
    assert trained.returncode == 0, trained.stderr
    (run_dir,) = [p for p in (cli.cwd / "runs").iterdir() if p.is_dir()]
    out = cli("inspect", run_dir.name, "--samples", "3")
    assert out.returncode == 0, out.stderr
    assert "||dL/dh_1|| / ||dL/dh_T||" in out.stdout
    for name in ("inside_gates.png", "inside_gradients.png", "inside_inputs.png"):
        assert (run_dir / name).stat().st_size > 5000
    page = (run_dir / "inspect.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "http" not in page.split("<body>")[1]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["model"] in page


def test_inspect_on_your_own_input_and_its_errors(cli, repo_root):
    trained = cli("run", repo_root / "configs/names_rnn.yaml", "--set", "data.limit=5000",
                  "--set", "train.epochs=1", "--no-progress")
    assert trained.returncode == 0, trained.stderr
    (run_dir,) = [p for p in (cli.cwd / "runs").iterdir() if p.is_dir()]
    own = cli("inspect", run_dir.name, "--input", "Nakamura", "Dovesky", "--checkpoint", "init")
    assert own.returncode == 0, own.stderr
    assert "Nakamura" in (run_dir / "inspect.html").read_text()
    bad = cli("inspect", run_dir.name, "--samples", "0")
    assert bad.returncode == 2 and "--samples must be at least 1" in bad.stderr


def test_the_reverse_direction_is_recorded_in_time_order():
    torch.manual_seed(2)
    both = nn.GRU(3, 4, bidirectional=True, batch_first=True).double()
    back = nn.GRU(3, 4, batch_first=True).double()
    back.load_state_dict({k.replace("_reverse", ""): v for k, v in both.state_dict().items()
                          if k.endswith("_reverse")})
    x = torch.randn(1, 6, 3, dtype=torch.float64)
    with probing() as probe:
        both(x)
    probe.finish_reverse()
    with probing() as alone:
        back(x.flip(1))
    torch.testing.assert_close(stacked(probe.records["l0_reverse"]["z"]),
                               stacked(alone.records["l0"]["z"]).flip(0))
