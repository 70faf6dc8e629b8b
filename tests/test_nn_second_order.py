"""Beyond first derivatives, in the default (fused) mode: second derivatives, batched
gradients (vmap) and torch.func / forward-mode AD of rnnlab.nn layers equal torch.nn's in
float64, for every option. The first-order backward stays on the fast path."""

import pytest
import torch
import torch.autograd.forward_ad as fwAD
from torch.autograd import gradcheck, gradgradcheck
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from rnnlab import nn as rnn
from rnnlab.nn import fused

DT = torch.float64
TOL = dict(rtol=0, atol=1e-8)
T, B, I, H = 4, 3, 2, 3
LENGTHS = torch.tensor([2, 4, 3])  # unsorted on purpose
MODES = {
    "rnn_tanh": (rnn.RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (rnn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (rnn.LSTM, torch.nn.LSTM, {}),
    "lstm_proj": (rnn.LSTM, torch.nn.LSTM, {"proj_size": 2}),
    "gru": (rnn.GRU, torch.nn.GRU, {}),
}
# Every option at least once: layers, directions, bias, batch_first, hx, packed, dropout=0.
OPTIONS = {
    "plain": dict(),
    "deep_bidir_hx_packed": dict(num_layers=2, bidirectional=True, dropout=0.0, hx=True,
                                 packed=True),
    "deep_bidir_hx": dict(num_layers=2, bidirectional=True, hx=True),
    "no_bias_batch_first_hx": dict(bias=False, batch_first=True, hx=True),
    "batch_first_packed": dict(batch_first=True, packed=True, bidirectional=True),
}


def _pair(mode, options):
    ours_cls, torch_cls, extra = MODES[mode]
    layer_args = {k: v for k, v in options.items() if k not in ("hx", "packed")}
    ours = ours_cls(I, H, **extra, **layer_args, dtype=DT)
    ref = torch_cls(I, H, **extra, **layer_args, dtype=DT)
    ref.load_state_dict(ours.state_dict())
    assert ours.fast
    return ours, ref


def _inputs(module, options, gen):
    """x and the initial states (empty tuple without hx), as fresh leaves."""
    batch_first = options.get("batch_first", False)
    x = torch.randn((B, T, I) if batch_first else (T, B, I), dtype=DT, generator=gen)
    hx = ()
    if options.get("hx"):
        rows = module.num_layers * (2 if module.bidirectional else 1)
        hx = (torch.randn(rows, B, module.proj_size or H, dtype=DT, generator=gen),)
        if module.mode == "LSTM":
            hx += (torch.randn(rows, B, H, dtype=DT, generator=gen),)
    return [t.requires_grad_(True) for t in (x, *hx)]


def _function(module, options):
    """f(x, *hx, *parameters) -> every output tensor, for gradcheck and friends."""
    names = [n for n, _ in module.named_parameters()]
    n_hx = 0 if not options.get("hx") else (2 if module.mode == "LSTM" else 1)
    lengths = LENGTHS if options.get("packed") else None
    batch_first = options.get("batch_first", False)

    def f(x, *rest):
        hx, params = rest[:n_hx], rest[n_hx:]
        inp = x if lengths is None else pack_padded_sequence(
            x, lengths, batch_first=batch_first, enforce_sorted=False)
        hx = None if not hx else (hx if n_hx == 2 else hx[0])
        out, hidden = torch.func.functional_call(module, dict(zip(names, params)), (inp, hx))
        out = out.data if isinstance(out, PackedSequence) else out
        return (out, *(hidden if isinstance(hidden, tuple) else (hidden,)))

    return f


def _random_like(tensors, seed):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(t.shape, dtype=DT, generator=g) for t in tensors]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("mode", MODES)
def test_gradient_penalty_and_its_gradient_match_torch(mode, options):
    """A gradient penalty (create_graph=True), then the gradient of that penalty: the
    first-order gradients carry a graph, and the second derivatives equal torch.nn's."""
    opts = OPTIONS[options]
    results = []
    for module in _pair(mode, opts):
        leaves = _inputs(module, opts, torch.Generator().manual_seed(0))
        wrt = leaves + list(module.parameters())
        outs = _function(module, opts)(*wrt)
        loss = sum((o * r).sum() for o, r in zip(outs, _random_like(outs, 1)))
        first = torch.autograd.grad(loss, wrt, create_graph=True)
        assert all(g.requires_grad for g in first)
        penalty = sum((g * r).sum() for g, r in zip(first, _random_like(first, 2)))
        second = torch.autograd.grad(penalty, wrt, allow_unused=True, materialize_grads=True)
        results.append([*outs, *first, *second])
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("options", ["deep_bidir_hx_packed", "no_bias_batch_first_hx"])
@pytest.mark.parametrize("mode", MODES)
def test_gradgradcheck_every_input_and_parameter(mode, options):
    """gradgradcheck (and gradcheck with batched gradients) of the whole layer, w.r.t. the
    input, the initial states and every parameter (fast mode: random projections of the
    Jacobians, which keeps the deep bidirectional case to a second)."""
    opts = OPTIONS[options]
    ours, _ = _pair(mode, opts)
    inputs = (*_inputs(ours, opts, torch.Generator().manual_seed(3)),
              *(p.detach().clone().requires_grad_(True) for p in ours.parameters()))
    f = _function(ours, opts)
    assert gradcheck(f, inputs, check_batched_grad=True, fast_mode=True)
    assert gradgradcheck(f, inputs, fast_mode=True)


def _batched_gradients(module, opts):
    """is_grads_batched gradients w.r.t. everything, and the vectorized Jacobian w.r.t. the
    input and states."""
    leaves = _inputs(module, opts, torch.Generator().manual_seed(4))
    wrt = leaves + list(module.parameters())
    f = _function(module, opts)
    outs = f(*wrt)
    batched = [torch.randn(5, *o.shape, dtype=DT, generator=torch.Generator().manual_seed(k))
               for k, o in enumerate(outs)]
    grads = torch.autograd.grad(outs, wrt, batched, is_grads_batched=True)
    params = tuple(p.detach() for p in module.parameters())
    jac = torch.autograd.functional.jacobian(
        lambda *a: f(*a, *params), tuple(t.detach() for t in leaves), vectorize=True)
    return [*grads, *(j for row in jac for j in row)]


@pytest.mark.parametrize("options", ["plain", "deep_bidir_hx_packed"])
@pytest.mark.parametrize("mode", MODES)
def test_batched_gradients_and_vectorized_jacobian_match_torch(mode, options):
    """is_grads_batched=True and jacobian(vectorize=True) run the backward under vmap."""
    ours, ref = _pair(mode, OPTIONS[options])
    for a, b in zip(_batched_gradients(ours, OPTIONS[options]),
                    _batched_gradients(ref, OPTIONS[options]), strict=True):
        torch.testing.assert_close(a, b, **TOL)


def _transformed(module, opts):
    """torch.func.grad w.r.t. the parameters, jacrev and jacfwd w.r.t. the input, and the
    forward-mode tangents of every output."""
    leaves = [t.detach() for t in _inputs(module, opts, torch.Generator().manual_seed(5))]
    params = tuple(p.detach() for p in module.parameters())
    f = _function(module, opts)

    def loss(*p):
        return sum(o.pow(2).sum() for o in f(*leaves, *p))

    def first_output(x):
        return f(x, *leaves[1:], *params)[0]

    def last_output(x):
        return f(x, *leaves[1:], *params)[-1]

    results = list(torch.func.grad(loss, argnums=tuple(range(len(params))))(*params))
    results.append(torch.func.jacrev(first_output)(leaves[0]))
    results.append(torch.func.jacfwd(last_output)(leaves[0]))
    with fwAD.dual_level():
        duals = [fwAD.make_dual(t, d) for t, d in zip(leaves, _random_like(leaves, 6))]
        results += [fwAD.unpack_dual(o).tangent for o in f(*duals, *params)]
    return results


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")  # inside torch's jacfwd
@pytest.mark.parametrize("mode", MODES)
def test_torch_func_transforms_and_forward_ad_match_torch(mode):
    """torch.func.grad / jacrev / jacfwd and forward-mode AD, which torch.nn supports and the
    fused Functions do not, take the reference loop and give torch.nn's numbers (dense
    input: pack_padded_sequence itself has no forward-mode derivative)."""
    ours, ref = _pair(mode, OPTIONS["deep_bidir_hx"])
    for a, b in zip(_transformed(ours, OPTIONS["deep_bidir_hx"]),
                    _transformed(ref, OPTIONS["deep_bidir_hx"]), strict=True):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("cls", [rnn.RNN, rnn.LSTM, rnn.GRU])
def test_first_order_backward_never_takes_the_autograd_fallback(cls, monkeypatch):
    """Ordinary training (backward, autograd.grad without create_graph, retain_graph) runs
    the hand-written backward: the fallback is only for create_graph and vmap."""
    def refuse(*args):
        raise AssertionError("first-order backward took the autograd fallback")
    monkeypatch.setattr(fused, "_autograd_backward", refuse)
    layer = cls(I, H, num_layers=2, bidirectional=True, dtype=DT)
    x = torch.randn(T, B, I, dtype=DT, requires_grad=True)
    with torch.enable_grad():
        loss = layer(x)[0].pow(2).sum()
        torch.autograd.grad(loss, x, retain_graph=True)
        loss.backward()
    with pytest.raises(AssertionError, match="fallback"):
        torch.autograd.grad(layer(x)[0].sum(), x, create_graph=True)
