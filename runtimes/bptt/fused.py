"""Fused recurrent layers (neurons <- linear <- delay <- neurons, found by the compiler's
plan): all steps of the layer in one kernel, forward and, up to the plan's batch size,
backward; above it the reverse pass runs step by step from the fused tape."""

from __future__ import annotations

from typing import Any

import numpy as np
from snngraph.runtimes.bptt import kernels, neurons, sparse, stepped
from snngraph.runtimes.bptt.blocks import expand, history, keep_history, rows_of
from snngraph.runtimes.bptt.values import FusedLayer, Value, accumulate, blocks
from snngraph.runtimes.numba_cpu.backend import parallel
from snngraph.runtimes.rate.vjp import RULES


def forward(m: Any, layer: tuple[str, str, str], values: dict, tape: dict) -> None:
    d, lin, n = layer
    ir, steps, batch = m.ir, m.steps, m.batch
    op_n, op_l = ir.op(n), ir.op(lin)
    size = op_n.size
    ext = np.zeros((m.rows, size), np.float32)
    for i in ir.inputs(n):
        if i != lin:
            ext += expand(m, values[i])
    k = m.neurons[n]
    w = m.param(op_l.weights)
    lbias = m.param(op_l.bias) if op_l.bias else np.zeros(size, np.float32)
    state = neurons.initial_state(m, op_n)
    before = history(m, d, size, 1)
    out = m.buffer(f"{n}.out", (steps, batch, size))
    saved = m.buffer(f"{n}.saved", (steps, batch, k.saved, size))
    rec = m.buffer(f"{lin}.out", (steps, batch, size))
    jbuf = np.empty((1, batch, size), np.float32)
    fcode, fa = neurons.spike_code(m, n)
    args = (k.forward, ext.reshape(steps, batch, size), m.param(op_n.gain),
            m.param(op_n.bias), np.ascontiguousarray(w.T), lbias, state, k.params,
            fcode, fa, out, saved, rec, jbuf, before)
    parallel([(kernels.recurrent_forward, *args, a, b)
              for a, b in blocks(batch, steps * size)])
    values[n] = Value(out.reshape(m.rows, size), False)
    values[lin] = Value(rec.reshape(m.rows, size), False)
    delayed = np.concatenate([before, values[n].data[: m.rows - batch]])
    values[d] = Value(delayed, False)
    m.carry_out[n] = state
    keep_history(m, d, before, values[n].data, 1)
    tape[d] = tape[lin] = tape[n] = FusedLayer(layer, saved)


def backward(m: Any, unit: list[str], fused: FusedLayer, values: dict, acc: dict,
             grads: dict, max_batch: int) -> None:
    """One kernel up to ``max_batch`` examples, else step by step (a BLAS product per
    step) from the fused tape."""
    if m.batch <= max_batch:
        _backward_kernel(m, fused, values, acc, grads)
        return
    d, lin, n = fused.layer
    steps_tape = {d: [None] * m.steps, n: fused.saved,
                  lin: [rows_of(values[d], slice(t * m.batch, (t + 1) * m.batch))
                        for t in range(m.steps)]}
    stepped.backward(m, unit, values, steps_tape, acc, grads)


def _backward_kernel(m: Any, fused: FusedLayer, values: dict, acc: dict,
                     grads: dict) -> None:
    d, lin, n = fused.layer
    ir, steps, batch = m.ir, m.steps, m.batch
    op_n, op_l = ir.op(n), ir.op(lin)
    size = op_n.size
    dy = acc.pop(n, None)
    dy = (np.zeros((steps, batch, size), np.float32) if dy is None
          else np.ascontiguousarray(dy, np.float32).reshape(steps, batch, size))
    k = m.neurons[n]
    code, a = k.surrogate
    fcode, fa = neurons.spike_code(m, n)
    gain = m.param(op_n.gain)
    dj = np.empty((steps, batch, size), np.float32)
    adj = neurons.adjoint(m, op_n)
    bufs = (np.empty((batch, size), np.float32), np.empty((1, batch, size), np.float32),
            np.empty((1, batch, size), np.float32))
    args = (k.backward, dy, m.param(op_l.weights), gain, fused.saved, k.params, code, a,
            fcode, fa, adj, dj, *bufs)
    parallel([(kernels.recurrent_backward, *args, b0, b1)
              for b0, b1 in blocks(batch, steps * size)])
    m.adj_out[n] = adj  # for the steps before these (checkpoint segments)
    m.adj_out[("delay", d)] = bufs[0].copy()  # the spikes read back across the start
    dj = dj.reshape(m.rows, size)
    m.work.add_grads(grads, {op_n.bias: dj.sum(0)})
    dx = dj * gain  # the adjoint of the linear map's output and of the layer's input
    _recurrent_weight_grad(m, op_l, values[d].data, dx, grads)
    for i in ir.inputs(n):
        if i == lin or not m.needs_grad[i]:
            continue
        part = dx.reshape(steps, batch, size).sum(0) if values[i].static else dx
        accumulate(acc, i, part)


def _recurrent_weight_grad(m: Any, op_l: Any, spikes: np.ndarray, dx: np.ndarray,
                           grads: dict) -> None:
    """Event-driven when the spikes are sparser than the plan's threshold."""
    below = m.plan.sparse_below.get(op_l.name, 0.0)
    _, g = (sparse.linear_backward(m, op_l, spikes, dx, False)
            if kernels.density(spikes) < below else
            RULES["linear"].backward(m, op_l, spikes, dx, False))
    m.work.add_grads(grads, g)
