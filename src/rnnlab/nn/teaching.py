"""The textbook forms of the lab: one weight matrix per gate, one Python loop over time.

Read these to see the equations of the slides in code; train with
``rnnlab.nn.RNN/LSTM/GRU``, which compute the same thing faster. Weights are
laid out as on the slides, ``x_t @ w`` with ``w`` of shape (input, hidden), and
every form can copy its weights from the torch.nn layer it mirrors
(:meth:`load_from_torch`), after which both give the same numbers.

Each gate has one bias, as in the textbook; torch.nn keeps two (``b_ih`` and
``b_hh``) whose sum plays that role. Copying weights adds them, so the function
is the same, but training moves one bias where torch.nn moves two: from the
same start, the teaching forms follow a slightly different training path.

Inputs are batch-first ``(batch, time, features)`` as in the lab's code. An
optional ``lengths`` tensor handles padded batches by freezing each sequence's
state after its last step (masking: simple to read, not fast).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from . import probe
from .layers import INITS


def _weights(module: nn.Module, layer: int, reverse: bool) -> dict[str, Tensor]:
    """The torch.nn parameters of one layer and direction, by short name."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return {n: getattr(module, n + suffix) for n in names if hasattr(module, n + suffix)}


class _TeachingCell(nn.Module):
    """Shared loop of the naive forms: ``step`` is what each subclass writes out."""

    num_states = 1

    def reset_parameters(self) -> None:
        for p in self.parameters():  # the slides' choice: Xavier for matrices, zero bias
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def step(self, x_t: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        raise NotImplementedError

    def forward(self, x: Tensor, state: tuple[Tensor, ...] | Tensor | None = None,
                lengths: Tensor | None = None):
        """x: (batch, time, input). Returns (outputs (batch, time, hidden), final state)."""
        batch, steps, _ = x.shape
        if state is None:
            state = tuple(x.new_zeros(batch, self.hidden_size) for _ in range(self.num_states))
        elif isinstance(state, Tensor):
            state = (state,)
        outputs = []
        looking = probe.active()
        for t in range(steps):
            new = self.step(x[:, t, :], state)
            if lengths is not None:  # sequences already finished keep their state
                alive = (t < lengths).to(x.device).unsqueeze(1)
                new = tuple(torch.where(alive, n, s) for n, s in zip(new, state))
                outputs.append(torch.where(alive, new[0], torch.zeros_like(new[0])))
            else:
                outputs.append(new[0])
            if looking:
                looking.record(h=new[0])
            state = new
        final = state if self.num_states > 1 else state[0]
        return torch.stack(outputs, dim=1), final


class NaiveRNN(_TeachingCell):
    """h_t = tanh(x_t W_h + h_{t-1} U_h + b_h)  -- the slides' hidden-state update."""

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh") -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.w_h = nn.Parameter(torch.empty(input_size, hidden_size))
        self.u_h = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.b_h = nn.Parameter(torch.zeros(hidden_size))
        self.act = torch.tanh if nonlinearity == "tanh" else torch.relu
        self.reset_parameters()

    def step(self, x_t, state):
        (h,) = state
        return (self.act(x_t @ self.w_h + h @ self.u_h + self.b_h),)

    @torch.no_grad()
    def load_from_torch(self, module: nn.Module, layer: int = 0, reverse: bool = False) -> None:
        """Copy weights from a torch.nn.RNN (or rnnlab.nn.RNN) layer; the two biases add up."""
        w = _weights(module, layer, reverse)
        self.w_h.copy_(w["weight_ih"].T)
        self.u_h.copy_(w["weight_hh"].T)
        self.b_h.copy_(w["bias_ih"] + w["bias_hh"])


class MyRNN(NaiveRNN):
    """The lab's ``MyRNN`` exactly as on the slides: an RNN with its own output layer.

    y_t = leaky_relu(h_t W_y + b_y); ``forward`` returns (last hidden state,
    outputs of every step), as the slides do.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__(input_size, hidden_size)
        self.w_y = nn.Parameter(torch.empty(hidden_size, output_size))
        self.b_y = nn.Parameter(torch.zeros(output_size))
        self.reset_parameters()

    def forward(self, x: Tensor):  # type: ignore[override]
        hidden, h = super().forward(x)
        y = F.leaky_relu(hidden @ self.w_y + self.b_y)
        return h, y


class NaiveLSTM(_TeachingCell):
    """LSTM with one (W, U, b) triple per gate, as on the slides:

    i = sigmoid(x W_i + h U_i + b_i)     input gate
    f = sigmoid(x W_f + h U_f + b_f)     forget gate
    c~ = tanh(x W_c + h U_c + b_c)       candidate cell
    o = sigmoid(x W_o + h U_o + b_o)     output gate
    c' = f * c + i * c~,   h' = o * tanh(c')
    """

    num_states = 2
    gates = ("i", "f", "c", "o")  # torch.nn's order i, f, g, o (g is the candidate c~)

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        for g in self.gates:
            setattr(self, f"w_{g}", nn.Parameter(torch.empty(input_size, hidden_size)))
            setattr(self, f"u_{g}", nn.Parameter(torch.empty(hidden_size, hidden_size)))
            setattr(self, f"b_{g}", nn.Parameter(torch.zeros(hidden_size)))
        self.reset_parameters()

    def step(self, x_t, state):
        h, c = state
        i = torch.sigmoid(x_t @ self.w_i + h @ self.u_i + self.b_i)
        f = torch.sigmoid(x_t @ self.w_f + h @ self.u_f + self.b_f)
        c_tilde = torch.tanh(x_t @ self.w_c + h @ self.u_c + self.b_c)
        o = torch.sigmoid(x_t @ self.w_o + h @ self.u_o + self.b_o)
        c = f * c + i * c_tilde
        h = o * torch.tanh(c)
        if probe.active():  # rnnlab inspect: the gates of this step (h after masking)
            probe.active().record(i=i, f=f, g=c_tilde, o=o, c=c)
        return h, c

    @torch.no_grad()
    def load_from_torch(self, module: nn.Module, layer: int = 0, reverse: bool = False) -> None:
        """Copy weights from a torch.nn.LSTM layer (its stacked blocks are i, f, g, o)."""
        w = _weights(module, layer, reverse)
        blocks = zip(self.gates, w["weight_ih"].chunk(4), w["weight_hh"].chunk(4),
                     (w["bias_ih"] + w["bias_hh"]).chunk(4))
        for g, w_ih, w_hh, b in blocks:
            getattr(self, f"w_{g}").copy_(w_ih.T)
            getattr(self, f"u_{g}").copy_(w_hh.T)
            getattr(self, f"b_{g}").copy_(b)


class NaiveGRU(_TeachingCell):
    """GRU with one weight pair per gate:

    r = sigmoid(x W_r + h U_r + b_r)                 reset gate
    z = sigmoid(x W_z + h U_z + b_z)                 update gate
    n = tanh(x W_n + b_n + r * (h U_n + b_hn))       candidate (torch.nn / cuDNN form)
    h' = (1 - z) * n + z * h

    With ``reset_after=False`` the candidate is the slides' (and Cho et al.'s)
    ``tanh(x W_n + (r * h) U_n + b_n)``: the reset gate acts before the matrix
    product. Both are GRUs; only ``reset_after=True`` equals torch.nn.GRU. The
    slides also write the update as ``(1 - z) * h + z * n``: the same cell with
    z relabelled as 1 - z.
    """

    gates = ("r", "z", "n")

    def __init__(self, input_size: int, hidden_size: int, reset_after: bool = True) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.reset_after = reset_after
        for g in self.gates:
            setattr(self, f"w_{g}", nn.Parameter(torch.empty(input_size, hidden_size)))
            setattr(self, f"u_{g}", nn.Parameter(torch.empty(hidden_size, hidden_size)))
            setattr(self, f"b_{g}", nn.Parameter(torch.zeros(hidden_size)))
        if reset_after:
            self.b_hn = nn.Parameter(torch.zeros(hidden_size))
        self.reset_parameters()

    def step(self, x_t, state):
        (h,) = state
        r = torch.sigmoid(x_t @ self.w_r + h @ self.u_r + self.b_r)
        z = torch.sigmoid(x_t @ self.w_z + h @ self.u_z + self.b_z)
        if self.reset_after:
            n = torch.tanh(x_t @ self.w_n + self.b_n + r * (h @ self.u_n + self.b_hn))
        else:
            n = torch.tanh(x_t @ self.w_n + (r * h) @ self.u_n + self.b_n)
        if probe.active():  # rnnlab inspect: the gates of this step (h after masking)
            probe.active().record(r=r, z=z, n=n)
        return ((1 - z) * n + z * h,)

    @torch.no_grad()
    def load_from_torch(self, module: nn.Module, layer: int = 0, reverse: bool = False) -> None:
        """Copy weights from a torch.nn.GRU layer (blocks r, z, n; b_hn stays inside r * (.))."""
        if not self.reset_after:
            raise ValueError("only a NaiveGRU with reset_after=True has torch.nn.GRU's form")
        w = _weights(module, layer, reverse)
        b_ih, b_hh = w["bias_ih"].chunk(3), w["bias_hh"].chunk(3)
        for k, g in enumerate(self.gates):
            getattr(self, f"w_{g}").copy_(w["weight_ih"].chunk(3)[k].T)
            getattr(self, f"u_{g}").copy_(w["weight_hh"].chunk(3)[k].T)
        self.b_r.copy_(b_ih[0] + b_hh[0])
        self.b_z.copy_(b_ih[1] + b_hh[1])
        self.b_n.copy_(b_ih[2])
        self.b_hn.copy_(b_hh[2])


_CELLS = {"RNN_TANH": NaiveRNN, "RNN_RELU": NaiveRNN, "LSTM": NaiveLSTM, "GRU": NaiveGRU}


def _reverse_padded(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each sequence of a batch-first tensor within its own length."""
    if lengths is None:
        return x.flip(1)
    steps = x.shape[1]
    t = torch.arange(steps).unsqueeze(0)
    lengths = lengths.unsqueeze(1)
    index = torch.where(t < lengths, lengths - 1 - t, t).to(x.device)
    return x.gather(1, index.unsqueeze(2).expand_as(x))


def _pack_like(padded: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack a batch-first tensor with exactly the layout (and order) of ``like``."""
    order = like.sorted_indices
    if order is None:
        order = torch.arange(int(like.batch_sizes[0]))
    order = order.to(padded.device)
    rows = torch.cat([order[:bs] for bs in like.batch_sizes.tolist()])
    steps = torch.cat([torch.full((bs,), t) for t, bs in enumerate(like.batch_sizes.tolist())])
    return PackedSequence(padded[rows, steps.to(padded.device)], like.batch_sizes,
                          like.sorted_indices, like.unsorted_indices)


class TeachingRNN(nn.Module):
    """A stack of the naive cells behind torch.nn's interface.

    Lets an experiment switch ``impl`` between ``scratch``, ``torch`` and
    ``teaching`` with one config value: layers, directions, dropout between
    layers, ``batch_first``, initial state and PackedSequence input all work;
    ``bias=False`` and ``proj_size`` do not exist in the textbook forms.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False) -> None:
        super().__init__()
        if not bias:
            raise ValueError("the teaching forms always have biases; use impl 'scratch' "
                             "or 'torch' for bias=False")
        self.mode, self.hidden_size, self.num_layers = mode, hidden_size, num_layers
        self.batch_first, self.dropout, self.bidirectional = batch_first, dropout, bidirectional
        directions = 2 if bidirectional else 1
        cell = _CELLS[mode]
        extra = {"nonlinearity": "relu"} if mode == "RNN_RELU" else {}
        self.cells = nn.ModuleDict()
        for layer in range(num_layers):
            size = input_size if layer == 0 else hidden_size * directions
            for d in range(directions):
                self.cells[f"l{layer}" + ("_reverse" if d else "")] = cell(size, hidden_size, **extra)

    @torch.no_grad()
    def load_from_torch(self, module: nn.Module) -> None:
        """Copy every layer and direction from a torch.nn (or rnnlab.nn) layer."""
        for name, cell in self.cells.items():
            cell.load_from_torch(module, int(name[1:].split("_")[0]), name.endswith("_reverse"))

    @torch.no_grad()
    def reset_parameters(self, scheme: str = "default") -> None:
        """Initialise like rnnlab.nn.init_weights: 'default' is torch's U(-1/sqrt(H), 1/sqrt(H))."""
        if scheme not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}; got {scheme!r}")
        bound = self.hidden_size ** -0.5
        for name, p in self.named_parameters():
            recurrent = name.rsplit(".", 1)[-1].startswith("u_")
            if scheme == "default":
                nn.init.uniform_(p, -bound, bound)
            elif p.dim() == 1:
                p.zero_()
            elif scheme == "kaiming":
                nn.init.kaiming_uniform_(p.T, nonlinearity="relu")  # fan_in of x @ w is rows of w
            elif scheme == "orthogonal" and recurrent:
                nn.init.orthogonal_(p)
            else:
                nn.init.xavier_uniform_(p)

    def forward(self, input, hx=None):
        lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        if packed:
            x, lengths = pad_packed_sequence(input, batch_first=True)
        else:
            unbatched = input.dim() == 2
            x = input.unsqueeze(0 if self.batch_first else 1) if unbatched else input
            x = x if self.batch_first else x.transpose(0, 1)
            lengths = None
            if unbatched and hx is not None:
                hx = tuple(s.unsqueeze(1) for s in hx) if lstm else hx.unsqueeze(1)
        states = (hx if lstm else (hx,)) if hx is not None else None
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
                row = layer * directions + d
                cell = self.cells[f"l{layer}" + ("_reverse" if d else "")]
                s0 = None if states is None else tuple(s[row] for s in states)
                seq = _reverse_padded(x, lengths) if d else x
                out, final = cell(seq, s0, lengths)
                outs.append(_reverse_padded(out, lengths) if d else out)
                finals.append(final if isinstance(final, tuple) else (final,))
            x = torch.cat(outs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        hidden = tuple(torch.stack([f[k] for f in finals]) for k in range(len(finals[0])))
        if packed:
            output = _pack_like(x, input)
        else:
            output = x if self.batch_first else x.transpose(0, 1)
            if unbatched:
                output = output.squeeze(0 if self.batch_first else 1)
                hidden = tuple(s.squeeze(1) for s in hidden)
        return output, (hidden if lstm else hidden[0])
