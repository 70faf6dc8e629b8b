"""RNN, LSTM and GRU written from scratch, with the API of torch.nn (cells: :mod:`cell_modules`).

Constructor arguments, ``forward(input, hx=None)``, returned shapes, parameter
names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...), gate order, default
initialisation and argument checks are those of ``torch.nn.RNN/LSTM/GRU`` (and
``RNNCell/LSTMCell/GRUCell``); a ``state_dict`` loads into either class. With the
same seed, a scratch layer and a torch.nn layer are created with identical weights,
so the two can be compared run for run. :class:`RNNBase` lists where they differ.

The extra keyword arguments are ``init``: ``default`` (torch's U(-1/sqrt(H), 1/sqrt(H))),
``xavier``, ``kaiming`` or ``orthogonal`` (see :func:`init_weights`), and ``fast``:
``True`` (default) runs each layer-direction as one fused autograd Function with a
hand-written backward through time (:mod:`rnnlab.nn.fused`); ``False`` runs the
readable reference loop (:func:`cells.scan`), where autograd records every step of
:mod:`cells`. Both compute the same numbers, first and second derivatives and batched
gradients included; the attribute ``layer.fast`` can be switched at any time.

Variable-length batches (``PackedSequence``) are run as torch.nn runs them: the
active batch shrinks as sequences end (``batch_sizes``), so every sequence's
final state is taken at its own last step and the reverse direction starts at
each sequence's own end. No masking, no wasted work on padding.
"""

from __future__ import annotations

import math
import numbers
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd import forward_ad
from torch.nn.utils.rnn import PackedSequence

from . import fused, probe
from .cells import GATES, STEPS, State, scan

INITS = ("default", "xavier", "kaiming", "orthogonal")
_NAMES = {"RNN_TANH": "RNN", "RNN_RELU": "RNN", "LSTM": "LSTM", "GRU": "GRU"}
_functorch_active = torch._C._are_functorch_transforms_active


def check_dropout(dropout, num_layers: int) -> None:
    """torch.nn's check of a layer's dropout argument, with its message and warning."""
    if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
            or not 0 <= dropout <= 1):
        raise ValueError("dropout should be a number in range [0, 1] representing "
                         "the probability of an element being zeroed")
    if dropout > 0 and num_layers == 1:
        warnings.warn("dropout option adds dropout after all but last recurrent layer, "
                      "so non-zero dropout expects num_layers greater than 1, but got "
                      f"dropout={dropout} and num_layers={num_layers}", stacklevel=4)


def init_weights(module: nn.Module, scheme: str = "default") -> None:
    """Re-initialise a recurrent layer in place; works on rnnlab and torch.nn layers.

    default     every parameter ~ U(-1/sqrt(H), 1/sqrt(H)) (torch.nn's own reset)
    xavier      Glorot-uniform on each gate block of every weight; biases 0
    kaiming     He-uniform (fan_in, ReLU gain) on each gate block; biases 0
    orthogonal  orthogonal hidden-to-hidden gate blocks, Glorot input blocks; biases 0

    Gate blocks are initialised one by one because W_ih stacks 3 or 4 matrices
    of shape (H, in): treating the stack as one matrix would get the fans wrong.
    """
    if scheme not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}; got {scheme!r}")
    hidden = module.hidden_size
    if scheme == "default":
        stdv = 1.0 / math.sqrt(hidden)
        for p in module.parameters():
            nn.init.uniform_(p, -stdv, stdv)
        return
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.startswith("bias"):
                p.zero_()
                continue
            rows = hidden if name.startswith(("weight_ih", "weight_hh")) else p.shape[0]
            for block in p.split(rows, dim=0):
                if scheme == "xavier":
                    nn.init.xavier_uniform_(block)
                elif scheme == "kaiming":
                    nn.init.kaiming_uniform_(block, nonlinearity="relu")
                elif name.startswith("weight_hh"):
                    nn.init.orthogonal_(block)
                else:
                    nn.init.xavier_uniform_(block)


class RNNBase(nn.Module):
    """Shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU`.

    What torch.nn documents holds here too: arguments, shapes, parameter names,
    initialisation, outputs, first and second derivatives, batched gradients (vmap),
    torch.func transforms, forward-mode AD, argument checks and their messages.
    Where rnnlab differs from torch.nn:

    - two keyword-only arguments, ``init`` (initialisation scheme; default torch's) and
      ``fast`` (see the module docstring); the repr shows them, and
      ``nonlinearity='relu'``, when not at their default;
    - with ``fast=True``, a backward with ``create_graph=True`` or under vmap recomputes
      each layer-direction with the reference loop (one more forward, same numbers), and
      torch.func transforms and forward-mode AD run the reference loop throughout;
      ``torch.func.vmap`` over the forward works (torch.nn's CPU layers have no rule);
    - an hx whose dtype is not the input's raises a RuntimeError, as torch.nn does, but
      with a message of its own (torch's comes from inside its kernels); a packed LSTM
      input is checked like a dense one (torch.nn's LSTM skips those checks and fails
      later in C++, also with a RuntimeError);
    - not supported: autocast (mismatched dtypes raise; torch.nn runs in the autocast
      dtype) and TorchScript; cuDNN is never used (``flatten_parameters`` is a no-op).
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None,
                 *, init: str = "default", fast: bool = True) -> None:
        super().__init__()
        if mode not in STEPS:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        check_dropout(dropout, num_layers)
        for arg, value in (("bias", bias), ("batch_first", batch_first)):
            if not isinstance(value, bool):
                raise TypeError(f"{arg} should be of type bool, got: {type(value).__name__}")
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int):
                raise TypeError(f"{arg} should be of type int, got: {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{arg} must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}; got {init!r}")

        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self.init = init
        self.fast = fast
        self._step = STEPS[mode]

        factory = {"device": device, "dtype": dtype}
        gate_size = GATES[mode] * hidden_size
        out_size = proj_size or hidden_size
        directions = 2 if bidirectional else 1
        self._all_weights: list[list[str]] = []
        # Same registration order as torch.nn, so reset_parameters() draws the
        # same random numbers and a seeded model equals its torch.nn twin.
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else out_size * directions
            for direction in range(directions):
                suffix = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih", (gate_size, layer_input)),
                          ("weight_hh", (gate_size, out_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size:
                    shapes += [("weight_hr", (proj_size, hidden_size))]
                names = []
                for stem, shape in shapes:
                    name = f"{stem}_l{layer}{suffix}"
                    setattr(self, name, nn.Parameter(torch.empty(shape, **factory)))
                    names.append(name)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise all weights with the scheme given as ``init``."""
        init_weights(self, self.init)

    def flatten_parameters(self) -> None:
        """No-op, kept so code written for torch.nn (which calls it) runs unchanged."""

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _layer_weights(self, layer: int, direction: int):
        suffix = "_reverse" if direction == 1 else ""
        get = lambda stem: getattr(self, f"{stem}_l{layer}{suffix}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), get("weight_hr")

    def _state_shapes(self, batch: int) -> list[tuple[int, int, int]]:
        rows = self.num_layers * (2 if self.bidirectional else 1)
        h = (rows, batch, self.proj_size or self.hidden_size)
        return [h, (rows, batch, self.hidden_size)] if self.mode == "LSTM" else [h]

    def forward(self, input: Tensor | PackedSequence, hx=None):
        """Same contract as torch.nn: returns ``(output, h_n)``, or ``(output, (h_n, c_n))``
        for LSTM. Arguments are checked as torch.nn checks them, in the same order, raising
        the same exception types with the same messages."""
        lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        if hx is not None:
            hx = (hx[0], hx[1], *hx[2:]) if lstm else (hx,)  # hx[1] raises IndexError as torch's
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            sizes = batch_sizes.tolist()
            batch, unbatched = sizes[0], False
            if hx is not None and sorted_indices is not None:  # torch permutes hx, then checks it
                hx = tuple(s.index_select(1, sorted_indices) for s in hx)
        else:
            if input.dim() not in (2, 3):
                name = _NAMES[self.mode]
                tensor = " tensor" if name == "RNN" else ""  # torch's wording differs by class
                raise ValueError(f"{name}: Expected input to be 2D or 3D, "
                                 f"got {input.dim()}D{tensor} instead")
            unbatched = input.dim() == 2
            if hx is not None:
                self._check_hx_dims(hx, unbatched)
                if unbatched:
                    hx = tuple(s.unsqueeze(1) for s in hx)
            x = input.unsqueeze(1) if unbatched else (
                input.transpose(0, 1) if self.batch_first else input)
            steps, batch = x.shape[0], x.shape[1]
            data = x.reshape(steps * batch, x.shape[2])
            sizes = [batch] * steps
            sorted_indices = unsorted_indices = None
        self._check_input(data, packed)
        hx = self._initial_state(hx, batch, data)
        if not sizes:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")

        # The fused Functions have no forward-mode or functorch rule: the reference loop does.
        fast = self.fast and not (_functorch_active() or forward_ad._current_level >= 0)
        looking = probe.active()  # rnnlab inspect: the reference loop shows every step
        fast = fast and looking is None
        directions = 2 if self.bidirectional else 1
        finals: list[State] = []
        layer_input = looking.take_input(data, "rows", sizes) if looking else data
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._layer_weights(layer, direction)
                row = layer * directions + direction
                state = tuple(s[row] for s in hx)
                if looking:
                    looking.at(layer, direction == 1)
                if fast:
                    out, final = fused.scan(self.mode, layer_input, w_ih, b_ih, sizes, state,
                                            w_hh, b_hh, w_hr, reverse=direction == 1)
                else:
                    gi = F.linear(layer_input, w_ih, b_ih)  # all steps in one matmul
                    out, final = scan(self._step, gi, sizes, state, w_hh, b_hh, w_hr,
                                      reverse=direction == 1)
                outs.append(out)
                finals.append(final)
            layer_input = outs[0] if directions == 1 else torch.cat(outs, dim=1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)

        hidden = tuple(torch.stack([f[k] for f in finals]) for k in range(len(finals[0])))
        if unsorted_indices is not None:
            hidden = tuple(s.index_select(1, unsorted_indices) for s in hidden)
        if packed:
            output = PackedSequence(layer_input, batch_sizes, sorted_indices, unsorted_indices)
        else:
            output = layer_input.view(len(sizes), batch, layer_input.shape[1])
            if unbatched:
                output = output.squeeze(1)
                hidden = tuple(s.squeeze(1) for s in hidden)
            elif self.batch_first:
                output = output.transpose(0, 1)
        return output, (hidden if lstm else hidden[0])

    def _check_hx_dims(self, hx: State, unbatched: bool) -> None:
        want = 2 if unbatched else 3
        if all(s.dim() == want for s in hx[:2]):
            return
        kind = f"{'unbatched 2-D' if unbatched else 'batched 3-D'} input"
        if self.mode == "LSTM":
            raise RuntimeError(f"For {kind}, hx and cx should also be {want}-D but got "
                               f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
        raise RuntimeError(f"For {kind}, hx should also be {want}-D but got "
                           f"{hx[0].dim()}-D tensor")

    def _check_input(self, data: Tensor, packed: bool) -> None:
        weight = self.weight_ih_l0
        if data.dtype != weight.dtype:
            raise ValueError(f"RNN input dtype ({data.dtype}) does not match weight dtype "
                             f"({weight.dtype}). Convert input: input.to({weight.dtype}), "
                             f"or convert model: model.to({data.dtype})")
        if packed and data.dim() != 2:
            raise RuntimeError(f"input must have 2 dimensions, got {data.dim()}")
        if data.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {data.shape[-1]}")

    def _initial_state(self, hx: State | None, batch: int, data: Tensor) -> State:
        shapes = self._state_shapes(batch)
        if hx is None:
            return tuple(torch.zeros(s, dtype=data.dtype, device=data.device) for s in shapes)
        lstm = self.mode == "LSTM"
        for k, (s, shape) in enumerate(zip(hx, shapes)):
            if tuple(s.shape) != shape:
                which = f"hidden[{k}] " if lstm else "hidden "
                raise RuntimeError(f"Expected {which}size {shape}, got {list(s.shape)}")
        if lstm and len(hx) != 2:
            raise RuntimeError("lstm expects two hidden states")
        for s in hx:
            if s.dtype != data.dtype:  # torch fails inside its kernels (RuntimeError), less clearly
                raise RuntimeError(f"hx dtype ({s.dtype}) does not match input dtype "
                                   f"({data.dtype})")
        return hx

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False), ("init", "default"),
                              ("fast", True)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)!r}"
        return s


def _reject_proj_size(kwargs: dict) -> None:
    """torch.nn.RNN and GRU refuse ``proj_size`` (even 0) with this ValueError; other unknown
    keywords go on to ``RNNBase.__init__``, whose TypeError names them as torch's does."""
    if "proj_size" in kwargs:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")


class RNN(RNNBase):
    """Elman RNN: ``torch.nn.RNN``'s arguments plus the keyword-only ``init`` and ``fast``;
    every other difference from torch.nn is listed in :class:`RNNBase`."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None,
                 *, init: str = "default", fast: bool = True, **kwargs) -> None:
        _reject_proj_size(kwargs)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, device, dtype, init=init, fast=fast, **kwargs)


class LSTM(RNNBase):
    """LSTM: ``torch.nn.LSTM``'s arguments (``proj_size`` included) plus the keyword-only
    ``init`` and ``fast``; every other difference from torch.nn is listed in :class:`RNNBase`."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None,
                 *, init: str = "default", fast: bool = True) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype, init=init,
                         fast=fast)


class GRU(RNNBase):
    """GRU: ``torch.nn.GRU``'s arguments plus the keyword-only ``init`` and ``fast``;
    every other difference from torch.nn is listed in :class:`RNNBase`."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None,
                 *, init: str = "default", fast: bool = True, **kwargs) -> None:
        _reject_proj_size(kwargs)
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype, init=init, fast=fast,
                         **kwargs)
