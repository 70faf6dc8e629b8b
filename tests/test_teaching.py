"""The textbook forms give torch.nn's numbers once they copy its weights."""

import pytest
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence

from rnnlab import nn as rnn

TOL = dict(rtol=0, atol=1e-10)
B, T, I, H = 3, 6, 4, 5


@pytest.fixture(autouse=True)
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("naive_cls,torch_cls,extra", [
    (rnn.NaiveRNN, torch.nn.RNN, {}),
    (rnn.NaiveLSTM, torch.nn.LSTM, {}),
    (rnn.NaiveGRU, torch.nn.GRU, {}),
])
def test_naive_forms_equal_torch_after_copying_weights(naive_cls, torch_cls, extra):
    ref = torch_cls(I, H, batch_first=True)
    naive = naive_cls(I, H)
    naive.load_from_torch(ref)
    x = torch.randn(B, T, I)
    out, final = naive(x)
    ref_out, ref_final = ref(x)
    torch.testing.assert_close(out, ref_out, **TOL)
    finals = final if isinstance(final, tuple) else (final,)
    ref_finals = ref_final if isinstance(ref_final, tuple) else (ref_final,)
    for a, b in zip(finals, ref_finals):
        torch.testing.assert_close(a, b[0], **TOL)


def test_my_rnn_is_the_slides_model():
    """MyRNN's hidden states are nn.RNN's; its output is leaky_relu(h W_y + b_y)."""
    model = rnn.MyRNN(I, H, 1)
    assert [n for n, _ in model.named_parameters()] == ["w_h", "u_h", "b_h", "w_y", "b_y"]
    ref = torch.nn.RNN(I, H, batch_first=True)
    model.load_from_torch(ref)
    x = torch.randn(B, T, I)
    h, y = model(x)
    ref_out, ref_h = ref(x)
    torch.testing.assert_close(h, ref_h[0], **TOL)
    torch.testing.assert_close(y, F.leaky_relu(ref_out @ model.w_y + model.b_y), **TOL)
    assert y.shape == (B, T, 1)


def test_gru_reset_before_product_is_a_different_cell():
    """reset_after=False is the slides' GRU: not equal to torch's, and refuses to pretend."""
    naive = rnn.NaiveGRU(I, H, reset_after=False)
    with pytest.raises(ValueError, match="reset_after"):
        naive.load_from_torch(torch.nn.GRU(I, H))
    out, h = naive(torch.randn(B, T, I))
    assert out.shape == (B, T, H) and h.shape == (B, H)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("packed", [False, True])
def test_teaching_stack_equals_torch_across_options(kind, packed):
    """The torch-API wrapper: 2 layers, both directions, h0, packed unsorted input, gradients."""
    torch.manual_seed(0)
    teach = rnn.build_rnn(kind, "teaching", input_size=I, hidden_size=H, num_layers=2,
                          bidirectional=True)
    torch.manual_seed(0)
    ref = rnn.build_rnn(kind, "torch", input_size=I, hidden_size=H, num_layers=2,
                        bidirectional=True)
    x = torch.randn(T, B, I)
    h0 = torch.randn(4, B, H)
    h0 = (h0, torch.randn(4, B, H)) if kind == "lstm" else h0
    lengths = torch.tensor([4, 6, 2])
    grads = []
    outs = []
    for module in (teach, ref):
        xi = x.clone().requires_grad_(True)
        inp = pack_padded_sequence(xi, lengths, enforce_sorted=False) if packed else xi
        out, hidden = module(inp, h0)
        out = out.data if packed else out
        hidden = hidden if isinstance(hidden, tuple) else (hidden,)
        outs.append([out, *hidden])
        sum((o * (k + 1)).sum() for k, o in enumerate(outs[-1])).backward()
        grads.append(xi.grad)
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, **TOL)
    torch.testing.assert_close(grads[0], grads[1], **TOL)


def test_build_rnn_gives_identical_start_for_every_impl():
    """Same seed -> same weights in all impls, and the generator ends in the same state."""
    states = []
    for impl in ("scratch", "torch", "teaching"):
        torch.manual_seed(11)
        layer = rnn.build_rnn("lstm", impl, input_size=I, hidden_size=H)
        states.append((layer, torch.rand(3)))
    x = torch.randn(T, B, I)
    base_out = states[0][0](x)[0]
    for layer, after in states[1:]:
        torch.testing.assert_close(layer(x)[0], base_out, **TOL)
        assert torch.equal(after, states[0][1])


def test_teaching_rejects_options_it_does_not_have():
    with pytest.raises(ValueError, match="bias"):
        rnn.build_rnn("gru", "teaching", input_size=I, hidden_size=H, bias=False)
