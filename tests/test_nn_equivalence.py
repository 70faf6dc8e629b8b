"""rnnlab.nn layers equal torch.nn in float64: outputs, final states and all gradients."""

import itertools

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnlab import nn as rnn

TOL = dict(rtol=0, atol=1e-8)
MODES = {
    "rnn_tanh": (rnn.RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (rnn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (rnn.LSTM, torch.nn.LSTM, {}),
    "gru": (rnn.GRU, torch.nn.GRU, {}),
}
T, B, I, H = 5, 4, 3, 4
LENGTHS = torch.tensor([3, 5, 1, 4])  # unsorted on purpose; one sequence of length 1


def _pair(mode, **kwargs):
    ours_cls, torch_cls, extra = MODES[mode]
    ours = ours_cls(I, H, **extra, **kwargs, dtype=torch.float64)
    ref = torch_cls(I, H, **extra, **kwargs, dtype=torch.float64)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def _flat(x):
    """Outputs and states as a list of tensors, whatever their container."""
    if isinstance(x, PackedSequence):
        return [x.data]
    if isinstance(x, (tuple, list)):
        return [t for item in x for t in _flat(item)]
    return [x]


def _run(module, x, h0, lengths, batch_first):
    inp = x
    if lengths is not None:
        inp = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    out, hidden = module(inp, h0)
    return _flat(out) + _flat(hidden)


def _inputs(mode, num_layers, bidirectional, batch_first, with_h0, gen):
    shape = (B, T, I) if batch_first else (T, B, I)
    x = torch.randn(shape, dtype=torch.float64, generator=gen)
    h0 = None
    if with_h0:
        rows = num_layers * (2 if bidirectional else 1)
        h0 = torch.randn(rows, B, H, dtype=torch.float64, generator=gen)
        if mode == "lstm":
            h0 = (h0, torch.randn(rows, B, H, dtype=torch.float64, generator=gen))
    return x, h0


def _leaves(x, h0):
    leaves = [x] + (list(h0) if isinstance(h0, tuple) else [h0] if h0 is not None else [])
    for t in leaves:
        t.requires_grad_(True)
    return leaves


CASES = list(itertools.product(MODES, [1, 2, 3], [False, True], [False, True], [True, False],
                               [False, True], [False, True]))


@pytest.mark.parametrize("mode,num_layers,bidirectional,batch_first,bias,with_h0,packed", CASES)
def test_outputs_and_gradients_match_torch(mode, num_layers, bidirectional, batch_first, bias,
                                           with_h0, packed):
    gen = torch.Generator().manual_seed(hash((mode, num_layers, bidirectional)) % 2**31)
    ours, ref = _pair(mode, num_layers=num_layers, bidirectional=bidirectional,
                      batch_first=batch_first, bias=bias)
    x, h0 = _inputs(mode, num_layers, bidirectional, batch_first, with_h0, gen)
    lengths = LENGTHS if packed else None

    results = []
    for module in (ours, ref):
        xi = x.clone()
        hi = tuple(h.clone() for h in h0) if isinstance(h0, tuple) else (
            h0.clone() if h0 is not None else None)
        leaves = _leaves(xi, hi)
        outs = _run(module, xi, hi, lengths, batch_first)
        # A random linear functional of every output exercises every gradient path.
        g = torch.Generator().manual_seed(7)
        loss = sum((o * torch.randn(o.shape, dtype=o.dtype, generator=g)).sum() for o in outs)
        module.zero_grad()
        loss.backward()
        grads = [leaf.grad for leaf in leaves] + [p.grad for p in module.parameters()]
        results.append((outs, grads))

    (outs_a, grads_a), (outs_b, grads_b) = results
    assert len(outs_a) == len(outs_b)
    for a, b in zip(outs_a, outs_b):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, **TOL)
    names = ["input"] + (["h0", "c0"][: len(grads_a) - 1 - len(list(ours.parameters()))])
    names += [n for n, _ in ours.named_parameters()]
    for name, a, b in zip(names, grads_a, grads_b):
        torch.testing.assert_close(a, b, **TOL, msg=lambda m: f"gradient of {name}: {m}")


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("packed", [False, True])
def test_lstm_projection_matches_torch(bidirectional, packed):
    ours = rnn.LSTM(I, 6, num_layers=2, proj_size=3, bidirectional=bidirectional,
                    dtype=torch.float64)
    ref = torch.nn.LSTM(I, 6, num_layers=2, proj_size=3, bidirectional=bidirectional,
                        dtype=torch.float64)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(T, B, I, dtype=torch.float64)
    lengths = LENGTHS if packed else None
    a = _run(ours, x, None, lengths, False)
    b = _run(ref, x, None, lengths, False)
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v, **TOL)


@pytest.mark.parametrize("mode", MODES)
def test_unbatched_input_matches_torch(mode):
    ours, ref = _pair(mode, num_layers=2, bidirectional=True)
    x = torch.randn(T, I, dtype=torch.float64)
    rows = 4
    h0 = torch.randn(rows, H, dtype=torch.float64)
    h0 = (h0, torch.randn(rows, H, dtype=torch.float64)) if mode == "lstm" else h0
    out_a, hid_a = ours(x, h0)
    out_b, hid_b = ref(x, h0)
    assert out_a.shape == out_b.shape == (T, 2 * H)
    for u, v in zip(_flat((out_a, hid_a)), _flat((out_b, hid_b))):
        torch.testing.assert_close(u, v, **TOL)


def test_packed_final_state_is_taken_at_each_sequences_own_end():
    """h_n of a packed batch equals running each sequence alone, unpadded."""
    ours = rnn.GRU(I, H, bidirectional=True, dtype=torch.float64)
    x = torch.randn(T, B, I, dtype=torch.float64)
    packed = pack_padded_sequence(x, LENGTHS, enforce_sorted=False)
    out, h_n = ours(packed)
    padded, lengths = pad_packed_sequence(out)
    assert lengths.tolist() == LENGTHS.tolist()
    for b, n in enumerate(LENGTHS.tolist()):
        alone_out, alone_h = ours(x[:n, b:b + 1])
        torch.testing.assert_close(h_n[:, b], alone_h[:, 0], **TOL)
        torch.testing.assert_close(padded[:n, b], alone_out[:, 0], **TOL)


@pytest.mark.parametrize("mode", MODES)
def test_dropout_is_identity_in_eval_mode(mode):
    ours, ref = _pair(mode, num_layers=3, dropout=0.5)
    ours.eval(), ref.eval()
    x = torch.randn(T, B, I, dtype=torch.float64)
    for u, v in zip(_flat(ours(x)), _flat(ref(x))):
        torch.testing.assert_close(u, v, **TOL)


@pytest.mark.parametrize("mode", MODES)
def test_dropout_in_training_acts_between_layers_only(mode):
    """With p=1 every layer but the first sees zeros, exactly as torch.nn does;
    the last layer's output is not dropped (it is not all zero)."""
    ours, ref = _pair(mode, num_layers=2, dropout=1.0)
    ours.train(), ref.train()
    x = torch.randn(T, B, I, dtype=torch.float64)
    out_a, out_b = _flat(ours(x)), _flat(ref(x))
    for u, v in zip(out_a, out_b):
        torch.testing.assert_close(u, v, **TOL)
    assert out_a[0].abs().sum() > 0 or mode == "rnn_relu"
    # Layer 2 on zero input equals a one-layer net with layer 2's weights on zeros.
    single = MODES[mode][0](H, H, **MODES[mode][2], dtype=torch.float64)
    single.load_state_dict({k.replace("_l1", "_l0"): v for k, v in ours.state_dict().items()
                            if "_l1" in k})
    torch.testing.assert_close(out_a[0], single(torch.zeros(T, B, H, dtype=torch.float64))[0],
                               **TOL)


@pytest.mark.parametrize("mode", MODES)
def test_state_dict_round_trip(mode):
    ours, _ = _pair(mode, num_layers=2, bidirectional=True)
    ref = MODES[mode][1](I, H, **MODES[mode][2], num_layers=2, bidirectional=True,
                         dtype=torch.float64)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ref.load_state_dict(ours.state_dict())  # scratch -> torch
    fresh = MODES[mode][0](I, H, **MODES[mode][2], num_layers=2, bidirectional=True,
                           dtype=torch.float64)
    fresh.load_state_dict(ref.state_dict())  # torch -> scratch
    for (name, a), b in zip(ours.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), name
    x = torch.randn(T, B, I, dtype=torch.float64)
    for u, v in zip(_flat(fresh(x)), _flat(ref(x))):
        torch.testing.assert_close(u, v, **TOL)


@pytest.mark.parametrize("mode", MODES)
def test_same_seed_gives_torch_identical_default_weights(mode):
    ours_cls, torch_cls, extra = MODES[mode]
    torch.manual_seed(3)
    ours = ours_cls(I, H, num_layers=2, bidirectional=True, **extra)
    torch.manual_seed(3)
    ref = torch_cls(I, H, num_layers=2, bidirectional=True, **extra)
    for (name, a), b in zip(ours.state_dict().items(), ref.state_dict().values()):
        assert torch.equal(a, b), name
