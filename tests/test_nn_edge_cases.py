"""rnnlab.nn.RNN/LSTM/GRU at the edges, against torch.nn in the same test: empty batches,
zero-length sequences, unbatched input with batch_first, and every argument check of
torch/nn/modules/rnn.py (same exception type, same message)."""

import warnings

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from rnnlab import nn as rnn
from test_nn_equivalence import _flat

DT = torch.float64
TOL = dict(rtol=0, atol=1e-8)
MODES = {
    "rnn_tanh": ("RNN", {"nonlinearity": "tanh"}),
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
    "lstm": ("LSTM", {}),
    "gru": ("GRU", {}),
}


def _pair(mode, **kwargs):
    name, extra = MODES[mode]
    ours = getattr(rnn, name)(3, 4, **extra, **kwargs, dtype=DT)
    ref = getattr(torch.nn, name)(3, 4, **extra, **kwargs, dtype=DT)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def _error(call, nn):
    with pytest.raises(Exception) as info:
        call(nn)
    return info.value


def _packed(batch=3, size=3):
    x = torch.randn(5, batch, size)
    return pack_padded_sequence(x, torch.tensor([5, 2, 3][:batch]), enforce_sorted=False)


def _x(*shape, dtype=torch.float32):
    return torch.randn(*shape, dtype=dtype)


# (name, call(nn) that must raise); nn is torch.nn or rnnlab.nn.
CONSTRUCTOR_ERRORS = [
    ("proj_size to RNN", lambda nn: nn.RNN(3, 4, proj_size=2)),
    ("proj_size=0 to GRU", lambda nn: nn.GRU(3, 4, proj_size=0)),
    ("unknown keyword", lambda nn: nn.GRU(3, 4, foo=1)),
    ("hidden_size 0", lambda nn: nn.GRU(3, 0)),
    ("input_size 0", lambda nn: nn.LSTM(0, 3)),
    ("num_layers 0", lambda nn: nn.GRU(3, 4, 0)),
    ("num_layers negative", lambda nn: nn.RNN(3, 4, -1)),
    ("num_layers float", lambda nn: nn.GRU(3, 4, 2.0)),
    ("proj_size >= hidden_size", lambda nn: nn.LSTM(3, 4, proj_size=4)),
    ("proj_size negative", lambda nn: nn.LSTM(3, 4, proj_size=-1)),
    ("proj_size float", lambda nn: nn.LSTM(3, 4, proj_size=2.0)),
    ("dropout > 1", lambda nn: nn.GRU(3, 4, dropout=2)),
    ("dropout negative", lambda nn: nn.LSTM(3, 4, dropout=-0.1)),
    ("dropout bool", lambda nn: nn.GRU(3, 4, dropout=True)),
    ("dropout str", lambda nn: nn.RNN(3, 4, dropout="0.1")),
    ("bias int", lambda nn: nn.GRU(3, 4, bias=1)),
    ("batch_first int", lambda nn: nn.LSTM(3, 4, batch_first=1)),
    ("input_size float", lambda nn: nn.GRU(3.0, 4)),
    ("hidden_size float", lambda nn: nn.RNN(3, 4.0)),
    ("nonlinearity", lambda nn: nn.RNN(3, 4, nonlinearity="sigmoid")),
    ("nonlinearity positional", lambda nn: nn.RNN(3, 4, 1, "gelu")),
]

FORWARD_ERRORS = [
    ("zero-length sequence", lambda nn: nn.LSTM(3, 4)(_x(0, 2, 3))),
    ("zero-length batch_first", lambda nn: nn.GRU(3, 4, batch_first=True)(_x(2, 0, 3))),
    ("zero-length unbatched", lambda nn: nn.RNN(3, 4)(_x(0, 3))),
    ("zero-length with hx", lambda nn: nn.GRU(3, 4)(_x(0, 2, 3), _x(1, 2, 4))),
    ("1-D input RNN", lambda nn: nn.RNN(3, 4)(_x(5))),
    ("4-D input LSTM", lambda nn: nn.LSTM(3, 4)(_x(5, 2, 3, 1))),
    ("1-D input GRU", lambda nn: nn.GRU(3, 4)(_x(5))),
    ("input dtype", lambda nn: nn.LSTM(3, 4)(_x(5, 2, 3, dtype=DT))),
    ("input int", lambda nn: nn.RNN(3, 4)(torch.zeros(5, 2, 3, dtype=torch.long))),
    ("input_size", lambda nn: nn.GRU(3, 4)(_x(5, 2, 2))),
    ("hx batch RNN", lambda nn: nn.RNN(3, 4)(_x(5, 2, 3), _x(1, 3, 4))),
    ("hx layers GRU", lambda nn: nn.GRU(3, 4, 2)(_x(5, 2, 3), _x(1, 2, 4))),
    ("hx directions", lambda nn: nn.GRU(3, 4, bidirectional=True)(_x(5, 2, 3), _x(1, 2, 4))),
    ("hx hidden", lambda nn: nn.RNN(3, 4)(_x(5, 2, 3), _x(1, 2, 5))),
    ("h0 LSTM", lambda nn: nn.LSTM(3, 4)(_x(5, 2, 3), (_x(1, 3, 4), _x(1, 2, 4)))),
    ("c0 LSTM", lambda nn: nn.LSTM(3, 4)(_x(5, 2, 3), (_x(1, 2, 4), _x(1, 3, 4)))),
    ("h0 LSTM proj", lambda nn: nn.LSTM(3, 4, proj_size=2)(_x(5, 2, 3), (_x(1, 2, 4),
                                                                          _x(1, 2, 4)))),
    ("hx 2-D for batched GRU", lambda nn: nn.GRU(3, 4)(_x(5, 2, 3), _x(2, 4))),
    ("hx 3-D for unbatched RNN", lambda nn: nn.RNN(3, 4)(_x(5, 3), _x(1, 1, 4))),
    ("hx 2-D for batched LSTM", lambda nn: nn.LSTM(3, 4)(_x(5, 2, 3), (_x(2, 4), _x(2, 4)))),
    ("hx 3-D for unbatched LSTM", lambda nn: nn.LSTM(3, 4)(_x(5, 3), (_x(1, 1, 4),
                                                                      _x(1, 1, 4)))),
    ("hx shape, unbatched", lambda nn: nn.GRU(3, 4)(_x(5, 3), _x(2, 4))),
    ("LSTM hx 1-tuple", lambda nn: nn.LSTM(3, 4)(_x(5, 2, 3), (_x(1, 2, 4),))),
    ("LSTM hx 3-tuple", lambda nn: nn.LSTM(3, 4)(_x(5, 2, 3), (_x(1, 2, 4),) * 3)),
    ("LSTM hx a tensor", lambda nn: nn.LSTM(3, 4)(_x(5, 2, 3), _x(1, 2, 4))),
    ("RNN hx a tuple", lambda nn: nn.RNN(3, 4)(_x(5, 2, 3), (_x(1, 2, 4),))),
    ("packed, hx batch too small", lambda nn: nn.GRU(3, 4)(_packed(), _x(1, 2, 4))),
    ("packed, hx 2-D", lambda nn: nn.GRU(3, 4)(_packed(), _x(3, 3))),
    ("packed, data 3-D", lambda nn: nn.RNN(3, 4)(PackedSequence(
        _x(10, 3, 1), *list(_packed())[1:]))),
    ("packed, input_size", lambda nn: nn.GRU(3, 4)(_packed(size=2))),
    ("packed, dtype", lambda nn: nn.RNN(3, 4)(_packed().to(DT))),
]


@pytest.mark.parametrize("name,call", CONSTRUCTOR_ERRORS + FORWARD_ERRORS,
                         ids=[c[0] for c in CONSTRUCTOR_ERRORS + FORWARD_ERRORS])
def test_errors_are_torchs(name, call):
    theirs, ours = _error(call, torch.nn), _error(call, rnn)
    assert type(ours) is type(theirs), (ours, theirs)
    assert str(ours) == str(theirs)


@pytest.mark.parametrize("hx", [
    lambda: _x(1, 2, 4, dtype=DT),
    lambda: torch.zeros(1, 2, 4, dtype=torch.long),
])
@pytest.mark.parametrize("mode", ["rnn_tanh", "gru", "lstm"])
def test_hx_dtype_mismatch_raises_torchs_type(mode, hx):
    """torch.nn fails inside its kernels ("mat1 and mat2 must have the same dtype", or
    "get_mkldnn_dtype: unsupported data type" for LSTM): the same RuntimeError, with a
    message that names the hx dtype."""
    name, extra = MODES[mode]

    def call(nn):
        h = hx()
        getattr(nn, name)(3, 4, **extra)(_x(5, 2, 3), (h, torch.zeros(1, 2, 4)) if name == "LSTM"
                                          else h)
    theirs, ours = _error(call, torch.nn), _error(call, rnn)
    assert type(ours) is type(theirs) is RuntimeError
    assert "data type" in str(theirs) or "dtype" in str(theirs)
    assert str(ours) == f"hx dtype ({hx().dtype}) does not match input dtype (torch.float32)"


def test_packed_lstm_with_a_wrong_hx_raises_torchs_type_with_a_clearer_message():
    """torch.nn's LSTM skips its shape checks for packed input and fails in C++ ("got an
    incorrect number of RNN parameters"); ours checks as for dense input."""
    def call(nn):
        nn.LSTM(3, 4)(_packed(), (_x(1, 3, 4), _x(1, 3, 5)))
    theirs, ours = _error(call, torch.nn), _error(call, rnn)
    assert type(ours) is type(theirs) is RuntimeError
    assert str(ours) == "Expected hidden[1] size (1, 3, 4), got [1, 3, 5]"


def test_packed_hx_with_more_rows_is_accepted_as_torch_accepts_it():
    """torch.nn permutes a packed batch's hx before checking it, so extra rows pass."""
    ours, ref = _pair("gru")
    packed = _packed().to(DT)
    hx = torch.randn(1, 4, 4, dtype=DT)
    for u, v in zip(_flat(ours(packed, hx)), _flat(ref(packed, hx))):
        torch.testing.assert_close(u, v, **TOL)


def test_dropout_warning_is_torchs():
    caught = []
    for nn in (torch.nn, rnn):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            nn.GRU(3, 4, dropout=0.5)
        assert len(w) == 1
        caught.append((w[0].category, str(w[0].message)))
    assert caught[0] == caught[1]


def test_our_own_keyword_checks():
    """``init`` is rnnlab's: an unknown scheme is a ValueError naming the choices."""
    with pytest.raises(ValueError, match="init must be one of default, xavier"):
        rnn.GRU(3, 4, init="zeros")


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("mode", MODES)
def test_empty_batch_gives_empty_outputs_and_a_working_backward(mode, fast):
    """Input (T, 0, F): output (T, 0, D*H), h_n (L*D, 0, H), zero gradients, as torch.nn."""
    ours, ref = _pair(mode, num_layers=2, bidirectional=True, batch_first=True)
    ours.fast = fast
    results = []
    for module in (ours, ref):
        x = torch.randn(0, 5, 3, dtype=DT, requires_grad=True)
        rows = 4
        hx = torch.randn(rows, 0, 4, dtype=DT, requires_grad=True)
        outs = _flat(module(x, (hx, hx) if mode == "lstm" else hx))
        sum(o.sum() for o in outs).backward()
        results.append([*outs, x.grad, hx.grad, *(p.grad for p in module.parameters())])
    assert [t.shape for t in results[0]] == [t.shape for t in results[1]]
    assert results[0][0].shape == (0, 5, 8) and results[0][1].shape == (4, 0, 4)
    for u, v in zip(*results):
        torch.testing.assert_close(u, v, **TOL)


@pytest.mark.parametrize("mode", MODES)
def test_unbatched_input_with_batch_first_matches_torch(mode):
    """batch_first is ignored for unbatched (T, F) input, as in torch.nn."""
    ours, ref = _pair(mode, batch_first=True, bidirectional=True)
    x = torch.randn(5, 3, dtype=DT)
    h0 = torch.randn(2, 4, dtype=DT)
    hx = (h0, torch.randn(2, 4, dtype=DT)) if mode == "lstm" else h0
    a, b = _flat(ours(x, hx)), _flat(ref(x, hx))
    assert [t.shape for t in a] == [t.shape for t in b]
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v, **TOL)
