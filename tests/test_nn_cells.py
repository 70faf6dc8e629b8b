"""rnnlab.nn.RNNCell, LSTMCell and GRUCell equal torch.nn's cells in float64: parameters
and their initialisation, outputs and gradients (batched, unbatched, without hx), second
derivatives, and the argument checks (type and message)."""

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

from rnnlab import nn as rnn

DT = torch.float64
TOL = dict(rtol=0, atol=1e-10)
I, H, B = 3, 4, 2
CELLS = {
    "rnn_tanh": ("RNNCell", {}),
    "rnn_relu": ("RNNCell", {"nonlinearity": "relu"}),
    "lstm": ("LSTMCell", {}),
    "gru": ("GRUCell", {}),
}


def _pair(kind, bias=True):
    name, extra = CELLS[kind]
    ours = getattr(rnn, name)(I, H, bias=bias, **extra, dtype=DT)
    ref = getattr(torch.nn, name)(I, H, bias=bias, **extra, dtype=DT)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def _state(kind, *batch, gen):
    h = torch.randn(*batch, H, dtype=DT, generator=gen)
    return (h, torch.randn(*batch, H, dtype=DT, generator=gen)) if kind == "lstm" else h


def _flat(x):
    return list(x) if isinstance(x, tuple) else [x]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", CELLS)
def test_same_seed_gives_torchs_parameters(kind, bias):
    name, extra = CELLS[kind]
    torch.manual_seed(11)
    ours = getattr(rnn, name)(I, H, bias, **extra)
    torch.manual_seed(11)
    ref = getattr(torch.nn, name)(I, H, bias, **extra)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == \
           [(n, p.shape) for n, p in ref.named_parameters()]
    for (n, a), b in zip(ours.named_parameters(), ref.parameters()):
        assert torch.equal(a, b), n
    assert (ours.bias_ih is None) == (ref.bias_ih is None) == (not bias)
    assert repr(ours) == repr(ref)
    assert (ours.input_size, ours.hidden_size, ours.bias) == (I, H, bias)


@pytest.mark.parametrize("batch", ["batched", "unbatched", "no_hx", "no_hx_unbatched"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", CELLS)
def test_outputs_and_gradients_match_torch(kind, bias, batch):
    shape = () if "unbatched" in batch else (B,)
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(*shape, I, dtype=DT, generator=gen)
    hx = None if batch.startswith("no_hx") else _state(kind, *shape, gen=gen)
    results = []
    for cell in _pair(kind, bias):
        xi = x.clone().requires_grad_(True)
        hi = None if hx is None else tuple(
            t.clone().requires_grad_(True) for t in _flat(hx))
        outs = _flat(cell(xi, hi if hi is None or kind == "lstm" else hi[0]))
        g = torch.Generator().manual_seed(6)
        loss = sum((o * torch.randn(o.shape, dtype=DT, generator=g)).sum() for o in outs)
        leaves = [xi, *(hi or ()), *cell.parameters()]
        first = torch.autograd.grad(loss, leaves, create_graph=True)
        second = torch.autograd.grad(sum(f.pow(2).sum() for f in first), leaves,
                                     allow_unused=True, materialize_grads=True)
        results.append([*outs, *first, *second])
    assert [t.shape for t in results[0]] == [t.shape for t in results[1]]
    for u, v in zip(*results):
        torch.testing.assert_close(u, v, **TOL)


@pytest.mark.parametrize("kind", CELLS)
def test_gradcheck_and_gradgradcheck(kind):
    ours, _ = _pair(kind)
    names = [n for n, _ in ours.named_parameters()]
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(B, I, dtype=DT, generator=gen)
    hx = _flat(_state(kind, B, gen=gen))
    inputs = tuple(t.requires_grad_(True) for t in [x, *hx, *(p.detach().clone()
                                                              for p in ours.parameters())])

    def f(x, *rest):
        state = tuple(rest[:len(hx)]) if kind == "lstm" else rest[0]
        params = dict(zip(names, rest[len(hx):]))
        return torch.func.functional_call(ours, params, (x, state))

    assert gradcheck(f, inputs, check_batched_grad=True)
    assert gradgradcheck(f, inputs)


def test_a_cell_loop_equals_the_layer():
    """Stepping LSTMCell over time gives rnnlab.nn.LSTM's outputs (the tutorials' loop)."""
    layer = rnn.LSTM(I, H, dtype=DT)
    cell = rnn.LSTMCell(I, H, dtype=DT)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    x = torch.randn(5, B, I, dtype=DT)
    state, outs = None, []
    for x_t in x:
        state = cell(x_t, state)
        outs.append(state[0])
    out, (_, c_n) = layer(x)
    torch.testing.assert_close(torch.stack(outs), out, **TOL)
    torch.testing.assert_close(state[1], c_n[0], **TOL)


def _x(*shape, dtype=torch.float32):
    return torch.randn(*shape, dtype=dtype)


ERRORS = [
    ("RNNCell 3-D input", lambda nn: nn.RNNCell(3, 4)(_x(2, 2, 3))),
    ("GRUCell 0-D input", lambda nn: nn.GRUCell(3, 4)(torch.tensor(1.0))),
    ("LSTMCell 3-D input", lambda nn: nn.LSTMCell(3, 4)(_x(2, 2, 3))),
    ("RNNCell 3-D hx", lambda nn: nn.RNNCell(3, 4)(_x(2, 3), _x(1, 2, 4))),
    ("GRUCell 3-D hx", lambda nn: nn.GRUCell(3, 4)(_x(2, 3), _x(1, 2, 4))),
    ("LSTMCell 3-D c", lambda nn: nn.LSTMCell(3, 4)(_x(2, 3), (_x(2, 4), _x(1, 2, 4)))),
    ("RNNCell input_size", lambda nn: nn.RNNCell(3, 4)(_x(2, 2))),
    ("LSTMCell input_size", lambda nn: nn.LSTMCell(3, 4)(_x(2, 2))),
    ("GRUCell hx batch", lambda nn: nn.GRUCell(3, 4)(_x(2, 3), _x(3, 4))),
    ("LSTMCell c batch", lambda nn: nn.LSTMCell(3, 4)(_x(2, 3), (_x(2, 4), _x(3, 4)))),
    ("RNNCell hidden_size", lambda nn: nn.RNNCell(3, 4)(_x(2, 3), _x(2, 5))),
    ("LSTMCell c hidden_size", lambda nn: nn.LSTMCell(3, 4)(_x(2, 3), (_x(2, 4), _x(2, 5)))),
    ("unbatched input, 2-D hx", lambda nn: nn.GRUCell(3, 4)(_x(3), _x(1, 4))),
    ("batched input, 1-D hx", lambda nn: nn.RNNCell(3, 4)(_x(2, 3), _x(4))),
    ("input dtype", lambda nn: nn.LSTMCell(3, 4)(_x(2, 3, dtype=DT))),
    ("hx dtype", lambda nn: nn.GRUCell(3, 4)(_x(2, 3), _x(2, 4, dtype=DT))),
    ("input int", lambda nn: nn.RNNCell(3, 4)(torch.zeros(2, 3, dtype=torch.long))),
    ("LSTMCell hx 1-tuple", lambda nn: nn.LSTMCell(3, 4)(_x(2, 3), (_x(2, 4),))),
    ("LSTMCell hx 3-tuple", lambda nn: nn.LSTMCell(3, 4)(_x(2, 3), (_x(2, 4),) * 3)),
    ("LSTMCell hx 1-tuple unbatched", lambda nn: nn.LSTMCell(3, 4)(_x(3), (_x(4),))),
    ("LSTMCell hx a tensor", lambda nn: nn.LSTMCell(3, 4)(_x(2, 3), _x(2, 4))),
    ("RNNCell unknown nonlinearity", lambda nn: nn.RNNCell(3, 4, nonlinearity="x")(_x(2, 3))),
    ("negative hidden_size", lambda nn: nn.LSTMCell(3, -1)),
    ("float input_size", lambda nn: nn.GRUCell(3.0, 4)),
]


@pytest.mark.parametrize("name,call", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_are_torchs(name, call):
    errors = []
    for nn in (torch.nn, rnn):
        with pytest.raises(Exception) as info:
            call(nn)
        errors.append(info.value)
    assert type(errors[1]) is type(errors[0]), errors
    assert str(errors[1]) == str(errors[0])


@pytest.mark.parametrize("kind", CELLS)
def test_empty_batch(kind):
    results = []
    for cell in _pair(kind):
        x = torch.randn(0, I, dtype=DT, requires_grad=True)
        outs = _flat(cell(x))
        sum(o.sum() for o in outs).backward()
        results.append([*outs, x.grad, *(p.grad for p in cell.parameters())])
    for u, v in zip(*results):
        assert u.shape == v.shape
        torch.testing.assert_close(u, v, **TOL)
