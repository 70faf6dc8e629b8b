"""The parallel path of minGRU and minLSTM: a chunked linear scan with a hand-written backward.

Both cells reduce to one linear recurrence per layer-direction (Feng et al. 2024)::

    h_t = a_t * h_{t-1} + (1 - a_t) * h~_t      minGRU: a = 1 - z;  minLSTM: a = f' = f / (f + i)

whose coefficients depend on the input only, so no step waits for a matrix product.
:func:`linear_scan` computes such a recurrence over T steps in three passes over
chunks of C steps (C about sqrt(T)), each a few elementwise kernels over all chunks
at once instead of T tiny kernels one after another:

1. every chunk's effect on a zero state, and the product of its C coefficients;
2. the state entering every chunk, carried chunk by chunk (T / C small steps);
3. every step again, all chunks at once, each from its own entering state.

Products of coefficients span one chunk only and nothing is ever divided by them, so
gates near 0 (products that underflow) or near 1 cost no precision over long
sequences; rounding is that of a step-by-step loop, plus one multiply-add per chunk.

The backward of h_t = a_t h_{t-1} + b_t is itself a linear recurrence run backwards,
dL/dh_t = dout_t + a_{t+1} dL/dh_{t+1}, so the same scan serves it. :class:`MinScan`
runs one layer-direction, input projection included, as a single autograd node whose
backward is that reverse scan, a handful of elementwise kernels over all steps and one
matmul per gate block for each of dW and dx.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable

Step = Callable[[Tensor, Tensor, Tensor, Tensor], object]
_sigmoid_backward = torch.ops.aten.sigmoid_backward.grad_input  # g * s * (1 - s), into a buffer


def lerp_step(coef: Tensor, inp: Tensor, prev: Tensor, out: Tensor) -> None:
    """out = coef * prev + (1 - coef) * inp, in one kernel."""
    torch.lerp(inp, prev, coef, out=out)


def affine_step(coef: Tensor, inp: Tensor, prev: Tensor, out: Tensor) -> None:
    """out = coef * prev + inp, in one kernel."""
    torch.addcmul(inp, coef, prev, out=out)


def chunk_size(steps: int) -> int:
    """Steps per chunk: about sqrt(T), which balances the loops of passes 1 and 3 (C
    kernels each) against pass 2 (T / C kernels); within 10 % of the best C measured on
    a 2-core CPU for T = 256 ... 4096."""
    return max(1, round(math.sqrt(steps)))


def linear_scan(step: Step, coef: Tensor, inp: Tensor, init: Tensor, out: Tensor,
                reverse: bool = False, chunk: int | None = None) -> None:
    """Write h_t = step(coef_t, inp_t, h_{t-1}) into ``out[t]`` for every t along dim 0.

    ``step`` is affine in h_{t-1} with slope ``coef_t`` (:func:`lerp_step`,
    :func:`affine_step`); ``init`` is h_{-1}. With ``reverse`` time runs from the last
    index to the first. ``coef``, ``inp`` and ``out`` may be strided views (T, ...);
    ``out`` must not overlap the others.
    """
    steps = coef.shape[0]
    size = chunk or chunk_size(steps)
    count = steps // size
    if count < 2:  # too short to split: one step at a time
        size, count = steps, 1
    tail = steps - count * size  # steps after the last whole chunk, run one by one
    body = slice(tail, steps) if reverse else slice(0, count * size)
    cc, ic, oc = (x[body].unflatten(0, (count, size)) for x in (coef, inp, out))
    inner = range(size - 1, -1, -1) if reverse else range(size)

    starts = init.new_empty((count,) + init.shape)
    first = count - 1 if reverse else 0
    starts[first] = init
    if count > 1:
        # 1. each chunk but the last one run, from a zero state; its coefficients' product
        seen = slice(1, None) if reverse else slice(0, -1)
        acc = init.new_zeros((count - 1,) + init.shape)
        for c in inner:
            step(cc[seen, c], ic[seen, c], acc, acc)
        prod = cc[seen].prod(dim=1)
        # 2. the state entering each chunk: h = prod * h_before + acc, chunk by chunk
        order = range(count - 2, -1, -1) if reverse else range(1, count)
        for k in order:
            j = k + 1 if reverse else k - 1  # the chunk run just before chunk k
            jj = j - 1 if reverse else j  # its row in acc and prod (the first chunk has none)
            torch.addcmul(acc[jj], prod[jj], starts[j], out=starts[k])
    # 3. every step of every chunk from its entering state, all chunks at once
    prev = starts
    for c in inner:
        step(cc[:, c], ic[:, c], prev, oc[:, c])
        prev = oc[:, c]
    prev = out[tail] if reverse else out[count * size - 1]
    for t in (range(tail - 1, -1, -1) if reverse else range(count * size, steps)):
        step(coef[t], inp[t], prev, out[t])
        prev = out[t]


# Signs of the gate blocks: forward, the projection of block j is sign_j (W_j x + b_j), so
# that one sigmoid or softplus gives what the scan needs; backward, the gradient kept for
# block j is sign_j times that of W_j x + b_j.
_SIGNS = {"MinGRU": ((-1.0, 1.0), (-1.0, 1.0)),  # [-k_z, p] ; [d(-k_z), dp]
          "MinLSTM": ((-1.0, -1.0, 1.0), (1.0, -1.0, 1.0))}  # [-k_f, -k_i, p] ; [dk_f, -dk_i, dp]


class MinScan(Function):
    """One layer-direction of minGRU or minLSTM, time-major, as one autograd node.

    ``x`` (T * B, in), ``weight`` (G * H, in), ``bias`` (G * H,) or None, ``h0`` (B, H).
    Returns (out (T, B, H), h_n (B, H)); ``reverse`` runs time backwards (h_n = out[0]).

    Per step, with k = W x_t + b split in blocks:
    minGRU   a = 1 - z = sigmoid(-k_z)
    minLSTM  a = f' = f / (f + i) = sigmoid(log f - log i)
               = sigmoid(softplus(-k_i) - softplus(-k_f))  (f + i may underflow: no division)
    both     h~ = g(p) = max(p + 1/2, sigmoid(p)): p + 1/2 for p >= 0, sigmoid(p) below, since
             sigmoid lies under its tangent 1/2 + p/4 for p > 0 and above it for p < 0;
             h_t = a h_{t-1} + (1 - a) h~  (one lerp kernel per chunk position).
    Each gate block is its own (T * B, H) matmul, so every buffer is contiguous (strided
    elementwise kernels run 2-3x slower) and half the size (fresh allocations of 32 MB
    and more are page-faulted in on every call, at about 0.5 ms per MB here).
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None, h0: Tensor, steps: int,
                mode: str, reverse: bool):
        hidden = h0.shape[-1]
        shape = (steps,) + tuple(h0.shape)
        fwd_signs = _SIGNS[mode][0]
        signs = weight.new_tensor(fwd_signs).repeat_interleave(hidden)
        w = weight * signs[:, None]
        b = None if bias is None else bias * signs

        def project(j: int) -> Tensor:
            rows = slice(j * hidden, (j + 1) * hidden)
            g = torch.mm(x, w[rows].t()) if b is None else torch.addmm(b[rows], x, w[rows].t())
            return g.view(shape)

        blocks = [project(j) for j in range(len(fwd_signs) - 1)]
        p = project(len(fwd_signs) - 1)
        cand = torch.empty_like(p)
        if mode == "MinLSTM":  # blocks: -k_f, -k_i, kept for the backward
            # softplus(v) is v above ``threshold`` (default 20: off by exp(-20), 2e-9 in float64)
            a = F.softplus(blocks[1], threshold=40)
            a.sub_(F.softplus(blocks[0], threshold=40)).sigmoid_()
        else:  # block: -k_z, which becomes a in place
            a = blocks.pop().sigmoid_()
        upper = torch.ge(p, 0, out=torch.empty_like(p))  # 1 where g(p) = p + 1/2, as a float
        torch.sigmoid(p, out=cand)
        torch.maximum(cand, p.add_(0.5), out=cand)
        out = p  # the buffer of p is free now
        linear_scan(lerp_step, a, cand, h0, out, reverse)
        ctx.save_for_backward(x, weight, a, cand, upper, out, h0, *blocks)
        ctx.mode, ctx.reverse, ctx.has_bias = mode, reverse, bias is not None
        return out, out[0 if reverse else -1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dout: Tensor | None, dhn: Tensor | None):
        x, weight, a, cand, upper, out, h0, *blocks = ctx.saved_tensors
        hidden = h0.shape[-1]
        dout = torch.zeros_like(out) if dout is None else dout
        # D_t = dL/dh_t = dout_t + a_{t+1} D_{t+1}: the same scan, run against time
        D = torch.empty_like(out)
        last, first = (0, -1) if ctx.reverse else (-1, 0)
        if dhn is None:
            D[last] = dout[last]
        else:
            torch.add(dout[last], dhn, out=D[last])
        if out.shape[0] > 1:
            if ctx.reverse:
                linear_scan(affine_step, a[:-1], dout[1:], D[0], D[1:])
            else:
                linear_scan(affine_step, a[1:], dout[:-1], D[-1], D[:-1], reverse=True)
        dh0 = a[first] * D[first]
        grad = _Gradients(ctx, x, weight, hidden)
        # dL/da_t = D_t (h_{t-1} - h~_t), then through a's sigmoid
        da = torch.empty_like(out)
        now, before = ((slice(0, -1), slice(1, None)) if ctx.reverse
                       else (slice(1, None), slice(0, -1)))
        torch.sub(out[before], cand[now], out=da[now])
        torch.sub(h0, cand[first], out=da[first])
        da.mul_(D)
        _sigmoid_backward(da, a, grad_input=da)
        if ctx.mode == "MinLSTM":  # d softplus(-k) / d(-k) = sigmoid(-k)
            tmp = torch.sigmoid(blocks[0]).mul_(da)
            grad.add(0, tmp)
            grad.add(1, torch.sigmoid(blocks[1], out=tmp).mul_(da))
        else:
            grad.add(0, da)
        # dL/dp = D (1 - a) g'(p), g' = sigmoid' below 0 and 1 from 0 up (lerp by the 0/1 mask)
        D.addcmul_(D, a, value=-1)
        dp = _sigmoid_backward(D, cand, grad_input=da)  # the buffer of da is free now
        grad.add(len(grad.signs) - 1, torch.lerp(dp, D, upper, out=dp))  # the last block, h~
        dx, dw, db = grad.x, grad.w, grad.b
        return dx, dw, db, dh0, None, None, None


class _Gradients:
    """dL/dx, dL/dW and dL/db, added one gate block at a time (``add``), so that the
    buffer holding a block's gradient can be reused as soon as it has been added."""

    def __init__(self, ctx, x: Tensor, weight: Tensor, hidden: int) -> None:
        self.input, self.weight, self.hidden = x, weight, hidden
        self.signs = _SIGNS[ctx.mode][1]
        want_x, want_w, want_b = ctx.needs_input_grad[:3]
        self.want_x, self.x = want_x, None
        self.w = torch.empty_like(weight) if want_w else None
        self.b = weight.new_empty(weight.shape[0]) if want_b and ctx.has_bias else None

    def add(self, j: int, grad: Tensor) -> None:
        """Add block ``j``'s gradient (T, B, H), which is sign_j * dL/d(W_j x + b_j)."""
        s, flat = self.signs[j], grad.view(-1, self.hidden)
        rows = slice(j * self.hidden, (j + 1) * self.hidden)
        if self.w is not None:  # beta=0: the rows' old (uninitialised) values are ignored
            torch.addmm(self.w[rows], flat.t(), self.input, beta=0, alpha=s, out=self.w[rows])
        if self.b is not None:
            torch.sum(flat, 0, out=self.b[rows]).mul_(s)
        if self.want_x and self.x is None:  # beta=0: ``input`` only lends its shape
            self.x = torch.addmm(self.input, flat, self.weight[rows], beta=0, alpha=s)
        elif self.want_x:
            self.x.addmm_(flat, self.weight[rows], alpha=s)
