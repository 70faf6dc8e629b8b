"""The network of a long-range problem: a recurrent layer and a linear read-out."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MemoryNet(nn.Module):
    """adding: the final state -> one number; copy: every step's output -> the symbol scores.

    Copy inputs are symbol ids, read as one-hot vectors; adding inputs are (value, marker)."""

    def __init__(self, layer: nn.Module, outputs: int, every_step: bool,
                 vocab: int | None = None) -> None:
        super().__init__()
        self.rnn, self.every_step, self.vocab = layer, every_step, vocab
        directions = 2 if layer.bidirectional else 1
        self.head = nn.Linear(layer.hidden_size * directions, outputs)

    def forward(self, x: Tensor) -> Tensor:
        if self.vocab is not None:
            x = F.one_hot(x, self.vocab).to(self.head.weight.dtype)
        out, state = self.rnn(x)
        if self.every_step:
            return self.head(out)
        h_n = state[0] if isinstance(state, tuple) else state
        directions = 2 if self.rnn.bidirectional else 1
        return self.head(torch.cat(list(h_n[-directions:]), dim=1))
