"""The fused fast path (rnnlab.nn.fused): gradcheck and gradgradcheck of each Function, and
agreement with the reference loop and torch.nn on the cases it handles specially (packed
unsorted input, gradients w.r.t. h0/c0, projections)."""

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck
from torch.nn.utils.rnn import pack_padded_sequence

from rnnlab import nn as rnn
from rnnlab.nn import fused
from rnnlab.nn.plan import Plan

TOL = dict(rtol=0, atol=1e-8)
DT = torch.float64
# batch_sizes of a packed batch (lengths 4, 3, 3, 1) and a dense one
SIZES = {"packed": [4, 3, 3, 1], "dense": [3, 3, 3]}


def _leaf(*shape, gen):
    return torch.randn(*shape, dtype=DT, generator=gen).requires_grad_(True)


def _function_and_inputs(mode, bias, reverse, layout):
    """One fused Function and random float64 arguments for it."""
    gen = torch.Generator().manual_seed(1)
    sizes = SIZES[layout]
    hidden, proj = 3, 2
    gates = {"LSTM": 4, "LSTM_PROJ": 4, "GRU": 3}.get(mode, 1) * hidden
    out_size = proj if mode == "LSTM_PROJ" else hidden
    x = _leaf(sum(sizes), 2, gen=gen)
    w_ih = _leaf(gates, 2, gen=gen)
    b_ih = _leaf(gates, gen=gen) if bias else None
    h0 = _leaf(sizes[0], out_size, gen=gen)
    w_hh = _leaf(gates, out_size, gen=gen)
    b_hh = _leaf(gates, gen=gen) if bias else None
    plan = Plan(sizes, reverse)
    if mode.startswith("LSTM"):
        c0 = _leaf(sizes[0], hidden, gen=gen)
        w_hr = _leaf(proj, hidden, gen=gen) if mode == "LSTM_PROJ" else None
        return fused.LSTMScan.apply, (x, w_ih, b_ih, h0, c0, w_hh, b_hh, w_hr, plan)
    if mode == "GRU":
        return fused.GRUScan.apply, (x, w_ih, b_ih, h0, w_hh, b_hh, plan)
    # (a relu pre-activation within eps of 0 is vanishingly unlikely with this seed)
    return fused.RNNScan.apply, (x, w_ih, b_ih, h0, w_hh, b_hh, mode == "RNN_RELU", plan)


FUNCTION_CASES = pytest.mark.parametrize("mode,bias,reverse,layout", [
    (m, b, r, lay) for m in ["RNN_TANH", "RNN_RELU", "LSTM", "GRU", "LSTM_PROJ"]
    for b in [True, False] for r in [False, True] for lay in SIZES])


@FUNCTION_CASES
def test_gradcheck_fused_functions(mode, bias, reverse, layout):
    fn, inputs = _function_and_inputs(mode, bias, reverse, layout)
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-7)


@FUNCTION_CASES
def test_gradgradcheck_and_batched_gradcheck_fused_functions(mode, bias, reverse, layout):
    """Double backward (create_graph) and vmapped backward (is_grads_batched) of each Function:
    both take the autograd fallback through the reference loop (fast mode: random
    projections of the Jacobians, about a tenth of the full check's time)."""
    fn, inputs = _function_and_inputs(mode, bias, reverse, layout)
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-7, check_batched_grad=True, fast_mode=True)
    assert gradgradcheck(fn, inputs, eps=1e-6, atol=1e-7, fast_mode=True)


def test_autograd_fallback_gives_an_argument_passed_twice_each_of_its_gradients():
    """h0 and c0 being one tensor: the create_graph fallback must return dL/dh0 and dL/dc0
    (autograd adds them), not their sum twice."""
    gen = torch.Generator().manual_seed(2)
    x, w_ih, w_hh = _leaf(6, 2, gen=gen), _leaf(12, 2, gen=gen), _leaf(12, 3, gen=gen)
    s0 = _leaf(2, 3, gen=gen)
    plan = Plan([2, 2, 2], False)
    grads = []
    for create_graph in (False, True):
        out, h_n, c_n = fused.LSTMScan.apply(x, w_ih, None, s0, s0, w_hh, None, None, plan)
        loss = out.sum() + h_n.pow(2).sum() + c_n.pow(3).sum()
        grads.append(torch.autograd.grad(loss, s0, create_graph=create_graph)[0])
    torch.testing.assert_close(grads[1], grads[0], **TOL)


def _grads(module, x, hx, lengths, batch_first=False):
    """Outputs and gradients of input, hx and every parameter for a random loss."""
    x = x.clone().requires_grad_(True)
    hx = tuple(h.clone().requires_grad_(True) for h in hx)
    inp = x if lengths is None else pack_padded_sequence(x, lengths, batch_first=batch_first,
                                                         enforce_sorted=False)
    out, hidden = module(inp, hx if len(hx) == 2 else hx[0])
    outs = [out.data if lengths is not None else out]
    outs += list(hidden) if isinstance(hidden, tuple) else [hidden]
    g = torch.Generator().manual_seed(5)
    loss = sum((o * torch.randn(o.shape, dtype=DT, generator=g)).sum() for o in outs)
    module.zero_grad()
    loss.backward()
    return outs + [x.grad] + [h.grad for h in hx] + [p.grad for p in module.parameters()]


CASES = [
    ("lstm", dict(num_layers=2, bidirectional=True)),
    ("lstm", dict(num_layers=2, bidirectional=True, proj_size=2)),
    ("gru", dict(num_layers=2, bidirectional=True)),
    ("rnn_tanh", dict(num_layers=2, bidirectional=True, bias=False)),
    ("rnn_relu", dict(num_layers=1, bidirectional=True)),
]
MAKE = {"lstm": (rnn.LSTM, torch.nn.LSTM, {}), "gru": (rnn.GRU, torch.nn.GRU, {}),
        "rnn_tanh": (rnn.RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
        "rnn_relu": (rnn.RNN, torch.nn.RNN, {"nonlinearity": "relu"})}


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("mode,kwargs", CASES)
def test_fast_equals_reference_loop_and_torch_with_state_gradients(mode, kwargs, packed):
    """Packed unsorted batch, h0 and c0 requiring grad: fast == reference == torch.nn."""
    ours_cls, torch_cls, extra = MAKE[mode]
    fast = ours_cls(3, 4, **extra, **kwargs, dtype=DT)
    slow = ours_cls(3, 4, **extra, **kwargs, dtype=DT, fast=False)
    ref = torch_cls(3, 4, **extra, **kwargs, dtype=DT)
    slow.load_state_dict(fast.state_dict())
    ref.load_state_dict(fast.state_dict())
    assert fast.fast and not slow.fast and "fast=False" in repr(slow)
    gen = torch.Generator().manual_seed(3)
    rows = 2 * kwargs["num_layers"]
    x = torch.randn(6, 5, 3, dtype=DT, generator=gen)
    hx = (torch.randn(rows, 5, kwargs.get("proj_size") or 4, dtype=DT, generator=gen),)
    if mode == "lstm":
        hx += (torch.randn(rows, 5, 4, dtype=DT, generator=gen),)
    lengths = torch.tensor([2, 6, 1, 4, 6]) if packed else None
    a, b, c = (_grads(m, x, hx, lengths) for m in (fast, slow, ref))
    assert len(a) == len(b) == len(c)
    for u, v, w in zip(a, b, c):
        torch.testing.assert_close(u, v, **TOL)
        torch.testing.assert_close(u, w, **TOL)


def test_switching_fast_off_on_the_same_module_gives_the_same_numbers():
    lstm = rnn.LSTM(3, 4, batch_first=True, dtype=DT)
    x = torch.randn(2, 5, 3, dtype=DT)
    hx = (torch.randn(1, 2, 4, dtype=DT), torch.randn(1, 2, 4, dtype=DT))
    a = _grads(lstm, x, hx, None, batch_first=True)
    lstm.fast = False
    b = _grads(lstm, x, hx, None, batch_first=True)
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v, **TOL)


@pytest.mark.parametrize("cls", [rnn.RNN, rnn.LSTM, rnn.GRU])
def test_backward_twice_with_retain_graph_gives_the_same_gradients(cls):
    """Backward must not overwrite what forward saved."""
    layer = cls(3, 4, dtype=DT)
    x = torch.randn(5, 2, 3, dtype=DT, requires_grad=True)
    loss = layer(x)[0].pow(2).sum()
    first = torch.autograd.grad(loss, [x, *layer.parameters()], retain_graph=True)
    second = torch.autograd.grad(loss, [x, *layer.parameters()])
    for u, v in zip(first, second):
        torch.testing.assert_close(u, v, rtol=0, atol=0)


def test_only_some_outputs_used_and_frozen_weights():
    """Unused outputs get zero gradient; frozen weights get none and the rest still flow."""
    gru = rnn.GRU(3, 4, num_layers=2, dtype=DT)
    ref = torch.nn.GRU(3, 4, num_layers=2, dtype=DT)
    ref.load_state_dict(gru.state_dict())
    for m in (gru, ref):
        m.weight_hh_l0.requires_grad_(False)
    x = torch.randn(5, 2, 3, dtype=DT)
    grads = []
    for m in (gru, ref):
        xi = x.clone().requires_grad_(True)
        m(xi)[1].sum().backward()  # h_n only
        grads.append([xi.grad] + [p.grad for p in m.parameters() if p.requires_grad])
    assert gru.weight_hh_l0.grad is None
    for u, v in zip(*grads):
        torch.testing.assert_close(u, v, **TOL)


@pytest.mark.parametrize("cls", [rnn.LSTM, rnn.GRU, rnn.RNN])
def test_float32_matches_torch_nn_within_float32_rounding(cls):
    """The LSTM computes tanh as 2*sigmoid(2z)-1 (cheaper on CPU); in float32 that must stay
    within a few ulps of torch.nn, outputs and gradients, also for saturating inputs."""
    torch.manual_seed(0)
    ref = getattr(torch.nn, cls.__name__)(5, 16, num_layers=2)
    ours = cls(5, 16, num_layers=2)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(30, 4, 5) * torch.tensor([0.01, 0.1, 1.0, 10.0, 100.0])  # tiny to saturating
    outs = []
    for m in (ref, ours):
        xi = x.clone().requires_grad_(True)
        out, _ = m(xi)
        out.pow(2).sum().backward()
        outs.append([out, xi.grad, *(p.grad for p in m.parameters())])
    for u, v in zip(*outs):
        assert torch.isfinite(v).all()
        torch.testing.assert_close(v, u, rtol=1e-4, atol=1e-5)


def test_lstm_gate_and_cell_tanh_are_bounded_when_saturated():
    """sigmoid-based tanh must give exactly -1..1, never beyond, at huge pre-activations."""
    lstm = rnn.LSTM(1, 2)
    with torch.no_grad():
        for p in lstm.parameters():
            p.fill_(50.0)
    out, (h, c) = lstm(torch.tensor([[[1e4]], [[-1e4]], [[1e4]]]))
    assert out.abs().max() <= 1.0 and torch.isfinite(c).all()
    torch.testing.assert_close(out[0], torch.tanh(torch.ones(1, 2)), rtol=0, atol=1e-6)


# odd narrow, aligned <= 64, aligned > 64, odd wide (dW_ih in padded rows)
@pytest.mark.parametrize("input_size", [3, 32, 80, 161])
@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_input_gradients_for_each_matmul_orientation(mode, input_size):
    """dX and dW_ih pick the transposed product for input sizes that are not multiples of 16
    (dW_ih also up to 64, and padded rows for wide odd inputs): every branch must equal
    torch.nn, and the weight gradient lands in .grad as an ordinary contiguous tensor."""
    ours_cls, torch_cls, extra = MAKE[mode]
    ours = ours_cls(input_size, 4, **extra, dtype=DT)
    ref = torch_cls(input_size, 4, **extra, dtype=DT)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(5, 3, input_size, dtype=DT, generator=torch.Generator().manual_seed(4))
    hx = (torch.zeros(1, 3, 4, dtype=DT),) * (2 if mode == "lstm" else 1)
    for u, v in zip(_grads(ours, x, hx, None), _grads(ref, x, hx, None)):
        torch.testing.assert_close(u, v, **TOL)
    assert ours.weight_ih_l0.grad.is_contiguous()
