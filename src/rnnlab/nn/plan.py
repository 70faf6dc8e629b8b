"""The rows of each time step of a (packed) batch, in the order a direction runs them.

A packed batch holds, for step t, the ``batch_sizes[t]`` sequences still running,
longest first. The fused layers (:mod:`fused`) write each step's rows into one
buffer; a :class:`Plan` gives the row views of each step, the state each step
starts from (the reverse direction of a packed batch picks up sequences as they
start), each sequence's final state, and the products with previous states that
backward needs, without copies for dense batches.
"""

from __future__ import annotations

import torch
from torch import Tensor


class Plan:
    """Where the rows of each step sit, in the order the steps run.

    Step t owns rows ``offset[t] : offset[t] + sizes[t]`` of the time-major
    packed layout (``sizes`` = ``batch_sizes``, non-increasing); the reverse
    direction runs the steps last to first.
    """

    def __init__(self, sizes: list[int], reverse: bool) -> None:
        self.sizes, self.reverse = sizes, reverse
        self.run_sizes = sizes[::-1] if reverse else list(sizes)  # rows of each step, run order

    def split(self, buf: Tensor) -> list[Tensor]:
        """Row views of ``buf`` for every step, in run order."""
        views = buf.split(self.sizes)
        return list(views[::-1] if self.reverse else views)

    def prefixes(self, state: Tensor) -> dict[int, Tensor]:
        """``state[:bs]`` for every distinct step size (few: one when the batch is dense)."""
        return {bs: state[:bs] for bs in set(self.sizes)}

    def prev(self, k: int, views: list[Tensor], s0: Tensor) -> Tensor:
        """The state step ``k`` starts from: the previous step's rows, topped up from s0
        for sequences that start here (reverse direction of a packed batch)."""
        bs = self.run_sizes[k]
        if k == 0:
            return s0 if bs == s0.shape[0] else s0[:bs]
        pv, pb = views[k - 1], self.run_sizes[k - 1]
        if bs == pb:
            return pv
        return pv[:bs] if bs < pb else torch.cat([pv, s0[pb:bs]])

    def gather_prev(self, buf: Tensor, s0: Tensor) -> Tensor:
        """``prev`` of every step, laid out like ``buf`` (one cat over all steps)."""
        views = self.split(buf)
        pieces = [self.prev(k, views, s0) for k in range(len(views))]
        return torch.cat(pieces[::-1] if self.reverse else pieces)

    def _dense_split(self, buf: Tensor, s0: Tensor):
        """For a dense batch: (rows whose previous state is s0, rows whose previous state is
        in ``buf``, those previous rows) as views, so no gathered copy is needed."""
        b = self.sizes[0]
        if self.reverse:
            return slice(len(buf) - b, None), slice(0, len(buf) - b), buf[b:]
        return slice(0, b), slice(b, None), buf[:len(buf) - b]

    def prev_t_mm(self, g: Tensor, buf: Tensor, s0: Tensor) -> Tensor:
        """``g^T @ prev`` over all steps (dW_hh); no gathered copy for dense batches."""
        if len(set(self.sizes)) > 1:
            return g.t().mm(self.gather_prev(buf, s0))
        first, rest, prev = self._dense_split(buf, s0)
        return g[first].t().mm(s0).addmm_(g[rest].t(), prev)

    def _with_prev(self, buf: Tensor, s0: Tensor, fn) -> None:
        """``fn(rows, prev)`` over row blocks whose previous states are ``prev``: for dense
        batches two views (first step from s0, the rest from ``buf``), else one gathered copy."""
        if len(set(self.sizes)) > 1:
            fn(slice(None), self.gather_prev(buf, s0))
            return
        first, rest, prev = self._dense_split(buf, s0)
        fn(first, s0)
        fn(rest, prev)

    def mul_prev_(self, t: Tensor, buf: Tensor, s0: Tensor) -> Tensor:
        """``t *= prev`` in place, row by row."""
        self._with_prev(buf, s0, lambda rows, prev: t[rows].mul_(prev))
        return t

    def prev_minus_(self, out: Tensor, buf: Tensor, s0: Tensor, t: Tensor) -> Tensor:
        """``out = prev - t`` row by row, written into ``out``."""
        self._with_prev(buf, s0, lambda rows, prev: torch.sub(prev, t[rows], out=out[rows]))
        return out

    def finals(self, buf: Tensor) -> Tensor:
        """Each sequence's state after its own last step, in batch order."""
        views, pieces = self.split(buf), []
        for k, bs in enumerate(self.run_sizes):
            nxt = self.run_sizes[k + 1] if k + 1 < len(self.run_sizes) else 0
            if nxt < bs:  # rows nxt..bs take no further step
                pieces.append(views[k][nxt:])
        return torch.cat(pieces[::-1]) if pieces else buf[:0]  # empty batch: no rows
