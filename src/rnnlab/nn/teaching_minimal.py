"""The textbook forms of minGRU and minLSTM: one weight matrix per gate, one loop over time.

Feng et al. (2024), "Were RNNs All We Needed?": take the hidden state out of the gates
of a GRU or an LSTM and what is left is a recurrence that is linear in h, so a whole
sequence can be computed at once (:mod:`rnnlab.nn.minimal` does that with a scan).
Here each equation is one line of code, run one step at a time, as on the slides.

Weights are laid out as in :mod:`rnnlab.nn.teaching`: ``x_t @ w`` with ``w`` of shape
(input, hidden), one bias per gate. :meth:`load_from` copies the weights of a
:class:`~rnnlab.nn.minimal.MinGRU` / :class:`~rnnlab.nn.minimal.MinLSTM` layer (zero
biases when it has none), after which both give the same numbers. Inputs are
batch-first ``(batch, time, features)``; ``lengths`` freezes each sequence's state
after its last step (masking: simple to read, not fast). :class:`TeachingMinRNN`
stacks the cells behind torch.nn's interface.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from . import probe
from .minimal import _pack_as, _reverse_within, g


class _MinTeachingCell(nn.Module):
    """Shared loop of the naive forms: ``step`` is what each subclass writes out."""

    gates: tuple[str, ...] = ()

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        for gate in self.gates:
            setattr(self, f"w_{gate}", nn.Parameter(torch.empty(input_size, hidden_size)))
            setattr(self, f"b_{gate}", nn.Parameter(torch.zeros(hidden_size)))
        for gate in self.gates:  # the slides' choice: Xavier for matrices, zero bias
            nn.init.xavier_uniform_(getattr(self, f"w_{gate}"))

    def step(self, x_t: Tensor, h: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor, h: Tensor | None = None, lengths: Tensor | None = None):
        """x: (batch, time, input). Returns (outputs (batch, time, hidden), final state)."""
        batch, steps, _ = x.shape
        if h is None:
            h = x.new_zeros(batch, self.hidden_size)
        outputs = []
        looking = probe.active()
        for t in range(steps):
            new = self.step(x[:, t, :], h)
            if lengths is not None:  # sequences already finished keep their state
                alive = (t < lengths).to(x.device).unsqueeze(1)
                new = torch.where(alive, new, h)
            if looking:
                looking.record(h=new)
            outputs.append(new)
            h = new
        return torch.stack(outputs, dim=1), h

    @torch.no_grad()
    def load_from(self, module: nn.Module, layer: int = 0, reverse: bool = False) -> None:
        """Copy one layer-direction of a MinGRU / MinLSTM (its stacked rows follow ``gates``)."""
        suffix = f"_l{layer}" + ("_reverse" if reverse else "")
        weight = getattr(module, "weight_ih" + suffix)
        bias = getattr(module, "bias_ih" + suffix, None)
        if bias is None:
            bias = weight.new_zeros(weight.shape[0])
        for gate, w, b in zip(self.gates, weight.chunk(len(self.gates)),
                              bias.chunk(len(self.gates)), strict=True):
            getattr(self, f"w_{gate}").copy_(w.T)
            getattr(self, f"b_{gate}").copy_(b)


class NaiveMinGRU(_MinTeachingCell):
    """minGRU: a GRU whose gates do not look at h, without the reset gate.

    z = sigmoid(x W_z + b_z)          update gate, from the input only
    h~ = g(x W_h + b_h)               candidate; g(v) = v + 1/2 (v >= 0), sigmoid(v) (v < 0)
    h' = (1 - z) * h + z * h~         linear in h: a whole sequence is one scan
    """

    gates = ("z", "h")

    def step(self, x_t: Tensor, h: Tensor) -> Tensor:
        z = torch.sigmoid(x_t @ self.w_z + self.b_z)
        h_tilde = g(x_t @ self.w_h + self.b_h)
        if probe.active():  # rnnlab inspect: the gates of this step
            probe.active().record(z=z, h_tilde=h_tilde)
        return (1 - z) * h + z * h_tilde


class NaiveMinLSTM(_MinTeachingCell):
    """minLSTM: an LSTM whose gates do not look at h, without output gate and cell state.

    f = sigmoid(x W_f + b_f)          forget gate, from the input only
    i = sigmoid(x W_i + b_i)          input gate, from the input only
    f', i' = f / (f + i), i / (f + i) normalised to sum to 1: h keeps its scale over time
    h~ = g(x W_h + b_h)               candidate; g(v) = v + 1/2 (v >= 0), sigmoid(v) (v < 0)
    h' = f' * h + i' * h~
    """

    gates = ("f", "i", "h")

    def step(self, x_t: Tensor, h: Tensor) -> Tensor:
        f = torch.sigmoid(x_t @ self.w_f + self.b_f)
        i = torch.sigmoid(x_t @ self.w_i + self.b_i)
        f_prime, i_prime = f / (f + i), i / (f + i)
        h_tilde = g(x_t @ self.w_h + self.b_h)
        if probe.active():  # rnnlab inspect: the gates of this step
            probe.active().record(f=f_prime, i=i_prime, h_tilde=h_tilde)
        return f_prime * h + i_prime * h_tilde


_CELLS = {"MinGRU": NaiveMinGRU, "MinLSTM": NaiveMinLSTM}


class TeachingMinRNN(nn.Module):
    """A stack of the naive cells behind torch.nn.GRU's interface (layers, directions,
    dropout between layers, batch_first, initial state, unbatched and PackedSequence
    input), so an experiment can switch between this and MinGRU / MinLSTM."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False) -> None:
        super().__init__()
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional = dropout, bidirectional
        directions = 2 if bidirectional else 1
        self.cells = nn.ModuleDict()
        for layer in range(num_layers):
            size = input_size if layer == 0 else hidden_size * directions
            for suffix in ("", "_reverse")[:directions]:
                self.cells[f"l{layer}{suffix}"] = _CELLS[mode](size, hidden_size)

    @torch.no_grad()
    def load_from(self, module: nn.Module) -> None:
        """Copy every layer and direction from a MinGRU / MinLSTM layer."""
        for name, cell in self.cells.items():
            cell.load_from(module, int(name[1:].split("_")[0]), name.endswith("_reverse"))

    def forward(self, input: Tensor | PackedSequence, hx: Tensor | None = None):
        lengths, unbatched = None, False
        if isinstance(input, PackedSequence):
            x, lengths = pad_packed_sequence(input)
        else:
            unbatched = input.dim() == 2
            x = input.unsqueeze(1) if unbatched else (
                input.transpose(0, 1) if self.batch_first else input)
            hx = hx.unsqueeze(1) if unbatched and hx is not None else hx
        x = x.transpose(0, 1)  # the cells take batch-first input
        directions = 2 if self.bidirectional else 1
        finals = []
        looking = probe.active()
        if looking:
            x = looking.take_input(x, "batch_time")
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                if looking:
                    looking.at(layer, d == 1)
                cell = self.cells[f"l{layer}" + ("_reverse" if d else "")]
                h0 = None if hx is None else hx[layer * directions + d]
                seq = self._flip(x, lengths) if d else x
                out, h = cell(seq, h0, lengths)
                outs.append(self._flip(out, lengths) if d else out)
                finals.append(h)
            x = torch.cat(outs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        h_n, output = torch.stack(finals), x.transpose(0, 1)
        if lengths is not None:
            return _pack_as(output, input), h_n
        if unbatched:
            return output.squeeze(1), h_n.squeeze(1)
        return (output.transpose(0, 1) if self.batch_first else output), h_n

    @staticmethod
    def _flip(x: Tensor, lengths: Tensor | None) -> Tensor:
        """Reverse each sequence of a batch-first tensor within its own length."""
        if lengths is None:
            return x.flip(1)
        return _reverse_within(x.transpose(0, 1), lengths).transpose(0, 1)
