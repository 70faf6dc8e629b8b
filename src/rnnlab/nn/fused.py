"""Fast path: one layer-direction of RNN / LSTM / GRU as a single autograd Function.

The reference loop (``layers._scan`` over the steps of :mod:`cells`) lets autograd
record every small operation of every step, then replays them backwards one by
one. Here the whole sequence is one node of the graph:

- forward writes every step into preallocated buffers (gates, cell states,
  outputs) with in-place kernels: LSTM 8, GRU 7, RNN 2 kernels per step;
- it keeps only what backward needs: the activated gates, cell states (LSTM),
  the hidden-side n pre-activation (GRU) and the outputs;
- backward first computes, for all steps at once, every factor that depends on
  forward values only (sigmoid and tanh derivatives, products of gates), so the
  per-step backward is a handful of fused multiplies and one matmul (RNN 3,
  LSTM 5, GRU 7 kernels);
- the input projection of all steps is one matmul that writes the gate buffer
  directly; weight gradients of all steps come from one matmul each at the end
  (``dW_hh = dG^T @ H_prev``, ``dW_ih = dG^T @ X``, ``dX = dG @ W_ih``).

Packed sequences run as in torch.nn: the active batch of step t is
``batch_sizes[t]`` rows, sequences sorted longest first; no masking. The
backward is not itself differentiable (no double backward); use
``fast=False`` for that.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable


class _Plan:
    """Where the rows of each step sit, in the order the steps run.

    Step t owns rows ``offset[t] : offset[t] + sizes[t]`` of the time-major
    packed layout; the reverse direction runs the steps last to first.
    """

    def __init__(self, sizes: list[int], reverse: bool) -> None:
        offsets = [0]
        for bs in sizes:
            offsets.append(offsets[-1] + bs)
        order = range(len(sizes) - 1, -1, -1) if reverse else range(len(sizes))
        self.steps = [(offsets[t], sizes[t]) for t in order]  # (first row, rows), run order
        self.batch = max(sizes)

    def prev(self, k: int, buf: Tensor, s0: Tensor) -> Tensor:
        """The state step ``k`` starts from: the previous step's rows, topped up from s0
        for sequences that start here (reverse direction of a packed batch)."""
        bs = self.steps[k][1]
        if k == 0:
            return s0[:bs]
        off, prev_bs = self.steps[k - 1]
        if bs <= prev_bs:
            return buf[off:off + bs]
        return torch.cat([buf[off:off + prev_bs], s0[prev_bs:bs]])

    def gather_prev(self, buf: Tensor, s0: Tensor) -> Tensor:
        """``prev`` of every step, laid out like ``buf`` (one cat over all steps)."""
        pieces = sorted(((off, self.prev(k, buf, s0)) for k, (off, _) in enumerate(self.steps)),
                        key=lambda p: p[0])
        return torch.cat([p for _, p in pieces])

    def finals(self, buf: Tensor) -> Tensor:
        """Each sequence's state after its own last step, in batch order."""
        pieces = []
        for k, (off, bs) in enumerate(self.steps):
            nxt = self.steps[k + 1][1] if k + 1 < len(self.steps) else 0
            if nxt < bs:  # rows nxt..bs take no further step
                pieces.append((nxt, buf[off + nxt:off + bs]))
        pieces.sort(key=lambda p: p[0])
        return torch.cat([p for _, p in pieces])


def _project(x: Tensor, w_ih: Tensor, bias: Tensor | None) -> Tensor:
    """Input projection of all steps in one matmul, into a buffer the scan then owns."""
    return x.mm(w_ih.t()) if bias is None else torch.addmm(bias, x, w_ih.t())


def _project_grads(dgi: Tensor, x: Tensor, w_ih: Tensor, need: tuple[bool, bool, bool]):
    """Gradients of x, W_ih and b_ih from dL/d(projection): one matmul each over all steps."""
    return (dgi.mm(w_ih) if need[0] else None, dgi.t().mm(x) if need[1] else None,
            dgi.sum(0) if need[2] else None)


def _own(grad: Tensor) -> Tensor:
    """A contiguous copy of an incoming gradient that backward may update in place."""
    return grad.clone(memory_format=torch.contiguous_format)


class RNNScan(Function):
    """Elman RNN over a whole sequence: h' = act(gi + h W_hh^T + b_hh)."""

    @staticmethod
    def forward(ctx, x, w_ih, b_ih, h0, w_hh, b_hh, relu: bool, plan: _Plan):
        out = _project(x, w_ih, None if b_ih is None else b_ih + b_hh)  # pre-activations, then h
        w_t = w_hh.t()
        for k, (off, bs) in enumerate(plan.steps):
            a = out[off:off + bs]
            a.addmm_(plan.prev(k, out, h0), w_t)
            a.relu_() if relu else a.tanh_()
        h_n = plan.finals(out)
        ctx.save_for_backward(x, w_ih, out, h0, w_hh)
        ctx.relu, ctx.plan = relu, plan
        return out, h_n

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hn):
        x, w_ih, out, h0, w_hh = ctx.saved_tensors
        plan = ctx.plan
        # dG holds the activation derivative of every step, then (in place) dL/d pre-activation.
        dg = (out > 0).to(out.dtype) if ctx.relu else torch.mul(out, out).neg_().add_(1)
        dh_state = _own(d_hn)
        for off, bs in reversed(plan.steps):
            dh = dh_state[:bs].add_(d_out[off:off + bs])
            g = dg[off:off + bs].mul_(dh)
            torch.mm(g, w_hh, out=dh_state[:bs])
        need = ctx.needs_input_grad
        d_x, d_wih, d_bih = _project_grads(dg, x, w_ih, need[:3])
        d_w = dg.t().mm(plan.gather_prev(out, h0)) if need[4] else None
        d_b = dg.sum(0) if need[5] else None  # b_hh enters exactly as b_ih does
        return d_x, d_wih, d_bih, dh_state, d_w, d_b, None, None


class LSTMScan(Function):
    """LSTM over a whole sequence (gates i, f, g, o; optional projection W_hr)."""

    @staticmethod
    def forward(ctx, x, w_ih, b_ih, h0, c0, w_hh, b_hh, w_hr, plan: _Plan):
        hidden = c0.shape[1]
        n = x.shape[0]
        a_all = _project(x, w_ih, None if b_ih is None else b_ih + b_hh)  # activated in place
        c_all = x.new_empty(n, hidden)
        tc_all = x.new_empty(n, hidden)  # tanh(c)
        hr_all = x.new_empty(n, hidden) if w_hr is not None else None  # h before projection
        out = x.new_empty(n, w_hr.shape[0] if w_hr is not None else hidden)
        w_t = w_hh.t()
        i_, f_, g_, o_ = (slice(j * hidden, (j + 1) * hidden) for j in range(4))
        for k, (off, bs) in enumerate(plan.steps):
            rows = slice(off, off + bs)
            a = a_all[rows]
            a.addmm_(plan.prev(k, out, h0), w_t)
            a[:, :2 * hidden].sigmoid_()
            a[:, g_].tanh_()
            a[:, o_].sigmoid_()
            c = c_all[rows]
            torch.mul(a[:, f_], plan.prev(k, c_all, c0), out=c)
            c.addcmul_(a[:, i_], a[:, g_])
            tc = torch.tanh(c, out=tc_all[rows])
            if w_hr is None:
                torch.mul(a[:, o_], tc, out=out[rows])
            else:
                torch.mm(torch.mul(a[:, o_], tc, out=hr_all[rows]), w_hr.t(), out=out[rows])
        h_n, c_n = plan.finals(out), plan.finals(c_all)
        ctx.save_for_backward(x, w_ih, a_all, c_all, tc_all, hr_all, out, h0, c0, w_hh, w_hr)
        ctx.plan = plan
        return out, h_n, c_n

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hn, d_cn):
        x, w_ih, a_all, c_all, tc_all, hr_all, out, h0, c0, w_hh, w_hr = ctx.saved_tensors
        plan = ctx.plan
        hidden = c0.shape[1]
        i, f, g, o = a_all.split(hidden, dim=1)
        # Per-step factors that depend on forward values only, for all steps at once:
        # dG = [dc*g*i(1-i), dc*c_prev*f(1-f), dc*i*(1-g^2), dh*tanh(c)*o(1-o)].
        # In-place chains: every big temporary costs fresh pages on CPU.
        dg = torch.mul(a_all, a_all).neg_().add_(a_all)  # s(1-s); g block replaced below
        dg_i, dg_f, dg_g, dg_o = dg.split(hidden, dim=1)
        dg_i.mul_(g)
        dg_f.mul_(plan.gather_prev(c_all, c0))
        torch.mul(g, g, out=dg_g).neg_().add_(1).mul_(i)
        dg_o.mul_(tc_all)
        dc_from_h = torch.mul(tc_all, tc_all).neg_().add_(1).mul_(o)  # dc += dh*o*(1-tanh(c)^2)
        dh_state, dc_state = _own(d_hn), _own(d_cn)
        dh_all = torch.empty_like(out) if w_hr is not None else None  # for dW_hr
        for off, bs in reversed(plan.steps):
            rows = slice(off, off + bs)
            if w_hr is None:
                dh = dh_state[:bs].add_(d_out[rows])
            else:
                dh = torch.add(dh_state[:bs], d_out[rows], out=dh_all[rows]).mm(w_hr)
            dc = dc_state[:bs].addcmul_(dh, dc_from_h[rows])
            gates = dg[rows].view(bs, 4, hidden)
            gates[:, :3].mul_(dc.unsqueeze(1))
            gates[:, 3].mul_(dh)
            dc.mul_(f[rows])
            torch.mm(dg[rows], w_hh, out=dh_state[:bs])
        need = ctx.needs_input_grad
        d_x, d_wih, d_bih = _project_grads(dg, x, w_ih, need[:3])
        d_w = dg.t().mm(plan.gather_prev(out, h0)) if need[5] else None
        d_b = dg.sum(0) if need[6] else None  # b_hh enters exactly as b_ih does
        d_hr = dh_all.t().mm(hr_all) if w_hr is not None and need[7] else None
        return d_x, d_wih, d_bih, dh_state, dc_state, d_w, d_b, d_hr, None


class GRUScan(Function):
    """GRU over a whole sequence (gates r, z, n; n = tanh(gi_n + r * (W_hn h + b_hn)))."""

    @staticmethod
    def forward(ctx, x, w_ih, b_ih, h0, w_hh, b_hh, plan: _Plan):
        hidden = h0.shape[1]
        rz_, n_ = slice(0, 2 * hidden), slice(2 * hidden, 3 * hidden)
        bias = None
        if b_ih is not None:  # r and z see b_ih + b_hh; b_hn stays inside r * (...)
            bias = torch.cat([b_ih[rz_] + b_hh[rz_], b_ih[n_]])
        a_all = _project(x, w_ih, bias)  # r, z activated in place; n block becomes n
        ghn_all = x.new_empty(x.shape[0], hidden)  # W_hn h + b_hn: backward needs it
        out = x.new_empty(x.shape[0], hidden)
        w_rz, w_n = w_hh[rz_].t(), w_hh[n_].t()
        for k, (off, bs) in enumerate(plan.steps):
            rows = slice(off, off + bs)
            h = plan.prev(k, out, h0)
            a = a_all[rows]
            rz = a[:, rz_].addmm_(h, w_rz).sigmoid_()
            if b_hh is None:
                ghn = torch.mm(h, w_n, out=ghn_all[rows])
            else:
                ghn = torch.addmm(b_hh[n_], h, w_n, out=ghn_all[rows])
            n = a[:, n_].addcmul_(rz[:, :hidden], ghn).tanh_()
            torch.lerp(n, h, rz[:, hidden:], out=out[rows])  # n + z * (h - n), one kernel
        h_n = plan.finals(out)
        ctx.save_for_backward(x, w_ih, a_all, ghn_all, out, h0, w_hh)
        ctx.plan = plan
        return out, h_n

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hn):
        x, w_ih, a_all, ghn, out, h0, w_hh = ctx.saved_tensors
        plan = ctx.plan
        hidden = h0.shape[1]
        r, z, n = a_all.split(hidden, dim=1)
        h_prev = plan.gather_prev(out, h0)
        # dGi = [dn_pre*ghn*r(1-r), dh*(h_prev-n)*z(1-z), dh*(1-z)*(1-n^2)], factors first.
        dgi = torch.empty_like(a_all)
        dr, dz, dn = dgi.split(hidden, dim=1)
        torch.mul(r, r, out=dr).neg_().add_(r).mul_(ghn)
        torch.mul(z, z, out=dz).neg_().add_(z).mul_(h_prev - n)
        torch.mul(n, n, out=dn).neg_().add_(1).mul_(1 - z)
        dghn = torch.empty_like(n)  # dL/d(W_hn h + b_hn) = dn_pre * r
        w_rz, w_n = w_hh[:2 * hidden], w_hh[2 * hidden:]
        dh_state = _own(d_hn)
        for off, bs in reversed(plan.steps):
            rows = slice(off, off + bs)
            dh = dh_state[:bs].add_(d_out[rows])
            gates = dgi[rows].view(bs, 3, hidden)
            gates[:, 1:].mul_(dh.unsqueeze(1))
            gates[:, 0].mul_(gates[:, 2])
            torch.mul(gates[:, 2], r[rows], out=dghn[rows])
            dh.mul_(z[rows])
            dh.addmm_(dgi[rows, :2 * hidden], w_rz).addmm_(dghn[rows], w_n)
        need = ctx.needs_input_grad
        d_x, d_wih, d_bih = _project_grads(dgi, x, w_ih, need[:3])
        d_w = d_b = None
        if need[4]:
            d_w = torch.cat([dgi[:, :2 * hidden].t().mm(h_prev), dghn.t().mm(h_prev)])
        if need[5]:
            d_b = torch.cat([dgi[:, :2 * hidden].sum(0), dghn.sum(0)])
        return d_x, d_wih, d_bih, dh_state, d_w, d_b, None


def scan(mode: str, x: Tensor, w_ih: Tensor, b_ih: Tensor | None, sizes: list[int],
         state: tuple[Tensor, ...], w_hh: Tensor, b_hh: Tensor | None, w_hr: Tensor | None,
         reverse: bool) -> tuple[Tensor, tuple[Tensor, ...]]:
    """One layer-direction over ``x`` (packed row layout, see ``layers._scan``): returns
    the outputs in the same layout and each sequence's final state, in batch order."""
    plan = _Plan(sizes, reverse)
    if mode == "LSTM":
        out, h_n, c_n = LSTMScan.apply(x, w_ih, b_ih, state[0], state[1], w_hh, b_hh, w_hr, plan)
        return out, (h_n, c_n)
    if mode == "GRU":
        out, h_n = GRUScan.apply(x, w_ih, b_ih, state[0], w_hh, b_hh, plan)
    else:
        out, h_n = RNNScan.apply(x, w_ih, b_ih, state[0], w_hh, b_hh, mode == "RNN_RELU", plan)
    return out, (h_n,)
