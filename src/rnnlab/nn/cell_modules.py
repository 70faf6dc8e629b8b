"""RNNCell, LSTMCell and GRUCell: one step of :mod:`cells` as a module, with torch.nn's cell API.

Constructor arguments, parameter names and shapes, initialisation, the argument
checks and their messages are those of ``torch.nn.RNNCell/LSTMCell/GRUCell``, so a
``state_dict`` loads into either; autograd records the step, so every derivative is
exact. They are what a step-by-step loop (report 004's model, many tutorials) uses.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .cells import STEPS, State, Step


class RNNCellBase(nn.Module):
    """Shared machinery of :class:`RNNCell`, :class:`LSTMCell` and :class:`GRUCell`: one step
    of :mod:`cells` behind ``torch.nn``'s cell API (arguments, parameter names and shapes,
    initialisation, argument checks and messages). Autograd records the step, so every
    derivative, batched or of any order, is exact. No extra arguments; the one difference
    from torch.nn's cells is that TorchScript (``torch.jit.script``) is not supported."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        # torch.nn's registration order, so the same seed draws the same weights
        gates = num_chunks * hidden_size
        self.weight_ih = nn.Parameter(torch.empty((gates, input_size), **factory))
        self.weight_hh = nn.Parameter(torch.empty((gates, hidden_size), **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gates, **factory))
            self.bias_hh = nn.Parameter(torch.empty(gates, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter ~ U(-1/sqrt(H), 1/sqrt(H)), as torch.nn."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            nn.init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _forward(self, step: Step, input: Tensor, hx: State | None, lstm: bool = False) -> State:
        """Run ``step`` once; ``hx`` is None or a tuple of 1 (2 for LSTM) states, already
        dimension-checked by the caller."""
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            zeros = torch.zeros(input.shape[0], self.hidden_size, dtype=input.dtype,
                                device=input.device)
            hx = (zeros, zeros) if lstm else (zeros,)
        elif not batched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0)) if lstm else (hx[0].unsqueeze(0),)
        if isinstance(hx, Tensor):
            raise TypeError("lstm_cell(): argument 'hx' (position 2) must be tuple of Tensors, "
                            "not Tensor")
        if lstm and len(hx) != 2:
            raise RuntimeError("lstm_cell expects two hidden states")
        # the checks (and messages) of torch's C++ cells
        if input.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} "
                               f"expected {self.input_size}")
        for k, h in enumerate(hx):
            if input.shape[0] != h.shape[0]:
                raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match "
                                   f"hidden{k} batch size {h.shape[0]}")
            if h.shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got "
                                   f"{h.shape[1]}, expected {self.hidden_size}")
        state = step(F.linear(input, self.weight_ih, self.bias_ih), tuple(hx), self.weight_hh,
                     self.bias_hh)
        return state if batched else tuple(s.squeeze(0) for s in state)


class RNNCell(RNNCellBase):
    """Elman RNN cell, ``torch.nn.RNNCell``: h' = act(W_ih x + b_ih + W_hh h + b_hh).

    ``forward(input, hx=None)`` takes (batch, input_size) or unbatched (input_size,) input
    and returns h'. As in torch.nn, an unknown ``nonlinearity`` is refused by forward only."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device,
                         dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if input.dim() not in (1, 2):
            raise ValueError(f"RNNCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"RNNCell: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        step = STEPS["RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"]
        return self._forward(step, input, None if hx is None else (hx,))[0]


class LSTMCell(RNNCellBase):
    """LSTM cell, ``torch.nn.LSTMCell`` (gates i, f, g, o; no projection, as torch.nn).

    ``forward(input, hx=None)`` with ``hx = (h, c)`` returns ``(h', c')``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device,
                         dtype=dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
                ) -> tuple[Tensor, Tensor]:
        if input.dim() not in (1, 2):
            raise ValueError(f"LSTMCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None:
            for k, value in enumerate(hx):
                if value.dim() not in (1, 2):
                    raise ValueError(f"LSTMCell: Expected hx[{k}] to be 1D or 2D, "
                                     f"got {value.dim()}D instead")
        return self._forward(STEPS["LSTM"], input, hx, lstm=True)


class GRUCell(RNNCellBase):
    """GRU cell, ``torch.nn.GRUCell`` (gates r, z, n; the reset gate scales W_hn h + b_hn).

    ``forward(input, hx=None)`` returns h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device,
                         dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if input.dim() not in (1, 2):
            raise ValueError(f"GRUCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"GRUCell: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        return self._forward(STEPS["GRU"], input, None if hx is None else (hx,))[0]
