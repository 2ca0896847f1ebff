"""Ops outside recurrent units, each over all steps at once: inputs, neuron scans,
delays, processes, and every stateless op by its rate rule (vjp.py) or, over a sparse
input, event-driven when the compiler's plan allows it."""

from __future__ import annotations

from typing import Any

import numpy as np
from snngraph.runtimes.bptt import neurons, processes, sparse
from snngraph.runtimes.bptt.values import SparseInput, Value, accumulate, per_step
from snngraph.runtimes.rate.vjp import RULES
from snngraph.runtimes.rate.vjp import where as _where

from snngraph.errors import CompileError


# ------------------------------------------------------------------ forward
def forward(m: Any, name: str, values: dict[str, Value]) -> tuple[Value, Any]:
    op = m.ir.op(name)
    x = input_sum(m, name, values)
    kind = op.op
    if kind == "input":
        return _input(m, op), None
    if kind == "neurons" and m.neurons[name] is not None:
        return neurons.forward(m, op, x)
    if kind == "neurons":
        neurons.check_trainable(op)
    if kind == "delay":
        return delay_forward(m, op, x)
    if kind == "process":
        return processes.forward(m, op, x)
    if kind == "synapse":
        raise CompileError(_where(op) + ": synaptic filters are not trained through time "
                           "yet; connect with synapse=None (or sg.Delay(1) for a "
                           "recurrent connection), or train with method='rate'")
    if kind not in RULES:
        raise CompileError(f"{_where(op)}: a {kind!r} op cannot be trained through time")
    return _rule_forward(m, op, x)


def _input(m: Any, op: Any) -> Value:
    fed = m.feeds.get(op.name)
    if fed is None:
        return Value(np.broadcast_to(m.param(op.default), (m.batch, op.size))
                     .astype(np.float32), True)
    return Value(fed[0], fed[1])


def _rule_forward(m: Any, op: Any, x: Value | None) -> tuple[Value, Any]:
    """A stateless op: once per example for a static input, else over all rows, event
    by event when its input is sparser than the plan's threshold."""
    kind = op.op
    if x is None or x.static:
        m.rows = m.batch if x is not None else m.rows
        y, saved = RULES[kind].forward(m, op, None if x is None else x.data)
        m.rows = m.steps * m.batch
        return Value(np.asarray(y), x is not None), (True, saved)
    below = m.plan.sparse_below.get(op.name)
    if below is not None and sparse.density(x) < below:
        if kind == "conv2d":
            return Value(sparse.conv_forward(m, op, x.data), False), \
                (False, SparseInput(x.data))
        events = sparse.events(x.data, x.counts)
        return Value(sparse.linear_forward(m, op, x.data, events), False), \
            (False, SparseInput(x.data, events))
    y, saved = RULES[kind].forward(m, op, x.data)
    return Value(np.asarray(y), False), (False, saved)


def input_sum(m: Any, name: str, values: dict[str, Value]) -> Value | None:
    ins = [values[i] for i in m.ir.inputs(name)]
    if not ins:
        return None
    if all(v.static for v in ins):
        data = ins[0].data
        for v in ins[1:]:
            data = data + v.data
        return Value(data, True)
    if len(ins) == 1:
        return ins[0]
    total = None
    for v in ins:
        d = expand(m, v)
        if total is None:
            total = d.copy()
        else:
            total += d
    return Value(total, False)


def expand(m: Any, v: Value) -> np.ndarray:
    """A value as ``[T * B, n]`` (a static one repeated at every step)."""
    if not v.static:
        return v.data
    return np.ascontiguousarray(np.broadcast_to(
        v.data[None], (m.steps,) + v.data.shape).reshape(m.rows, -1))


def rows_of(v: Value, rows: slice) -> np.ndarray:
    return v.data if v.static else v.data[rows]


# ------------------------------------------------------------------ delays
def history(m: Any, name: str, src_size: int, steps: int) -> np.ndarray:
    """The last ``steps`` steps of a delay's input before the first step (zeros at the
    start of an example)."""
    rows = steps * m.batch
    h = m.carry_in.get(("delay", name))
    return h if h is not None else np.zeros((rows, src_size), np.float32)


def keep_history(m: Any, name: str, before: np.ndarray, x: np.ndarray, steps: int) -> None:
    rows = steps * m.batch
    m.carry_out[("delay", name)] = np.concatenate([before, x])[-rows:].copy()


def delay_forward(m: Any, op: Any, x: Value | None) -> tuple[Value, Any]:
    before = history(m, op.name, op.size, op.steps)
    full = np.concatenate([before, expand(m, x) if x is not None
                           else np.zeros((m.rows, op.size), np.float32)])
    keep_history(m, op.name, before, full[len(before):], op.steps)
    return Value(np.ascontiguousarray(full[: m.rows]), False), \
        x is not None and x.static


def _delay_backward(m: Any, name: str, op: Any, dy: np.ndarray, values: dict,
                    acc: dict) -> None:
    shift = op.steps * m.batch
    dx = np.zeros_like(dy)
    if shift < m.rows:
        dx[: m.rows - shift] = dy[shift:]
    m.adj_out[("delay", name)] = np.ascontiguousarray(dy[:shift])
    send(m, acc, values, name, dx)


# ------------------------------------------------------------------ backward
def send(m: Any, acc: dict, values: dict[str, Value], name: str, dx: np.ndarray) -> None:
    """Add ``dx`` (time-major, or ``[B, n]`` for a static op's input) to the adjoint
    of every input of ``name`` that needs it."""
    for i in m.ir.inputs(name):
        if not m.needs_grad[i]:
            continue
        d = dx
        if values[i].static and len(d) != len(values[i].data):
            d = per_step(d, m.steps, m.batch)
        accumulate(acc, i, d)


def backward(m: Any, name: str, values: dict, tape: dict, acc: dict, grads: dict) -> None:
    dy = acc.pop(name, None)
    if dy is None:
        return
    op = m.ir.op(name)
    ins = [i for i in m.ir.inputs(name) if m.needs_grad[i]]
    if op.op == "neurons" and m.neurons[name] is not None:
        dJ, g = neurons.backward(m, op, tape[name][0], dy)
        m.work.add_grads(grads, g)
        if ins:
            dx = m.buffer(f"{name}.dx", dJ.shape)
            send(m, acc, values, name, np.multiply(dJ, m.param(op.gain), out=dx))
        return
    if op.op == "delay":
        _delay_backward(m, name, op, dy, values, acc)
        return
    if tape[name] is None:
        return  # inputs, processes: nothing upstream to train
    static, saved = tape[name]
    if static and len(dy) != m.batch:
        dy = per_step(dy, m.steps, m.batch)
    dx, g = _rule_backward(m, op, saved, dy, bool(ins))
    m.work.add_grads(grads, g)
    if ins and dx is not None:
        send(m, acc, values, name, dx)


def _rule_backward(m: Any, op: Any, saved: Any, dy: np.ndarray, need_dx: bool) -> tuple:
    if isinstance(saved, SparseInput) and op.op == "conv2d":
        return sparse.conv_backward(m, op, saved.x, dy, need_dx,
                                    m.plan.grad_sparse_below.get(op.name, 0.0))
    if isinstance(saved, SparseInput):
        return sparse.linear_backward(m, op, saved.x, dy, need_dx, saved.events)
    return RULES[op.op].backward(m, op, saved, np.ascontiguousarray(dy, np.float32),
                                 need_dx)
