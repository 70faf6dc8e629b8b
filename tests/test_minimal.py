"""MinGRU and MinLSTM in float64: the parallel scan, the step-by-step path, the teaching
forms and the paper's equations (transcribed below) give the same outputs, final states
and gradients, over every option of the layer."""

import itertools
import math

import pytest
import torch
from torch.nn.utils.rnn import pack_sequence, pad_packed_sequence

from rnnlab.nn.minimal import MinGRU, MinLSTM
from rnnlab.nn.scan import MinScan, affine_step, lerp_step, linear_scan
from rnnlab.nn.teaching_minimal import NaiveMinGRU, NaiveMinLSTM, TeachingMinRNN

TOL = dict(rtol=0, atol=1e-10)
T, B, I, H = 7, 3, 4, 5  # T = 7: chunks of 3 steps, and a tail of 1, in the scan
CLASSES = {"MinGRU": MinGRU, "MinLSTM": MinLSTM}
LENGTHS = [4, 7, 1, 5]  # unsorted on purpose; one sequence of length 1


def g(v):
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def paper_step(mode, x, h, weight, bias):
    """One step of the paper's equations, as printed (Feng et al. 2024, section 3)."""
    k = x @ weight.T + (0 if bias is None else bias)
    if mode == "MinGRU":
        k_z, k_h = k.chunk(2, dim=-1)
        z = torch.sigmoid(k_z)
        return (1 - z) * h + z * g(k_h)
    k_f, k_i, k_h = k.chunk(3, dim=-1)
    f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
    return f / (f + i) * h + i / (f + i) * g(k_h)


def paper(layer, x, hx):
    """The whole stack on time-major x (T, B, in): layers, directions, initial states."""
    directions = 2 if layer.bidirectional else 1
    finals = []
    for l in range(layer.num_layers):  # noqa: E741
        outs = []
        for d in range(directions):
            suffix = f"_l{l}" + ("_reverse" if d else "")
            w, b = getattr(layer, "weight_ih" + suffix), getattr(layer, "bias_ih" + suffix, None)
            h, out = hx[l * directions + d], [None] * len(x)
            for t in (reversed(range(len(x))) if d else range(len(x))):
                h = out[t] = paper_step(layer.mode, x[t], h, w, b)
            outs.append(torch.stack(out))
            finals.append(h)
        x = torch.cat(outs, dim=2)
    return x, torch.stack(finals)


def grads(output, h_n, leaves):
    """Gradients of a random linear function of (output, h_n), reproducible by seed."""
    gen = torch.Generator().manual_seed(7)
    loss = sum((t * torch.randn(t.shape, generator=gen, dtype=t.dtype)).sum()
               for t in (output, h_n))
    return torch.autograd.grad(loss, leaves)


def close(a, b, tol=TOL):
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, **tol)


OPTIONS = list(itertools.product(CLASSES, (1, 2), (False, True), (True, False), (False, True),
                                 (False, True)))


@pytest.mark.parametrize("mode,layers,bidirectional,bias,batch_first,with_hx", OPTIONS)
def test_every_path_computes_the_paper(mode, layers, bidirectional, bias, batch_first, with_hx):
    torch.manual_seed(0)
    layer = CLASSES[mode](I, H, layers, bias=bias, batch_first=batch_first,
                          bidirectional=bidirectional, dtype=torch.float64)
    teaching = TeachingMinRNN(mode, I, H, layers, batch_first=batch_first,
                              bidirectional=bidirectional).double()
    teaching.load_from(layer)
    rows = layers * (2 if bidirectional else 1)
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    hx = torch.randn(rows, B, H, dtype=torch.float64, requires_grad=True)
    inp = x.transpose(0, 1) if batch_first else x
    h0 = hx if with_hx else None
    expected = paper(layer, x, hx if with_hx else torch.zeros_like(hx))
    if batch_first:
        expected = (expected[0].transpose(0, 1), expected[1])
    leaves = [x] + ([hx] if with_hx else []) + list(layer.parameters())
    want = grads(*expected, leaves)
    close(layer(inp, h0), expected)
    close(grads(*layer(inp, h0), leaves), want)
    close(teaching(inp, h0), expected)  # (the teaching form has parameters of its own)
    layer.fast = False  # the step-by-step path
    close(layer(inp, h0), expected)
    close(grads(*layer(inp, h0), leaves), want)


@pytest.mark.parametrize("mode", CLASSES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_input_is_a_batch_of_one(mode, batch_first):
    layer = CLASSES[mode](I, H, 2, batch_first=batch_first, dtype=torch.float64)
    x, hx = torch.randn(T, I, dtype=torch.float64), torch.randn(2, H, dtype=torch.float64)
    out, h_n = layer(x, hx)
    ref = layer(x.unsqueeze(0 if batch_first else 1), hx.unsqueeze(1))
    assert out.shape == (T, H) and h_n.shape == (2, H)
    close((out, h_n), (ref[0].squeeze(0 if batch_first else 1), ref[1].squeeze(1)))


@pytest.mark.parametrize("mode", CLASSES)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("fast", [True, False])
def test_packed_sequences_run_as_if_alone(mode, bidirectional, fast):
    """Unsorted, varying lengths: each sequence's outputs, h_n and gradients in the packed
    batch equal those of the sequence run alone (so padding never touches the state)."""
    torch.manual_seed(1)
    layer = CLASSES[mode](I, H, 2, bidirectional=bidirectional, dtype=torch.float64, fast=fast)
    rows = 4 if bidirectional else 2
    seqs = [torch.randn(n, I, dtype=torch.float64, requires_grad=True) for n in LENGTHS]
    hx = torch.randn(rows, len(seqs), H, dtype=torch.float64, requires_grad=True)
    packed = pack_sequence(seqs, enforce_sorted=False)
    out, h_n = layer(packed, hx)
    assert torch.equal(out.batch_sizes, packed.batch_sizes)
    assert torch.equal(out.sorted_indices, packed.sorted_indices)
    padded, lengths = pad_packed_sequence(out)
    assert lengths.tolist() == LENGTHS
    params = list(layer.parameters())
    packed_grads = grads(padded, h_n, seqs + [hx] + params)
    alone_param_grads = [torch.zeros_like(p) for p in params]
    for j, s in enumerate(seqs):
        o, h = layer(s.unsqueeze(1), hx[:, j:j + 1])
        close((padded[:len(s), j], h_n[:, j]), (o[:, 0], h[:, 0]))
        # the same random weights as the packed loss puts on this sequence's entries
        gen = torch.Generator().manual_seed(7)
        w_out = torch.randn(padded.shape, generator=gen, dtype=torch.float64)[:len(s), j:j + 1]
        w_h = torch.randn(h_n.shape, generator=gen, dtype=torch.float64)[:, j:j + 1]
        g = torch.autograd.grad((o * w_out).sum() + (h * w_h).sum(), [s, hx] + params)
        close((packed_grads[j], packed_grads[len(seqs)][:, j]), (g[0], g[1][:, j]))
        alone_param_grads = [a + b for a, b in zip(alone_param_grads, g[2:], strict=True)]
    close(packed_grads[len(seqs) + 1:], alone_param_grads)
    teaching = TeachingMinRNN(mode, I, H, 2, bidirectional=bidirectional).double()
    teaching.load_from(layer)
    t_out, t_h = teaching(packed, hx)
    close((t_out.data, t_h), (out.data, h_n))


@pytest.mark.parametrize("mode", CLASSES)
@pytest.mark.parametrize("packed", [False, True])
def test_gradcheck(mode, packed):
    torch.manual_seed(2)
    layer = CLASSES[mode](2, 3, 2, bidirectional=True, dtype=torch.float64)
    params = list(layer.parameters())
    lengths = [3, 5, 2]
    data = torch.randn(5, 3, 2, dtype=torch.float64, requires_grad=True)
    hx = torch.randn(4, 3, 3, dtype=torch.float64, requires_grad=True)

    def f(x, h, *weights):
        named = dict(zip([n for n, _ in layer.named_parameters()], weights, strict=True))
        if packed:
            x = pack_sequence([x[:n, j] for j, n in enumerate(lengths)], enforce_sorted=False)
            out, h_n = torch.func.functional_call(layer, named, (x, h))
            return out.data, h_n
        return torch.func.functional_call(layer, named, (x, h))

    assert torch.autograd.gradcheck(f, (data, hx, *params))


@pytest.mark.parametrize("mode", CLASSES)
def test_kink_of_g_takes_the_upper_branch(mode):
    """g'(0) = 1 (v >= 0 is the v + 1/2 branch): zero inputs and no bias give p = 0 exactly."""
    layer = CLASSES[mode](I, H, bias=False, dtype=torch.float64)
    x = torch.randn(T, B, I, dtype=torch.float64)
    x[2:4] = 0
    x.requires_grad_()
    hx = torch.randn(1, B, H, dtype=torch.float64)
    leaves = [x] + list(layer.parameters())
    close(grads(*layer(x, hx), leaves), grads(*paper(layer, x, hx), leaves))


@pytest.mark.parametrize("mode", CLASSES)
def test_dropout_between_layers_in_training_only(mode):
    torch.manual_seed(3)
    layer = CLASSES[mode](I, H, 3, dropout=0.5, bidirectional=True, dtype=torch.float64)
    plain = CLASSES[mode](I, H, 3, bidirectional=True, dtype=torch.float64)
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(T, B, I, dtype=torch.float64)
    layer.eval()
    close(layer(x), plain(x))  # eval mode: no dropout
    layer.train()
    torch.manual_seed(4)
    fast = layer(x)
    assert not torch.allclose(fast[0], plain(x)[0])
    layer.fast = False
    torch.manual_seed(4)
    close(layer(x), fast)  # both paths draw the same masks
    one = CLASSES[mode](I, H, 1, dtype=torch.float64)
    with pytest.warns(UserWarning, match="dropout"):
        CLASSES[mode](I, H, 1, dropout=0.5)
    one.train()
    close(one(x), one.eval()(x))  # one layer: nothing between layers to drop


@pytest.mark.parametrize("mode", CLASSES)
def test_step_streams_the_sequence(mode):
    """step() carries O(1) state: feeding the steps one by one gives forward's numbers."""
    layer = CLASSES[mode](I, H, 2, dtype=torch.float64)
    x, hx = torch.randn(T, B, I, dtype=torch.float64), torch.randn(2, B, H, dtype=torch.float64)
    out, h_n = layer(x, hx)
    h = hx
    for t in range(T):
        y, h = layer.step(x[t], h)
        torch.testing.assert_close(y, out[t], **TOL)
    torch.testing.assert_close(h, h_n, **TOL)
    y, h = layer.step(x[0, 0])  # unbatched, zero state
    close((y, h), (layer(x[:1, 0])[0][0], layer(x[:1, 0])[1]))
    with pytest.raises(ValueError, match="unidirectional"):
        CLASSES[mode](I, H, bidirectional=True).step(torch.randn(B, I))


@pytest.mark.parametrize("mode", CLASSES)
def test_long_sequences_stay_finite_and_exact(mode):
    """T = 4096 with gates near 0 and near 1 (products over time underflow): no NaN or Inf,
    and the scan equals the step-by-step loop to 1e-10, outputs and gradients."""
    torch.manual_seed(5)
    layer = CLASSES[mode](2, 3, dtype=torch.float64)
    with torch.no_grad():  # gate pre-activations of about +-30: a = sigmoid(30) or sigmoid(-30)
        layer.weight_ih_l0.mul_(40)
        gates = layer.weight_ih_l0.shape[0] // 3
        layer.bias_ih_l0.copy_(torch.tensor([30.0, -30.0, 2.0] * gates))
    x = torch.randn(4096, 2, 2, dtype=torch.float64, requires_grad=True)
    leaves = [x] + list(layer.parameters())
    fast = layer(x)
    fast_grads = grads(*fast, leaves)
    assert all(torch.isfinite(t).all() for t in (*fast, *fast_grads))
    layer.fast = False
    close(layer(x), fast)
    close(grads(*layer(x), leaves), fast_grads)


def test_min_lstm_survives_gates_that_underflow():
    """f and i both below the smallest float (f + i = 0): f' = f / (f + i) is 0 / 0 as
    printed, but the layer computes it as sigmoid(log f - log i), finite and exact."""
    layer = MinLSTM(1, 1, bias=False)
    with torch.no_grad():
        layer.weight_ih_l0.copy_(torch.tensor([[-200.0], [-201.0], [1.0]]))
    out, _ = layer(torch.ones(3, 1, 1))
    layer.fast = False
    torch.testing.assert_close(layer(torch.ones(3, 1, 1))[0], out)  # the step path too
    naive = NaiveMinLSTM(1, 1)
    naive.load_from(layer)
    assert torch.isnan(naive(torch.ones(1, 3, 1))[0]).all()
    f_prime = torch.sigmoid(torch.tensor(1.0))  # exp(-200) / (exp(-200) + exp(-201))
    expected = 1.5 * (1 - f_prime ** torch.arange(1, 4))  # h~ = g(1) = 1.5, h_0 = 0
    torch.testing.assert_close(out.flatten(), expected)


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 9, 10, 26])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("step", [lerp_step, affine_step])
def test_chunked_scan_is_the_loop(steps, reverse, step):
    coef, inp = torch.rand(steps, 2, 3, dtype=torch.float64), torch.randn(steps, 2, 3)
    inp, init = inp.double(), torch.randn(2, 3, dtype=torch.float64)
    for chunk in (None, 1, 2, 3, 4, steps):
        out = torch.empty_like(inp)
        linear_scan(step, coef, inp, init, out, reverse, chunk)
        h = init
        for t in (reversed(range(steps)) if reverse else range(steps)):
            expected = torch.empty_like(h)
            step(coef[t], inp[t], h, expected)
            h = expected
            torch.testing.assert_close(out[t], h, rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode,gates", [("MinGRU", 2), ("MinLSTM", 3)])
def test_parameters_and_init_follow_torch_nn(mode, gates):
    torch.manual_seed(6)
    layer = CLASSES[mode](I, H, 2, bidirectional=True)
    names = [n for n, _ in layer.named_parameters()]
    assert names == [f"{s}_l{l}{r}" for l in (0, 1) for r in ("", "_reverse")  # noqa: E741
                     for s in ("weight_ih", "bias_ih")]
    assert layer.weight_ih_l0.shape == (gates * H, I)
    assert layer.weight_ih_l1_reverse.shape == (gates * H, 2 * H)
    assert layer.bias_ih_l1.shape == (gates * H,)
    torch.manual_seed(6)  # the same draws as torch.nn's reset_parameters, in the same order
    bound = 1 / math.sqrt(H)
    for p in layer.parameters():
        torch.testing.assert_close(p, torch.empty(p.shape).uniform_(-bound, bound), rtol=0, atol=0)
    assert (layer.mode, layer.input_size, layer.hidden_size, layer.num_layers) == (mode, I, H, 2)
    assert (layer.bias, layer.batch_first, layer.dropout, layer.bidirectional) == (
        True, False, 0.0, True)
    assert [n for n, _ in CLASSES[mode](I, H, bias=False).named_parameters()] == ["weight_ih_l0"]
    assert "bidirectional=True" in repr(layer)


@pytest.mark.parametrize("mode", CLASSES)
def test_argument_checks(mode):
    layer = CLASSES[mode](I, H)
    with pytest.raises(RuntimeError, match="input_size"):
        layer(torch.randn(T, B, I + 1))
    with pytest.raises(RuntimeError, match="Expected hidden size"):
        layer(torch.randn(T, B, I), torch.randn(2, B, H))
    with pytest.raises(RuntimeError, match="hx should also be 3-D"):
        layer(torch.randn(T, B, I), torch.randn(B, H))
    with pytest.raises(ValueError, match="2D or 3D"):
        layer(torch.randn(1, T, B, I))
    with pytest.raises(ValueError, match="dropout"):
        CLASSES[mode](I, H, dropout=1.5)


def test_naive_cells_load_one_layer_direction():
    layer = MinGRU(I, H, 2, bidirectional=True, dtype=torch.float64)
    cell = NaiveMinGRU(2 * H, H).double()
    cell.load_from(layer, layer=1, reverse=True)
    torch.testing.assert_close(cell.w_h, layer.weight_ih_l1_reverse[H:].T, rtol=0, atol=0)
    torch.testing.assert_close(cell.b_z, layer.bias_ih_l1_reverse[:H], rtol=0, atol=0)
    x = torch.randn(B, I, dtype=torch.float64)
    h = torch.randn(B, H, dtype=torch.float64)
    lstm = MinLSTM(I, H, bias=False, dtype=torch.float64)
    naive = NaiveMinLSTM(I, H).double()
    naive.load_from(lstm)
    assert (naive.b_f == 0).all()
    torch.testing.assert_close(naive.step(x, h), paper_step("MinLSTM", x, h, lstm.weight_ih_l0,
                                                            None), **TOL)


def test_min_scan_is_one_node_of_the_graph():
    """The fast path records one autograd node per layer-direction, whatever T."""
    layer = MinGRU(I, H)
    out, _ = layer(torch.randn(50, B, I))
    assert type(out.grad_fn).__name__ == "MinScanBackward"
    assert MinScan.__doc__


@pytest.mark.parametrize("mode", CLASSES)
def test_function_transforms_run_the_step_path(mode):
    """torch.func and forward-mode AD have no rule for the scan's autograd Function: the layer
    runs the step path under them, with the same numbers; a second derivative needs fast=False."""
    layer = CLASSES[mode](I, H, dtype=torch.float64)
    x, tangent = (torch.randn(T, B, I, dtype=torch.float64) for _ in range(2))
    x.requires_grad_()
    first = torch.autograd.grad(layer(x)[0].pow(2).sum(), x)[0]
    jvp = torch.func.jvp(lambda v: layer(v)[0], (x,), (tangent,))[1]
    torch.testing.assert_close(torch.func.grad(lambda v: layer(v)[0].pow(2).sum())(x), first)
    g, = torch.autograd.grad(layer(x)[0].pow(2).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiate twice"):
        g.sum().backward()
    layer.fast = False
    torch.testing.assert_close(torch.func.jvp(lambda v: layer(v)[0], (x,), (tangent,))[1], jvp)
    g, = torch.autograd.grad(layer(x)[0].pow(2).sum(), x, create_graph=True)
    assert torch.autograd.grad(g.sum(), x)[0].abs().sum() > 0
