"""Fast path: one layer-direction of RNN / LSTM / GRU as a single autograd Function.

The reference loop (``cells.scan`` over the steps of :mod:`cells`) lets autograd
record every small operation of every step, then replays them backwards one by
one. Here the whole sequence is one node of the graph:

- forward writes every step into preallocated buffers (gates, cell states,
  outputs) with in-place kernels: LSTM 9, GRU 6, RNN 2 kernels per step; the
  per-step row views of every buffer are made by one ``split`` each, so the
  Python loop does no slicing;
- the LSTM's two tanh are computed as ``2 sigmoid(2z) - 1`` (torch's CPU tanh
  costs about 3x its sigmoid), with the g-gate rows of the weights doubled, so
  the four gates of a step take one sigmoid over one contiguous block; in
  float64 this equals tanh to 1e-16, in float32 to 2e-7;
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
``batch_sizes[t]`` rows, sequences sorted longest first; no masking.

The hand-written backward is neither differentiable nor vmap-safe (it updates
its buffers in place). So when a backward must itself be differentiated
(``create_graph=True``: grad mode is on inside backward) or runs under vmap
(``is_grads_batched=True``, ``jacobian(vectorize=True)``: the incoming gradients
are batched tensors), it recomputes the layer-direction with the reference loop
(:func:`cells.scan`) and lets autograd differentiate that: exact second
derivatives and batched gradients, at the cost of one more forward, only there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd import Function

from .cells import STEPS
from .cells import scan as reference_scan
from .plan import Plan

_is_batched = torch._C._functorch.is_batchedtensor
_is_legacy_batched = torch._C._functorch.is_legacy_batchedtensor


def _needs_autograd(grads: tuple[Tensor, ...]) -> bool:
    """True when backward must be differentiable (create_graph=True) or runs under vmap:
    a few C calls (about 1 us), nothing next to the backward itself."""
    if torch.is_grad_enabled():
        return True
    for g in grads:  # (unused outputs' zero gradients are not batched, so check them all)
        if _is_batched(g) or _is_legacy_batched(g):
            return True
    return False


def _autograd_backward(ctx, mode: str, inputs: tuple, grads: tuple[Tensor, ...]) -> list:
    """Gradients of one layer-direction by autograd through the reference loop, recomputed
    from the inputs ``(x, w_ih, b_ih, h0[, c0], w_hh, b_hh, w_hr)`` (the Function's own
    argument order, which ``ctx.needs_input_grad`` follows): differentiable again
    under create_graph, and out of place (vmap-safe). Returns one gradient per input."""
    plan = ctx.plan
    with torch.enable_grad():
        # aliases, so an argument passed twice (h0 is c0) still gets its own gradient
        flat = tuple(t if t is None else t.view_as(t) for t in inputs)
        x, w_ih, b_ih, *state, w_hh, b_hh, w_hr = flat
        out, finals = reference_scan(STEPS[mode], F.linear(x, w_ih, b_ih), plan.sizes,
                                     tuple(state), w_hh, b_hh, w_hr, plan.reverse)
    wanted = [k for k, t in enumerate(flat) if t is not None and ctx.needs_input_grad[k]]
    got = torch.autograd.grad((out, *finals), [flat[k] for k in wanted], grads,
                              create_graph=torch.is_grad_enabled(), allow_unused=True)
    result = [None] * len(flat)
    for k, g in zip(wanted, got):
        result[k] = g
    return result


def _project(x: Tensor, w_ih: Tensor, bias: Tensor | None) -> Tensor:
    """Input projection of all steps in one matmul, into a buffer the scan then owns."""
    return x.mm(w_ih.t()) if bias is None else torch.addmm(bias, x, w_ih.t())


def _project_grads(dgi: Tensor, x: Tensor, w_ih: Tensor, need: tuple[bool, bool, bool]):
    """Gradients of x, W_ih and b_ih from dL/d(projection): one matmul each over all steps.

    Both dX and dW_ih have rows of input_size floats. When that is not a multiple of 16,
    MKL is slow writing them (benchmarks/RESULTS.md): dW_ih is then written into rows
    padded to a multiple of 16 for wide inputs (traffic's 921 columns: 1.2-1.4x faster,
    no extra copy; autograd copies the view into ``.grad``), and computed as the
    transposed product ``(X^T dG)^T`` for narrow ones (one-hot alphabets: 1.2-1.6x
    faster, the copy is small); dX takes the transposed product ``(W^T dG^T)^T``."""
    width = x.shape[1]
    odd = width % 16 != 0
    d_x = d_w = None
    if need[0]:
        d_x = w_ih.t().mm(dgi.t()).t().contiguous() if odd else dgi.mm(w_ih)
    if need[1]:
        if odd and width >= 160:
            rows = dgi.new_empty(dgi.shape[1], -(-width // 16) * 16)[:, :width]
            d_w = torch.mm(dgi.t(), x, out=rows)
        elif odd or width <= 64:
            d_w = x.t().mm(dgi).t().contiguous()
        else:
            d_w = dgi.t().mm(x)
    return d_x, d_w, dgi.sum(0) if need[2] else None


def _double_rows(w: Tensor, rows: slice) -> Tensor:
    """A copy of ``w`` with ``rows`` times 2 (exact in floating point)."""
    w2 = w.clone()
    w2[rows].mul_(2)
    return w2


def _same_sum(dg: Tensor, d_bih: Tensor | None) -> Tensor:
    """dL/db_hh, which equals dL/db_ih: a copy of that sum when it exists (its own tensor, as
    autograd may accumulate into it in place), else the sum itself."""
    return dg.sum(0) if d_bih is None else d_bih.clone()


def _one(like: Tensor) -> Tensor:
    """A 0-dim 1 that broadcasts in ``addcmul(1, a, b, value=-1)`` = 1 - a*b in one pass."""
    return like.new_ones(())


def _own(grad: Tensor) -> Tensor:
    """A contiguous copy of an incoming gradient that backward may update in place."""
    return grad.clone(memory_format=torch.contiguous_format)


class RNNScan(Function):
    """Elman RNN over a whole sequence: h' = act(W_ih x + b_ih + W_hh h + b_hh)."""

    @staticmethod
    def forward(ctx, x, w_ih, b_ih, h0, w_hh, b_hh, relu: bool, plan: Plan):
        out = _project(x, w_ih, None if b_ih is None else b_ih + b_hh)  # pre-activations, then h
        w_t = w_hh.t()
        steps = plan.split(out)
        for k, a in enumerate(steps):
            a.addmm_(plan.prev(k, steps, h0), w_t)
            a.relu_() if relu else a.tanh_()
        h_n = plan.finals(out)
        ctx.save_for_backward(x, w_ih, out, h0, w_hh, b_ih, b_hh)
        ctx.relu, ctx.plan = relu, plan
        return out, h_n

    @staticmethod
    def backward(ctx, d_out, d_hn):
        x, w_ih, out, h0, w_hh, b_ih, b_hh = ctx.saved_tensors
        if _needs_autograd((d_out, d_hn)):
            mode = "RNN_RELU" if ctx.relu else "RNN_TANH"
            grads = _autograd_backward(ctx, mode, (x, w_ih, b_ih, h0, w_hh, b_hh, None),
                                       (d_out, d_hn))
            return *grads[:6], None, None
        plan = ctx.plan
        # dG holds the activation derivative of every step, then (in place) dL/d pre-activation.
        dg = (out > 0).to(out.dtype) if ctx.relu else torch.addcmul(_one(out), out, out, value=-1)
        dh_state = _own(d_hn)
        dh_rows = plan.prefixes(dh_state)
        dgs, douts = plan.split(dg), plan.split(d_out)
        for k in range(len(dgs) - 1, -1, -1):
            dh = dh_rows[plan.run_sizes[k]]
            torch.mm(dgs[k].mul_(dh.add_(douts[k])), w_hh, out=dh)
        need = ctx.needs_input_grad
        d_x, d_wih, d_bih = _project_grads(dg, x, w_ih, need[:3])
        d_w = plan.prev_t_mm(dg, out, h0) if need[4] else None
        d_b = _same_sum(dg, d_bih) if need[5] else None  # b_hh enters as b_ih does
        return d_x, d_wih, d_bih, dh_state, d_w, d_b, None, None


class LSTMScan(Function):
    """LSTM over a whole sequence (gates i, f, g, o; optional projection W_hr)."""

    @staticmethod
    def forward(ctx, x, w_ih, b_ih, h0, c0, w_hh, b_hh, w_hr, plan: Plan):
        hidden = c0.shape[1]
        n = x.shape[0]
        i_, f_, g_, o_ = (slice(j * hidden, (j + 1) * hidden) for j in range(4))
        # tanh(z) = 2 sigmoid(2z) - 1, and sigmoid is ~3x cheaper than tanh on CPU, so the
        # g pre-activation is computed doubled (scaling by 2 is exact in floating point) and
        # all four gates of a step take one sigmoid over one contiguous block.
        w_ih2, w_hh2 = _double_rows(w_ih, g_), _double_rows(w_hh, g_)
        b2 = None if b_ih is None else _double_rows(b_ih + b_hh, g_)
        a_all = _project(x, w_ih2, b2)  # activated in place
        w_t = w_hh2.t()
        c_all = x.new_empty(n, hidden)
        tc_all = x.new_empty(n, hidden)  # tanh(c)
        hr_all = x.new_empty(n, hidden) if w_hr is not None else None  # h before projection
        out = x.new_empty(n, w_hr.shape[0] if w_hr is not None else hidden)
        neg_one = x.new_full((), -1.0)
        gates, gs = plan.split(a_all), plan.split(a_all[:, g_])
        is_, fs, os_ = plan.split(a_all[:, i_]), plan.split(a_all[:, f_]), plan.split(a_all[:, o_])
        cs, tcs, outs = plan.split(c_all), plan.split(tc_all), plan.split(out)
        hrs = plan.split(hr_all) if w_hr is not None else None
        for k, a in enumerate(gates):
            a.addmm_(plan.prev(k, outs, h0), w_t).sigmoid_()
            g = torch.add(neg_one, gs[k], alpha=2, out=gs[k])  # = tanh(g pre-activation)
            c = torch.mul(fs[k], plan.prev(k, cs, c0), out=cs[k]).addcmul_(is_[k], g)
            tc = torch.add(c, c, out=tcs[k]).sigmoid_()
            torch.add(neg_one, tc, alpha=2, out=tc)  # = tanh(c)
            if w_hr is None:
                torch.mul(os_[k], tc, out=outs[k])
            else:
                torch.mm(torch.mul(os_[k], tc, out=hrs[k]), w_hr.t(), out=outs[k])
        h_n, c_n = plan.finals(out), plan.finals(c_all)
        ctx.save_for_backward(x, w_ih, a_all, c_all, tc_all, hr_all, out, h0, c0, w_hh, w_hr,
                              b_ih, b_hh)
        ctx.plan = plan
        return out, h_n, c_n

    @staticmethod
    def backward(ctx, d_out, d_hn, d_cn):
        x, w_ih, a_all, c_all, tc_all, hr_all, out, h0, c0, w_hh, w_hr, b_ih, b_hh = (
            ctx.saved_tensors)
        if _needs_autograd((d_out, d_hn, d_cn)):
            grads = _autograd_backward(ctx, "LSTM", (x, w_ih, b_ih, h0, c0, w_hh, b_hh, w_hr),
                                       (d_out, d_hn, d_cn))
            return *grads, None
        plan = ctx.plan
        hidden = c0.shape[1]
        i, f, g, o = a_all.split(hidden, dim=1)
        # Per-step factors that depend on forward values only, for all steps at once:
        # dG = [dc*g*i(1-i), dc*c_prev*f(1-f), dc*i*(1-g^2), dh*tanh(c)*o(1-o)].
        # One addcmul per factor where possible: these passes are memory-bound on big batches.
        dg = torch.addcmul(a_all, a_all, a_all, value=-1)  # s(1-s); g block replaced below
        dg_i, dg_f, dg_g, dg_o = dg.split(hidden, dim=1)
        dg_i.mul_(g)
        plan.mul_prev_(dg_f, c_all, c0)
        torch.addcmul(_one(g), g, g, value=-1, out=dg_g).mul_(i)
        dg_o.mul_(tc_all)
        dc_from_h = torch.addcmul(_one(o), tc_all, tc_all, value=-1).mul_(o)  # o(1-tanh(c)^2)
        dh_state, dc_state = _own(d_hn), _own(d_cn)
        dh_rows, dc_rows = plan.prefixes(dh_state), plan.prefixes(dc_state)
        dh_all = torch.empty_like(out) if w_hr is not None else None  # for dW_hr
        dg3 = dg.view(-1, 4, hidden)
        dgs, ifg, os_ = plan.split(dg), plan.split(dg3[:, :3]), plan.split(dg3[:, 3])
        douts, dchs, fs = plan.split(d_out), plan.split(dc_from_h), plan.split(f)
        dhs = plan.split(dh_all) if w_hr is not None else None
        for k in range(len(dgs) - 1, -1, -1):
            bs = plan.run_sizes[k]
            dh_s = dh_rows[bs]
            if w_hr is None:
                dh = dh_s.add_(douts[k])
            else:
                dh = torch.add(dh_s, douts[k], out=dhs[k]).mm(w_hr)
            dc = dc_rows[bs].addcmul_(dh, dchs[k])
            ifg[k].mul_(dc.unsqueeze(1))
            os_[k].mul_(dh)
            dc.mul_(fs[k])
            torch.mm(dgs[k], w_hh, out=dh_s)
        del dc_from_h, dchs  # freed before the gradients below allocate theirs (peak memory)
        need = ctx.needs_input_grad
        d_x, d_wih, d_bih = _project_grads(dg, x, w_ih, need[:3])
        d_w = plan.prev_t_mm(dg, out, h0) if need[5] else None
        d_b = _same_sum(dg, d_bih) if need[6] else None  # b_hh enters as b_ih does
        d_hr = dh_all.t().mm(hr_all) if w_hr is not None and need[7] else None
        return d_x, d_wih, d_bih, dh_state, dc_state, d_w, d_b, d_hr, None


class GRUScan(Function):
    """GRU over a whole sequence (gates r, z, n; n = tanh(gi_n + r * (W_hn h + b_hn)))."""

    @staticmethod
    def forward(ctx, x, w_ih, b_ih, h0, w_hh, b_hh, plan: Plan):
        hidden = h0.shape[1]
        rz_, n_ = slice(0, 2 * hidden), slice(2 * hidden, 3 * hidden)
        bias = None
        if b_ih is not None:  # r and z see b_ih + b_hh; b_hn stays inside r * (...)
            bias = torch.cat([b_ih[rz_] + b_hh[rz_], b_ih[n_]])
        a_all = _project(x, w_ih, bias)  # r, z activated in place; n block becomes n
        ghn_all = x.new_empty(x.shape[0], hidden)  # W_hn h + b_hn: backward needs it
        out = x.new_empty(x.shape[0], hidden)
        w_rz, w_n = w_hh[rz_].t(), w_hh[n_].t()
        b_n = b_hh[n_] if b_hh is not None else None
        rzs, rs, zs = (plan.split(a_all[:, cols]) for cols in (rz_, slice(0, hidden),
                                                                slice(hidden, 2 * hidden)))
        ns, ghns, outs = plan.split(a_all[:, n_]), plan.split(ghn_all), plan.split(out)
        for k, rz in enumerate(rzs):
            h = plan.prev(k, outs, h0)
            rz.addmm_(h, w_rz).sigmoid_()
            ghn = torch.mm(h, w_n, out=ghns[k]) if b_n is None else torch.addmm(
                b_n, h, w_n, out=ghns[k])
            torch.lerp(ns[k].addcmul_(rs[k], ghn).tanh_(), h, zs[k], out=outs[k])  # n + z(h - n)
        h_n = plan.finals(out)
        ctx.save_for_backward(x, w_ih, a_all, ghn_all, out, h0, w_hh, b_ih, b_hh)
        ctx.plan = plan
        return out, h_n

    @staticmethod
    def backward(ctx, d_out, d_hn):
        x, w_ih, a_all, ghn, out, h0, w_hh, b_ih, b_hh = ctx.saved_tensors
        if _needs_autograd((d_out, d_hn)):
            grads = _autograd_backward(ctx, "GRU", (x, w_ih, b_ih, h0, w_hh, b_hh, None),
                                       (d_out, d_hn))
            return *grads[:6], None
        plan = ctx.plan
        hidden = h0.shape[1]
        r, z, n = a_all.split(hidden, dim=1)
        # dGi = [dn_pre*ghn*r(1-r), dh*(h_prev-n)*z(1-z), dh*(1-z)*(1-n^2)], factors first.
        dgi = torch.empty_like(a_all)
        dr, dz, dn = dgi.split(hidden, dim=1)
        torch.addcmul(r, r, r, value=-1, out=dr).mul_(ghn)
        plan.prev_minus_(dz, out, h0, n).mul_(z).addcmul_(dz, z, value=-1)  # (h-n)*z(1-z)
        torch.addcmul(_one(n), n, n, value=-1, out=dn).addcmul_(z, dn, value=-1)  # *(1-z)
        dghn = torch.empty_like(n)  # dL/d(W_hn h + b_hn) = dn_pre * r
        w_rz, w_n = w_hh[:2 * hidden], w_hh[2 * hidden:]
        dh_state = _own(d_hn)
        dh_rows = plan.prefixes(dh_state)
        zn = plan.split(dgi.view(-1, 3, hidden)[:, 1:])
        drs, dns, drzs = plan.split(dr), plan.split(dn), plan.split(dgi[:, :2 * hidden])
        dghns, rs, zs, douts = plan.split(dghn), plan.split(r), plan.split(z), plan.split(d_out)
        for k in range(len(zn) - 1, -1, -1):
            dh = dh_rows[plan.run_sizes[k]].add_(douts[k])
            zn[k].mul_(dh.unsqueeze(1))
            drs[k].mul_(dns[k])
            torch.mul(dns[k], rs[k], out=dghns[k])
            dh.mul_(zs[k]).addmm_(drzs[k], w_rz).addmm_(dghns[k], w_n)
        need = ctx.needs_input_grad
        d_w = d_b = None
        if need[4]:
            d_w = torch.cat([plan.prev_t_mm(dgi[:, :2 * hidden], out, h0),
                             plan.prev_t_mm(dghn, out, h0)])
        if need[5]:
            d_b = torch.cat([dgi[:, :2 * hidden].sum(0), dghn.sum(0)])
        del dghn, dghns  # freed before the input-side gradients allocate theirs (peak memory)
        d_x, d_wih, d_bih = _project_grads(dgi, x, w_ih, need[:3])
        return d_x, d_wih, d_bih, dh_state, d_w, d_b, None


def scan(mode: str, x: Tensor, w_ih: Tensor, b_ih: Tensor | None, sizes: list[int],
         state: tuple[Tensor, ...], w_hh: Tensor, b_hh: Tensor | None, w_hr: Tensor | None,
         reverse: bool) -> tuple[Tensor, tuple[Tensor, ...]]:
    """One layer-direction over ``x`` (packed row layout, see ``cells.scan``): returns
    the outputs in the same layout and each sequence's final state, in batch order."""
    plan = Plan(sizes, reverse)
    if mode == "LSTM":
        out, h_n, c_n = LSTMScan.apply(x, w_ih, b_ih, state[0], state[1], w_hh, b_hh, w_hr, plan)
        return out, (h_n, c_n)
    if mode == "GRU":
        out, h_n = GRUScan.apply(x, w_ih, b_ih, state[0], w_hh, b_hh, plan)
    else:
        out, h_n = RNNScan.apply(x, w_ih, b_ih, state[0], w_hh, b_hh, mode == "RNN_RELU", plan)
    return out, (h_n,)
