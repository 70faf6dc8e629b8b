"""The classification networks: token encoder, recurrent layer (or the tutorial's RNN), pooled
summary and a linear head, all over packed batches."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from ...data.padding import last_rows, map_packed, masked_max, masked_mean, unpack
from ...nn import probe

HOURS = 24


class TokenEncoder(nn.Module):
    """Token ids (plus an optional hour-of-day column) -> input vectors, on packed rows only."""

    def __init__(self, vocab_size: int, mode: str, dim: int = 64, hours: bool = False,
                 pretrained: Tensor | None = None, freeze: bool = True) -> None:
        super().__init__()
        self.vocab_size, self.mode, self.hours = vocab_size, mode, hours
        if mode == "word2vec":
            self.embedding = nn.Embedding.from_pretrained(pretrained, freeze=freeze, padding_idx=0)
        elif mode == "learned":
            self.embedding = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.size = (vocab_size if mode == "onehot" else self.embedding.embedding_dim) \
            + (HOURS if hours else 0)
        # follows the model's dtype (.double() for inspect), kept out of the state_dict
        self.register_buffer("dtype_of", torch.zeros(0), persistent=False)

    def forward(self, data: Tensor) -> Tensor:
        ids, dtype = data[:, 0], self.dtype_of.dtype
        x = F.one_hot(ids, self.vocab_size).to(dtype) if self.mode == "onehot" \
            else self.embedding(ids)
        if self.hours:
            x = torch.cat([x, F.one_hot(data[:, 1], HOURS).to(dtype)], dim=1)
        return x


class TutorialRNN(nn.Module):
    """The PyTorch char-RNN tutorial's classifier, batched over packed sequences.

    ``combined = [x_t, h]``; ``h = i2h(combined)`` (no nonlinearity, as in the
    tutorial) and ``out = i2o(combined)``; the output at each sequence's own last
    step goes through LogSoftmax. The parameters are the tutorial's; the batched
    forward computes the same function faster, over packed rows (longest first, the
    active batch shrinking per step, no masking), and applies i2o only where it is
    read: at each sequence's last step.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, packed: PackedSequence) -> Tensor:
        x, sizes = packed.data, packed.batch_sizes.tolist()
        looking = probe.active()  # rnnlab inspect: its input and every step's state
        if looking:
            x = looking.take_input(x, "rows", sizes)
        n_in = x.shape[1]
        # h = i2h([x, h]): the x-part for all steps in one matmul, then one addmm per step
        # over the sequences still running; only the h entering each step is kept.
        xh = F.linear(x, self.i2h.weight[:, :n_in], self.i2h.bias)
        w_h = self.i2h.weight[:, n_in:].t()
        h = x.new_zeros(sizes[0], self.hidden_size)
        entering = []
        for xt, bs in zip(xh.split(sizes), sizes):
            entering.append(h[:bs])
            h = torch.addmm(xt, h[:bs], w_h)
            if looking:
                looking.record(h=h)
        # out = i2o([x, h]) is read at each sequence's own last step only
        last = last_rows(packed.batch_sizes).to(x.device)
        out = self.i2o(torch.cat([x[last], torch.cat(entering)[last]], dim=1))
        if packed.unsorted_indices is not None:
            out = out[packed.unsorted_indices]
        return self.softmax(out)


class SequenceClassifier(nn.Module):
    """Encoder -> recurrent layer over a PackedSequence -> pooled summary -> linear head."""

    def __init__(self, encoder: TokenEncoder, layer: nn.Module, classes: int,
                 pooling: str = "last", head_dropout: float = 0.0,
                 input_dropout: float = 0.0) -> None:
        super().__init__()
        self.encoder, self.rnn, self.pooling = encoder, layer, pooling
        self.tutorial = isinstance(layer, TutorialRNN)
        self.input_dropout = nn.Dropout(input_dropout)
        if not self.tutorial:
            self.directions = 2 if layer.bidirectional else 1
            self.dropout = nn.Dropout(head_dropout)
            self.head = nn.Linear(layer.hidden_size * self.directions, classes)

    def forward(self, packed_ids) -> Tensor:
        x = map_packed(lambda ids: self.input_dropout(self.encoder(ids)), packed_ids)
        if self.tutorial:
            return self.rnn(x)
        out, state = self.rnn(x)
        if self.pooling == "last":  # final state of each sequence, both directions
            h_n = state[0] if isinstance(state, tuple) else state
            summary = torch.cat(list(h_n[-self.directions:]), dim=1)
        else:
            padded, lengths = unpack(out)
            pool = masked_mean if self.pooling == "mean" else masked_max
            summary = pool(padded, lengths)
        return self.head(self.dropout(summary))

