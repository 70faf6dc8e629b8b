"""Look inside a recurrent layer while it runs: every step's gates and states, and its input.

Inside ``with probing() as probe:`` the layers of :mod:`rnnlab.nn` (scratch, teaching
and minimal; their reference step loops) record, per layer and direction, each step's
activated gates and new state, and make the first layer's input a leaf that gradients
reach. After a backward pass, ``probe.state_grad_norms()`` is the norm of dL/dh_t for
every step t (gradient flow through time) and ``probe.input_grad_norms()`` that of dL/dx_t
(which inputs the loss is sensitive to). Outside a probe nothing is recorded: the steps
check one module variable, and the fused fast path, which has no per-step tensors to
show, is left for the reference loop only while probing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

_active: Probe | None = None


def active() -> Probe | None:
    """The probe recording now, or None (the common case)."""
    return _active


@contextmanager
def probing() -> Iterator[Probe]:
    """Record what the layers run inside the block compute."""
    global _active
    probe, previous = Probe(), _active
    _active = probe
    try:
        yield probe
    finally:
        _active = previous


class Probe:
    """What one forward pass recorded: ``records[layer][name]`` is a list over steps (in
    time order) of (batch, hidden) tensors; ``layer`` is ``l0``, ``l0_reverse``, ``l1``, ..."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, list[Tensor]]] = {}
        self.where = "l0"
        self.input: Tensor | None = None
        self._split = None

    def at(self, layer: int, reverse: bool = False) -> None:
        self.where = f"l{layer}" + ("_reverse" if reverse else "")

    def record(self, **values: Tensor) -> None:
        """One step's gates (and its new state ``h``, kept for its gradient)."""
        step = self.records.setdefault(self.where, {})
        for name, value in values.items():
            if name == "h" and value.requires_grad:
                value.retain_grad()
            step.setdefault(name, []).append(value)

    def take_input(self, x: Tensor, layout: str, sizes: list[int] | None = None) -> Tensor:
        """The first layer's input as a leaf whose gradient is kept; ``layout`` says where the
        steps are: ``rows`` (packed rows, ``sizes`` per step), ``batch_time`` or
        ``time_batch``."""
        if self.input is not None:
            return x
        self.input = x.detach().requires_grad_(True)
        self._split = (layout, sizes)
        return self.input

    def finish_reverse(self) -> None:
        """The reverse direction records steps last to first: put them in time order."""
        for layer, names in self.records.items():
            if layer.endswith("_reverse"):
                for values in names.values():
                    values.reverse()

    def states(self, layer: str = "l0") -> list[Tensor]:
        return self.records.get(layer, {}).get("h", [])

    def state_grad_norms(self, layer: str = "l0") -> list[float]:
        """||dL/dh_t|| for every step, after a backward pass (NaN where the loss does not read
        that state at all, as a layer's last state when only the one before it is used)."""
        return [float("nan") if h.grad is None else float(h.grad.norm())
                for h in self.states(layer)]

    def input_grad_norms(self) -> list[float]:
        """||dL/dx_t|| of the first layer's input for every step, after a backward pass."""
        if self.input is None or self.input.grad is None:
            return []
        grad = self.input.grad
        layout, sizes = self._split
        if layout == "rows":
            return [float(block.norm()) for block in grad.split(sizes)]
        if layout == "batch_time":
            grad = grad.transpose(0, 1)
        return [float(grad[t].norm()) for t in range(grad.shape[0])]


def stacked(values: list[Tensor], row: int = 0) -> Tensor:
    """One sequence's values over the steps as a (time, hidden) tensor (``row`` of each step;
    steps where that sequence had already ended are left out)."""
    return torch.stack([v[row].detach() for v in values if v.shape[0] > row])
