"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?", arXiv 2410.01201).

Both drop the hidden state from the gates, so each layer is one linear recurrence::

    minGRU   z_t = sigmoid(W_z x_t + b_z)            h~_t = g(W_h x_t + b_h)
             h_t = (1 - z_t) * h_{t-1} + z_t * h~_t
    minLSTM  f_t = sigmoid(W_f x_t + b_f)            i_t = sigmoid(W_i x_t + b_i)
             f'_t = f_t / (f_t + i_t)                i'_t = i_t / (f_t + i_t)
             h~_t = g(W_h x_t + b_h)                 h_t = f'_t * h_{t-1} + i'_t * h~_t

with g(v) = v + 1/2 for v >= 0 and sigmoid(v) below (positive: the paper's log-space scan
takes its logarithm; the scan here needs no logarithms and any real ``hx`` is allowed).

:class:`MinGRU` and :class:`MinLSTM` have torch.nn.GRU's constructor, ``forward(input,
hx=None) -> (output, h_n)``, shapes, PackedSequence handling, dropout between layers and
default initialisation (every parameter ~ U(-1/sqrt(H), 1/sqrt(H)), in registration
order). Parameters per layer l and direction: ``weight_ih_l{l}`` (rows z, h~ for minGRU;
f, i, h~ for minLSTM) and ``bias_ih_l{l}``, ``_reverse`` for the backward direction.

Two paths compute the same numbers:

- ``fast=True`` (default): each layer-direction is one :class:`~rnnlab.nn.scan.MinScan`,
  a chunked parallel scan over time with a hand-written backward;
- ``fast=False``: the reference loop, one step at a time through :func:`min_gru_cell` /
  :func:`min_lstm_cell`, autograd recording every operation; ``layer.step(x_t, h)`` runs
  one step of the same cells with O(1) state, for generation and streaming.

Both paths compute f' as sigmoid(log f - log i), equal to f / (f + i) but without dividing
(f + i underflows to 0 when both gates are near 0). torch.func transforms and forward-mode
AD run the reference loop (the scan's autograd Function has no rule for them). Not
supported: TorchScript; a backward of the fast path cannot itself be differentiated
(``create_graph=True`` then raises; use ``fast=False``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd import forward_ad
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from . import probe
from .layers import check_dropout
from .scan import MinScan

_functorch_active = torch._C._are_functorch_transforms_active


def g(v: Tensor) -> Tensor:
    """The candidate's activation: v + 1/2 for v >= 0, sigmoid(v) below."""
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def min_gru_cell(x: Tensor, h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """One minGRU step: the new state from input ``x`` (B, in) and state ``h`` (B, H)."""
    k_z, k_h = F.linear(x, weight, bias).chunk(2, dim=-1)
    z = torch.sigmoid(k_z)
    h_tilde = g(k_h)
    h = (1 - z) * h + z * h_tilde
    if probe.active():
        probe.active().record(z=z, h_tilde=h_tilde, h=h)
    return h


def min_lstm_cell(x: Tensor, h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """One minLSTM step; f' = f / (f + i) is computed as sigmoid(log f - log i)."""
    k_f, k_i, k_h = F.linear(x, weight, bias).chunk(3, dim=-1)
    f_prime = torch.sigmoid(F.logsigmoid(k_f) - F.logsigmoid(k_i))
    i_prime = 1 - f_prime
    h_tilde = g(k_h)
    h = f_prime * h + i_prime * h_tilde
    if probe.active():
        probe.active().record(f=f_prime, i=i_prime, h_tilde=h_tilde, h=h)
    return h


_CELLS = {"MinGRU": (min_gru_cell, 2), "MinLSTM": (min_lstm_cell, 3)}


def _reverse_within(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each sequence of a time-major padded batch within its own length."""
    t = torch.arange(x.shape[0], device=x.device).unsqueeze(1)
    n = lengths.to(x.device).unsqueeze(0)
    index = torch.where(t < n, n - 1 - t, t)
    return x.gather(0, index.unsqueeze(2).expand_as(x))


def _pack_as(padded: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack a time-major padded tensor with exactly the layout (and order) of ``like``."""
    sizes = like.batch_sizes.tolist()
    order = like.sorted_indices
    if order is None:
        order = torch.arange(sizes[0])
    order = order.to(padded.device)
    rows = torch.cat([order[:bs] for bs in sizes])
    steps = torch.repeat_interleave(torch.arange(len(sizes)), like.batch_sizes).to(padded.device)
    return PackedSequence(padded[steps, rows], like.batch_sizes, like.sorted_indices,
                          like.unsorted_indices)


class MinRNNBase(nn.Module):
    """Shared machinery of :class:`MinGRU` and :class:`MinLSTM` (see the module docstring)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None, *,
                 fast: bool = True) -> None:
        super().__init__()
        if mode not in _CELLS:
            raise ValueError(f"Unrecognized mode: {mode}")
        check_dropout(dropout, num_layers)
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{arg} should be of type int, got: {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{arg} must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.fast = bidirectional, fast
        self._cell, gates = _CELLS[mode]
        factory = {"device": device, "dtype": dtype}
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                self.register_parameter(f"weight_ih_l{layer}{suffix}", nn.Parameter(
                    torch.empty(gates * hidden_size, layer_input, **factory)))
                if bias:
                    self.register_parameter(f"bias_ih_l{layer}{suffix}", nn.Parameter(
                        torch.empty(gates * hidden_size, **factory)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter ~ U(-1/sqrt(H), 1/sqrt(H)), in registration order (torch.nn's)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """No-op, kept so code written for torch.nn (which calls it) runs unchanged."""

    def _weights(self, layer: int, direction: int) -> tuple[Tensor, Tensor | None]:
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        return getattr(self, "weight_ih" + suffix), getattr(self, "bias_ih" + suffix, None)

    def _initial_state(self, hx: Tensor | None, batch: int, x: Tensor) -> Tensor:
        shape = (self.num_layers * (2 if self.bidirectional else 1), batch, self.hidden_size)
        if hx is None:
            return torch.zeros(shape, dtype=x.dtype, device=x.device)
        if tuple(hx.shape) != shape:
            raise RuntimeError(f"Expected hidden size {shape}, got {list(hx.shape)}")
        if hx.dtype != x.dtype:
            raise RuntimeError(f"hx dtype ({hx.dtype}) does not match input dtype ({x.dtype})")
        return hx

    def _check_input(self, x: Tensor) -> None:
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {x.shape[-1]}")
        if x.dtype != self.weight_ih_l0.dtype:
            raise ValueError(f"input dtype ({x.dtype}) does not match weight dtype "
                             f"({self.weight_ih_l0.dtype})")

    def forward(self, input: Tensor | PackedSequence, hx: Tensor | None = None):
        """``input`` (T, B, in) ((B, T, in) if batch_first; (T, in) unbatched) or a
        PackedSequence; ``hx`` (layers * directions, B, H), default zeros. Returns
        ``(output, h_n)`` with torch.nn.GRU's shapes."""
        packed = isinstance(input, PackedSequence)
        lengths = None
        unbatched = False
        if packed:
            x, lengths = pad_packed_sequence(input)  # time-major, in the caller's batch order
        else:
            if input.dim() not in (2, 3):
                raise ValueError(f"{self.mode}: Expected input to be 2D or 3D, "
                                 f"got {input.dim()}D instead")
            unbatched = input.dim() == 2
            if hx is not None and hx.dim() != (2 if unbatched else 3):
                kind = "unbatched 2-D" if unbatched else "batched 3-D"
                raise RuntimeError(f"For {kind} input, hx should also be "
                                   f"{2 if unbatched else 3}-D but got {hx.dim()}-D tensor")
            if unbatched:
                x = input.unsqueeze(1)
                hx = None if hx is None else hx.unsqueeze(1)
            else:
                x = input.transpose(0, 1) if self.batch_first else input
        self._check_input(x)
        steps, batch = x.shape[0], x.shape[1]
        if steps == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        hx = self._initial_state(hx, batch, x)

        fast = self.fast and not (_functorch_active() or forward_ad._current_level >= 0)
        looking = probe.active()  # rnnlab inspect: the step loop shows every step
        fast = fast and looking is None
        directions = 2 if self.bidirectional else 1
        finals = []
        layer_input = looking.take_input(x, "time_batch") if looking else x
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                weight, bias = self._weights(layer, direction)
                h0 = hx[layer * directions + direction]
                reverse = direction == 1
                if looking:
                    looking.at(layer, reverse)
                seq = layer_input
                if reverse and lengths is not None:  # each sequence starts from its own end
                    seq, reverse = _reverse_within(seq, lengths), False
                if fast:
                    flat = seq.reshape(steps * batch, seq.shape[2])
                    out, h_n = MinScan.apply(flat, weight, bias, h0, steps, self.mode, reverse)
                else:
                    out, h_n = self._reference(seq, weight, bias, h0, reverse)
                if lengths is not None:  # the state at each sequence's own last step
                    h_n = out[lengths.to(out.device) - 1, torch.arange(batch, device=out.device)]
                    if direction == 1:
                        out = _reverse_within(out, lengths)
                outs.append(out)
                finals.append(h_n)
            layer_input = outs[0] if directions == 1 else torch.cat(outs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)

        h_n = torch.stack(finals)
        if packed:
            return _pack_as(layer_input, input), h_n
        if unbatched:
            return layer_input.squeeze(1), h_n.squeeze(1)
        return (layer_input.transpose(0, 1) if self.batch_first else layer_input), h_n

    def _reference(self, x: Tensor, weight: Tensor, bias: Tensor | None, h: Tensor,
                   reverse: bool) -> tuple[Tensor, Tensor]:
        """One layer-direction, one step at a time: the cell's equations, as written."""
        outs = [None] * x.shape[0]
        for t in (range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])):
            h = self._cell(x[t], h, weight, bias)
            outs[t] = h
        return torch.stack(outs), h

    def step(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Advance every layer by one time step, for generation and streaming.

        ``input`` (B, input_size) or unbatched (input_size,); ``hx`` (num_layers, B, H)
        (unbatched (num_layers, H)), default zeros. Returns ``(output, h_n)``: the last
        layer's new state (B, H) and every layer's (num_layers, B, H). Feeding a sequence
        step by step gives exactly ``forward``'s output and h_n, with O(1) memory.
        Unidirectional layers only: the reverse direction needs the whole sequence.
        """
        if self.bidirectional:
            raise ValueError("step() runs unidirectional layers only; a bidirectional "
                             "layer needs the whole sequence (call forward)")
        if input.dim() not in (1, 2):
            raise ValueError(f"{self.mode}.step: Expected input to be 1D or 2D, "
                             f"got {input.dim()}D instead")
        unbatched = input.dim() == 1
        x = input.unsqueeze(0) if unbatched else input
        if hx is not None and unbatched:
            hx = hx.unsqueeze(1)
        self._check_input(x)
        hx = self._initial_state(hx, x.shape[0], x)
        states = []
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                x = F.dropout(x, self.dropout, training=True)
            x = self._cell(x, hx[layer], *self._weights(layer, 0))
            states.append(x)
        h_n = torch.stack(states)
        return (x.squeeze(0), h_n.squeeze(1)) if unbatched else (x, h_n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False), ("fast", True)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)!r}"
        return s


class MinGRU(MinRNNBase):
    """minGRU layer with torch.nn.GRU's arguments plus the keyword-only ``fast``::

        z_t = sigmoid(W_z x_t + b_z),  h~_t = g(W_h x_t + b_h),  h_t = (1 - z_t) h_{t-1} + z_t h~_t

    ``weight_ih_l{l}`` is (2 * hidden_size, in): rows z, then h~."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None, *,
                 fast: bool = True) -> None:
        super().__init__("MinGRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device, dtype, fast=fast)


class MinLSTM(MinRNNBase):
    """minLSTM layer with torch.nn.GRU's arguments plus the keyword-only ``fast``::

        f_t = sigmoid(W_f x_t + b_f),  i_t = sigmoid(W_i x_t + b_i),  h~_t = g(W_h x_t + b_h)
        h_t = f_t / (f_t + i_t) * h_{t-1} + i_t / (f_t + i_t) * h~_t

    One state, no cell state: ``forward`` returns ``(output, h_n)`` as a GRU does.
    ``weight_ih_l{l}`` is (3 * hidden_size, in): rows f, i, then h~."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None, *,
                 fast: bool = True) -> None:
        super().__init__("MinLSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, device, dtype, fast=fast)
