"""One time step of RNN, LSTM and GRU, as pure functions on tensors.

The formulas, gate order and the two bias vectors are exactly torch.nn's, so a
layer built from these steps matches ``torch.nn.RNN/LSTM/GRU`` to rounding:

    RNN   h' = act(W_ih x + b_ih + W_hh h + b_hh)                act = tanh | relu
    LSTM  i, f, g, o = split(W_ih x + b_ih + W_hh h + b_hh)      (gate order i, f, g, o)
          c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
          h' = sigmoid(o) * tanh(c')            (then h' = W_hr h' when proj_size > 0)
    GRU   r, z = sigmoid(split(W_ih x + b_ih + W_hh h + b_hh)[:2])  (gate order r, z, n)
          n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))
          h' = (1 - z) * n + z * h

Every step takes ``gi = W_ih x_t + b_ih`` already computed: a layer projects the
inputs of all time steps with one matrix multiply before the loop, because only
the hidden-to-hidden product really depends on the previous step.

A state is always a tuple: ``(h,)`` for RNN and GRU, ``(h, c)`` for LSTM, so one
time loop, :func:`scan`, serves all three: it is the reference loop of the layers
(``fast=False``), and the fused fast path falls back on it where its hand-written
backward cannot go (second derivatives, batched gradients).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from . import probe

State = tuple[Tensor, ...]
# A step: (gi, state, w_hh, b_hh, w_hr) -> new state
Step = Callable[[Tensor, State, Tensor, Tensor | None, Tensor | None], State]


def rnn_tanh_step(gi: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None,
                  w_hr: Tensor | None = None) -> State:
    """Elman RNN step with tanh: h' = tanh(gi + W_hh h + b_hh)."""
    h = torch.tanh(gi + F.linear(state[0], w_hh, b_hh))
    if probe.active():
        probe.active().record(h=h)
    return (h,)


def rnn_relu_step(gi: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None,
                  w_hr: Tensor | None = None) -> State:
    """Elman RNN step with ReLU: h' = relu(gi + W_hh h + b_hh)."""
    h = torch.relu(gi + F.linear(state[0], w_hh, b_hh))
    if probe.active():
        probe.active().record(h=h)
    return (h,)


def lstm_step(gi: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None,
              w_hr: Tensor | None = None) -> State:
    """LSTM step (gates i, f, g, o); ``w_hr`` projects h when proj_size > 0."""
    h, c = state
    i, f, g, o = (gi + F.linear(h, w_hh, b_hh)).chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g
    h = o * torch.tanh(c)
    if w_hr is not None:
        h = F.linear(h, w_hr)
    if probe.active():
        probe.active().record(i=i, f=f, g=g, o=o, c=c, h=h)
    return h, c


def gru_step(gi: Tensor, state: State, w_hh: Tensor, b_hh: Tensor | None,
             w_hr: Tensor | None = None) -> State:
    """GRU step (gates r, z, n); the reset gate scales W_hn h + b_hn, as torch.nn does."""
    h = state[0]
    gh = F.linear(h, w_hh, b_hh)
    i_r, i_z, i_n = gi.chunk(3, dim=1)
    h_r, h_z, h_n = gh.chunk(3, dim=1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    h = (1 - z) * n + z * h
    if probe.active():
        probe.active().record(r=r, z=z, n=n, h=h)
    return (h,)


STEPS: dict[str, Step] = {
    "RNN_TANH": rnn_tanh_step,
    "RNN_RELU": rnn_relu_step,
    "LSTM": lstm_step,
    "GRU": gru_step,
}

# Number of stacked gate blocks in W_ih / W_hh for each mode.
GATES: dict[str, int] = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def scan(step: Step, gi: Tensor, sizes: list[int], state: State, w_hh: Tensor,
         b_hh: Tensor | None, w_hr: Tensor | None, reverse: bool) -> tuple[Tensor, State]:
    """Run one direction of one layer over time.

    ``gi`` holds the input projections of all steps, time-major, in packed row
    layout: step t owns rows ``offset[t] : offset[t] + sizes[t]`` (a dense
    (T, B) batch is the special case ``sizes == [B] * T``). Returns the outputs
    in the same layout and the final state of every sequence, in batch order.
    """
    offsets = [0]
    for bs in sizes:
        offsets.append(offsets[-1] + bs)
    outputs: list[Tensor] = [gi] * len(sizes)  # placeholders, all overwritten
    if not reverse:
        finished: list[State] = []  # states of sequences that ended early, kept in order
        active = sizes[0]
        for t, bs in enumerate(sizes):
            if bs < active:  # the last (active - bs) sequences ended at step t - 1
                finished.append(tuple(s[bs:active] for s in state))
                state = tuple(s[:bs] for s in state)
                active = bs
            state = step(gi[offsets[t]:offsets[t + 1]], state, w_hh, b_hh, w_hr)
            outputs[t] = state[0]
        if finished:
            state = tuple(torch.cat([s, *(f[k] for f in reversed(finished))])
                          for k, s in enumerate(state))
    else:
        initial = state
        active = sizes[-1]
        state = tuple(s[:active] for s in initial)
        for t in range(len(sizes) - 1, -1, -1):
            bs = sizes[t]
            if bs > active:  # sequences whose last step is t start here, from h0
                state = tuple(torch.cat([s, s0[active:bs]]) for s, s0 in zip(state, initial))
                active = bs
            state = step(gi[offsets[t]:offsets[t + 1]], state, w_hh, b_hh, w_hr)
            outputs[t] = state[0]
    return torch.cat(outputs), state
