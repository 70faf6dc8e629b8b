"""What a model does inside its recurrent layer on a few samples: gates, states, and how far
back the loss reaches (gradient flow through time), measured on the layers that trained it.

The layers record their steps while :func:`rnnlab.nn.probe.probing` is on (their reference
loop, the same function as their fast path); a torch.nn layer is looked at through the
rnnlab.nn layer that holds its weights, proved equal to it.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .. import nn as rnn
from ..nn.probe import probing, stacked
from .base import Sample, Task

# gates whose values lie in (0, 1): their saturation (near 0 or near 1) is reported
SIGMOID_GATES = ("i", "f", "o", "r", "z")
LOW, HIGH = 0.05, 0.95


@dataclass
class Inside:
    """One model on the samples. ``gates[k][name]`` is sample k's (time, hidden) values of the
    first layer, forward direction (first sequence of the sample); ``grad_h[k][t]`` is
    ||dL/dh_t|| of the top layer and ``grad_x[k][t]`` is ||dL/dx_t|| of the input."""

    names: list[str]
    tokens: list[list[str] | None] = field(default_factory=list)
    gates: list[dict[str, np.ndarray]] = field(default_factory=list)
    grad_h: list[list[float]] = field(default_factory=list)
    grad_x: list[list[float]] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)

    def saturation(self) -> dict[str, tuple[float, float]]:
        """Share of each (0, 1) gate's values below 0.05 and above 0.95, over every sample."""
        out = {}
        for name in SIGMOID_GATES:
            values = [g[name].ravel() for g in self.gates if name in g]
            if values:
                v = np.concatenate(values)
                out[name] = (float(np.mean(v < LOW)), float(np.mean(v > HIGH)))
        return out

    def flow_ratio(self) -> float:
        """||dL/dh_1|| / ||dL/dh_T|| (geometric mean over the samples): how much of the
        gradient at the last step reaches the first one (T: the last state the loss reads)."""
        read = [[v for v in g if not math.isnan(v)] for g in self.grad_h]
        ratios = [g[0] / g[-1] for g in read if len(g) > 1 and g[0] > 0 and g[-1] > 0]
        return float(np.exp(np.mean(np.log(ratios)))) if ratios else math.nan

    def mean_from_end(self, curves: list[list[float]]) -> np.ndarray:
        """The curves averaged with their last steps aligned (sequences differ in length)."""
        steps = max((len(c) for c in curves), default=0)
        table = np.full((len(curves), steps), np.nan)
        for k, c in enumerate(curves):
            table[k, steps - len(c):] = c
        with np.errstate(all="ignore"):
            return np.nanmean(table, axis=0) if len(curves) else table[0]


def scratch_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose torch.nn recurrent layers are rnnlab.nn layers with the same
    arguments and weights (torch.nn's fused kernels show no steps)."""
    model = copy.deepcopy(model)
    for name, child in list(model.named_children()):
        if isinstance(child, nn.RNNBase):
            kind = {"LSTM": "lstm", "GRU": "gru"}.get(child.mode, "rnn")
            args = dict(input_size=child.input_size, hidden_size=child.hidden_size,
                        num_layers=child.num_layers, bias=child.bias,
                        batch_first=child.batch_first, dropout=child.dropout,
                        bidirectional=child.bidirectional)
            if kind == "rnn":
                args["nonlinearity"] = child.nonlinearity
            if kind == "lstm" and child.proj_size:
                args["proj_size"] = child.proj_size
            layer = {"lstm": rnn.LSTM, "gru": rnn.GRU, "rnn": rnn.RNN}[kind](**args)
            layer.to(next(child.parameters()))  # its dtype and device
            layer.load_state_dict(child.state_dict())
            setattr(model, name, layer)
        else:
            setattr(model, name, scratch_copy(child))
    return model


def look_inside(task: Task, model: nn.Module, samples: list[Sample]) -> Inside:
    """Run every sample forward and backward with the layers recording their steps."""
    # float64: a gradient that has shrunk by 1e-60 over a long sequence is still measured
    model = scratch_copy(model).double().eval()
    inside = Inside([s.name for s in samples], [s.tokens for s in samples])
    for sample in map(_double, samples):
        with probing() as probe:
            loss = task.sample_loss(model, sample)
            loss.backward()
        probe.finish_reverse()
        layers = sorted(k for k in probe.records if not k.endswith("_reverse"))
        first, top = probe.records.get("l0", {}), layers[-1] if layers else "l0"
        inside.gates.append({name: stacked(values).cpu().numpy()
                             for name, values in first.items()})
        inside.grad_h.append(probe.state_grad_norms(top))
        inside.grad_x.append(probe.input_grad_norms())
        inside.losses.append(float(loss.detach()))
        model.zero_grad(set_to_none=True)
    return inside


def _double(sample: Sample) -> Sample:
    def cast(value):
        return value.double() if torch.is_tensor(value) and value.is_floating_point() else value
    return Sample(tuple(cast(v) for v in sample.inputs), cast(sample.target), sample.name,
                  sample.tokens)


def initial_model(task: Task) -> nn.Module:
    """The model as training began: built from the run's seed as training built it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(task.cfg.seed)
        return task.build_model().to(task.device)
