"""The forecasting network: a recurrent layer over the window, a linear head on its final state."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ForecastNet(nn.Module):
    """A recurrent layer reading the window, a linear head mapping its final state to the forecast.

    Input (batch, history, nodes * features) -> output (batch, horizon, nodes * out_features).
    With ``per_node`` every node is a separate sequence of ``features`` values: the
    batch grows to batch * nodes and all nodes share one set of weights.
    ``out_features`` (default: ``features``) are the predicted features of each node;
    ``residual_index`` says where each of them sits among the input features.
    """

    def __init__(self, rnn_layer: nn.Module, hidden_out: int, horizon: int, nodes: int,
                 features: int, per_node: bool = False, residual: bool = False,
                 out_features: int | None = None, residual_index: list[int] | None = None):
        super().__init__()
        self.rnn = rnn_layer
        out_features = features if out_features is None else out_features
        outputs = out_features if per_node else nodes * out_features
        self.head = nn.Linear(hidden_out, horizon * outputs)
        self.horizon, self.nodes, self.features = horizon, nodes, features
        self.out_features = out_features
        self.per_node, self.residual = per_node, residual
        self.residual_index = (list(range(features)) if residual_index is None
                               else list(residual_index))

    def forward(self, x: Tensor) -> Tensor:
        batch, steps, _ = x.shape
        seq = x
        if self.per_node:
            seq = (x.view(batch, steps, self.nodes, self.features).permute(0, 2, 1, 3)
                   .reshape(batch * self.nodes, steps, self.features))
        _, state = self.rnn(seq)
        h_n = state[0] if isinstance(state, tuple) else state
        directions = 2 if self.rnn.bidirectional else 1
        last = torch.cat(list(h_n[-directions:]), dim=1)  # final layer, all directions
        out = self.head(last)
        if self.per_node:
            out = (out.view(batch, self.nodes, self.horizon, self.out_features)
                   .permute(0, 2, 1, 3))
        out = out.reshape(batch, self.horizon, self.nodes * self.out_features)
        if self.residual:  # the last observed values of the targets, repeated over the horizon
            last_in = x[:, -1].reshape(batch, self.nodes, self.features)[:, :, self.residual_index]
            out = out + last_in.reshape(batch, 1, -1)
        return out

