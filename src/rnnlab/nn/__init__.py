"""Recurrent layers written from scratch, with the API of torch.nn.

    from rnnlab import nn
    lstm = nn.LSTM(10, 20, num_layers=2, bidirectional=True)   # as torch.nn.LSTM
    cell = nn.LSTMCell(10, 20)                                  # as torch.nn.LSTMCell
    layer = nn.build_rnn("gru", impl="torch", input_size=10, hidden_size=20)

``build_rnn`` switches between the three implementations an experiment can use:
``scratch`` (rnnlab.nn, the default), ``torch`` (torch.nn) and ``teaching`` (the
per-gate textbook forms of :mod:`rnnlab.nn.teaching`). Besides RNN, LSTM and GRU it
builds the parallel-scan minimal cells ``mingru`` and ``minlstm`` (:mod:`.minimal`;
scratch and teaching only: torch.nn has none).
"""

from __future__ import annotations

import torch
from torch import nn as _nn

from .cell_modules import GRUCell, LSTMCell, RNNCell, RNNCellBase
from .layers import GRU, INITS, LSTM, RNN, RNNBase, init_weights
from .minimal import MinGRU, MinLSTM, MinRNNBase
from .teaching import MyRNN, NaiveGRU, NaiveLSTM, NaiveRNN, TeachingRNN
from .teaching_minimal import NaiveMinGRU, NaiveMinLSTM, TeachingMinRNN

KINDS = ("rnn", "lstm", "gru", "mingru", "minlstm")
IMPLS = ("scratch", "torch", "teaching")

__all__ = ["RNN", "LSTM", "GRU", "RNNBase", "RNNCell", "LSTMCell", "GRUCell", "RNNCellBase",
           "MinGRU", "MinLSTM", "MinRNNBase", "MyRNN", "NaiveRNN", "NaiveLSTM", "NaiveGRU",
           "NaiveMinGRU", "NaiveMinLSTM", "TeachingRNN", "TeachingMinRNN", "build_rnn",
           "init_weights", "KINDS", "IMPLS", "INITS"]

_SCRATCH = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
_TORCH = {"rnn": _nn.RNN, "lstm": _nn.LSTM, "gru": _nn.GRU}
_MINIMAL = {"mingru": MinGRU, "minlstm": MinLSTM}


def build_rnn(kind: str, impl: str = "scratch", *, input_size: int, hidden_size: int,
              num_layers: int = 1, nonlinearity: str = "tanh", bias: bool = True,
              batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
              init: str = "default") -> _nn.Module:
    """A recurrent layer of ``kind`` (rnn | lstm | gru | mingru | minlstm) in implementation
    ``impl``.

    All three implementations consume the random number generator the same way,
    so with the same seed they start from identical weights: differences between
    them in an experiment come from the implementation alone.
    """
    kind, impl = kind.lower(), impl.lower()
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    if impl not in IMPLS:
        raise ValueError(f"unknown impl {impl!r}; choose one of {', '.join(IMPLS)}")
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    args = dict(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers,
                bias=bias, batch_first=batch_first, dropout=dropout, bidirectional=bidirectional)
    if kind in _MINIMAL:
        return _build_minimal(kind, impl, init, args)
    if kind == "rnn":
        args["nonlinearity"] = nonlinearity
    if impl == "scratch":
        return _SCRATCH[kind](**args, init=init)
    reference = _SCRATCH[kind](**args, init=init)  # draws the weights all impls share
    # Building the other layer must not draw from the global generator, or the
    # parts of a model created after it (its head) would differ between impls.
    with torch.random.fork_rng(devices=[]):
        if impl == "torch":
            layer = _TORCH[kind](**args)
        else:
            args.pop("nonlinearity", None)
            layer = TeachingRNN(reference.mode, **args)
    if impl == "torch":
        layer.load_state_dict(reference.state_dict())
    else:
        layer.load_from_torch(reference)
    return layer


def _build_minimal(kind: str, impl: str, init: str, args: dict) -> _nn.Module:
    if impl == "torch":
        raise ValueError(f"{kind} has no torch.nn layer; use impl 'scratch' or 'teaching'")
    reference = _MINIMAL[kind](**args)
    if init != "default":
        init_weights(reference, init)
    if impl == "scratch":
        return reference
    with torch.random.fork_rng(devices=[]):  # the head drawn next is the same for both impls
        layer = TeachingMinRNN(reference.mode, **args)
    layer.load_from(reference)
    return layer


def count_parameters(module: torch.nn.Module) -> int:
    """Number of trainable scalars in ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
